"""Stage ``evaluate``: SoccerNet average-mAP of results files against labels (method.md s. 9).

Usage:
    python -m comedian evaluate --labels data/SoccerNet --predictions results/nms/RUN/test/SETTING \\
        --out results/evaluate/RUN/test/SETTING/metrics.json [--metric all] \\
        [--games results/games/games.tsv --split test]

Games: every game under ``--labels`` with a ``Labels-v2.json``, or with ``--split`` the games of
that split in the games table (``--games``). Numbers are identical to the official
``SoccerNet.Evaluation.ActionSpotting.evaluate(..., version=2)``. The JSON maps each metric to the
official keys (``a_mAP``, ``a_mAP_per_class``, ``a_mAP_visible``, ``a_mAP_per_class_visible``,
``a_mAP_unshown``, ``a_mAP_per_class_unshown``); a per-class table is printed.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Any, Literal

from comedian.atomic import write_text_atomic
from comedian.config import write_resolved
from comedian.data.games import read_games_table, split_paths
from comedian.data.soccernet import CLASSES
from comedian.guards import refuse_overwrite
from comedian.spotting.metrics import METRIC_NAMES, evaluate_games, find_games

logger = logging.getLogger(__name__)


#: What ``comedian --help`` says of this stage.
SUMMARY = "SoccerNet average-mAP of results_spotting.json files against labels"


@dataclasses.dataclass(frozen=True)
class Paths:
    labels: Path = dataclasses.field(metadata={"help": "label tree root (<game>/Labels-v2.json)"})
    predictions: Path = dataclasses.field(
        metadata={"help": "results tree root (<game>/results_spotting.json)"}
    )
    out: Path = dataclasses.field(metadata={"output": True, "help": "metrics JSON to write"})
    games: Path | None = dataclasses.field(
        default=None, metadata={"help": "games table (TSV), needed by --split"}
    )


@dataclasses.dataclass(frozen=True)
class Config:
    metric: Literal["tight", "loose", "at1", "at2", "at3", "at4", "at5", "all"] = dataclasses.field(
        default="all", metadata={"help": "metric(s) to compute"}
    )
    split: str | None = dataclasses.field(
        default=None, metadata={"help": "only the games of this split (needs --games)"}
    )
    missing: Literal["error", "empty"] = dataclasses.field(
        default="error",
        metadata={"help": "a game without results file: error (official) or no predictions"},
    )


def select_games(labels: Path, games: Path | None, split: str | None) -> list[str]:
    """The games to evaluate: a split of the games table, the whole table, or the label tree."""
    if split is not None:
        if games is None:
            raise ValueError("--split needs --games (the games table)")
        selected = split_paths(read_games_table(games), split)
        if not selected:
            raise ValueError(f"{games}: no game in split {split!r}")
        return selected
    if games is not None:
        return read_games_table(games)["path"].tolist()
    return find_games(labels)


def format_table(results: dict[str, dict[str, Any]]) -> str:
    """Per-class average-mAP (x 100) of every metric, as a plain text table."""
    names = list(results)
    width = max(len(c) for c in CLASSES) + 2
    lines = [f"{'class':<{width}}" + "".join(f"{n:>8}" for n in names)]
    for c, cls in enumerate(CLASSES):
        row = "".join(f"{100 * results[n]['a_mAP_per_class'][c]:8.2f}" for n in names)
        lines.append(f"{cls:<{width}}{row}")
    for key, label in (
        ("a_mAP", "average"),
        ("a_mAP_visible", "visible"),
        ("a_mAP_unshown", "unshown"),
    ):
        lines.append(f"{label:<{width}}" + "".join(f"{100 * results[n][key]:8.2f}" for n in names))
    return "\n".join(lines)


def run(cfg: Config, *, paths: Paths) -> None:
    refuse_overwrite(
        inputs={
            "--labels": paths.labels,
            "--predictions": paths.predictions,
            "--games": paths.games,
        },
        outputs={
            "--out": paths.out,
            "config.resolved.yaml": paths.out.parent / "config.resolved.yaml",
        },
    )
    games = select_games(paths.labels, paths.games, cfg.split)
    metrics = METRIC_NAMES if cfg.metric == "all" else (cfg.metric,)
    results = evaluate_games(paths.labels, paths.predictions, games, metrics, missing=cfg.missing)
    write_text_atomic(paths.out, json.dumps(results, indent=2) + "\n")
    logger.info("%d games -> %s", len(games), paths.out)
    print(format_table(results))
    write_resolved(
        paths.out.parent / "config.resolved.yaml", stage="evaluate", config=cfg, paths=paths
    )
