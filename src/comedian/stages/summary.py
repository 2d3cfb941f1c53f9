"""One table of every evaluated run (rule ``summary``; ``make demo`` prints it).

Usage:
    python -m comedian summary --metrics results/evaluate/*/*/*/metrics.json \\
        --out results/summary.tsv

Each ``metrics.json`` lives at ``results/evaluate/<run>/<split>/<nms>/metrics.json``; the table
has one row per file: run, split, NMS setting, tight and loose average-mAP (x 100 in the printed
table, fractions in the TSV, as in the JSON), and the tight average-mAP of each class.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from comedian.atomic import atomic_path
from comedian.data.soccernet import CLASSES
from comedian.guards import refuse_overwrite

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Paths:
    metrics: tuple[Path, ...] = field(
        metadata={"help": "metrics.json files (results/evaluate/<run>/<split>/<nms>/...)"}
    )
    out: Path = field(metadata={"help": "summary table (TSV) to write"})


@dataclass(frozen=True)
class Config:
    pass


def summary_table(metrics: tuple[Path, ...] | list[Path]) -> pd.DataFrame:
    """The table of :mod:`comedian.stages.summary` from metrics files."""
    rows = []
    for path in metrics:
        path = Path(path)
        if len(path.parts) < 4:
            raise ValueError(f"{path}: expected <run>/<split>/<nms>/metrics.json")
        run, split, nms = path.parts[-4:-1]
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise ValueError(f"{path}: cannot read metrics ({err})") from None
        row: dict[str, object] = {"run": run, "split": split, "nms": nms}
        for name in ("tight", "loose"):
            row[name] = doc[name]["a_mAP"] if name in doc else float("nan")
        per_class = doc.get("tight", {}).get("a_mAP_per_class", [float("nan")] * len(CLASSES))
        row.update({f"tight/{c}": v for c, v in zip(CLASSES, per_class, strict=True)})
        rows.append(row)
    return pd.DataFrame(rows)


def run(cfg: Config, *, paths: Paths) -> None:
    refuse_overwrite(inputs={"--metrics": paths.metrics}, outputs={"--out": paths.out})
    table = summary_table(paths.metrics)
    with atomic_path(paths.out) as tmp:
        table.to_csv(tmp, sep="\t", index=False, float_format="%.6f")
    log.info("%d rows -> %s", len(table), paths.out)
