"""AdamW exclusions named by the models themselves, and the ViSwin's LayerNorm epsilon."""

from __future__ import annotations

import pytest
from torch import nn

from comedian.models import build_model

TINY = {
    "vit_tiny": {"img_size": 32, "depth": 2},
    "vivit_tiny": {"img_size": 32, "num_frames": 8, "depth": 2, "temporal_depth": 2},
    "viswin_tiny": {
        "img_size": 32,
        "num_frames": 4,
        "depths": (2, 2),
        "num_heads": (3, 6),
        "window": 4,
        "temporal_depth": 1,
    },
    "resnet3d_50": {},
}


def expected_no_decay(model: nn.Module) -> set[str]:
    """Written independently of the library rule: by name pattern and module type."""
    tokens = {
        "pos_embed",
        "time_embed",
        "cls_token",
        "spatial_cls_token",
        "temporal_mask_token",
    }
    norm_params = {
        f"{m}.{p}" if m else p
        for m, mod in model.named_modules()
        if isinstance(mod, nn.LayerNorm | nn.BatchNorm3d)
        for p, _ in mod.named_parameters(recurse=False)
    }
    out = set()
    for name, _ in model.named_parameters():
        leaf = name.rsplit(".", 1)[-1]
        if name in tokens or leaf == "bias" or leaf == "relative_position_bias_table":
            out.add(name)
        if name in norm_params:
            out.add(name)
    return out


@pytest.mark.parametrize("arch", sorted(TINY))
def test_no_weight_decay_names_exactly_the_excluded_parameters(arch):
    model = build_model(arch, num_classes=17, **TINY[arch])
    got = model.no_weight_decay()
    assert got == expected_no_decay(model)
    names = dict(model.named_parameters())
    assert got <= set(names)
    # The 3-D embeddings are excluded although a `p.dim() >= 2` rule would decay them.
    for name in got & {"pos_embed", "time_embed", "spatial_cls_token", "temporal_mask_token"}:
        assert names[name].dim() == 3
    # Every weight matrix / conv kernel is decayed.
    decayed = set(names) - got
    assert decayed and all(names[n].dim() >= 2 for n in decayed)
    assert "head.layers.0.weight" in decayed and "head.layers.0.bias" in got


def test_vivit_tokens_are_excluded():
    got = build_model("vivit_tiny", **TINY["vivit_tiny"]).no_weight_decay()
    assert {"pos_embed", "time_embed", "spatial_cls_token", "temporal_mask_token"} <= got
    assert "spatial_transformer.blocks.0.norm1.weight" in got
    assert "spatial_transformer.blocks.0.attn.qkv.weight" not in got


def test_viswin_every_layernorm_uses_eps_1e6():
    model = build_model("viswin_tiny", **TINY["viswin_tiny"])
    norms = {n: m.eps for n, m in model.named_modules() if isinstance(m, nn.LayerNorm)}
    # patch-embedding norm, both norms of every Swin block, patch merging, final norm, temporal
    assert "patch_embed.norm" in norms
    assert any("downsample.norm" in n for n in norms)
    assert "spatial_transformer.norm" in norms
    assert norms and all(eps == 1e-6 for eps in norms.values()), norms
