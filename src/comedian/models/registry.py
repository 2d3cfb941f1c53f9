"""The model registry: one entry per backbone, with what the pipeline needs to know about it.

Usage:
    from comedian.models.registry import REGISTRY, entry
    entry("viswin_tiny").pretrainable              # False: steps 1-2 serve the ViViT only
    [n for n, e in REGISTRY.items() if e.spotting]  # the archs a run may name

Adding a backbone is its module (following :mod:`comedian.models.protocol`) and one entry here;
the builders, the config checks (:func:`check_run_arch`, :func:`check_pretrainable`), the loaders
and the tests read the entries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from comedian.config import ConfigError
from comedian.models.resnet3d import ResNet3D
from comedian.models.viswin import ViSwin
from comedian.models.vit import VisionTransformer
from comedian.models.vivit import ViViT


@dataclass(frozen=True)
class ModelEntry:
    """A registered model.

    Attributes:
        builder: Constructor; its keyword arguments are the model's settings (``model:`` in the
            config) and its defaults the paper's sizes.
        summary: One line for listings.
        paper_input: The paper's input clip (channels, frames, height, width).
        spotting: A per-second token encoder with a per-token spotting head (method.md §6,
            §10): a run (``runs.<run>.arch``) may name it.
        pretrainable: Steps 1-2 serve it (method.md §2-§5): its spatial stage is the step-1
            ViT (initialized by :func:`comedian.models.vivit.init_from_vit`) and its temporal
            stage is distilled from the teacher.
    """

    builder: Callable[..., nn.Module]
    summary: str
    paper_input: tuple[int, int, int, int]
    spotting: bool = False
    pretrainable: bool = False


REGISTRY: dict[str, ModelEntry] = {
    "vit_tiny": ModelEntry(
        VisionTransformer,
        "ViT-Tiny over 2-frame tubelets: the step-1 spatial trunk (method.md §2)",
        paper_input=(3, 2, 224, 224),
    ),
    "vivit_tiny": ModelEntry(
        ViViT,
        "ViViT-Tiny: spatial ViT per tubelet + 6 temporal blocks, temporal masking (§5, §6)",
        paper_input=(3, 128, 224, 224),
        spotting=True,
        pretrainable=True,
    ),
    "viswin_tiny": ModelEntry(
        ViSwin,
        "ViSwin-Tiny: Swin-T per tubelet + 4 temporal blocks of width 768 (§10)",
        paper_input=(3, 128, 224, 224),
        spotting=True,
    ),
    "resnet3d_50": ModelEntry(
        ResNet3D,
        "Slow-only ResNet3D-50: the step-2 teacher (§3)",
        paper_input=(3, 16, 224, 224),
    ),
}


def entry(name: str) -> ModelEntry:
    """The entry of ``name``.

    Raises:
        KeyError: Naming the known models.
    """
    if name not in REGISTRY:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(REGISTRY)}")
    return REGISTRY[name]


def spotting_archs() -> tuple[str, ...]:
    """The models a run may name (per-token spotting head)."""
    return tuple(n for n, e in REGISTRY.items() if e.spotting)


def pretrainable_archs() -> tuple[str, ...]:
    """The models steps 1-2 serve."""
    return tuple(n for n, e in REGISTRY.items() if e.pretrainable)


def check_pretrainable(arch: str, where: str) -> None:
    """Refuse, in one line naming ``where``, an arch the pretraining stages cannot serve."""
    if arch not in REGISTRY or not REGISTRY[arch].pretrainable:
        raise ConfigError(
            f"{where}: arch {arch!r} cannot be pretrained; steps 1-2 exist for "
            f"{' and '.join(pretrainable_archs())} only (set pretrain: false for this run)"
        )


def check_run_arch(where: str, arch: str, pretrain: bool = False) -> None:
    """Refuse a run's arch that is not a registered spotting model, or that cannot be
    pretrained when the run asks for it (one line naming ``where``, e.g. ``config runs.x``)."""
    if arch not in REGISTRY or not REGISTRY[arch].spotting:
        raise ConfigError(
            f"{where}: arch {arch!r} is not a spotting model; known: {', '.join(spotting_archs())}"
        )
    if pretrain:
        check_pretrainable(arch, where)
