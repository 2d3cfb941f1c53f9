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

from comedian.atomic import atomic_tree, remove_stale_siblings
from comedian.config import write_resolved
from comedian.guards import refuse_overwrite
from comedian.spotting.ensemble import ensemble_dirs
from comedian.spotting.scores import RAW_NAMES

logger = logging.getLogger(__name__)


#: What ``comedian --help`` says of this stage.
SUMMARY = "average (or max) the raw score arrays of several models"


@dataclasses.dataclass(frozen=True)
class Paths:
    raw: tuple[Path, ...] = dataclasses.field(
        metadata={"help": "raw scores folders of the runs to combine"}
    )
    out: Path = dataclasses.field(metadata={"output": True, "help": "raw scores folder to write"})


@dataclasses.dataclass(frozen=True)
class Config:
    reduce: Literal["mean", "max"] = dataclasses.field(
        default="mean", metadata={"help": "how to combine (the paper averages)"}
    )


def run(cfg: Config, *, paths: Paths) -> None:
    refuse_overwrite(inputs={"--raw": paths.raw}, outputs={"--out": paths.out})
    remove_stale_siblings(paths.out)  # the temporary folder of a killed run
    # Replaced as a whole: an existing folder never ends up mixing two ensembles' games.
    with atomic_tree(paths.out, owned=(*RAW_NAMES.values(), "config.resolved.yaml")) as tmp:
        games = ensemble_dirs(paths.raw, tmp, reduce=cfg.reduce)
        write_resolved(tmp / "config.resolved.yaml", stage="ensemble", config=cfg, paths=paths)
    logger.info("%s of %d runs, %d games -> %s", cfg.reduce, len(paths.raw), len(games), paths.out)
