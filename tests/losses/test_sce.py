"""SCE losses and the momentum schedule: hand-worked values, an InfoNCE and a brute-force oracle."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from comedian.losses import momentum_schedule, sce_loss, sce_token_loss


def _unit(*rows: list[float]) -> torch.Tensor:
    return F.normalize(torch.tensor(rows, dtype=torch.float32), dim=1)


def _random_unit(n: int, d: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(n, d, generator=gen), dim=1)


# --- sce_loss ---------------------------------------------------------------------------------


def test_sce_infonce_hand_worked() -> None:
    # logits = [q.k, q.u1, q.u2] / 1 = [0.6, 0, -1]; loss = -0.6 + log(e^0.6 + 1 + e^-1)
    q, k = _unit([1, 0]), _unit([0.6, 0.8])
    queue = _unit([0, 1], [-1, 0])
    loss = sce_loss(q, k, queue, coeff=1.0, temp=1.0, temp_m=0.05)
    assert loss.item() == pytest.approx(0.560020, abs=1e-5)
    assert loss.item() == pytest.approx(-0.6 + math.log(math.exp(0.6) + 1 + math.exp(-1)), 1e-6)


def test_sce_soft_target_hand_worked() -> None:
    # q = e1, k = e2, queue = (e1, e2), temp 0.5, temp_m 0.25, coeff 0.5:
    # logits_q = [0, 2, 0], logits_k = [0, 4] -> s = softmax = [1/(1+e^4), e^4/(1+e^4)],
    # target = [0.5, 0.5 s1, 0.5 s2], log p = [-L, 2 - L, -L] with L = log(2 + e^2).
    q, k = _unit([1, 0]), _unit([0, 1])
    queue = _unit([1, 0], [0, 1])
    loss = sce_loss(q, k, queue, coeff=0.5, temp=0.5, temp_m=0.25)
    s1 = 1 / (1 + math.exp(4))
    lse = math.log(2 + math.exp(2))
    expected = 0.5 * lse + 0.5 * s1 * (lse - 2) + 0.5 * (1 - s1) * lse
    assert expected == pytest.approx(2.221559, abs=1e-5)
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def _infonce_oracle(q: torch.Tensor, k: torch.Tensor, queue: torch.Tensor, temp: float) -> float:
    """InfoNCE with a queue, row by row in float64 (MoCo's definition)."""
    q, k, queue = q.double(), k.double(), queue.double()
    total = 0.0
    for n in range(q.shape[0]):
        pos = math.exp(float(q[n] @ k[n]) / temp)
        neg = sum(math.exp(float(q[n] @ u) / temp) for u in queue)
        total += -math.log(pos / (pos + neg))
    return total / q.shape[0]


def test_sce_coeff_one_is_infonce_with_a_queue() -> None:
    q, k, queue = _random_unit(6, 8, 0), _random_unit(6, 8, 1), _random_unit(20, 8, 2)
    oracle = _infonce_oracle(q, k, queue, temp=0.1)
    assert sce_loss(q, k, queue, coeff=1.0, temp=0.1, temp_m=0.05).item() == pytest.approx(
        oracle, rel=1e-5
    )
    # The general soft-target path meets the one-hot shortcut as coeff -> 1.
    near = sce_loss(q, k, queue, coeff=1.0 - 1e-6, temp=0.1, temp_m=0.05).item()
    assert near == pytest.approx(oracle, rel=1e-4)


def test_sce_keys_and_queue_get_no_gradient() -> None:
    q = _random_unit(4, 8, 0).requires_grad_()
    k = _random_unit(4, 8, 1).requires_grad_()
    queue = _random_unit(10, 8, 2).requires_grad_()
    sce_loss(q, k, queue, coeff=0.5, temp=0.1, temp_m=0.05).backward()
    assert q.grad is not None and q.grad.abs().sum() > 0
    assert k.grad is None and queue.grad is None


def test_sce_float32_under_bf16_autocast() -> None:
    q, k, queue = _random_unit(4, 8, 0), _random_unit(4, 8, 1), _random_unit(10, 8, 2)
    qb, kb, ub = q.bfloat16(), k.bfloat16(), queue.bfloat16()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = sce_loss(qb, kb, ub, coeff=0.5, temp=0.1, temp_m=0.05)
    assert loss.dtype == torch.float32
    # Exactly the float32 loss of the bf16-rounded inputs: nothing was computed in bf16.
    ref = sce_loss(qb.float(), kb.float(), ub.float(), coeff=0.5, temp=0.1, temp_m=0.05)
    assert loss.item() == ref.item()


def test_sce_reduction_none_and_bad_input() -> None:
    q, k, queue = _random_unit(3, 4, 0), _random_unit(3, 4, 1), _random_unit(5, 4, 2)
    rows = sce_loss(q, k, queue, coeff=0.5, temp=0.1, temp_m=0.05, reduction="none")
    assert rows.shape == (3,)
    assert rows.mean().item() == pytest.approx(
        sce_loss(q, k, queue, coeff=0.5, temp=0.1, temp_m=0.05).item(), rel=1e-6
    )
    with pytest.raises(ValueError, match="coeff"):
        sce_loss(q, k, queue, coeff=1.5, temp=0.1, temp_m=0.05)
    with pytest.raises(ValueError, match="rows but k"):
        sce_loss(q, k[:2], queue, coeff=1.0, temp=0.1, temp_m=0.05)
    with pytest.raises(ValueError, match="width"):
        sce_loss(q, k, queue[:, :3], coeff=1.0, temp=0.1, temp_m=0.05)
    with pytest.raises(ValueError, match="non-empty queue"):
        sce_loss(q, k, queue[:0], coeff=0.5, temp=0.1, temp_m=0.05)


# --- sce_token_loss ---------------------------------------------------------------------------


def test_sce_token_hand_worked() -> None:
    # One clip of T = 2 tokens, q = k = (e1, e2), queue u = -e1, coeff 0.5, temperatures 1.
    # Token 0: logits_q = [1, 0, -1]; logits_k = [self, 0, -1] -> softmax [a, 1 - a],
    #   a = 1 / (1 + e^-1); target [0.5, 0.5 a, 0.5 (1 - a)]; loss0 = L - a / 2,
    #   L = log(e + 1 + e^-1).
    # Token 1: logits_q = [0, 1, 0]; logits_k = [0, self, 0] -> [0.5, 0.5];
    #   target [0.25, 0.5, 0.25]; loss1 = L' - 0.5, L' = log(e + 2).
    q = _unit([1, 0], [0, 1])
    k = q.clone()
    queue = _unit([-1, 0])
    losses = sce_token_loss(
        q, k, queue, tokens_per_clip=2, coeff=0.5, temp=1.0, temp_m=1.0, reduction="none"
    )
    a = 1 / (1 + math.exp(-1))
    loss0 = math.log(math.e + 1 + math.exp(-1)) - a / 2
    loss1 = math.log(math.e + 2) - 0.5
    assert (loss0, loss1) == pytest.approx((1.042077, 1.051445), abs=1e-5)
    assert losses.tolist() == pytest.approx([loss0, loss1], rel=1e-6)
    mean = sce_token_loss(q, k, queue, tokens_per_clip=2, coeff=0.5, temp=1.0, temp_m=1.0)
    assert mean.item() == pytest.approx((loss0 + loss1) / 2, rel=1e-6)


def _token_oracle(q, k, queue, t, coeff, temp, temp_m) -> list[float]:
    """Token SCE from the full (B T, B T) similarity, masking other clips and self by hand."""
    q, k, queue = q.double(), k.double(), queue.double()
    n = q.shape[0]
    out = []
    for i in range(n):
        clip = range((i // t) * t, (i // t + 1) * t)
        lq = [float(q[i] @ k[j]) / temp for j in clip] + [float(q[i] @ u) / temp for u in queue]
        lk = [float(k[i] @ k[j]) / temp_m for j in clip if j != i]
        lk += [float(k[i] @ u) / temp_m for u in queue]
        zq = math.log(sum(math.exp(x) for x in lq))
        zk = sum(math.exp(x) for x in lk)
        soft = [math.exp(x) / zk for x in lk]
        soft.insert(i % t, 0.0)  # self gets no soft mass
        target = [(1 - coeff) * s for s in soft]
        target[i % t] += coeff
        out.append(-sum(w * (x - zq) for w, x in zip(target, lq, strict=True)))
    return out


@pytest.mark.parametrize("coeff", [0.0, 0.5, 1.0])
def test_sce_token_matches_brute_force(coeff: float) -> None:
    b, t, d = 3, 4, 8
    q, k, queue = _random_unit(b * t, d, 0), _random_unit(b * t, d, 1), _random_unit(7, d, 2)
    losses = sce_token_loss(
        q, k, queue, tokens_per_clip=t, coeff=coeff, temp=0.1, temp_m=0.05, reduction="none"
    )
    assert losses.tolist() == pytest.approx(_token_oracle(q, k, queue, t, coeff, 0.1, 0.05), 1e-4)


def test_sce_token_other_clips_excluded() -> None:
    b, t, d = 2, 3, 8
    q, k, queue = _random_unit(b * t, d, 0), _random_unit(b * t, d, 1), _random_unit(5, d, 2)
    kw = dict(tokens_per_clip=t, coeff=0.5, temp=0.1, temp_m=0.05, reduction="none")
    both = sce_token_loss(q, k, queue, **kw)
    # Clip 1's keys set equal to clip 0's queries: if they entered clip 0's logits they would
    # dominate them. Clip 0's losses must not move.
    k_close = k.clone()
    k_close[t:] = q[:t]
    moved = sce_token_loss(q, k_close, queue, **kw)
    assert torch.allclose(both[:t], moved[:t], rtol=0, atol=0)
    alone = sce_token_loss(q[:t], k[:t], queue, **kw)
    assert torch.allclose(both[:t], alone, rtol=1e-6, atol=1e-6)


def test_sce_token_self_masked_on_key_side() -> None:
    # coeff = 0, T = 2, empty queue: with self masked, the only key left in token i's target is
    # the other token, so the target is onehot(1 - i), although k_i . k_i = 1 is the largest
    # similarity (unmasked, the target would lean towards i itself).
    t, d = 2, 4
    q, k = _random_unit(2 * t, d, 0), _random_unit(2 * t, d, 1)
    losses = sce_token_loss(
        q, k, k[:0], tokens_per_clip=t, coeff=0.0, temp=0.1, temp_m=0.05, reduction="none"
    )
    in_clip = torch.bmm(q.view(2, t, d), k.view(2, t, d).transpose(1, 2)).reshape(2 * t, t)
    expected = F.cross_entropy(in_clip / 0.1, torch.tensor([1, 0, 1, 0]), reduction="none")
    assert torch.allclose(losses, expected, rtol=1e-6, atol=1e-6)


def test_sce_token_coeff_one_is_in_clip_cross_entropy() -> None:
    b, t, d = 2, 3, 8
    q, k, queue = _random_unit(b * t, d, 0), _random_unit(b * t, d, 1), _random_unit(5, d, 2)
    loss = sce_token_loss(q, k, queue, tokens_per_clip=t, coeff=1.0, temp=0.1, temp_m=0.05)
    in_clip = torch.bmm(q.view(b, t, d), k.view(b, t, d).transpose(1, 2)).reshape(b * t, t)
    logits = torch.cat([in_clip, q @ queue.T], dim=1) / 0.1
    ref = F.cross_entropy(logits, torch.arange(t).repeat(b))
    assert loss.item() == pytest.approx(ref.item(), rel=1e-6)


def test_sce_token_bf16_and_bad_input() -> None:
    q, k, queue = _random_unit(6, 4, 0), _random_unit(6, 4, 1), _random_unit(5, 4, 2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = sce_token_loss(
            q.bfloat16(), k.bfloat16(), queue, tokens_per_clip=3, coeff=0.5, temp=0.1, temp_m=0.05
        )
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    with pytest.raises(ValueError, match="whole number of clips"):
        sce_token_loss(q, k, queue, tokens_per_clip=4, coeff=0.5, temp=0.1, temp_m=0.05)
    with pytest.raises(ValueError, match="another in-clip key"):
        sce_token_loss(q, k, queue[:0], tokens_per_clip=1, coeff=0.5, temp=0.1, temp_m=0.05)


# --- momentum_schedule ------------------------------------------------------------------------


def test_momentum_schedule_endpoints_and_midpoint() -> None:
    assert momentum_schedule(0, 100) == pytest.approx(0.99)
    assert momentum_schedule(100, 100) == pytest.approx(1.0)
    # cos(pi / 2) = 0: halfway between base and 1.
    assert momentum_schedule(50, 100) == pytest.approx(0.995)
    # cos(pi / 3) = 0.5: m = 1 - 0.01 * 0.75.
    assert momentum_schedule(1, 3) == pytest.approx(0.9925)
    assert momentum_schedule(150, 100) == 1.0  # clamped past the end
    assert momentum_schedule(0, 10, base=0.996) == pytest.approx(0.996)
    values = [momentum_schedule(s, 20) for s in range(21)]
    assert values == sorted(values)
    with pytest.raises(ValueError, match="max_steps"):
        momentum_schedule(0, 0)
