"""ViT-Tiny with a tubelet patch embedding: the step-1 spatial trunk (method.md §2).

Usage:
    vit = VisionTransformer()                      # paper size: 2 x 224 x 224 clips
    cls = vit(clip)                                # (B, 3, 2, 224, 224) -> (B, 192)

A 2-frame clip (1 s at 2 fps) becomes one "tubelet image" of 14 x 14 tokens through a Conv3d with
kernel = stride = (2, 16, 16); a CLS token and a learned position embedding (1, 197, 192) are
added; 12 pre-norm blocks and a final LayerNorm follow; the output is the CLS token. Keys are the
reference ``trunk.*`` keys of checkpoints.md §4.1 (``cls_token``, ``pos_embed``,
``patch_embed.proj``, ``blocks.N``, ``norm``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from comedian.models.heads import LinearHead
from comedian.models.layers import (
    LN_EPS,
    Block,
    TubeletEmbed,
    check_geometry,
    drop_path_rates,
    init_weights,
    no_weight_decay_names,
    run_blocks,
    set_grad_checkpointing,
)


class VisionTransformer(nn.Module):
    """ViT over tubelets with a CLS token (timm-like interface).

    Args:
        img_size: Input height and width (square).
        patch_size: Spatial patch size.
        tube_size: Frames per tubelet; the input clip must have exactly this many frames.
        in_chans: Input channels.
        embed_dim: Token width D.
        depth: Number of blocks.
        num_heads: Attention heads.
        mlp_ratio: MLP hidden width / D.
        drop_path_rate: Stochastic depth of the last block (linear from 0).
        num_classes: Size of an optional linear head on the CLS (0: none, the step-1 trunk).
    """

    def __init__(
        self,
        img_size: int = 224,
        patch_size: int = 16,
        tube_size: int = 2,
        in_chans: int = 3,
        embed_dim: int = 192,
        depth: int = 12,
        num_heads: int = 3,
        mlp_ratio: float = 4.0,
        drop_path_rate: float = 0.1,
        num_classes: int = 0,
    ) -> None:
        super().__init__()
        check_geometry(img_size, patch_size)
        self.img_size = img_size
        self.num_features = self.embed_dim = embed_dim
        self.num_patches = (img_size // patch_size) ** 2
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, self.num_patches + 1, embed_dim))
        self.patch_embed = TubeletEmbed(in_chans, embed_dim, tube_size, patch_size)
        self.blocks = nn.ModuleList(
            Block(embed_dim, num_heads, mlp_ratio, drop_path=p)
            for p in drop_path_rates(drop_path_rate, depth)
        )
        self.norm = nn.LayerNorm(embed_dim, eps=LN_EPS)
        self.head = LinearHead(embed_dim, num_classes) if num_classes > 0 else None
        #: Recompute each block's activations in the backward pass (:meth:`set_grad_checkpointing`).
        self.grad_checkpointing = False
        self._init_weights()

    def _init_weights(self) -> None:
        for m in (self.blocks, self.norm):
            m.apply(init_weights)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)

    def no_weight_decay(self) -> set[str]:
        """Parameters without weight decay: norms, biases, position embedding, CLS (§2)."""
        return no_weight_decay_names(self, extra=("pos_embed", "cls_token"))

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Recompute the blocks' activations in the backward pass instead of keeping them."""
        set_grad_checkpointing(self, enable)

    def get_classifier(self) -> nn.Module | None:
        """The linear head on the CLS token (None for the step-1 trunk)."""
        return self.head

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the head by a freshly initialized one of ``num_classes`` (0: no head)."""
        self.head = LinearHead(self.num_features, num_classes) if num_classes > 0 else None

    def forward_features(self, x: Tensor) -> Tensor:
        """All tokens after the final norm.

        Shapes:
            x: (B, C, tube, H, W) -> (B, 1 + h * w, D), CLS first.
        """
        tokens = self.patch_embed(x)  # (B, 1, N, D)
        if tokens.shape[1] != 1:
            raise ValueError(
                f"ViT expects clips of exactly {self.patch_embed.tube_size} frames, "
                f"got {x.shape[2]}"
            )
        tokens = tokens[:, 0]  # (B, N, D)
        cls = self.cls_token.expand(tokens.shape[0], -1, -1)  # (B, 1, D)
        tokens = torch.cat([cls, tokens], dim=1) + self.pos_embed  # (B, 1 + N, D)
        tokens = run_blocks(self.blocks, tokens, self.grad_checkpointing)
        return self.norm(tokens)

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        """CLS pooling, then the optional head.

        Shapes:
            x: (B, 1 + N, D) -> (B, D) with ``pre_logits`` or without head, else (B, classes).
        """
        cls = x[:, 0]  # (B, D)
        if pre_logits or self.head is None:
            return cls
        return self.head(cls)

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, tube, H, W) -> CLS feature (B, D) (or logits with a head)."""
        return self.forward_head(self.forward_features(x))
