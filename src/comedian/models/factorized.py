"""Factorized video encoder: a spatial stage per tubelet, then a temporal stage over seconds.

Usage (through a subclass, e.g. :class:`comedian.models.vivit.ViViT`):
    tokens = model(clip)                                  # (B, 3, T, H, W) -> (B, T / 2, D)
    tokens, mask = model(clip, return_mask=True)          # mask (B, T / 2), True = masked
    mask = model.sample_mask(batch_size)                  # choose the masked seconds yourself
    tokens = model(clip, mask=mask)

Temporal masking is that of method.md §5: per sample, ``round(ratio * T / tube)`` aligned
tubelets (seconds) are chosen at random and **dropped before the spatial stage** (only the others
are encoded), a learnable zero-initialized mask token takes their place before the temporal stage,
the original order is restored and the time embedding is added after. It is active only in
training mode with ``mask_ratio > 0``; an explicit ``mask`` is honoured in any mode.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from comedian.models.heads import LinearHead
from comedian.models.layers import (
    LN_EPS,
    Transformer,
    init_weights,
    no_weight_decay_names,
    set_grad_checkpointing,
)


def num_masked(mask_ratio: float, num_tubelets: int) -> int:
    """Number of masked seconds: ``mask_ratio * num_tubelets`` rounded half up (64 -> 16)."""
    return int(math.floor(mask_ratio * num_tubelets + 0.5))


class FactorizedEncoder(nn.Module):
    """Temporal stage, masking and spotting head shared by ViViT and ViSwin.

    Subclasses define ``patch_embed`` (a :class:`~comedian.models.layers.TubeletEmbed`) and
    :meth:`encode_tubelets`, the spatial stage that turns each tubelet's tokens into one vector.

    Args:
        num_tubelets: Tubelets per clip (frames / tube); the length of the time embedding.
        dim: Width of the temporal stage (= the spatial stage's output width).
        temporal_depth: Temporal blocks.
        temporal_num_heads: Temporal attention heads.
        mlp_ratio: MLP hidden width / dim.
        temporal_drop_path_rate: Stochastic depth of the last temporal block.
        mask_ratio: Fraction of seconds masked in training (0 disables masking).
        mask_token: Whether the learnable mask token exists (the reference's
            ``temporal_mask_token``); required when ``mask_ratio > 0``.
        num_classes: Classes of the per-token linear head (0: no head).
    """

    def __init__(
        self,
        *,
        num_tubelets: int,
        dim: int,
        temporal_depth: int,
        temporal_num_heads: int,
        mlp_ratio: float,
        temporal_drop_path_rate: float,
        mask_ratio: float,
        mask_token: bool,
        num_classes: int,
    ) -> None:
        super().__init__()
        if not 0.0 <= mask_ratio < 1.0:
            raise ValueError(f"mask_ratio must be in [0, 1), got {mask_ratio}")
        if mask_ratio > 0 and not mask_token:
            raise ValueError("temporal masking (mask_ratio > 0) needs mask_token=True")
        if num_masked(mask_ratio, num_tubelets) >= num_tubelets:
            raise ValueError(f"mask_ratio {mask_ratio} would mask all {num_tubelets} tubelets")
        self.num_tubelets = num_tubelets
        self.num_features = self.embed_dim = dim
        self.mask_ratio = float(mask_ratio)
        # Zero init: a masked second starts as "no information" (method.md §5).
        self.temporal_mask_token = nn.Parameter(torch.zeros(1, 1, dim)) if mask_token else None
        self.time_embed = nn.Parameter(torch.zeros(1, num_tubelets, dim))
        self.temporal_transformer = Transformer(
            dim,
            temporal_depth,
            temporal_num_heads,
            mlp_ratio,
            drop_path_rate=temporal_drop_path_rate,
            eps=LN_EPS,
        )
        # Registered even when None: a head added later (reset_classifier) takes this place
        # in the state dict, as in a model built with it.
        self.register_module("head", LinearHead(dim, num_classes) if num_classes > 0 else None)
        nn.init.trunc_normal_(self.time_embed, std=0.02)
        self.temporal_transformer.apply(init_weights)

    # -- to be provided by subclasses -------------------------------------------------------
    patch_embed: nn.Module

    def encode_tubelets(self, tokens: Tensor) -> Tensor:
        """Spatial stage: one vector per tubelet.

        Shapes:
            tokens: (B', N, C) patch tokens of B' tubelets -> (B', D)
        """
        raise NotImplementedError

    # -- masking ----------------------------------------------------------------------------
    def sample_mask(
        self,
        batch_size: int,
        num_tubelets: int | None = None,
        device: torch.device | str | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Draw the masked seconds: ``round(ratio * Tt)`` distinct ones per sample, uniformly.

        Reproducible under ``torch.manual_seed`` (it draws from the default generator of
        ``device`` unless ``generator`` is given).

        Returns:
            Bool (B, Tt), True at masked seconds; every row has the same count.
        """
        tt = self.num_tubelets if num_tubelets is None else num_tubelets
        n = num_masked(self.mask_ratio, tt)
        noise = torch.rand(batch_size, tt, device=device, generator=generator)  # (B, Tt)
        chosen = noise.argsort(dim=1)[:, :n]  # (B, n) a uniform random subset per row
        mask = torch.zeros(batch_size, tt, dtype=torch.bool, device=noise.device)
        return mask.scatter(1, chosen, True)

    def _check_mask(self, mask: Tensor, batch_size: int, num_tubelets: int) -> int:
        if mask.shape != (batch_size, num_tubelets) or mask.dtype != torch.bool:
            raise ValueError(
                f"mask must be bool ({batch_size}, {num_tubelets}), got {mask.dtype} "
                f"{tuple(mask.shape)}"
            )
        if self.temporal_mask_token is None:
            raise ValueError("this model has no temporal mask token (mask_token=False)")
        counts = mask.sum(dim=1)
        n = int(counts[0])
        if bool((counts != n).any()) or n >= num_tubelets:
            raise ValueError(
                "every sample must mask the same number of seconds, fewer than all "
                f"{num_tubelets}; got counts {counts.tolist()}"
            )
        return n

    def no_weight_decay(self) -> set[str]:
        """Parameters without weight decay: norms, biases, embeddings, CLS and mask tokens
        (method.md §5, §6), plus the subclass's own (Swin relative position tables)."""
        return no_weight_decay_names(
            self,
            extra=(
                "pos_embed",
                "time_embed",
                "spatial_cls_token",
                "temporal_mask_token",
                "relative_position_bias_table",
            ),
        )

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Recompute the activations of every spatial and temporal block in the backward pass
        instead of keeping them (the memory of a 128-frame clip at 224 px, method.md §10)."""
        set_grad_checkpointing(self, enable)

    def get_classifier(self) -> nn.Module | None:
        """The per-token linear head (None for a trunk)."""
        return self.head

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the head by a freshly initialized one of ``num_classes`` (0: no head)."""
        self.head = LinearHead(self.num_features, num_classes) if num_classes > 0 else None

    # -- forward ----------------------------------------------------------------------------
    def forward_features(
        self, x: Tensor, mask: Tensor | None = None, return_mask: bool = False
    ) -> Tensor | tuple[Tensor, Tensor]:
        """Encode a clip into one token per tubelet (one per second at 2 fps).

        Args:
            x: The clip.
            mask: Optional bool (B, Tt), True = masked second. Default: drawn with
                :meth:`sample_mask` in training mode when ``mask_ratio > 0``, else none.
                An explicit mask is validated on the host (one sync; a graph break under
                ``torch.compile``); the internally drawn one needs no sync.
            return_mask: Also return the mask used (all False when nothing was masked).

        Returns:
            Tokens after the temporal stage's final norm, and the mask if asked.

        Shapes:
            x: (B, C, T, H, W) -> tokens (B, T / tube, D); mask (B, T / tube).
        """
        b = x.shape[0]
        tokens = self.patch_embed(x)  # (B, Tt, N, C)
        tt, n_tok, c = tokens.shape[1:]
        if tt > self.num_tubelets:
            raise ValueError(
                f"clip has {tt} tubelets but the time embedding covers {self.num_tubelets}"
            )
        if mask is None and self.training and self.mask_ratio > 0:
            mask = self.sample_mask(b, tt, device=x.device)
            # Known without reading the mask back: no host sync, compile-friendly.
            n_masked = num_masked(self.mask_ratio, tt)
        elif mask is not None:
            n_masked = self._check_mask(mask, b, tt)
        if mask is not None:
            tk = tt - n_masked
            # Stable sort puts the kept seconds (0) first, in their original order.
            keep = torch.argsort(mask.to(torch.int8), dim=1, stable=True)[:, :tk]  # (B, Tk)
            tokens = tokens.gather(1, keep[:, :, None, None].expand(-1, -1, n_tok, c))
        else:
            tk = tt
        # Only the kept tubelets go through the (expensive) spatial stage.
        feats = self.encode_tubelets(tokens.reshape(b * tk, n_tok, c))  # (B*Tk, D)
        feats = feats.reshape(b, tk, -1)  # (B, Tk, D)
        if mask is not None and self.temporal_mask_token is not None:
            full = self.temporal_mask_token.to(feats.dtype).expand(b, tt, -1)  # (B, Tt, D)
            # Put each encoded second back at its own time; masked ones keep the mask token.
            feats = full.scatter(1, keep[:, :, None].expand(-1, -1, feats.shape[-1]), feats)
        out = self.temporal_stage(feats)  # (B, Tt, D)
        if return_mask:
            if mask is None:
                mask = torch.zeros(b, tt, dtype=torch.bool, device=x.device)
            return out, mask
        return out

    def encode_seconds(self, x: Tensor) -> Tensor:
        """Spatial stage alone, without masking: one vector per tubelet (second).

        Each tubelet is encoded on its own, so the seconds shared by overlapping inference
        windows can be encoded once (:func:`comedian.spotting.inference.score_halves`).

        Shapes:
            x: (B, C, T, H, W) -> (B, T / tube, D)
        """
        tokens = self.patch_embed(x)  # (B, Tt, N, C)
        b, tt, n_tok, c = tokens.shape
        return self.encode_tubelets(tokens.reshape(b * tt, n_tok, c)).reshape(b, tt, -1)

    def temporal_stage(self, feats: Tensor) -> Tensor:
        """Time embedding, then the temporal transformer (with its final norm).

        Shapes:
            feats: (B, Tt, D) -> (B, Tt, D)
        """
        return self.temporal_transformer(feats + self.time_embed[:, : feats.shape[1]])

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        """Per-token head (identity with ``pre_logits`` or without a head).

        Shapes:
            x: (B, Tt, D) -> (B, Tt, num_classes) or (B, Tt, D).
        """
        if pre_logits or self.head is None:
            return x
        return self.head(x)

    def forward(
        self, x: Tensor, mask: Tensor | None = None, return_mask: bool = False
    ) -> Tensor | tuple[Tensor, Tensor]:
        """Tokens (no head) or per-token logits (with a head); see :meth:`forward_features`."""
        out = self.forward_features(x, mask=mask, return_mask=return_mask)
        if return_mask:
            feats, used = out
            return self.forward_head(feats), used
        return self.forward_head(out)  # type: ignore[arg-type]
