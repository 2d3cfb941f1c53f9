"""Gradient checkpointing: the same outputs and gradients, with every block recomputed."""

from __future__ import annotations

import pytest
import torch
from tiny_models import TINY, tiny_input

from comedian.models import build_model
from comedian.models import layers as layers_module

#: Backbones that checkpoint, with their number of blocks (spatial + temporal) at TINY size.
BLOCKS = {"vit_tiny": 2, "vivit_tiny": 2 + 2, "viswin_tiny": 8 + 2}


@pytest.fixture
def checkpoint_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the blocks run under ``torch.utils.checkpoint``."""
    calls: list[int] = []
    real = layers_module.checkpoint

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(layers_module, "checkpoint", counting)
    return calls


def _grads(name: str, enable: bool) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """One training step's output and gradients, seeded: drop path on, masking as configured."""
    torch.manual_seed(0)
    kwargs = dict(TINY[name], num_classes=17)
    kwargs.update(
        {k: 0.3 for k in ("drop_path_rate", "temporal_drop_path_rate") if k in TINY[name]}
    )
    model = build_model(name, **kwargs).train()
    model.set_grad_checkpointing(enable)
    x = tiny_input(name).requires_grad_(True)
    torch.manual_seed(1)  # the mask and the stochastic depth draws
    out = model(x)
    out.square().mean().backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    grads["input"] = x.grad.clone()
    return out.detach(), grads


@pytest.mark.parametrize("name", list(BLOCKS))
def test_checkpointing_gives_the_same_gradients(name: str, checkpoint_calls: list[int]) -> None:
    out_plain, plain = _grads(name, enable=False)
    assert checkpoint_calls == []
    out_ckpt, ckpt = _grads(name, enable=True)
    assert len(checkpoint_calls) == BLOCKS[name]  # every block, once
    assert torch.equal(out_ckpt, out_plain)
    assert plain.keys() == ckpt.keys()
    for key, grad in plain.items():
        assert torch.allclose(ckpt[key], grad, rtol=1e-5, atol=1e-7), key


@pytest.mark.parametrize("name", list(BLOCKS))
def test_checkpointing_is_off_without_gradients_and_leaves_the_state_dict(
    name: str, checkpoint_calls: list[int]
) -> None:
    model = build_model(name, **TINY[name]).eval()
    keys = list(model.state_dict())
    with torch.no_grad():
        before = model(tiny_input(name))
    model.set_grad_checkpointing()
    with torch.no_grad():
        after = model(tiny_input(name))
    assert checkpoint_calls == []  # nothing to save for a backward pass
    assert torch.equal(before, after)
    assert list(model.state_dict()) == keys
    model.set_grad_checkpointing(False)
    model(tiny_input(name)).sum().backward()
    assert checkpoint_calls == []


def test_the_teacher_refuses_checkpointing() -> None:
    teacher = build_model("resnet3d_50", **TINY["resnet3d_50"])
    teacher.set_grad_checkpointing(False)
    with pytest.raises(ValueError, match="BatchNorm statistics would be updated twice"):
        teacher.set_grad_checkpointing(True)


def test_the_memory_benchmark_runs_a_step() -> None:
    """benchmarks/grad_checkpointing.py's measured step, at tiny size (its code path)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks/grad_checkpointing.py"
    spec = importlib.util.spec_from_file_location("grad_checkpointing_benchmark", path)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    row = bench.child("vivit_tiny", True, 1, "bf16", tiny=True, device="cpu")
    assert row["grad_checkpointing"] is True and row["batch"] == 1
    assert row["params"] == sum(
        p.numel() for p in build_model("vivit_tiny", num_classes=17, **bench.TINY).parameters()
    )
    assert row["grad_gib"] == round(row["params"] * 4 / 2**30, 3)
