"""Reference (eztorch) checkpoint import: key mapping, strictness, inference, CLI stage."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from reference_tables import (
    FINETUNE_EXTRAS,
    RESNET3D,
    STEP1_EXTRAS,
    STEP2_EXTRAS,
    VISWIN,
    VIT,
    VIVIT,
    expand_table,
)
from tiny_models import TINY, tiny_input

from comedian.cli import main
from comedian.models import (
    ReferenceWeightsError,
    build_model,
    infer_model_kwargs,
    load_reference_state_dict,
    model_from_checkpoint,
    to_reference_state_dict,
)


def random_tensors(table: str, seed: int, prefix: str = "") -> dict[str, torch.Tensor]:
    """Random values for every key of a checkpoints.md table (int64 buffers: small ints)."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for key, (shape, _, dtype) in expand_table(table).items():
        if dtype == torch.int64:
            out[prefix + key] = torch.randint(0, 5, shape, generator=g)
        else:
            out[prefix + key] = torch.randn(shape, generator=g)
    return out


def released_vivit(seed: int = 0) -> dict[str, torch.Tensor]:
    """The layout of comedian_vivit_tiny_seed*.pth (checkpoints.md §1), transforms included."""
    sd = random_tensors(VIVIT, seed, prefix="trunk.transformer.")
    sd.update(random_tensors(FINETUNE_EXTRAS, seed + 1))  # head_class.layers.0.* + transforms
    return sd


def assert_landed(model: torch.nn.Module, sd: dict[str, torch.Tensor], prefix: str) -> None:
    """Every trunk tensor of ``sd`` sits at the same key (minus ``prefix``) in ``model``."""
    ours = model.state_dict()
    trunk = {k[len(prefix) :]: v for k, v in sd.items() if k.startswith(prefix)}
    assert trunk, "nothing to check"
    for key, value in trunk.items():
        if key.endswith(("relative_position_index", "attn_mask")):
            continue  # recomputed from the geometry
        assert torch.equal(ours[key], value), key


def test_released_vivit_file_round_trip() -> None:
    sd = released_vivit()
    kwargs = infer_model_kwargs("vivit_tiny", sd)
    assert kwargs["temporal_depth"] == 6 and kwargs["mask_token"] is True
    assert kwargs["num_frames"] == 128 and kwargs["img_size"] == 224
    assert kwargs["num_classes"] == 17 and kwargs["depth"] == 12
    model = build_model("vivit_tiny", **kwargs)
    report = load_reference_state_dict(model, sd, source="seed42.pth")
    assert_landed(model, sd, "trunk.transformer.")
    assert torch.equal(model.head.layers[0].weight, sd["head_class.layers.0.weight"])
    assert torch.equal(model.head.layers[0].bias, sd["head_class.layers.0.bias"])
    assert report.head == "loaded"
    assert len(report.loaded) == 226 + 2
    transforms = [k for k in expand_table(FINETUNE_EXTRAS) if not k.startswith("head_class.")]
    assert len(transforms) == 10 and sorted(report.dropped) == sorted(transforms)
    # And back: the export reproduces the file minus the transforms.
    back = to_reference_state_dict(model)
    expected = {k: v for k, v in sd.items() if not k.split(".")[0].endswith("_transform")}
    assert set(back) == set(expected)
    assert all(torch.equal(back[k], expected[k]) for k in expected)


def test_trunk_only_file_and_require_head() -> None:
    sd = random_tensors(VIVIT, 0, prefix="trunk.transformer.")
    model = build_model("vivit_tiny", num_classes=17)
    head_before = model.head.layers[0].weight.detach().clone()
    report = load_reference_state_dict(model, sd)
    assert report.head == "missing"
    assert torch.equal(model.head.layers[0].weight, head_before)
    with pytest.raises(ReferenceWeightsError, match="head_class.layers.0.weight"):
        load_reference_state_dict(model, sd, require_head=True)
    # A file head with a head-less model is ignored, and reported.
    plain = build_model("vivit_tiny")
    assert load_reference_state_dict(plain, released_vivit()).head == "ignored"


def test_step2_lightning_checkpoint() -> None:
    sd = {
        **random_tensors(STEP2_EXTRAS, 3),
        **random_tensors(VIVIT, 4, prefix="trunk.transformer."),
    }
    model = build_model("vivit_tiny")
    report = load_reference_state_dict(model, {"state_dict": sd, "epoch": 99}, source="s2.ckpt")
    assert_landed(model, sd, "trunk.transformer.")
    assert "queue" in report.dropped and "projector.layers.4.weight" in report.dropped


def test_step1_checkpoint_into_vit() -> None:
    trunk = random_tensors(VIT, 5, prefix="trunk.")
    sd = {
        **random_tensors(STEP1_EXTRAS, 6),
        **trunk,
        **{"momentum_" + k: v + 1 for k, v in trunk.items()},
    }
    assert infer_model_kwargs("vit_tiny", sd)["img_size"] == 224
    model = build_model("vit_tiny")
    report = load_reference_state_dict(model, {"state_dict": sd})
    assert_landed(model, trunk, "trunk.")
    assert len(report.loaded) == 150
    assert "predictor.layers.2.weight" in report.dropped


def test_vit_file_into_vivit_gives_a_hint() -> None:
    sd = random_tensors(VIT, 5, prefix="trunk.")
    with pytest.raises(ReferenceWeightsError, match="init_from_vit"):
        load_reference_state_dict(build_model("vivit_tiny"), sd, source="epoch=99.ckpt")


def test_viswin_with_and_without_swin_buffers() -> None:
    sd = random_tensors(VISWIN, 7, prefix="trunk.transformer.")
    sd["head_class.layers.0.weight"] = torch.randn(17, 768)
    sd["head_class.layers.0.bias"] = torch.randn(17)
    kwargs = infer_model_kwargs("viswin_tiny", sd)
    assert kwargs["temporal_depth"] == 4 and kwargs["depths"] == (2, 2, 6, 2)
    assert kwargs["num_heads"] == (3, 6, 12, 24) and kwargs["window"] == 7
    model = build_model("viswin_tiny", **kwargs)
    fresh_index = model.spatial_transformer.layers[0].blocks[0].attn.relative_position_index
    fresh_index = fresh_index.clone()
    report = load_reference_state_dict(model, sd)
    assert_landed(model, sd, "trunk.transformer.")
    # The geometry buffers are ours, not the file's (random here).
    assert len(report.recomputed) == 12 + 5
    idx = model.spatial_transformer.layers[0].blocks[0].attn.relative_position_index
    assert torch.equal(idx, fresh_index)
    no_buffers = {k: v for k, v in sd.items() if not k.endswith(("_index", "attn_mask"))}
    load_reference_state_dict(model, no_buffers)
    assert_landed(model, no_buffers, "trunk.transformer.")


def test_viswin_temporal_depth_is_inferred() -> None:
    sd = random_tensors(VISWIN, 8, prefix="trunk.transformer.")
    sd = {k: v for k, v in sd.items() if ".blocks.3." not in k or "temporal" not in k}
    kwargs = infer_model_kwargs("viswin_tiny", sd)
    assert kwargs["temporal_depth"] == 3
    load_reference_state_dict(build_model("viswin_tiny", **kwargs), sd)


def test_teacher_checkpoint() -> None:
    sd = random_tensors(RESNET3D, 9, prefix="trunk.model.")
    kwargs = infer_model_kwargs("resnet3d_50", {"state_dict": sd})
    assert kwargs == {"width": 64, "depths": (3, 4, 6, 3)}
    model = build_model("resnet3d_50", **kwargs)
    load_reference_state_dict(model, {"state_dict": sd})
    assert_landed(model, sd, "trunk.model.")


def test_vivit_variants_are_inferred() -> None:
    sd = random_tensors(VIVIT, 0, prefix="trunk.transformer.")
    sd = {
        k: v
        for k, v in sd.items()
        if not k.startswith(("trunk.transformer.temporal_transformer.blocks.4.",
                             "trunk.transformer.temporal_transformer.blocks.5."))
        and k != "trunk.transformer.temporal_mask_token"
    }  # fmt: skip
    kwargs = infer_model_kwargs("vivit_tiny", sd)
    assert kwargs["temporal_depth"] == 4
    assert kwargs["mask_token"] is False and kwargs["mask_ratio"] == 0.0
    model = build_model("vivit_tiny", **kwargs)
    load_reference_state_dict(model, sd)
    assert_landed(model, sd, "trunk.transformer.")


def test_errors_list_missing_unmatched_and_mismatched_keys() -> None:
    sd = released_vivit()
    del sd["trunk.transformer.spatial_transformer.blocks.3.attn.qkv.bias"]
    sd["trunk.transformer.spatial_transformer.blocks.12.norm1.weight"] = torch.randn(192)
    sd["trunk.transformer.pos_embed"] = torch.randn(1, 50, 192)
    model = build_model("vivit_tiny", num_classes=17)
    with pytest.raises(ReferenceWeightsError) as info:
        load_reference_state_dict(model, sd, source="broken.pth")
    msg = str(info.value)
    assert "broken.pth" in msg
    assert "missing" in msg and "spatial_transformer.blocks.3.attn.qkv.bias" in msg
    assert "unmatched" in msg and "spatial_transformer.blocks.12.norm1.weight" in msg
    assert "pos_embed: file (1, 50, 192), model (1, 197, 192)" in msg
    with pytest.raises(ReferenceWeightsError, match="not a state dict"):
        load_reference_state_dict(model, {"a": 1})


# -- the import-weights stage ------------------------------------------------------------------


def _tiny_reference_file(tmp_path: Path) -> tuple[Path, torch.nn.Module]:
    torch.manual_seed(0)
    model = build_model("vivit_tiny", **TINY["vivit_tiny"], num_classes=17)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p))
    sd = to_reference_state_dict(model)
    sd["train_transform.0._transform.0.transforms.5.mean"] = torch.zeros(3, 1, 1)
    path = tmp_path / "comedian_vivit_tiny_seed42.pth"
    torch.save(sd, path)
    return path, model


def test_import_weights_stage(tmp_path: Path) -> None:
    src, ref_model = _tiny_reference_file(tmp_path)
    out = tmp_path / "out" / "vivit.pt"
    assert main(["import-weights", "--src", str(src), "--out", str(out)]) == 0
    ckpt = torch.load(out, map_location="cpu", weights_only=True)
    assert ckpt["arch"] == "vivit_tiny"
    assert ckpt["model_kwargs"]["num_frames"] == 8 and ckpt["model_kwargs"]["num_classes"] == 17
    model = model_from_checkpoint(ckpt).eval()
    x = tiny_input("vivit_tiny")
    with torch.no_grad():
        torch.testing.assert_close(model(x), ref_model.eval()(x))
    assert (out.parent / "config.resolved.yaml").is_file()
    assert not list(out.parent.glob(".*"))  # no temporary left behind


def test_import_weights_stage_errors(tmp_path: Path) -> None:
    src, _ = _tiny_reference_file(tmp_path)
    sd = torch.load(src, weights_only=True)
    del sd["trunk.transformer.spatial_transformer.norm.bias"]
    bad = tmp_path / "bad.pth"
    torch.save(sd, bad)
    out = tmp_path / "bad.pt"
    with pytest.raises(ReferenceWeightsError, match=r"bad\.pth.*\n.*missing"):
        main(["--debug", "import-weights", "--src", str(bad), "--out", str(out)])
    assert not out.exists()
    with pytest.raises((FileNotFoundError, ReferenceWeightsError), match="nope.pth"):
        main(["--debug", "import-weights", "--src", str(tmp_path / "nope.pth"), "--out", str(out)])


def test_import_weights_step1_vit_into_vivit(tmp_path: Path) -> None:
    torch.manual_seed(0)
    vit = build_model("vit_tiny", img_size=32, depth=2)
    ckpt = {"state_dict": to_reference_state_dict(vit, prefix="trunk."), "epoch": 99}
    ckpt["state_dict"]["queue"] = torch.randn(256, 8)
    src = tmp_path / "epoch=99.ckpt"
    torch.save(ckpt, src)
    out = tmp_path / "vivit_init.pt"
    main(["import-weights", "--src", str(src), "--out", str(out), "--set", "overrides.num_frames=8",
          "--set", "overrides.temporal_depth=2"])  # fmt: skip
    result = torch.load(out, weights_only=True)
    assert result["report"]["mode"] == "init_from_vit"
    model = model_from_checkpoint(result)
    assert torch.equal(
        model.temporal_transformer.blocks[1].attn.qkv.weight, vit.blocks[1].attn.qkv.weight
    )
    assert len(model.temporal_transformer.blocks) == 2
