"""ViViT-Tiny: factorized spatial + temporal transformer with temporal masking (method.md §5).

Usage:
    model = ViViT()                                  # paper size, 128 frames at 224 px
    tokens = model(clip)                             # (B, 3, 128, 224, 224) -> (B, 64, 192)
    model = ViViT(num_classes=17)                    # step 3: per-token logits (B, 64, 17)
    report = init_from_vit(model, step1_state_dict)  # §5 initialization from the step-1 ViT

Keys are exactly those of the reference trunk (checkpoints.md §2.1): ``spatial_cls_token``,
``temporal_mask_token``, ``pos_embed``, ``time_embed``, ``patch_embed.proj``,
``spatial_transformer.{blocks.N, norm}``, ``temporal_transformer.{blocks.N, norm}``; the optional
spotting head is ``head.layers.0`` (the reference's ``head_class.layers.0``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from comedian.models.factorized import FactorizedEncoder
from comedian.models.layers import Transformer, TubeletEmbed, check_geometry, init_weights

log = logging.getLogger(__name__)


class ViViT(FactorizedEncoder):
    """ViViT with a spatial CLS per tubelet and no temporal CLS (method.md §5).

    Args:
        num_frames: Frames per clip (128 = 64 s at 2 fps).
        img_size: Input height and width (square).
        patch_size: Spatial patch size.
        tube_size: Frames per tubelet (2 = one second).
        in_chans: Input channels.
        embed_dim: Width D of both stages.
        depth: Spatial blocks.
        num_heads: Spatial attention heads.
        temporal_depth: Temporal blocks.
        temporal_num_heads: Temporal attention heads.
        mlp_ratio: MLP hidden width / D.
        drop_path_rate: Stochastic depth of the last spatial block.
        temporal_drop_path_rate: Stochastic depth of the last temporal block.
        mask_ratio: Fraction of seconds masked in training (0 disables masking).
        mask_token: Whether the learnable temporal mask token exists.
        num_classes: Classes of the per-token spotting head (0: none).
    """

    def __init__(
        self,
        num_frames: int = 128,
        img_size: int = 224,
        patch_size: int = 16,
        tube_size: int = 2,
        in_chans: int = 3,
        embed_dim: int = 192,
        depth: int = 12,
        num_heads: int = 3,
        temporal_depth: int = 6,
        temporal_num_heads: int = 3,
        mlp_ratio: float = 4.0,
        drop_path_rate: float = 0.1,
        temporal_drop_path_rate: float = 0.1,
        mask_ratio: float = 0.25,
        mask_token: bool = True,
        num_classes: int = 0,
    ) -> None:
        check_geometry(img_size, patch_size, num_frames, tube_size)
        super().__init__(
            num_tubelets=num_frames // tube_size,
            dim=embed_dim,
            temporal_depth=temporal_depth,
            temporal_num_heads=temporal_num_heads,
            mlp_ratio=mlp_ratio,
            temporal_drop_path_rate=temporal_drop_path_rate,
            mask_ratio=mask_ratio,
            mask_token=mask_token,
            num_classes=num_classes,
        )
        self.img_size = img_size
        self.num_patches = (img_size // patch_size) ** 2
        self.spatial_cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, self.num_patches + 1, embed_dim))
        self.patch_embed = TubeletEmbed(in_chans, embed_dim, tube_size, patch_size)
        self.spatial_transformer = Transformer(
            embed_dim, depth, num_heads, mlp_ratio, drop_path_rate=drop_path_rate
        )
        self.spatial_transformer.apply(init_weights)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.spatial_cls_token, std=0.02)

    def encode_tubelets(self, tokens: Tensor) -> Tensor:
        """Spatial stage: CLS + shared position embedding, blocks, norm, keep the CLS.

        Shapes:
            tokens: (B', N, D) -> (B', D)
        """
        cls = self.spatial_cls_token.expand(tokens.shape[0], -1, -1)  # (B', 1, D)
        x = torch.cat([cls, tokens], dim=1) + self.pos_embed  # (B', 1 + N, D)
        return self.spatial_transformer(x)[:, 0]


@dataclass
class InitReport:
    """What :func:`init_from_vit` did: target key -> source key, and the source keys unused."""

    copied: dict[str, str] = field(default_factory=dict)
    unused: list[str] = field(default_factory=list)
    kept_initial: list[str] = field(default_factory=list)


_BLOCK_RE = re.compile(r"^blocks\.(\d+)\.(.+)$")


def _vit_state_dict(source: Mapping[str, Any]) -> dict[str, Tensor]:
    """The ViT keys of a ViT state dict or a step-1 checkpoint (``state_dict``, ``trunk.``)."""
    sd = source.get("state_dict", source)
    if not isinstance(sd, Mapping):
        raise ValueError("the checkpoint's 'state_dict' entry is not a mapping")
    if any(k.startswith("trunk.") for k in sd):
        # Step-1 Lightning layout (checkpoints.md §4.3): only ``trunk.*`` is the ViT;
        # momentum_trunk, projector, predictor, queue and transforms are dropped.
        return {k[len("trunk.") :]: v for k, v in sd.items() if k.startswith("trunk.")}
    return dict(sd)


@torch.no_grad()
def init_from_vit(vivit: ViViT, source: Mapping[str, Any]) -> InitReport:
    """Initialize a ViViT from the step-1 ViT (method.md §5, checkpoints.md §4.3).

    Copies the patch embedding, position embedding, CLS -> spatial CLS, blocks 0..11 -> spatial
    blocks, **blocks 0..temporal_depth-1 also into the temporal blocks**, and the final norm into
    both stages. The time embedding and the mask token keep their initial values. Like the
    reference (``strict=False``) keys without a counterpart are skipped, but every skip is
    reported; a shape mismatch raises. A 2-D patch-embedding weight (C_out, C, p, p) is inflated
    over the tube and divided by its length (the reference's ``temporal_avg``).

    Args:
        vivit: The model to initialize (modified in place).
        source: A ViT state dict (keys of checkpoints.md §4.1), or a step-1 checkpoint dict
            (``{"state_dict": {"trunk.*": ...}}``) or its ``state_dict``.

    Returns:
        An :class:`InitReport`.
    """
    vit = _vit_state_dict(source)
    target = vivit.state_dict()
    temporal_depth = len(vivit.temporal_transformer.blocks)
    plan: dict[str, str] = {}
    unused: list[str] = []
    for key in vit:
        dests: list[str] = []
        if key == "cls_token":
            dests = ["spatial_cls_token"]
        elif key in ("pos_embed", "patch_embed.proj.weight", "patch_embed.proj.bias"):
            dests = [key]
        elif key.startswith("norm."):
            dests = [f"spatial_transformer.{key}", f"temporal_transformer.{key}"]
        elif m := _BLOCK_RE.match(key):
            dests = [f"spatial_transformer.{key}"]
            if int(m.group(1)) < temporal_depth:
                dests.append(f"temporal_transformer.{key}")
        dests = [d for d in dests if d in target]
        if not dests:
            unused.append(key)
        for d in dests:
            plan[d] = key
    report = InitReport(unused=unused)
    for dest, src_key in plan.items():
        value = vit[src_key]
        want = target[dest].shape
        if dest == "patch_embed.proj.weight" and value.ndim == 4 and len(want) == 5:
            tube = want[2]
            value = value.unsqueeze(2).repeat(1, 1, tube, 1, 1) / tube
        if tuple(value.shape) != tuple(want):
            raise ValueError(
                f"init_from_vit: {src_key} has shape {tuple(value.shape)} but {dest} needs "
                f"{tuple(want)}"
            )
        target[dest].copy_(value)
        report.copied[dest] = src_key
    report.kept_initial = [k for k in target if k not in report.copied]
    log.info(
        "init_from_vit: copied %d tensors, %d source keys unused %s, kept initial: %s",
        len(report.copied),
        len(unused),
        unused,
        report.kept_initial,
    )
    return report
