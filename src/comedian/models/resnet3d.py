"""Slow-only ResNet3D-50: the step-2 teacher (method.md §3).

Usage:
    teacher = ResNet3D()                           # paper size, no head
    feats = teacher.forward_features(clip)         # (B, 3, 16, 224, 224) -> (B, 2048)
    teacher = ResNet3D(num_classes=17)             # fine-tuning on spotting: logits (B, 17)

Bottleneck stages of (3, 4, 6, 3) blocks, stem conv (1, 7, 7) stride (1, 2, 2) + max pool (1, 3, 3)
stride (1, 2, 2), temporal kernel 3 in ``conv_a`` of stages 3-4 only (the slow pathway of
SlowFast), spatial stride 2 in the first block of stages 2-4, BatchNorm eps 1e-5, global average
pooling. Keys follow pytorchvideo's ``create_resnet`` (checkpoints.md §6): ``blocks.0.{conv,
norm}``, ``blocks.i.res_blocks.j.{branch1_conv, branch1_norm, branch2.conv_a/norm_a/...}``.
"""

from __future__ import annotations

from torch import Tensor, nn

from comedian.models.heads import LinearHead
from comedian.models.layers import no_weight_decay_names


def _bn(channels: int) -> nn.BatchNorm3d:
    return nn.BatchNorm3d(channels, eps=1e-5, momentum=0.1)


class Stem(nn.Module):
    """Conv (1, 7, 7) stride (1, 2, 2), BN, ReLU, max pool (1, 3, 3) stride (1, 2, 2)."""

    def __init__(self, in_chans: int, width: int) -> None:
        super().__init__()
        self.conv = nn.Conv3d(
            in_chans, width, (1, 7, 7), stride=(1, 2, 2), padding=(0, 3, 3), bias=False
        )
        self.norm = _bn(width)
        self.activation = nn.ReLU(inplace=True)
        self.pool = nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.pool(self.activation(self.norm(self.conv(x))))


class Bottleneck(nn.Module):
    """``conv_a`` (t, 1, 1) -> ``conv_b`` (1, 3, 3) with the spatial stride -> ``conv_c`` 1x1x1."""

    def __init__(
        self, dim_in: int, dim_inner: int, dim_out: int, temporal_kernel: int, stride: int
    ) -> None:
        super().__init__()
        self.conv_a = nn.Conv3d(
            dim_in, dim_inner, (temporal_kernel, 1, 1), padding=(temporal_kernel // 2, 0, 0),
            bias=False,
        )  # fmt: skip
        self.norm_a = _bn(dim_inner)
        self.act_a = nn.ReLU(inplace=True)
        self.conv_b = nn.Conv3d(
            dim_inner, dim_inner, (1, 3, 3), stride=(1, stride, stride), padding=(0, 1, 1),
            bias=False,
        )  # fmt: skip
        self.norm_b = _bn(dim_inner)
        self.act_b = nn.ReLU(inplace=True)
        self.conv_c = nn.Conv3d(dim_inner, dim_out, 1, bias=False)
        self.norm_c = _bn(dim_out)

    def forward(self, x: Tensor) -> Tensor:
        x = self.act_a(self.norm_a(self.conv_a(x)))
        x = self.act_b(self.norm_b(self.conv_b(x)))
        return self.norm_c(self.conv_c(x))


class ResBlock(nn.Module):
    """Residual bottleneck block; a projection shortcut when the shape changes."""

    def __init__(
        self, dim_in: int, dim_inner: int, dim_out: int, temporal_kernel: int, stride: int
    ) -> None:
        super().__init__()
        if dim_in != dim_out or stride != 1:
            self.branch1_conv = nn.Conv3d(
                dim_in, dim_out, 1, stride=(1, stride, stride), bias=False
            )
            self.branch1_norm = _bn(dim_out)
        else:
            self.branch1_conv = None
            self.branch1_norm = None
        self.branch2 = Bottleneck(dim_in, dim_inner, dim_out, temporal_kernel, stride)
        self.activation = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        shortcut = x
        if self.branch1_conv is not None and self.branch1_norm is not None:
            shortcut = self.branch1_norm(self.branch1_conv(x))
        return self.activation(shortcut + self.branch2(x))


class ResStage(nn.Module):
    """A stage of :class:`ResBlock` (keys ``res_blocks.j``)."""

    def __init__(
        self,
        depth: int,
        dim_in: int,
        dim_inner: int,
        dim_out: int,
        temporal_kernel: int,
        stride: int,
    ) -> None:
        super().__init__()
        self.res_blocks = nn.ModuleList(
            ResBlock(
                dim_in if i == 0 else dim_out,
                dim_inner,
                dim_out,
                temporal_kernel,
                stride if i == 0 else 1,
            )
            for i in range(depth)
        )

    def forward(self, x: Tensor) -> Tensor:
        for block in self.res_blocks:
            x = block(x)
        return x


class ResNet3D(nn.Module):
    """Slow-only ResNet3D with global average pooling (timm-like interface).

    Args:
        depths: Blocks per stage ((3, 4, 6, 3) for ResNet-50).
        width: Stem width; stage i has inner width ``width * 2**i`` and output
            ``4 * width * 2**i`` (64 -> 2048 features).
        temporal_kernels: ``conv_a`` temporal kernel of each stage.
        in_chans: Input channels.
        num_classes: Classes of a linear head on the pooled features (0: none).
    """

    def __init__(
        self,
        depths: tuple[int, ...] = (3, 4, 6, 3),
        width: int = 64,
        temporal_kernels: tuple[int, ...] = (1, 1, 3, 3),
        in_chans: int = 3,
        num_classes: int = 0,
    ) -> None:
        super().__init__()
        if len(depths) != len(temporal_kernels):
            raise ValueError(f"depths {depths} and temporal_kernels {temporal_kernels} differ")
        stages: list[nn.Module] = [Stem(in_chans, width)]
        dim_in = width
        for i, (depth, tk) in enumerate(zip(depths, temporal_kernels, strict=True)):
            inner = width * 2**i
            stages.append(ResStage(depth, dim_in, inner, 4 * inner, tk, 1 if i == 0 else 2))
            dim_in = 4 * inner
        self.blocks = nn.ModuleList(stages)
        self.num_features = dim_in
        self.head = LinearHead(dim_in, num_classes) if num_classes > 0 else None
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm3d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def no_weight_decay(self) -> set[str]:
        """Parameters without weight decay: BatchNorm parameters and biases."""
        return no_weight_decay_names(self)

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Refused: recomputing a stage in the backward pass would update every BatchNorm's
        running statistics twice a step (the teacher fits in memory without it)."""
        if enable:
            raise ValueError(
                "resnet3d_50: gradient checkpointing is not supported (BatchNorm statistics "
                "would be updated twice a step)"
            )

    def get_classifier(self) -> nn.Module | None:
        """The linear head on the pooled features (None without one)."""
        return self.head

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the head by a freshly initialized one of ``num_classes`` (0: no head)."""
        self.head = LinearHead(self.num_features, num_classes) if num_classes > 0 else None

    def forward_features(self, x: Tensor) -> Tensor:
        """Globally pooled features.

        Shapes:
            x: (B, C, T, H, W) -> (B, 2048)
        """
        for block in self.blocks:
            x = block(x)  # ends at (B, 2048, T, H/32, W/32)
        return x.mean(dim=(2, 3, 4))

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        """(B, 2048) -> (B, num_classes) (identity with ``pre_logits`` or without head)."""
        if pre_logits or self.head is None:
            return x
        return self.head(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(x))
