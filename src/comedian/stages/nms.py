"""Stage ``nms``: raw per-half scores -> one ``results_spotting.json`` per game (method.md s. 8).

Usage:
    python -m comedian nms --raw results/predict/RUN/test/raw --out results/nms/RUN/test/soft_w20_t0.001_m0 \\
        --kind soft --window 20 --threshold 0.001 --min-weight 0 [--zip submission.zip] \\
        [--set "windows_per_class={Goal: 30, Penalty: 40}"]

Reads ``<raw>/<game>/1.npy, 2.npy`` (:mod:`comedian.spotting.scores`) for every game found and
writes ``<out>/<game>/results_spotting.json`` in the official format, plus
``<out>/config.resolved.yaml``. Defaults are COMEDIAN's: soft NMS, window 20 grid steps (10 s),
threshold 0.001, min_weight 0. The settings are :class:`comedian.spotting.settings.NmsSetting`
(``Config`` is that class), checked with the option named: kind soft | hard, windows >= 1
(0.5 s grid steps), threshold in (0, 1], min_weight in [0, 1) (0 for hard NMS), per-class
windows by official class name.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np

from comedian.atomic import atomic_tree, remove_stale_siblings
from comedian.config import write_resolved
from comedian.data.soccernet import NUM_CLASSES, RESULTS_NAME
from comedian.guards import join_inside, refuse_overwrite
from comedian.spotting.results import peaks_to_predictions, write_results, zip_results
from comedian.spotting.scores import find_raw_games, read_raw_game
from comedian.spotting.settings import NmsSetting

logger = logging.getLogger(__name__)


#: What ``comedian --help`` says of this stage.
SUMMARY = "raw per-half scores -> results_spotting.json per game (soft or hard NMS)"


@dataclasses.dataclass(frozen=True)
class Paths:
    raw: Path = dataclasses.field(metadata={"help": "raw scores folder (<game>/1.npy, 2.npy)"})
    out: Path = dataclasses.field(metadata={"output": True, "help": "results folder to write"})
    zip: Path | None = dataclasses.field(
        default=None,
        metadata={"output": True, "help": "also write a challenge submission zip here"},
    )


#: The stage's settings are one NMS setting, the type the sweep and the slugs use.
Config = NmsSetting


def apply_nms(cfg: Config, scores: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
    """NMS of both halves of one game (padded to one length so they run together)."""
    length = max(len(s) for s in scores.values())
    stack = np.zeros((len(scores), length, NUM_CLASSES), dtype=np.float32)  # (2, T, C)
    for i, s in enumerate(scores.values()):
        stack[i, : len(s)] = s  # zeros are never emitted nor suppress anything
    peaks = cfg.apply(stack)  # (2, T, C)
    return {h: peaks[i, : len(s)] for i, (h, s) in enumerate(scores.items())}


def run(cfg: Config, *, paths: Paths) -> None:
    refuse_overwrite(inputs={"--raw": paths.raw}, outputs={"--out": paths.out, "--zip": paths.zip})
    remove_stale_siblings(paths.out)  # the temporary folder of a killed run
    games = find_raw_games(paths.raw)
    total = 0
    # Replaced as a whole: a folder that held another setting's results never ends up mixing
    # the two (games absent from this run lose their old results file).
    with atomic_tree(paths.out, owned=(RESULTS_NAME, "config.resolved.yaml")) as tmp:
        for game in games:
            predictions = peaks_to_predictions(apply_nms(cfg, read_raw_game(paths.raw, game)))
            folder = join_inside(tmp, game, source=f"{paths.raw}: game")
            write_results(folder / RESULTS_NAME, game, predictions)
            total += len(predictions["half"])
        write_resolved(tmp / "config.resolved.yaml", stage="nms", config=cfg, paths=paths)
    logger.info("%d games, %d predictions -> %s", len(games), total, paths.out)
    if paths.zip is not None:
        zip_results(paths.out, paths.zip)
