"""Stage ``synth``: generate the embedded synthetic SoccerNet-format dataset (issue 2).

Usage:
    python -m comedian synth --out data/synthetic --set seed=0
    python -m comedian synth --out data/tiny --set train=1 --set valid=1 --set test=1 \\
        --set half_duration_s=40

Writes ``<out>/<league>/<season>/<game>/{1_224p.mkv, 2_224p.mkv, Labels-v2.json}`` for every game
of :func:`comedian.synth.plan_games` (the list Snakemake builds its DAG from) and
``<out>/config.resolved.yaml``. The settings are :class:`comedian.synth.SynthConfig`; the
videos follow method.md section 0 (398x224, 25 fps).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from comedian.atomic import remove_stale_temporaries
from comedian.config import write_resolved
from comedian.guards import refuse_overwrite
from comedian.synth import SynthConfig, generate

Config = SynthConfig


#: What ``comedian --help`` says of this stage.
SUMMARY = "generate the embedded synthetic SoccerNet-format dataset"


@dataclass(frozen=True)
class Paths:
    """Output of the stage."""

    out: Path = field(metadata={"output": True, "help": "dataset root (SoccerNet layout) to write"})


def run(cfg: Config, *, paths: Paths) -> None:
    """Generate the dataset under ``paths.out`` and record the resolved config there."""
    refuse_overwrite(inputs={}, outputs={"--out": paths.out})
    workers = cfg.workers or os.cpu_count() or 1
    # The stage owns its dataset root: temporary files of a killed run go before anything else.
    remove_stale_temporaries(paths.out)
    generate(cfg, paths.out, workers=workers)
    write_resolved(paths.out / "config.resolved.yaml", stage="synth", config=cfg, paths=paths)
