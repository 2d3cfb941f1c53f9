"""SCE (Similarity Contrastive Estimation) losses of steps 1 and 2 (method.md §2 and §5).

Usage:
    loss = sce_loss(q, k, queue.vectors, coeff=1.0, temp=0.1, temp_m=0.05)     # §2, one view
    loss = 0.5 * (sce_loss(q1, k2, u, ...) + sce_loss(q2, k1, u, ...))        # symmetric
    loss = sce_token_loss(q, k, u, tokens_per_clip=64, coeff=0.5, temp=0.1, temp_m=0.05)  # §5
    m = momentum_schedule(step, max_steps)                                     # 0.99 -> 1

The settings (queue, coefficient, temperatures) are :class:`SceConfig`, a section of the
configs of the stages that train with SCE (pretrain, distill).

SCE (Denize et al., 2023) trains the query branch against a soft target: ``coeff`` of the mass on
the positive key, the rest spread over the queue as the key's own similarity distribution
(softmax of key-to-queue similarities at the sharper temperature ``temp_m``). With coeff = 1 the
target is one-hot and the loss is exactly InfoNCE with a queue (MoCo), the setting of step 1.

Keys and queue are the target branch (momentum encoder or teacher): they are detached, so no
gradient reaches them. The loss is computed in float32 with autocast disabled: the logits are
divided by small temperatures and a bf16 log-softmax over 65,536 queue slots loses the positive.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor

from comedian.config import Settings, check_number


@dataclass(frozen=True)
class SceConfig(Settings):
    """SCE settings (method.md §2, §5): the defaults are distillation's (§5); step 1 sets
    ``coeff`` 1 (InfoNCE).

    Attributes:
        queue_size: Slots of the FIFO queue of keys (:class:`comedian.losses.FeatureQueue`).
        coeff: SCE coefficient lambda: the target's mass on the positive key (1: InfoNCE).
        temp: Temperature of the query logits.
        temp_m: Temperature of the key target (sharper; unused at coeff 1).
    """

    queue_size: int = field(default=65536, metadata={"help": "SCE queue slots"})
    coeff: float = field(default=0.5, metadata={"help": "SCE lambda (1: InfoNCE)"})
    temp: float = field(default=0.1, metadata={"help": "SCE query temperature"})
    temp_m: float = field(default=0.05, metadata={"help": "SCE key (target) temperature"})

    def check(self) -> None:
        super().check()
        check_number("queue_size", self.queue_size, minimum=1, integer=True)
        check_number("coeff", self.coeff, minimum=0, maximum=1)
        check_number("temp", self.temp, above=0)
        check_number("temp_m", self.temp_m, above=0)


def momentum_schedule(step: int, max_steps: int, base: float = 0.99) -> float:
    """Momentum of the key encoder at ``step``: a per-step cosine from ``base`` to 1 (§2).

    m = 1 - (1 - base) * (cos(pi * step / max_steps) + 1) / 2, so m(0) = base and
    m(max_steps) = 1. Steps outside [0, max_steps] are clamped (a resumed run that trains a few
    steps more than planned keeps m = 1 instead of swinging back down the cosine).

    Args:
        step: Optimizer steps taken so far.
        max_steps: Total optimizer steps of the run (> 0).
        base: Momentum at step 0.

    Returns:
        The momentum in [base, 1].
    """
    if max_steps <= 0:
        raise ValueError(f"momentum_schedule: max_steps must be > 0, got {max_steps}")
    if not 0.0 <= base <= 1.0:
        raise ValueError(f"momentum_schedule: base must be in [0, 1], got {base}")
    progress = min(max(step, 0), max_steps) / max_steps
    return 1.0 - (1.0 - base) * (math.cos(math.pi * progress) + 1.0) / 2.0


def _check_hyper(coeff: float, temp: float, temp_m: float) -> None:
    if not 0.0 <= coeff <= 1.0:
        raise ValueError(f"SCE: coeff must be in [0, 1], got {coeff}")
    if temp <= 0 or temp_m <= 0:
        raise ValueError(f"SCE: temperatures must be > 0, got temp={temp}, temp_m={temp_m}")


def _check_rows(name: str, x: Tensor, dim: int | None = None) -> None:
    if x.ndim != 2:
        raise ValueError(f"SCE: {name} must be 2-D (rows, D), got shape {tuple(x.shape)}")
    if dim is not None and x.shape[1] != dim:
        raise ValueError(f"SCE: {name} has width {x.shape[1]}, expected {dim}")


def _soft_cross_entropy(logits: Tensor, target: Tensor) -> Tensor:
    """Per-row cross-entropy between a target distribution and logits. Shape (N, M) -> (N,)."""
    return -(target * F.log_softmax(logits, dim=1)).sum(dim=1)


def _reduce(losses: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return losses.mean()
    if reduction == "none":
        return losses
    raise ValueError(f"SCE: reduction must be 'mean' or 'none', got {reduction!r}")


def sce_loss(
    q: Tensor,
    k: Tensor,
    queue: Tensor,
    *,
    coeff: float,
    temp: float,
    temp_m: float,
    reduction: str = "mean",
) -> Tensor:
    """One direction of SCE with a queue (method.md §2).

    For row n: logits = [q_n . k_n, q_n . u_1, ..., q_n . u_K] / temp, target =
    coeff * onehot(0) + (1 - coeff) * [0, softmax([k_n . u_1, ..., k_n . u_K] / temp_m)],
    loss_n = cross-entropy(target, log_softmax(logits)).

    Args:
        q: Queries (online branch), L2-normalized rows.
        k: Keys (target branch) of the same samples, L2-normalized rows; detached.
        queue: Queue of past keys, one vector a row; detached.
        coeff: Weight lambda of the one-hot part (1 = InfoNCE).
        temp: Temperature tau of the query logits.
        temp_m: Temperature tau_m of the key-to-queue target (unused when coeff = 1).
        reduction: "mean" (a scalar) or "none" (one loss a row).

    Returns:
        The float32 loss, a scalar or (N,).

    Shapes:
        q, k: (N, D); queue: (K, D).
    """
    _check_hyper(coeff, temp, temp_m)
    _check_rows("q", q)
    _check_rows("k", k, q.shape[1])
    _check_rows("queue", queue, q.shape[1])
    if k.shape[0] != q.shape[0]:
        raise ValueError(f"SCE: q has {q.shape[0]} rows but k has {k.shape[0]}")
    if coeff < 1.0 and queue.shape[0] == 0:
        raise ValueError("SCE: coeff < 1 needs a non-empty queue for the soft target")
    with torch.autocast(device_type=q.device.type, enabled=False):
        q = q.float()
        k = k.detach().float()
        queue = queue.detach().float()
        pos = (q * k).sum(dim=1, keepdim=True)  # (N, 1)
        logits = torch.cat([pos, q @ queue.T], dim=1) / temp  # (N, 1 + K)
        if coeff == 1.0:
            # One-hot target: the cross-entropy at index 0 (no need for key-to-queue logits).
            target_index = torch.zeros(q.shape[0], dtype=torch.long, device=q.device)
            return _reduce(F.cross_entropy(logits, target_index, reduction="none"), reduction)
        with torch.no_grad():
            soft = F.softmax(k @ queue.T / temp_m, dim=1)  # (N, K)
            target = torch.cat([torch.zeros_like(pos), soft], dim=1) * (1.0 - coeff)  # (N, 1 + K)
            target[:, 0] += coeff
        return _reduce(_soft_cross_entropy(logits, target), reduction)


def sce_token_loss(
    q: Tensor,
    k: Tensor,
    queue: Tensor,
    *,
    tokens_per_clip: int,
    coeff: float,
    temp: float,
    temp_m: float,
    reduction: str = "mean",
) -> Tensor:
    """SCE over the tokens of clips, keys restricted to the same clip (method.md §5).

    For token i of clip b, with K_b the keys of clip b (i's own key included):
    logits_q(i) = [q_i . k_j for j in K_b] + [q_i . u for u in queue], / temp;
    logits_k(i) = [k_i . k_j for j in K_b, j != i] + [k_i . u for u in queue], / temp_m,
    the self-similarity masked out; target = coeff * onehot(i) + (1 - coeff) *
    softmax(logits_k(i)); loss(i) = cross-entropy(target, log_softmax(logits_q(i))). Keys of the
    other clips of the batch take no part in either logits (they are other moments of other
    games or halves, not negatives of this clip's structure). The in-clip similarities are a
    batched (B, T, T) product, never the (B * T, B * T) matrix.

    Args:
        q: Student token queries, L2-normalized rows, clip-major (clip 0's T tokens first).
        k: Teacher keys of the same tokens, L2-normalized rows; detached.
        queue: Queue of past teacher keys, one vector a row; detached.
        tokens_per_clip: T, tokens of one clip.
        coeff: Weight lambda of the one-hot part (0.5 in §5).
        temp: Temperature tau of the query logits (0.1).
        temp_m: Temperature tau_m of the key target (0.05).
        reduction: "mean" over all B * T tokens, or "none" (one loss a token).

    Returns:
        The float32 loss, a scalar or (B * T,).

    Shapes:
        q, k: (B * T, D); queue: (K, D).
    """
    _check_hyper(coeff, temp, temp_m)
    _check_rows("q", q)
    _check_rows("k", k, q.shape[1])
    _check_rows("queue", queue, q.shape[1])
    n, d = q.shape
    t = tokens_per_clip
    if t < 1 or n % t:
        raise ValueError(f"SCE tokens: {n} rows are not a whole number of clips of {t} tokens")
    if k.shape[0] != n:
        raise ValueError(f"SCE tokens: q has {n} rows but k has {k.shape[0]}")
    if coeff < 1.0 and t == 1 and queue.shape[0] == 0:
        raise ValueError("SCE tokens: coeff < 1 needs another in-clip key or a queue")
    b = n // t
    with torch.autocast(device_type=q.device.type, enabled=False):
        q = q.float()
        k = k.detach().float()
        queue = queue.detach().float()
        qb, kb = q.view(b, t, d), k.view(b, t, d)
        in_clip = torch.bmm(qb, kb.transpose(1, 2)).reshape(n, t)  # (B * T, T): row i, key j
        logits = torch.cat([in_clip, q @ queue.T], dim=1) / temp  # (B * T, T + K)
        # Position of each token inside its clip: the one-hot target index.
        pos = torch.arange(t, device=q.device).repeat(b)  # (B * T,)
        if coeff == 1.0:
            return _reduce(F.cross_entropy(logits, pos, reduction="none"), reduction)
        with torch.no_grad():
            kk = torch.bmm(kb, kb.transpose(1, 2)).reshape(n, t)  # (B * T, T)
            kk[torch.arange(n, device=q.device), pos] = float("-inf")  # self masked
            logits_k = torch.cat([kk, k @ queue.T], dim=1) / temp_m  # (B * T, T + K)
            target = F.softmax(logits_k, dim=1) * (1.0 - coeff)
            target[torch.arange(n, device=q.device), pos] += coeff
        return _reduce(_soft_cross_entropy(logits, target), reduction)
