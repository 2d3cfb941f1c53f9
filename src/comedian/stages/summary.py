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
import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from comedian.atomic import atomic_path
from comedian.data.soccernet import CLASSES
from comedian.errors import InputError, UsageError
from comedian.guards import refuse_overwrite

log = logging.getLogger(__name__)


#: What ``comedian --help`` says of this stage.
SUMMARY = "one table (TSV) of the metrics of every evaluated run"


@dataclass(frozen=True)
class Paths:
    metrics: tuple[Path, ...] = field(
        metadata={"help": "metrics.json files (results/evaluate/<run>/<split>/<nms>/...)"}
    )
    out: Path = field(metadata={"output": True, "help": "summary table (TSV) to write"})


@dataclass(frozen=True)
class Config:
    pass


def _fraction(value: object, where: str) -> float:
    """A metric value: a finite number in [0, 1] (booleans and strings are refused)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"{where}: expected a number in [0, 1], got {value!r}")
    if not math.isfinite(value) or not 0 <= value <= 1:
        raise InputError(f"{where}: expected a number in [0, 1], got {value!r}")
    return float(value)


def summary_table(metrics: tuple[Path, ...] | list[Path]) -> pd.DataFrame:
    """The table of :mod:`comedian.stages.summary` from metrics files.

    Raises:
        UsageError: A file given twice (one run would count twice).
        InputError: Naming the file and key, for a value that is not a number in [0, 1] (a
            string, NaN, a per-class list of another length). A metric the file lacks (evaluate
            ``--metric loose``) is left empty.
    """
    rows = []
    seen: dict[Path, Path] = {}
    for path in metrics:
        path = Path(path)
        first = seen.setdefault(path.resolve(), path)
        if first is not path:
            raise UsageError(f"--metrics: {path} is given twice (also as {first})")
        if len(path.parts) < 4:
            raise ValueError(f"{path}: expected <run>/<split>/<nms>/metrics.json")
        run, split, nms = path.parts[-4:-1]
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise ValueError(f"{path}: cannot read metrics ({err})") from None
        if not isinstance(doc, dict) or not all(isinstance(v, dict) for v in doc.values()):
            raise InputError(f"{path}: not a metrics file of comedian evaluate (metric -> keys)")
        row: dict[str, object] = {"run": run, "split": split, "nms": nms}
        for name in ("tight", "loose"):
            if name in doc:
                row[name] = _fraction(doc[name].get("a_mAP"), f"{path}: {name}.a_mAP")
            else:
                row[name] = float("nan")
        per_class = [float("nan")] * len(CLASSES)
        if "tight" in doc:
            values = doc["tight"].get("a_mAP_per_class")
            where = f"{path}: tight.a_mAP_per_class"
            if not isinstance(values, list) or len(values) != len(CLASSES):
                raise InputError(f"{where}: expected a list of {len(CLASSES)} numbers")
            per_class = [_fraction(v, f"{where}[{i}]") for i, v in enumerate(values)]
        row.update({f"tight/{c}": v for c, v in zip(CLASSES, per_class, strict=True)})
        rows.append(row)
    return pd.DataFrame(rows)


def run(cfg: Config, *, paths: Paths) -> None:
    refuse_overwrite(inputs={"--metrics": paths.metrics}, outputs={"--out": paths.out})
    table = summary_table(paths.metrics)
    with atomic_path(paths.out) as tmp:
        table.to_csv(tmp, sep="\t", index=False, float_format="%.6f")
    log.info("%d rows -> %s", len(table), paths.out)
