"""GPU smoke tests: every paper-size builder under autocast, and torch.compile with masking.

Skipped without CUDA. Run on a GPU machine with ``pytest tests/models/test_gpu.py -m gpu``.
"""

from __future__ import annotations

import pytest
import torch
from tiny_models import TINY, tiny_input

from comedian.models import build_model

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]

#: Paper-size inputs: (builder, input shape, output shape with num_classes=17).
PAPER_CASES = [
    ("vit_tiny", (4, 3, 2, 224, 224), (4, 17)),
    ("vivit_tiny", (2, 3, 128, 224, 224), (2, 64, 17)),
    ("viswin_tiny", (1, 3, 128, 224, 224), (1, 64, 17)),
    ("resnet3d_50", (2, 3, 16, 224, 224), (2, 17)),
]


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize(("name", "in_shape", "out_shape"), PAPER_CASES)
def test_paper_size_autocast_train_step(
    name: str, in_shape: tuple, out_shape: tuple, dtype: torch.dtype
) -> None:
    torch.manual_seed(0)
    model = build_model(name, num_classes=17).cuda().train()
    x = torch.randn(in_shape, device="cuda")
    with torch.autocast("cuda", dtype=dtype):
        out = model(x)
    assert out.shape == out_shape
    assert out.dtype == dtype
    out.float().square().mean().backward()
    assert torch.isfinite(out.float()).all()
    for pname, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), pname


# Compiling the ViSwin's many small window ops takes minutes: slow.
@pytest.mark.parametrize(
    "name", ["vivit_tiny", pytest.param("viswin_tiny", marks=pytest.mark.slow)]
)
def test_compile_matches_eager_with_masking(name: str) -> None:
    torch.manual_seed(0)
    model = build_model(name, **TINY[name], num_classes=17).cuda().train()
    x = tiny_input(name, batch=2).cuda()
    compiled = torch.compile(model)
    mask = model.sample_mask(2, device="cuda")
    eager = model(x, mask=mask)
    comp = compiled(x, mask=mask)
    torch.testing.assert_close(comp, eager, atol=2e-4, rtol=2e-4)
    torch.manual_seed(1)
    out, used = compiled(x, return_mask=True)  # mask drawn inside the compiled graph
    assert out.shape == (2, 4, 17) and (used.sum(1) == 1).all()
    out.float().mean().backward()


def test_grad_checkpointing_under_compile_and_its_memory_at_paper_size() -> None:
    """Compiled + checkpointed gives the eager gradients; at the paper's ViSwin-T input the
    step's peak memory drops (benchmarks/README.md, Gradient checkpointing)."""
    torch.manual_seed(0)
    model = build_model("vivit_tiny", **TINY["vivit_tiny"], num_classes=17).cuda().train()
    x = tiny_input("vivit_tiny", batch=2).cuda()
    mask = model.sample_mask(2, device="cuda")
    model(x, mask=mask).square().mean().backward()
    eager = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad(set_to_none=True)
    model.set_grad_checkpointing(True)
    torch.compile(model)(x, mask=mask).square().mean().backward()
    for n, p in model.named_parameters():
        torch.testing.assert_close(p.grad, eager[n], atol=2e-4, rtol=2e-4)

    peaks = {}
    for enable in (False, True):
        big = build_model("viswin_tiny", num_classes=17).cuda().train()
        big.set_grad_checkpointing(enable)
        clip = torch.randn(2, 3, 128, 224, 224, device="cuda")
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            out = big(clip)
        out.float().sigmoid().mean().backward()
        torch.cuda.synchronize()
        peaks[enable] = torch.cuda.max_memory_allocated()
        del big, clip, out
        torch.cuda.empty_cache()
    assert peaks[True] < 0.5 * peaks[False]
