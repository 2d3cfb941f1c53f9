"""Summarize what the pipeline produced under a results folder (``make demo`` prints this).

Usage:
    python -m comedian.report results

Hidden files and folders (temporary files of atomic writes, ``.<name>.<random>.tmp``) are never
counted.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from comedian.data.frames import FrameStore
from comedian.data.games import read_games_table
from comedian.errors import InputError, one_line


def _visible(paths: list[Path], root: Path) -> list[Path]:
    return [p for p in paths if not any(part.startswith(".") for part in p.relative_to(root).parts)]


def summarize(results: Path) -> str:
    """A plain-text summary of the games table, frame stores and metrics under ``results``."""
    lines: list[str] = []
    table_path = results / "games" / "games.tsv"
    if table_path.exists():
        table = read_games_table(table_path)
        counts = ", ".join(f"{s} {n}" for s, n in table.groupby("split", sort=False).size().items())
        lines.append(f"games: {len(table)} ({counts})  [{table_path}]")
    for rate_dir in _visible(sorted((results / "decode").glob("*fps")), results):
        stores = _visible(sorted(rate_dir.glob("*/*.frames")), rate_dir)
        frames = 0
        for store in stores:
            frames += FrameStore(store).num_frames
        size_mb = sum(s.stat().st_size for s in stores) / 1e6
        lines.append(
            f"decode {rate_dir.name}: {len(stores)} halves, {frames} frames, {size_mb:.1f} MB"
            f"  [{rate_dir}]"
        )
    evaluate = results / "evaluate"
    for metrics_path in _visible(sorted(evaluate.glob("**/metrics.json")), evaluate):
        try:
            metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
        except ValueError as err:
            raise InputError(f"{metrics_path}: not a metrics JSON ({err})") from None
        parts = [
            f"{name} {100 * values['a_mAP']:.2f}"
            for name, values in metrics.items()
            if isinstance(values, dict) and "a_mAP" in values
        ]
        lines.append(f"average-mAP {', '.join(parts)}  [{metrics_path}]")
    # shared stages (teacher) log at results/<stage>/, a run's stages at results/<stage>/<run>/
    logs = [*results.glob("*/train_log.csv"), *results.glob("*/*/train_log.csv")]
    for log_path in _visible(sorted(logs), results):
        lines.append(training_line(log_path, results))
    timelines = results / "report" / "timeline"
    pages = _visible(sorted(timelines.glob("**/*.html")), timelines)
    if pages:
        lines.append(f"match viewer: {len(pages)} pages, open one in a browser, e.g. {pages[0]}")
    summary = results / "summary.tsv"
    if summary.exists():
        lines.append("")
        lines.append(summary_text(summary))
    if not lines:
        lines.append(f"nothing produced yet under {results}")
    return "\n".join(lines)


def training_line(path: Path, results: Path) -> str:
    """``<stage> [<run>]: N steps, loss first -> last (means of the first and last 10 steps)``,
    and the best of each validation column."""
    name = " ".join(path.parent.relative_to(results).parts)
    log = pd.read_csv(path)
    loss = log["loss"].dropna() if "loss" in log else pd.Series(dtype=float)
    text = f"{name}: {len(loss)} steps"
    if len(loss):
        text += f", loss {loss.head(10).mean():.4f} -> {loss.tail(10).mean():.4f}"
    for column in log.columns:
        if column.startswith("valid_") and log[column].notna().any():
            text += f", best {column} {100 * log[column].max():.2f}"
    return f"{text}  [{path}]"


def summary_text(path: Path) -> str:
    """``results/summary.tsv`` as a table: run, split, NMS setting, tight and loose (x 100)."""
    table = pd.read_csv(path, sep="\t", dtype={"run": str, "split": str, "nms": str})
    # columns as wide as their longest entry plus two spaces (long run names stay apart)
    w = {c: max([len(c), *(len(v) for v in table[c])]) + 2 for c in ("run", "split", "nms")}
    head = f"{'run':<{w['run']}}{'split':<{w['split']}}{'nms':<{w['nms']}}{'tight':>8}{'loose':>8}"
    rows = [
        f"{r.run:<{w['run']}}{r.split:<{w['split']}}{r.nms:<{w['nms']}}"
        f"{100 * r.tight:8.2f}{100 * r.loose:8.2f}"
        for r in table.itertuples()
    ]
    return "\n".join([f"average-mAP (x 100) [{path}]", head, *rows])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m comedian.report", description=__doc__)
    parser.add_argument("results", type=Path, nargs="?", default=Path("results"))
    args = parser.parse_args(argv)
    try:
        summary = summarize(args.results)
    except Exception as err:  # noqa: BLE001 - one line, as the comedian CLI does
        sys.stderr.write(f"comedian.report: {one_line(err)}\n")
        return 1
    sys.stdout.write(summary + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
