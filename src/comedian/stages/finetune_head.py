"""Classifier initialization, step 3 stage A (method.md §6) (rule ``finetune_head``).

Usage:
    python -m comedian finetune-head --init results/distill/RUN/model.pt \\
        --games results/games/games.tsv --frames results/decode/2fps --labels data/synthetic \\
        --out results/finetune_head/RUN/model.pt [--arch vivit_tiny] [--set 'model={...}']

The model is ``arch`` (with ``model`` overrides) plus a linear head 192 -> 17 (normal std 0.01,
zero bias). Its trunk comes from ``--init``: the distilled ViViT (step 2), a step-1 ViT (then the
ViViT is initialized as method.md §5 says), a released reference checkpoint, or nothing (random
init, which the demo's tiny models use). The trunk is frozen and kept in eval mode; only the
head trains, 30 epochs, with the optimizer, schedule, sampling, mixup, validation and outputs of
``comedian finetune`` (see its help). ``finetune`` then starts from this stage's ``model.pt``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from comedian.stages.finetune import Config as FinetuneConfig
from comedian.stages.finetune import Paths, train_spotting

__all__ = ["Config", "Paths", "run"]

STAGE = "finetune_head"


#: What ``comedian --help`` says of this stage.
SUMMARY = "step 3 stage A: train the spotting head on the frozen trunk"


@dataclass(frozen=True)
class Config(FinetuneConfig):
    """Stage A settings: the paper's (method.md §6), 30 epochs."""

    arch: str = field(default="vivit_tiny", metadata={"help": "model builder name"})
    epochs: int = 30

    ARCH_FROM_INIT = False


def run(cfg: Config, *, paths: Paths) -> None:
    """Train the head on the frozen trunk."""
    train_spotting(cfg, paths, stage=STAGE, freeze_trunk=True)
