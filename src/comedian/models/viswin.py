"""ViSwin-Tiny: a Swin-T spatial stage per tubelet and a 768-d temporal stage (method.md §10).

Usage:
    model = ViSwin()                                 # paper size, 128 frames at 224 px
    tokens = model(clip)                             # (B, 3, 128, 224, 224) -> (B, 64, 768)
    model = ViSwin(num_classes=17)                   # per-token logits (B, 64, 17)

Tubelet embedding Conv3d (2, 4, 4) -> 96 channels + LayerNorm; Swin-T (depths 2, 2, 6, 2, heads
3, 6, 12, 24, window 7, no absolute position embedding, final LayerNorm); the mean of the final
7 x 7 tokens is one 768-d token per second; temporal stage of width 768 with 3 heads, depth 4 by
default, a learned time embedding and the same temporal masking as the ViViT
(:mod:`comedian.models.factorized`). Its temporal stage is not initialized from step 1. Keys are
those of the reference trunk (checkpoints.md §3).
"""

from __future__ import annotations

from torch import Tensor

from comedian.models.factorized import FactorizedEncoder
from comedian.models.layers import TubeletEmbed, check_geometry
from comedian.models.swin import SWIN_LN_EPS, SwinTransformer


class ViSwin(FactorizedEncoder):
    """Swin spatial stage + transformer temporal stage.

    Args:
        num_frames: Frames per clip (128 = 64 s at 2 fps).
        img_size: Input height and width (square).
        patch_size: Spatial patch size of the tubelet embedding.
        tube_size: Frames per tubelet.
        in_chans: Input channels.
        embed_dim: Width of Swin stage 0 (the temporal width is ``embed_dim * 2**(stages-1)``).
        depths: Swin blocks per stage.
        num_heads: Swin heads per stage.
        window: Swin window size.
        temporal_depth: Temporal blocks.
        temporal_num_heads: Temporal attention heads.
        mlp_ratio: MLP hidden width / width (both stages).
        drop_path_rate: Stochastic depth of the last Swin block.
        temporal_drop_path_rate: Stochastic depth of the last temporal block.
        mask_ratio: Fraction of seconds masked in training (0 disables masking).
        mask_token: Whether the learnable temporal mask token exists.
        num_classes: Classes of the per-token spotting head (0: none).
    """

    def __init__(
        self,
        num_frames: int = 128,
        img_size: int = 224,
        patch_size: int = 4,
        tube_size: int = 2,
        in_chans: int = 3,
        embed_dim: int = 96,
        depths: tuple[int, ...] = (2, 2, 6, 2),
        num_heads: tuple[int, ...] = (3, 6, 12, 24),
        window: int = 7,
        temporal_depth: int = 4,
        temporal_num_heads: int = 3,
        mlp_ratio: float = 4.0,
        drop_path_rate: float = 0.1,
        temporal_drop_path_rate: float = 0.1,
        mask_ratio: float = 0.25,
        mask_token: bool = True,
        num_classes: int = 0,
    ) -> None:
        check_geometry(img_size, patch_size, num_frames, tube_size)
        depths, num_heads = tuple(depths), tuple(num_heads)
        super().__init__(
            num_tubelets=num_frames // tube_size,
            dim=embed_dim * 2 ** (len(depths) - 1),
            temporal_depth=temporal_depth,
            temporal_num_heads=temporal_num_heads,
            mlp_ratio=mlp_ratio,
            temporal_drop_path_rate=temporal_drop_path_rate,
            mask_ratio=mask_ratio,
            mask_token=mask_token,
            num_classes=num_classes,
        )
        self.img_size = img_size
        self.patch_embed = TubeletEmbed(
            in_chans, embed_dim, tube_size, patch_size, norm_eps=SWIN_LN_EPS
        )
        self.spatial_transformer = SwinTransformer(
            grid_size=img_size // patch_size,
            embed_dim=embed_dim,
            depths=depths,
            num_heads=num_heads,
            window=window,
            mlp_ratio=mlp_ratio,
            drop_path_rate=drop_path_rate,
        )

    def encode_tubelets(self, tokens: Tensor) -> Tensor:
        """Swin stages, final norm, mean over the final tokens.

        Shapes:
            tokens: (B', h*w, C) -> (B', D)
        """
        return self.spatial_transformer(tokens).mean(dim=1)
