"""Builders: shapes, gradients, paper-size counts and reference key layouts, autocast."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from reference_tables import RESNET3D, VISWIN, VIT, VIVIT, expand_table
from tiny_models import TINY, tiny_input

from comedian.models import MODELS, build_model
from comedian.models.layers import Attention, drop_path

NAMES = list(MODELS)

#: (builder, expected output shape for the tiny input of batch 2, with num_classes=17)
TINY_LOGITS = {
    "vit_tiny": (2, 17),
    "vivit_tiny": (2, 4, 17),
    "viswin_tiny": (2, 4, 17),
    "resnet3d_50": (2, 17),
}
TINY_FEATURES = {
    "vit_tiny": (2, 192),
    "vivit_tiny": (2, 4, 192),
    "viswin_tiny": (2, 4, 96),
    "resnet3d_50": (2, 128),  # 32 * width
}


@pytest.mark.parametrize("name", NAMES)
def test_tiny_forward_shapes(name: str) -> None:
    model = build_model(name, **TINY[name]).eval()
    x = tiny_input(name)
    with torch.no_grad():
        feats = model(x)
    assert feats.shape == TINY_FEATURES[name]
    assert model.num_features == feats.shape[-1]
    head = build_model(name, **TINY[name], num_classes=17).eval()
    with torch.no_grad():
        logits = head(x)
        pre = head.forward_head(head.forward_features(x), pre_logits=True)
    assert logits.shape == TINY_LOGITS[name]
    assert pre.shape == TINY_FEATURES[name]


@pytest.mark.parametrize("name", NAMES)
def test_backward_reaches_every_parameter(name: str) -> None:
    torch.manual_seed(0)
    model = build_model(name, **TINY[name], num_classes=17).train()
    out = model(tiny_input(name))
    out.square().mean().backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, f"{pname} got no gradient"
        assert torch.isfinite(p.grad).all(), pname
        assert p.grad.abs().sum() > 0, f"{pname} has an all-zero gradient"


PAPER = {
    # name: (trunk parameters of checkpoints.md, reference table)
    "vivit_tiny": (8_353_920, VIVIT),
    "vit_tiny": (5_671_872, VIT),
    "viswin_tiny": (55_926_906, VISWIN),
    "resnet3d_50": (31_634_496, RESNET3D),
}


@pytest.mark.parametrize("name", list(PAPER))
def test_paper_size_counts_and_reference_keys(name: str) -> None:
    count, table = PAPER[name]
    model = build_model(name)
    assert sum(p.numel() for p in model.parameters()) == count
    expected = expand_table(table)
    sd = model.state_dict()
    assert set(sd) == set(expected)
    buffers = {n for n, _ in model.named_buffers()}
    for key, (shape, is_buffer, dtype) in expected.items():
        assert tuple(sd[key].shape) == shape, key
        assert sd[key].dtype == dtype, key
        assert (key in buffers) == is_buffer, key


def test_paper_size_with_heads() -> None:
    # checkpoints.md §2.2 and §3: trunk + Linear head.
    vivit = build_model("vivit_tiny", num_classes=17)
    assert sum(p.numel() for p in vivit.parameters()) == 8_357_201
    viswin = build_model("viswin_tiny", num_classes=17)
    assert sum(p.numel() for p in viswin.parameters()) == 55_939_979
    # Without the mask token: 8,353,728 (checkpoints.md §2.1 notes).
    plain = build_model("vivit_tiny", mask_token=False, mask_ratio=0.0)
    assert sum(p.numel() for p in plain.parameters()) == 8_353_728


def test_vit_tiny_paper_input_forward() -> None:
    model = build_model("vit_tiny").eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, 2, 224, 224))
    assert out.shape == (1, 192)
    assert torch.isfinite(out).all()


def test_spotting_head_init() -> None:
    torch.manual_seed(0)
    model = build_model("vivit_tiny", num_classes=17)
    w, b = model.head.layers[0].weight, model.head.layers[0].bias
    assert torch.equal(b, torch.zeros(17))
    assert 0.008 < w.std().item() < 0.012  # normal std 0.01 (method.md §6)
    assert torch.equal(model.temporal_mask_token, torch.zeros(1, 1, 192))


@pytest.mark.parametrize("name", NAMES)
def test_bf16_autocast_forward(name: str) -> None:
    model = build_model(name, **TINY[name], num_classes=17).train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(tiny_input(name))
    assert out.dtype == torch.bfloat16
    out.float().mean().backward()
    assert torch.isfinite(out.float()).all()


def test_attention_matches_explicit_softmax() -> None:
    # The qkv rows are (3, heads, head_dim) blocks q, k, v (checkpoints.md §2.1).
    torch.manual_seed(0)
    attn = Attention(dim=8, num_heads=2)
    x = torch.randn(3, 5, 8)
    w, b = attn.qkv.weight, attn.qkv.bias
    out = torch.zeros(3, 5, 8)
    for h in range(2):
        sl = slice(4 * h, 4 * h + 4)
        q = x @ w[0:8][sl].T + b[0:8][sl]
        k = x @ w[8:16][sl].T + b[8:16][sl]
        v = x @ w[16:24][sl].T + b[16:24][sl]
        a = torch.softmax(q @ k.transpose(1, 2) / 2.0, dim=-1)
        out[..., sl] = a @ v
    expected = F.linear(out, attn.proj.weight, attn.proj.bias)
    torch.testing.assert_close(attn(x), expected, atol=1e-5, rtol=1e-5)


def test_drop_path_drops_whole_samples() -> None:
    torch.manual_seed(0)
    x = torch.ones(1000, 3, 4)
    y = drop_path(x, 0.25, training=True)
    per_sample = y.flatten(1)
    # Each sample is either all zero or all 1 / 0.75.
    assert ((per_sample == 0).all(1) | (per_sample == 1 / 0.75).all(1)).all()
    assert 0.2 < (per_sample == 0).all(1).float().mean() < 0.3
    assert torch.equal(drop_path(x, 0.25, training=False), x)


def test_build_model_errors() -> None:
    with pytest.raises(KeyError, match="unknown model"):
        build_model("vit_huge")
    with pytest.raises(TypeError, match="vivit_tiny"):
        build_model("vivit_tiny", nonsense=1)
    with pytest.raises(ValueError, match="divisible"):
        build_model("vivit_tiny", img_size=30)
