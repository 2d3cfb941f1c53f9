"""The backbone protocol and the registry: every entry conforms, metadata agrees with the
builders, classifiers reset to the exported layout, and the config checks read the entries."""

from __future__ import annotations

import inspect

import pytest
import torch
from tiny_models import TINY, tiny_input
from torch import nn

from comedian.config import ConfigError
from comedian.models import (
    REGISTRY,
    Backbone,
    SpottingBackbone,
    VideoTransformer,
    build_model,
    check_pretrainable,
    check_run_arch,
    conform,
    pretrainable_archs,
    spotting_archs,
)
from comedian.models.loading import check_arch
from comedian.models.protocol import missing_members

NAMES = list(REGISTRY)


@pytest.mark.parametrize("name", NAMES)
def test_every_entry_builds_a_backbone_of_its_kind(name: str) -> None:
    model = build_model(name, **TINY[name])
    assert isinstance(model, Backbone)
    assert missing_members(model, Backbone) == []
    spotting = REGISTRY[name].spotting
    assert (missing_members(model, SpottingBackbone) == []) == spotting
    if spotting:
        assert conform(model, SpottingBackbone).num_tubelets == TINY[name]["num_frames"] // 2


@pytest.mark.parametrize("name", NAMES)
def test_paper_input_is_the_builder_default(name: str) -> None:
    """The entry's input size is the one the builder makes without overrides."""
    channels, frames, height, width = REGISTRY[name].paper_input
    params = inspect.signature(REGISTRY[name].builder).parameters
    assert params["in_chans"].default == channels
    assert height == width == 224
    if "img_size" in params:
        assert params["img_size"].default == height
    if "num_frames" in params:
        assert params["num_frames"].default == frames
    elif "tube_size" in params:  # the step-1 ViT reads exactly one tubelet
        assert params["tube_size"].default == frames


def test_registry_metadata() -> None:
    assert spotting_archs() == ("vivit_tiny", "viswin_tiny")
    assert pretrainable_archs() == ("vivit_tiny",)


def test_conform_names_what_a_model_lacks() -> None:
    with pytest.raises(TypeError, match=r"Linear is not a Backbone: it lacks num_features, "):
        conform(nn.Linear(2, 2), Backbone)
    vit = build_model("vit_tiny", **TINY["vit_tiny"])
    assert conform(vit, VideoTransformer).img_size == 32
    with pytest.raises(TypeError, match=r"lacks num_tubelets, mask_ratio, encode_seconds"):
        conform(vit, SpottingBackbone)
    teacher = build_model("resnet3d_50", **TINY["resnet3d_50"])
    with pytest.raises(TypeError, match=r"ResNet3D is not a VideoTransformer: it lacks img_size$"):
        conform(teacher, VideoTransformer)


def test_a_backbone_without_img_size_fails_instead_of_getting_224() -> None:
    model = build_model("vivit_tiny", **TINY["vivit_tiny"])
    del model.img_size
    with pytest.raises(TypeError, match="lacks img_size"):
        conform(model, SpottingBackbone)


@pytest.mark.parametrize("name", NAMES)
def test_reset_classifier_gives_the_layout_of_a_built_head(name: str) -> None:
    model = build_model(name, **TINY[name])
    assert model.get_classifier() is None
    model.reset_classifier(17)
    built = build_model(name, **TINY[name], num_classes=17)
    assert model.get_classifier() is not None
    ours, theirs = model.state_dict(), built.state_dict()
    assert list(ours) == list(theirs)
    assert all(ours[k].shape == theirs[k].shape for k in ours)
    with torch.no_grad():
        assert model.eval()(tiny_input(name)).shape[-1] == 17
    model.reset_classifier(0)
    assert model.get_classifier() is None
    assert list(model.state_dict()) == list(build_model(name, **TINY[name]).state_dict())


def test_run_arch_checks_read_the_registry() -> None:
    check_run_arch("config runs.a", "viswin_tiny")
    check_run_arch("config runs.a", "vivit_tiny", pretrain=True)
    with pytest.raises(ConfigError, match=r"^config runs.a: arch 'vit_tiny' is not a spotting"):
        check_run_arch("config runs.a", "vit_tiny")
    with pytest.raises(ConfigError, match=r"known: vivit_tiny, viswin_tiny$"):
        check_run_arch("config runs.a", "nope")
    with pytest.raises(
        ConfigError,
        match=r"^config runs.b: arch 'viswin_tiny' cannot be pretrained; steps 1-2 exist for "
        r"vivit_tiny only",
    ):
        check_run_arch("config runs.b", "viswin_tiny", pretrain=True)
    check_pretrainable("vivit_tiny", "pretrain")
    with pytest.raises(ValueError, match=r"^distill: arch 'viswin_tiny' cannot be pretrained"):
        check_arch("viswin_tiny", "distill")
