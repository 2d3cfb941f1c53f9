"""Stage ``sweep``: evaluate a grid of NMS settings from raw scores (TSV + heatmap).

Usage:
    python -m comedian sweep --raw results/predict/RUN/valid/raw --labels data/SoccerNet \\
        --out results/sweep/RUN/valid/sweep.tsv [--heatmap .../heatmap.png] \\
        [--games results/games/games.tsv --split valid] \\
        --set "kinds=[soft]" --set "windows=[10, 20, 30]" --set "thresholds=[0.001, 0.01]" \\
        [--set workers=2]

The grid is kinds x windows x thresholds x min_weights (method.md section 8 for the settings),
each point a :class:`comedian.spotting.settings.NmsSetting`, checked by the same rules as the
nms stage's options (the config is refused before any work, the option named).
Each setting runs NMS and the metric in memory, without writing results JSON; the numbers are
identical to ``nms`` + ``evaluate``. The TSV has one row per setting: setting slug, its fields,
tight and loose average-mAP, the tight average-mAP of each class, and seconds. Settings run
side by side in ``workers`` processes (default: every CPU this process may use; the rule passes
its ``threads``), with the same table whatever their number.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path
from typing import Literal

from comedian.atomic import atomic_path
from comedian.config import ConfigError, write_resolved
from comedian.data.soccernet import LABELS_NAME
from comedian.guards import join_inside, refuse_overwrite
from comedian.spotting.metrics import read_labels
from comedian.spotting.scores import find_raw_games, read_raw_game
from comedian.spotting.settings import NmsSetting
from comedian.spotting.sweep import grid, plot_heatmap, sweep_nms
from comedian.stages.evaluate import select_games

logger = logging.getLogger(__name__)


#: What ``comedian --help`` says of this stage.
SUMMARY = "evaluate a grid of NMS settings from raw scores (TSV + heatmap)"


@dataclasses.dataclass(frozen=True)
class Paths:
    raw: Path = dataclasses.field(metadata={"help": "raw scores folder (<game>/1.npy, 2.npy)"})
    labels: Path = dataclasses.field(metadata={"help": "label tree root (<game>/Labels-v2.json)"})
    out: Path = dataclasses.field(metadata={"output": True, "help": "sweep table (TSV) to write"})
    heatmap: Path | None = dataclasses.field(
        default=None,
        metadata={"output": True, "help": "heatmap PNG (default: next to --out, heatmap.png)"},
    )
    games: Path | None = dataclasses.field(
        default=None, metadata={"help": "games table (TSV), needed by --split"}
    )


@dataclasses.dataclass(frozen=True)
class Config:
    kinds: tuple[Literal["soft", "hard"], ...] = dataclasses.field(
        default=("soft",), metadata={"help": "NMS kinds"}
    )
    windows: tuple[int, ...] = dataclasses.field(
        default=(8, 12, 16, 20, 30, 40), metadata={"help": "windows in 0.5 s grid steps"}
    )
    thresholds: tuple[float, ...] = dataclasses.field(
        default=(0.001, 0.01, 0.02, 0.05, 0.1), metadata={"help": "NMS thresholds"}
    )
    min_weights: tuple[float, ...] = dataclasses.field(
        default=(0.0,), metadata={"help": "soft NMS min_weight values"}
    )
    split: str | None = dataclasses.field(
        default=None, metadata={"help": "only the games of this split (needs --games)"}
    )
    workers: int = dataclasses.field(
        default=0, metadata={"help": "processes evaluating settings (0: every usable CPU)"}
    )

    def __post_init__(self) -> None:
        self.settings()  # refuse a bad grid when the config is built
        if isinstance(self.workers, bool) or not 0 <= self.workers <= 1024:
            raise ConfigError(f"sweep workers: must be in 0..1024, got {self.workers!r}")

    def settings(self) -> list[NmsSetting]:
        """The grid's settings, in order (:func:`comedian.spotting.sweep.grid`)."""
        return grid(self.kinds, self.windows, self.thresholds, self.min_weights)


def run(cfg: Config, *, paths: Paths) -> None:
    refuse_overwrite(
        inputs={"--raw": paths.raw, "--labels": paths.labels, "--games": paths.games},
        outputs={
            "--out": paths.out,
            "--heatmap": paths.heatmap or paths.out.parent / "heatmap.png",
            "config.resolved.yaml": paths.out.parent / "config.resolved.yaml",
        },
    )
    raw_games = find_raw_games(paths.raw)
    if cfg.split is None and paths.games is None:
        games = raw_games
    else:
        games = select_games(paths.labels, paths.games, cfg.split)
        missing = sorted(set(games) - set(raw_games))
        if missing:
            raise ValueError(
                f"{paths.raw}: no raw scores for {len(missing)} game(s), e.g. {missing[0]!r}"
            )
    settings = cfg.settings()
    logger.info("%d settings x %d games", len(settings), len(games))
    raw = [read_raw_game(paths.raw, g) for g in games]
    labels = [
        read_labels(join_inside(paths.labels, g, source=f"{paths.raw}: game") / LABELS_NAME)
        for g in games
    ]
    usable = (
        os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else range(os.cpu_count() or 1)
    )
    workers = cfg.workers or len(usable)
    table = sweep_nms(raw, labels, settings, workers=workers)
    with atomic_path(paths.out) as tmp:
        table.to_csv(tmp, sep="\t", index=False, float_format="%.6f")
    heatmap = paths.heatmap or paths.out.parent / "heatmap.png"
    plot_heatmap(table, heatmap)
    best = table.loc[table["tight"].idxmax()]
    logger.info(
        "best tight: %s (tight %.4f, loose %.4f)", best["setting"], best["tight"], best["loose"]
    )
    write_resolved(
        paths.out.parent / "config.resolved.yaml", stage="sweep", config=cfg, paths=paths
    )
