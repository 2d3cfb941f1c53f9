"""ViViT initialization from the step-1 ViT (method.md §5, checkpoints.md §4.3)."""

from __future__ import annotations

import pytest
import torch

from comedian.models import build_model, init_from_vit

VIT_KW = {"img_size": 32, "depth": 4}
VIVIT_KW = {"img_size": 32, "num_frames": 8, "depth": 4, "temporal_depth": 2}


def _randomized_vit() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    vit = build_model("vit_tiny", **VIT_KW)
    return {k: torch.randn_like(v) for k, v in vit.state_dict().items()}


def test_copy_strategy() -> None:
    vit = _randomized_vit()
    torch.manual_seed(1)
    vivit = build_model("vivit_tiny", **VIVIT_KW)
    time_before = vivit.time_embed.detach().clone()
    report = init_from_vit(vivit, vit)
    sd = vivit.state_dict()
    assert torch.equal(sd["spatial_cls_token"], vit["cls_token"])
    for key in ("pos_embed", "patch_embed.proj.weight", "patch_embed.proj.bias"):
        assert torch.equal(sd[key], vit[key])
    for key in ("norm.weight", "norm.bias"):
        assert torch.equal(sd[f"spatial_transformer.{key}"], vit[key])
        assert torch.equal(sd[f"temporal_transformer.{key}"], vit[key])
    block_keys = [k for k in vit if k.startswith("blocks.")]
    for key in block_keys:
        assert torch.equal(sd[f"spatial_transformer.{key}"], vit[key])
        i = int(key.split(".")[1])
        if i < 2:  # blocks 0..temporal_depth-1 are repeated into the temporal stage
            assert torch.equal(sd[f"temporal_transformer.{key}"], vit[key])
    # Untouched: the time embedding (random) and the mask token (zeros).
    assert torch.equal(sd["time_embed"], time_before)
    assert torch.equal(sd["temporal_mask_token"], torch.zeros(1, 1, 192))
    assert sorted(report.kept_initial) == ["temporal_mask_token", "time_embed"]
    assert report.unused == []
    n_temporal = sum(1 for k in block_keys if int(k.split(".")[1]) < 2)
    assert len(report.copied) == len(vit) + n_temporal + 2  # + final norm into the temporal stage


def test_from_step1_lightning_layout() -> None:
    vit = _randomized_vit()
    ckpt = {
        "epoch": 99,
        "state_dict": {
            "queue": torch.randn(256, 16),
            "queue_ptr": torch.zeros(1, dtype=torch.long),
            **{f"trunk.{k}": v for k, v in vit.items()},
            **{f"momentum_trunk.{k}": v + 1.0 for k, v in vit.items()},
            "projector.layers.0.weight": torch.randn(1024, 192),
        },
    }
    vivit = build_model("vivit_tiny", **VIVIT_KW)
    report = init_from_vit(vivit, ckpt)
    # The online trunk, never the momentum copy.
    assert torch.equal(
        vivit.spatial_transformer.blocks[3].mlp.fc1.weight, vit["blocks.3.mlp.fc1.weight"]
    )
    assert torch.equal(vivit.spatial_cls_token, vit["cls_token"])
    assert report.unused == []


def test_2d_patch_embedding_is_inflated() -> None:
    vit = _randomized_vit()
    w2d = torch.randn(192, 3, 16, 16)
    vit["patch_embed.proj.weight"] = w2d
    vivit = build_model("vivit_tiny", **VIVIT_KW)
    init_from_vit(vivit, vit)
    w = vivit.patch_embed.proj.weight
    assert w.shape == (192, 3, 2, 16, 16)
    torch.testing.assert_close(w[:, :, 0], w2d / 2)
    torch.testing.assert_close(w[:, :, 1], w2d / 2)


def test_shape_mismatch_raises() -> None:
    vit = _randomized_vit()
    vit["pos_embed"] = torch.randn(1, 50, 192)
    vivit = build_model("vivit_tiny", **VIVIT_KW)
    with pytest.raises(ValueError, match="pos_embed"):
        init_from_vit(vivit, vit)


def test_extra_vit_blocks_are_reported_unused() -> None:
    vit = _randomized_vit()
    vivit = build_model("vivit_tiny", **{**VIVIT_KW, "depth": 3})
    report = init_from_vit(vivit, vit)
    assert sorted({k.split(".")[1] for k in report.unused}) == ["3"]
