"""Stage ``games``: write the games table (slug, split, path) the pipeline runs on.

Usage:
    python -m comedian games --out results/games/games.tsv --source soccernet \\
        --set "splits=[train, valid, test]"

The same :func:`build_table` runs inside Snakemake at DAG-parse time (comedian.workflow.Pipeline), so the
``{game}`` wildcard and this file always agree. Sources: the official SoccerNet-v2 spotting lists
shipped in the SoccerNet package, or the embedded synthetic dataset's plan (no video needed).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Literal

import pandas as pd

from comedian.config import write_resolved
from comedian.data.games import games_table, soccernet_games, write_games_table
from comedian.data.soccernet import SPLITS
from comedian.guards import refuse_overwrite
from comedian.synth import SynthConfig, plan_games

#: What ``comedian --help`` says of this stage.
SUMMARY = "write the games table (slug, split, path) of the configured dataset"


@dataclasses.dataclass(frozen=True)
class Paths:
    out: Path = dataclasses.field(
        metadata={"output": True, "help": "the games table (TSV) to write"}
    )


@dataclasses.dataclass(frozen=True)
class Config:
    source: Literal["synthetic", "soccernet"] = dataclasses.field(
        default="soccernet", metadata={"help": "official SoccerNet-v2 lists or the synthetic set"}
    )
    splits: tuple[str, ...] = dataclasses.field(
        default=SPLITS, metadata={"help": "splits to include"}
    )
    synth: SynthConfig = dataclasses.field(
        default_factory=SynthConfig, metadata={"help": "synthetic dataset settings"}
    )


def build_table(cfg: Config) -> pd.DataFrame:
    """The games table for ``cfg`` (columns slug, split, path)."""
    unknown = [s for s in cfg.splits if s not in SPLITS]
    if unknown:
        raise ValueError(f"unknown split(s) {unknown} (expected some of {list(SPLITS)})")
    if cfg.source == "soccernet":
        return soccernet_games(cfg.splits)
    return games_table(g for g in plan_games(cfg.synth) if g[0] in cfg.splits)


def run(cfg: Config, *, paths: Paths) -> None:
    refuse_overwrite(
        inputs={},
        outputs={
            "--out": paths.out,
            "config.resolved.yaml": paths.out.parent / "config.resolved.yaml",
        },
    )
    write_games_table(build_table(cfg), paths.out)
    write_resolved(
        paths.out.parent / "config.resolved.yaml", stage="games", config=cfg, paths=paths
    )
