"""Stage ``ensemble``: combine the raw scores of several runs (method.md section 10).

Usage:
    python -m comedian ensemble --raw results/predict/a/test/raw results/predict/b/test/raw \\
        --out results/ensemble/ab/test/raw [--reduce mean|max]

Every run must hold the same games with halves of the same lengths. The output has the raw
scores layout (:mod:`comedian.spotting.scores`), so an ensemble is NMS'd and evaluated like a run.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Literal

from comedian.config import write_resolved
from comedian.spotting.ensemble import ensemble_dirs

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Paths:
    raw: tuple[Path, ...] = dataclasses.field(
        metadata={"help": "raw scores folders of the runs to combine"}
    )
    out: Path = dataclasses.field(metadata={"help": "raw scores folder to write"})


@dataclasses.dataclass(frozen=True)
class Config:
    reduce: Literal["mean", "max"] = dataclasses.field(
        default="mean", metadata={"help": "how to combine (the paper averages)"}
    )


def run(cfg: Config, *, paths: Paths) -> None:
    games = ensemble_dirs(paths.raw, paths.out, reduce=cfg.reduce)
    logger.info("%s of %d runs, %d games -> %s", cfg.reduce, len(paths.raw), len(games), paths.out)
    write_resolved(paths.out / "config.resolved.yaml", stage="ensemble", config=cfg, paths=paths)
