"""Raw per-half scores of a split from a spotting model (method.md §7) (rule ``predict``).

Usage:
    python -m comedian predict --model results/finetune/RUN/model.pt --split test \\
        --games results/games/games.tsv --frames results/decode/2fps --labels data/synthetic \\
        --out results/predict/RUN/test/raw
    python -m comedian predict --model comedian_vivit_tiny_seed42.pth --arch vivit_tiny ...

``--model`` is an exported model of this project or a released reference checkpoint (converted
on the fly; ``--arch`` names its architecture). Sliding 64 s windows with stride 32 s and a final
window at the end of each half (all on the even grid), the model in eval mode (bf16 autocast on a
GPU), the middle 40 s of inner windows kept, overlaps merged by maximum. Output: the raw scores
layout NMS, sweeps and ensembles read (:mod:`comedian.spotting.scores`):
``<out>/<game path>/{1,2}.npy``, float32 (rows, 17), row r at r / 2 s. The folder is written
under a temporary name and renamed when complete.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from comedian.atomic import atomic_tree, remove_stale_temporaries
from comedian.config import write_resolved
from comedian.data.halves import split_halves
from comedian.guards import refuse_overwrite
from comedian.models.loading import load_spotting_model
from comedian.spotting.inference import score_halves
from comedian.spotting.scores import RAW_NAMES, write_raw_game

log = logging.getLogger(__name__)


#: What ``comedian --help`` says of this stage.
SUMMARY = "sliding-window inference: raw per-half scores of a split"


@dataclass(frozen=True)
class Paths:
    model: Path = field(metadata={"help": "exported model (.pt) or reference checkpoint (.pth)"})
    games: Path = field(metadata={"help": "games table (results/games/games.tsv)"})
    frames: Path = field(metadata={"help": "2 fps frame stores folder (results/decode/2fps)"})
    out: Path = field(metadata={"output": True, "help": "raw scores folder to write"})
    labels: Path | None = field(
        default=None, metadata={"help": "dataset root (only to check that games exist)"}
    )


@dataclass(frozen=True)
class Config:
    split: str = field(default="test", metadata={"help": "split to score"})
    arch: str | None = field(
        default=None, metadata={"help": "architecture of a reference checkpoint"}
    )
    batch_size: int = field(default=64, metadata={"help": "windows per forward pass"})
    num_workers: int = field(default=4, metadata={"help": "DataLoader workers"})
    device: str = field(default="auto", metadata={"help": "auto, cpu, cuda, cuda:1, ..."})
    trust_pickle: bool = field(
        default=False, metadata={"help": "full unpickling of a trusted Lightning checkpoint"}
    )


def run(cfg: Config, *, paths: Paths) -> None:
    refuse_overwrite(
        inputs={
            "--model": paths.model,
            "--games": paths.games,
            "--frames": paths.frames,
            "--labels": paths.labels,
        },
        outputs={"--out": paths.out},
    )
    model, arch, kwargs = load_spotting_model(paths.model, cfg.arch, trust_pickle=cfg.trust_pickle)
    halves = split_halves(paths.games, cfg.split, paths.frames, paths.labels, require_labels=False)
    log.info("%s (%s): %d halves of %s", paths.model, arch, len(halves), cfg.split)
    scores = score_halves(
        model,
        halves,
        batch_size=cfg.batch_size,
        num_workers=cfg.num_workers,
        device=cfg.device,
        progress=True,
    )
    out = paths.out
    remove_stale_temporaries(out.parent, recursive=False)
    games: dict[str, dict[int, np.ndarray]] = {}
    for h, s in zip(halves, scores, strict=True):
        games.setdefault(h.game, {})[h.half] = s
    # the whole folder is replaced at once: a rerun never leaves a mix of two models' scores
    with atomic_tree(out, owned=(*RAW_NAMES.values(), "config.resolved.yaml")) as tmp:
        for game, by_half in games.items():
            write_raw_game(tmp, game, by_half)
        write_resolved(tmp / "config.resolved.yaml", stage="predict", config=cfg, paths=paths)
    log.info("%d games -> %s", len(games), out)
