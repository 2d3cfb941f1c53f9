"""Backbones and heads of COMEDIAN, built from a plain registry.

Usage:
    from comedian.models import build_model
    model = build_model("vivit_tiny")                                   # the paper's model
    tiny = build_model("vivit_tiny", img_size=32, num_frames=8, depth=2, temporal_depth=2)
    model = build_model("vivit_tiny", num_classes=17)                   # + spotting head
    model = model_from_checkpoint(torch.load("model.pt", weights_only=True))

Names: ``vit_tiny`` (step-1 spatial trunk, method.md §2), ``vivit_tiny`` (§5, §6),
``viswin_tiny`` (§10), ``resnet3d_50`` (the teacher, §3); each has an entry with its metadata in
:mod:`comedian.models.registry` and follows :mod:`comedian.models.protocol`. Keyword overrides go
to the model's constructor (image size, frames, widths, depths, heads, drop path, masking,
classes).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from torch import nn

from comedian.models.heads import LinearHead, MLPHead, build_predictor, build_projector
from comedian.models.protocol import Backbone, SpottingBackbone, VideoTransformer, conform
from comedian.models.reference import (
    LoadReport,
    ReferenceWeightsError,
    infer_model_kwargs,
    load_reference_state_dict,
    to_reference_state_dict,
)
from comedian.models.registry import (
    REGISTRY,
    ModelEntry,
    check_pretrainable,
    check_run_arch,
    entry,
    pretrainable_archs,
    spotting_archs,
)
from comedian.models.resnet3d import ResNet3D
from comedian.models.viswin import ViSwin
from comedian.models.vit import VisionTransformer
from comedian.models.vivit import InitReport, ViViT, init_from_vit

#: Builder name -> constructor (the registry's builders); keyword overrides go straight to it.
MODELS: dict[str, Callable[..., nn.Module]] = {name: e.builder for name, e in REGISTRY.items()}


def build_model(name: str, **overrides: Any) -> nn.Module:
    """Build a registered model with the paper's settings, changed by ``overrides``.

    Args:
        name: One of :data:`~comedian.models.registry.REGISTRY`.
        **overrides: Constructor arguments (e.g. ``img_size=32, num_frames=8, depth=2``).

    Returns:
        The model, in training mode.
    """
    builder = entry(name).builder
    try:
        model = builder(**overrides)
    except TypeError as err:
        raise TypeError(f"build_model({name!r}): {err}") from err
    return conform(model, Backbone)


def model_from_checkpoint(ckpt: Mapping[str, Any], strict: bool = True) -> nn.Module:
    """Rebuild a model from a comedian checkpoint ``{"arch", "model_kwargs", "state_dict"}``."""
    for key in ("arch", "state_dict"):
        if key not in ckpt:
            raise KeyError(f"not a comedian model checkpoint: no {key!r} entry")
    model = build_model(ckpt["arch"], **dict(ckpt.get("model_kwargs", {})))
    model.load_state_dict(ckpt["state_dict"], strict=strict)
    return model


__all__ = [
    "MODELS",
    "REGISTRY",
    "Backbone",
    "ModelEntry",
    "SpottingBackbone",
    "VideoTransformer",
    "InitReport",
    "LinearHead",
    "LoadReport",
    "MLPHead",
    "ReferenceWeightsError",
    "ResNet3D",
    "ViSwin",
    "ViViT",
    "VisionTransformer",
    "build_model",
    "build_predictor",
    "build_projector",
    "check_pretrainable",
    "check_run_arch",
    "conform",
    "entry",
    "infer_model_kwargs",
    "init_from_vit",
    "load_reference_state_dict",
    "model_from_checkpoint",
    "pretrainable_archs",
    "spotting_archs",
    "to_reference_state_dict",
]
