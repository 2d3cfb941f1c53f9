"""Temporal masking of ViViT and ViSwin (method.md §5, §10)."""

from __future__ import annotations

import pytest
import torch
from tiny_models import TINY, tiny_input

from comedian.models import build_model
from comedian.models.factorized import num_masked

FACTORIZED = ["vivit_tiny", "viswin_tiny"]


def _spatial_module(model: torch.nn.Module) -> torch.nn.Module:
    return model.spatial_transformer


class _Recorder:
    """Forward pre-hook that keeps the first positional input of a module."""

    def __init__(self, module: torch.nn.Module) -> None:
        self.inputs: list[torch.Tensor] = []
        self.handle = module.register_forward_pre_hook(self._hook)

    def _hook(self, _module: torch.nn.Module, args: tuple) -> None:
        self.inputs.append(args[0].detach().clone())


def test_num_masked_rounds_half_up() -> None:
    assert num_masked(0.25, 64) == 16  # the paper: 16 of 64 seconds
    assert num_masked(0.25, 4) == 1
    assert num_masked(0.25, 2) == 1  # 0.5 rounds up, not to even
    assert num_masked(0.25, 5) == 1  # 1.25
    assert num_masked(0.0, 64) == 0


def test_sample_mask_counts_and_determinism() -> None:
    model = build_model("vivit_tiny", **{**TINY["vivit_tiny"], "num_frames": 128})
    torch.manual_seed(3)
    mask = model.sample_mask(50)
    assert mask.shape == (50, 64) and mask.dtype == torch.bool
    assert (mask.sum(1) == 16).all()
    # Different samples get different seconds, and every second gets masked sometimes.
    assert len({tuple(row.tolist()) for row in mask}) == 50
    assert mask.any(0).all()
    torch.manual_seed(3)
    assert torch.equal(model.sample_mask(50), mask)


@pytest.mark.parametrize("name", FACTORIZED)
def test_masked_tubelets_are_not_encoded(name: str) -> None:
    torch.manual_seed(0)
    model = build_model(name, **TINY[name]).train()
    rec = _Recorder(_spatial_module(model))
    x = tiny_input(name, batch=3)
    out, mask = model(x, return_mask=True)
    # 4 seconds per clip, round(0.25 * 4) = 1 masked: 3 * 3 tubelets reach the spatial stage.
    assert out.shape[:2] == (3, 4)
    assert (mask.sum(1) == 1).all()
    assert rec.inputs[0].shape[0] == 3 * 3


@pytest.mark.parametrize("name", FACTORIZED)
def test_masked_seconds_do_not_influence_output(name: str) -> None:
    torch.manual_seed(0)
    model = build_model(name, **TINY[name]).train()
    x = tiny_input(name, batch=2)
    mask = torch.tensor([[False, True, False, False], [False, False, False, True]])
    ref = model(x, mask=mask)
    x2 = x.clone()
    x2[0, :, 2:4] += 5.0  # frames of second 1 of clip 0: masked
    x2[1, :, 6:8] -= 5.0  # frames of second 3 of clip 1: masked
    torch.testing.assert_close(model(x2, mask=mask), ref)
    x3 = x.clone()
    x3[0, :, 0:2] += 5.0  # second 0 of clip 0: kept, so the output changes
    assert not torch.allclose(model(x3, mask=mask)[0], ref[0])
    torch.testing.assert_close(model(x3, mask=mask)[1], ref[1])


@pytest.mark.parametrize("name", FACTORIZED)
def test_mask_token_placement_and_order(name: str) -> None:
    torch.manual_seed(0)
    model = build_model(name, **TINY[name]).train()
    with torch.no_grad():
        model.temporal_mask_token.fill_(7.0)  # a value no encoded token has
    rec = _Recorder(model.temporal_transformer)
    x = tiny_input(name, batch=2)
    mask = torch.tensor([[True, False, False, False], [False, False, True, False]])
    with torch.no_grad():
        model(x, mask=mask)
        model.eval()
        model(x)  # unmasked: every second encoded
    masked_in, full_in = rec.inputs  # (B, Tt, D) each: temporal-stage inputs
    time = model.time_embed[0].detach()  # (Tt, D)
    for b in range(2):
        for t in range(4):
            if mask[b, t]:
                # The mask token, plus the time embedding of its own second.
                torch.testing.assert_close(masked_in[b, t], 7.0 + time[t])
            else:
                # Same spatial feature as the unmasked run, at its original time.
                torch.testing.assert_close(masked_in[b, t], full_in[b, t])


@pytest.mark.parametrize("name", FACTORIZED)
def test_eval_and_ratio_zero_do_not_mask(name: str) -> None:
    model = build_model(name, **TINY[name]).eval()
    rec = _Recorder(_spatial_module(model))
    with torch.no_grad():
        _, mask = model(tiny_input(name, batch=2), return_mask=True)
    assert not mask.any()
    assert rec.inputs[-1].shape[0] == 2 * 4
    off = build_model(name, **TINY[name], mask_ratio=0.0).train()
    rec = _Recorder(_spatial_module(off))
    _, mask = off(tiny_input(name, batch=2), return_mask=True)
    assert not mask.any()
    assert rec.inputs[-1].shape[0] == 2 * 4


def test_training_forward_is_deterministic_under_seed() -> None:
    model = build_model("vivit_tiny", **{**TINY["vivit_tiny"], "drop_path_rate": 0.1}).train()
    x = tiny_input("vivit_tiny", batch=4)
    torch.manual_seed(11)
    out1, mask1 = model(x, return_mask=True)
    torch.manual_seed(11)
    out2, mask2 = model(x, return_mask=True)
    assert torch.equal(mask1, mask2)
    assert torch.equal(out1, out2)
    torch.manual_seed(12)
    masks = torch.stack([model(x, return_mask=True)[1] for _ in range(5)])
    assert not (masks == mask1).all()  # the draw does depend on the seed


def test_explicit_mask_validation() -> None:
    model = build_model("vivit_tiny", **TINY["vivit_tiny"]).train()
    x = tiny_input("vivit_tiny", batch=2)
    with pytest.raises(ValueError, match="same number"):
        model(x, mask=torch.tensor([[True, False, False, False], [True, True, False, False]]))
    with pytest.raises(ValueError, match="bool"):
        model(x, mask=torch.zeros(2, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="mask_token"):
        build_model("vivit_tiny", **TINY["vivit_tiny"], mask_token=False)
    plain = build_model("vivit_tiny", **TINY["vivit_tiny"], mask_token=False, mask_ratio=0.0)
    assert "temporal_mask_token" not in plain.state_dict()
    with pytest.raises(ValueError, match="mask token"):
        plain(x, mask=torch.tensor([[True, False, False, False]] * 2))
