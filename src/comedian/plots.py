"""Matplotlib figures of a run: event timelines, per-class AP, training curves, summary table.

Usage:
    plot_timeline("timeline.png", predictions, truth=labels, title="game")  # results arrays
    plot_class_ap("ap.png", {"test": metrics_json_doc})
    plot_training_curves("curves.png", {"finetune/vivit": "results/finetune/vivit/train_log.csv"})
    plot_summary_table("summary.png", "results/summary.tsv")
    plot_game_timeline("game.png", "results/nms/.../results_spotting.json", "Labels-v2.json")

Every function writes one PNG atomically (Agg backend: no display needed) and returns nothing.
Predictions and ground truth use the arrays of :mod:`comedian.spotting.results`
(``half``, ``label`` = class index, ``position_ms``, ``confidence``); ground truth tables of
:func:`comedian.data.labels.read_labels` become such arrays with :func:`truth_arrays`.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display on cluster nodes or in Snakemake jobs

import matplotlib.pyplot as plt  # noqa: E402 - after the backend is chosen
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from comedian.atomic import atomic_path  # noqa: E402
from comedian.data.labels import read_labels  # noqa: E402
from comedian.data.soccernet import CLASSES  # noqa: E402
from comedian.errors import InputError  # noqa: E402
from comedian.spotting.results import read_results  # noqa: E402

#: Summary table columns shown in the report's table (per-class columns go to the AP chart).
SUMMARY_COLUMNS = ("run", "split", "nms", "tight", "loose")


def save_figure(fig: Figure, path: str | os.PathLike[str], dpi: int = 110) -> None:
    """Write ``fig`` as a PNG atomically and close it."""
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
    finally:
        plt.close(fig)


def truth_arrays(labels: pd.DataFrame) -> dict[str, np.ndarray]:
    """Ground-truth events (a :func:`~comedian.data.labels.read_labels` table) as result arrays."""
    return {
        "half": labels["half"].to_numpy(np.int64),
        "label": labels["class_index"].to_numpy(np.int64),
        "position_ms": labels["position_ms"].to_numpy(np.int64),
        "confidence": np.ones(len(labels)),
    }


def plot_timeline(
    path: str | os.PathLike[str],
    predictions: Mapping[str, np.ndarray],
    *,
    truth: Mapping[str, np.ndarray] | None = None,
    title: str = "",
    min_confidence: float = 0.0,
) -> None:
    """One row a class, time on x, one panel a half: predictions (and ground truth) as marks.

    Predictions are dots coloured and faded by confidence (the most confident drawn on top);
    ground-truth events are black vertical bars on the same row, so a hit reads as a bright dot
    on a bar.

    Args:
        path: The PNG to write.
        predictions: Result arrays (``half``, ``label``, ``position_ms``, ``confidence``).
        truth: Ground-truth arrays of the same layout, or None.
        title: Figure title.
        min_confidence: Predictions below it are not drawn (soft NMS emits many faint ones).
    """
    halves = sorted(set(np.asarray(predictions["half"]).tolist()) | _halves(truth)) or [1]
    fig, axes = plt.subplots(
        len(halves), 1, figsize=(12, 4.2 * len(halves)), squeeze=False, sharey=True
    )
    cmap = plt.get_cmap("viridis")
    conf_all = np.asarray(predictions["confidence"], dtype=np.float64)
    for ax, half in zip(axes[:, 0], halves, strict=True):
        sel = (np.asarray(predictions["half"]) == half) & (conf_all >= min_confidence)
        conf = conf_all[sel]
        order = np.argsort(conf, kind="stable")  # faint first, confident on top
        t_min = np.asarray(predictions["position_ms"])[sel][order] / 60_000
        cls = np.asarray(predictions["label"])[sel][order]
        conf = conf[order]
        colors = cmap(conf)
        colors[:, 3] = np.clip(conf, 0.08, 1.0)  # alpha: faint predictions fade out
        ax.scatter(t_min, cls, c=colors, s=18, linewidths=0, label="prediction")
        if truth is not None:
            tsel = np.asarray(truth["half"]) == half
            ax.scatter(
                np.asarray(truth["position_ms"])[tsel] / 60_000,
                np.asarray(truth["label"])[tsel],
                marker="|",
                s=160,
                c="black",
                linewidths=1.2,
                label="ground truth",
            )
        ax.set_yticks(range(len(CLASSES)), CLASSES, fontsize=7)
        ax.set_ylim(len(CLASSES) - 0.5, -0.5)
        ax.set_xlabel(f"half {half}: time (min)")
        ax.grid(axis="x", alpha=0.3)
    if truth is not None:
        axes[0, 0].legend(loc="upper right", fontsize=7)
    fig.colorbar(
        plt.cm.ScalarMappable(norm=plt.Normalize(0, 1), cmap=cmap),
        ax=axes[:, 0].tolist(),
        label="confidence",
        fraction=0.02,
    )
    if title:
        fig.suptitle(title, fontsize=9)
    save_figure(fig, path)


def _halves(arrays: Mapping[str, np.ndarray] | None) -> set[int]:
    return set() if arrays is None else set(np.asarray(arrays["half"]).tolist())


def plot_class_ap(path: str | os.PathLike[str], metrics: Mapping[str, Mapping[str, Any]]) -> None:
    """Bar chart of the per-class average-mAP of one or more evaluations, tight and loose.

    Args:
        path: The PNG to write.
        metrics: Name (e.g. ``vivit test``) -> a ``metrics.json`` document of ``comedian
            evaluate`` (``{"tight": {"a_mAP_per_class": [17 values], ...}, ...}``).
    """
    kinds = [k for k in ("tight", "loose") if any(k in m for m in metrics.values())]
    if not kinds:
        raise InputError("per-class AP plot: no tight or loose metrics to plot")
    fig, axes = plt.subplots(len(kinds), 1, figsize=(12, 3.6 * len(kinds)), squeeze=False)
    x = np.arange(len(CLASSES))
    width = 0.8 / max(1, len(metrics))
    for ax, kind in zip(axes[:, 0], kinds, strict=True):
        for i, (name, doc) in enumerate(metrics.items()):
            if kind not in doc:
                continue
            ap = np.asarray(doc[kind]["a_mAP_per_class"], dtype=np.float64)
            if ap.shape != (len(CLASSES),):
                raise InputError(f"{name}: {kind} a_mAP_per_class has {ap.size} values, not 17")
            label = f"{name} ({100 * doc[kind]['a_mAP']:.1f})"
            ax.bar(x + (i - (len(metrics) - 1) / 2) * width, 100 * ap, width, label=label)
        ax.set_xticks(x, CLASSES, rotation=45, ha="right", fontsize=8)
        ax.set_ylim(0, 100)
        ax.set_ylabel(f"{kind} average-AP (%)")
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")
    save_figure(fig, path)


def plot_training_curves(
    path: str | os.PathLike[str], logs: Mapping[str, str | os.PathLike[str]]
) -> None:
    """Loss (and validation tight average-mAP when logged) against step, one panel a stage.

    Args:
        path: The PNG to write.
        logs: Stage name -> its ``train_log.csv`` (columns step, loss; valid_tight optional).
    """
    if not logs:
        raise InputError("training curves: no train_log.csv to plot")
    cols = min(3, len(logs))
    rows = math.ceil(len(logs) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.2 * rows), squeeze=False)
    for ax in axes.flat[len(logs) :]:
        ax.set_visible(False)
    for ax, (name, log_path) in zip(axes.flat, logs.items(), strict=False):
        table = _read_log(Path(log_path))
        ax.plot(table["step"], table["loss"], lw=1, color="tab:blue")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("step")
        ax.set_ylabel("loss", color="tab:blue")
        valid = table.dropna(subset=["valid_tight"]) if "valid_tight" in table else table[:0]
        if len(valid):
            twin = ax.twinx()
            twin.plot(valid["step"], 100 * valid["valid_tight"], "o-", ms=3, color="tab:orange")
            twin.set_ylabel("valid tight a-mAP (%)", color="tab:orange")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path)


def _read_log(path: Path) -> pd.DataFrame:
    try:
        table = pd.read_csv(path)
    except (OSError, ValueError) as err:  # EmptyDataError and ParserError are ValueErrors
        raise InputError(f"{path}: not a readable training log ({err})") from None
    missing = {"step", "loss"} - set(table.columns)
    if missing:
        raise InputError(f"{path}: training log lacks column(s) {', '.join(sorted(missing))}")
    return table


def plot_summary_table(path: str | os.PathLike[str], summary: str | os.PathLike[str]) -> None:
    """The summary TSV (``comedian summary``) as a table image, average-mAP in percent.

    Args:
        path: The PNG to write.
        summary: ``results/summary.tsv`` (columns run, split, nms, tight, loose, ...).
    """
    try:
        table = pd.read_csv(summary, sep="\t")
    except (OSError, ValueError) as err:
        raise InputError(f"{summary}: not a readable summary table ({err})") from None
    shown = [c for c in SUMMARY_COLUMNS if c in table.columns]
    if not {"run", "split"} <= set(shown):
        raise InputError(f"{summary}: summary table lacks the run and split columns")
    cells = [
        [f"{100 * v:.2f}" if c in ("tight", "loose") else str(v) for c, v in row.items()]
        for _, row in table[shown].iterrows()
    ]
    headers = [f"{c} a-mAP (%)" if c in ("tight", "loose") else c for c in shown]
    fig, ax = plt.subplots(figsize=(2 + 1.8 * len(shown), 0.6 + 0.35 * (len(cells) + 1)))
    ax.axis("off")
    tab = ax.table(cellText=cells or [[""] * len(shown)], colLabels=headers, loc="center")
    tab.auto_set_font_size(False)
    tab.set_fontsize(9)
    tab.scale(1, 1.4)
    save_figure(fig, path)


def read_metrics_files(files: Sequence[str | os.PathLike[str]]) -> dict[str, dict[str, Any]]:
    """``results/evaluate/<run>/<split>/<nms>/metrics.json`` files, named ``<run> <split>``."""
    docs: dict[str, dict[str, Any]] = {}
    for file in map(Path, files):
        try:
            doc = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise InputError(f"{file}: not a readable metrics JSON ({err})") from None
        run, split = file.parts[-4:-2] if len(file.parts) >= 4 else (file.stem, "")
        docs[f"{run} {split}".strip()] = doc
    return docs


def training_log_name(path: str | os.PathLike[str]) -> str:
    """``results/finetune/vivit/train_log.csv`` -> ``finetune/vivit`` (``teacher`` alone)."""
    parts = Path(path).parent.parts
    return "/".join(parts[1:] if len(parts) > 1 and parts[0] == "results" else parts[-2:])


def plot_game_timeline(
    path: str | os.PathLike[str],
    results_file: str | os.PathLike[str],
    labels_file: str | os.PathLike[str] | None,
    *,
    title: str = "",
    min_confidence: float = 0.0,
) -> None:
    """:func:`plot_timeline` of one game's ``results_spotting.json`` against its labels."""
    predictions = read_results(results_file)
    truth = None if labels_file is None else truth_arrays(read_labels(labels_file))
    plot_timeline(path, predictions, truth=truth, title=title, min_confidence=min_confidence)
