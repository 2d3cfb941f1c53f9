"""Spotting loss: per-token BCE with in-batch mixup (method.md §6).

Usage:
    x, y = random_mixup(x, y, cfg.mixup_alpha)    # cfg: a MixupConfig (a stage's section)
    loss = spotting_loss(model(x), y)         # logits (B, 64, 17), targets (B, 64, 17)

Mixup draws one lambda per sample from Beta(alpha, alpha) and one in-batch permutation; clip i
becomes lam_i * clip_i + (1 - lam_i) * clip_perm(i), and its targets the same mix of the two
label sets (soft targets for the BCE).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor

from comedian.config import Settings, check_number


@dataclass(frozen=True)
class MixupConfig(Settings):
    """Mixup settings (method.md §3, §6), a section of the teacher's and the spotting stages'
    configs.

    Attributes:
        mixup_alpha: Beta(alpha, alpha) of the per-sample lambdas (0: no mixup).
    """

    mixup_alpha: float = field(default=0.1, metadata={"help": "mixup Beta(a, a); 0: off"})

    def check(self) -> None:
        super().check()
        check_number("mixup_alpha", self.mixup_alpha, minimum=0)


def sample_mixup(
    batch_size: int, alpha: float, device: torch.device | str | None = None
) -> tuple[Tensor, Tensor]:
    """Per-sample lambdas ~ Beta(alpha, alpha) and an in-batch permutation.

    Returns:
        lam float32 (B,), perm int64 (B,).
    """
    a = torch.tensor(float(alpha), device=device)
    lam = torch.distributions.Beta(a, a).sample((batch_size,)).float()
    return lam, torch.randperm(batch_size, device=device)


def mixup(x: Tensor, y: Tensor, lam: Tensor, perm: Tensor) -> tuple[Tensor, Tensor]:
    """Mix each sample with ``perm``'s, by its own lambda.

    Shapes:
        x: (B, ...), y: (B, ...), lam: (B,), perm: (B,) -> x, y mixed, same shapes.
    """
    lx = lam.to(x.dtype).view(-1, *([1] * (x.ndim - 1)))
    ly = lam.to(y.dtype).view(-1, *([1] * (y.ndim - 1)))
    return lx * x + (1 - lx) * x[perm], ly * y + (1 - ly) * y[perm]


def random_mixup(x: Tensor, y: Tensor, alpha: float) -> tuple[Tensor, Tensor]:
    """Mix a training batch with freshly drawn lambdas and permutation (:func:`sample_mixup`,
    :func:`mixup`); the batch as it is when ``alpha`` is 0 or it holds one sample.

    Shapes:
        x: (B, ...), y: (B, ...) -> x, y mixed, same shapes.
    """
    if alpha <= 0 or x.shape[0] < 2:
        return x, y
    lam, perm = sample_mixup(x.shape[0], alpha, device=x.device)
    return mixup(x, y, lam, perm)


def spotting_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean BCE-with-logits over (B, T, C), no class weights; computed in float32."""
    return F.binary_cross_entropy_with_logits(logits.float(), targets.float())
