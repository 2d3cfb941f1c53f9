"""The interface every backbone follows (timm's habits), as typed protocols.

Usage:
    from comedian.models.protocol import SpottingBackbone, conform
    model = conform(build_model("viswin_tiny", num_classes=17), SpottingBackbone)
    size = model.img_size                       # declared by the model, never guessed
    model.set_grad_checkpointing(True)          # recompute block activations in backward
    head = model.get_classifier()               # None for a trunk without head

Stages and tasks rely on these members only; :func:`conform` checks a model has them all and
names the missing ones, so a new backbone that forgets one fails where it is built, not with a
silent default (a missing ``img_size`` used to mean 224).

- :class:`Backbone`: every model (ViT, ViViT, ViSwin, ResNet3D): ``num_features``,
  ``forward_features`` / ``forward_head``, ``get_classifier`` / ``reset_classifier``,
  ``no_weight_decay`` (the AdamW groups) and ``set_grad_checkpointing``.
- :class:`VideoTransformer`: a backbone with a fixed square input, ``img_size`` (ViT, ViViT,
  ViSwin); the stages resize frames to it.
- :class:`SpottingBackbone`: a video transformer giving one token per second of a clip of
  ``num_tubelets`` seconds, with temporal masking and the spatial and temporal stages apart
  (ViViT, ViSwin: method.md §5, §6, §10).
"""

from __future__ import annotations

from typing import Protocol, TypeVar, runtime_checkable

import torch
from torch import Tensor, nn


@runtime_checkable
class Backbone(Protocol):
    """What every registered model provides."""

    #: Width of the features ``forward_features`` gives (and the head reads).
    num_features: int

    def forward_features(self, x: Tensor) -> Tensor:
        """The input through the trunk, before pooling and head."""
        ...

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        """Pooling and head on ``forward_features``' output (features with ``pre_logits``)."""
        ...

    def get_classifier(self) -> nn.Module | None:
        """The head (None for a trunk)."""
        ...

    def reset_classifier(self, num_classes: int) -> None:
        """A freshly initialized head of ``num_classes`` (0: none)."""
        ...

    def no_weight_decay(self) -> set[str]:
        """Parameter names AdamW must not decay."""
        ...

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Recompute activations in the backward pass (or refuse, saying why)."""
        ...


@runtime_checkable
class VideoTransformer(Backbone, Protocol):
    """A backbone with a fixed square input size."""

    #: Input height and width in pixels.
    img_size: int


@runtime_checkable
class SpottingBackbone(VideoTransformer, Protocol):
    """A factorized video transformer: one token per second, temporal masking."""

    #: Seconds (tubelets) of a clip: the length of the time embedding.
    num_tubelets: int
    #: Fraction of seconds masked in training.
    mask_ratio: float

    def encode_seconds(self, x: Tensor) -> Tensor:
        """Spatial stage alone: (B, C, T, H, W) -> (B, T / tube, D)."""
        ...

    def temporal_stage(self, feats: Tensor) -> Tensor:
        """Time embedding and temporal blocks: (B, Tt, D) -> (B, Tt, D)."""
        ...

    def sample_mask(
        self,
        batch_size: int,
        num_tubelets: int | None = None,
        device: torch.device | str | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Bool (B, Tt), True at the masked seconds."""
        ...


P = TypeVar("P", Backbone, VideoTransformer, SpottingBackbone)


def missing_members(model: object, protocol: type) -> list[str]:
    """The members of ``protocol`` that ``model`` lacks (empty when it conforms)."""
    names: list[str] = []
    for klass in protocol.__mro__:
        if klass is object or not getattr(klass, "_is_protocol", False):
            continue
        names += [n for n in getattr(klass, "__annotations__", {}) if n not in names]
        names += [
            n
            for n, v in vars(klass).items()
            if callable(v) and not n.startswith("_") and n not in names
        ]
    return [n for n in names if not hasattr(model, n)]


def conform(model: nn.Module, protocol: type[P]) -> P:
    """Return ``model`` typed as ``protocol`` after checking it has every member.

    A ``torch.compile`` wrapper is looked through (its ``_orig_mod`` is checked; the wrapper
    forwards attribute reads to it).

    Raises:
        TypeError: Naming the model's class and the members it lacks.
    """
    inner = getattr(model, "_orig_mod", model)
    missing = missing_members(inner, protocol)
    if missing:
        raise TypeError(
            f"{type(inner).__name__} is not a {protocol.__name__}: it lacks {', '.join(missing)}"
        )
    return model  # type: ignore[return-value]
