"""The NMS sweep: every setting of a grid evaluated from raw scores in memory (no results JSON
written), with numbers identical to NMS + evaluate.

Usage:
    settings = grid(kinds=["soft"], windows=[10, 20], thresholds=[0.001, 0.01])
    table = sweep_nms(raw, labels, settings, workers=2)   # raw: per game {1: (T, 17), 2: (T, 17)}

Settings are :class:`comedian.spotting.settings.NmsSetting` (re-exported here). With several
workers, settings are spread over processes (one setting a task, the table in grid order): the
scores are stacked once and shared through a memory-mapped file, the labels are sent to each
worker once, so a worker holds one setting's NMS output and metric state at a time.
"""

from __future__ import annotations

import itertools
import logging
import tempfile
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from comedian.config import ConfigError
from comedian.data.soccernet import CLASSES
from comedian.spotting.metrics import (
    RASTER_FRAMES,
    Evaluator,
    Events,
    label_events,
    make_events,
)
from comedian.spotting.results import round_confidence
from comedian.spotting.settings import SLUG_PATTERN, NmsSetting, format_number

__all__ = ["SLUG_PATTERN", "NmsSetting", "grid", "peak_events", "plot_heatmap", "sweep_nms"]

logger = logging.getLogger(__name__)


def grid(
    kinds: Sequence[str],
    windows: Sequence[int],
    thresholds: Sequence[float],
    min_weights: Sequence[float] = (0.0,),
) -> list[NmsSetting]:
    """Every combination, in this order (hard NMS has no min_weight: it gets 0 only).

    Raises:
        ConfigError: (a ValueError) naming the option for an empty list or any value that
            :class:`NmsSetting` refuses (every min_weight is checked, with hard NMS too).
    """
    lists = {"kinds": kinds, "windows": windows, "thresholds": thresholds}
    for name, values in {**lists, "min_weights": min_weights}.items():
        if not len(values):
            raise ConfigError(f"NMS sweep {name}: empty list")
    for m in min_weights:
        NmsSetting("soft", min_weight=m)
    out: list[NmsSetting] = []
    for kind, w, t, m in itertools.product(kinds, windows, thresholds, min_weights):
        setting = NmsSetting(kind, w, t, m if kind == "soft" else 0.0)  # type: ignore[arg-type]
        if setting not in out:
            out.append(setting)
    return out


def _stack_halves(raw: Sequence[Mapping[int, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Zero-pad every half to one length: zeros are never emitted (threshold > 0) and never
    suppress anything. Returns (H, T, C) float32 and the true lengths (H,)."""
    halves = [g[h] for g in raw for h in (1, 2)]
    lengths = np.array([len(x) for x in halves])
    stack = np.zeros((len(halves), int(lengths.max()), halves[0].shape[1]), dtype=np.float32)
    for i, x in enumerate(halves):
        stack[i, : len(x)] = x
    return stack, lengths


def peak_events(peaks: np.ndarray, lengths: np.ndarray) -> Events:
    """Prediction :class:`~comedian.spotting.metrics.Events` of NMS outputs, exactly as the
    results files of :mod:`comedian.spotting.results` would give them (row r -> 500 r ms ->
    raster frame r, clipped).

    Shapes:
        peaks: (H, T, C) with H = 2 x games, half slot order.
    """
    return make_events(*_peak_cells(peaks, lengths), num_halves=peaks.shape[0])


def _peak_cells(
    peaks: np.ndarray, lengths: np.ndarray, first: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Half slot, class, frame and confidence of the peaks of halves ``first, first + 1, ...``
    (sorted by slot, row, class, as the results files order them)."""
    slot, row, label = np.nonzero(peaks)
    inside = row < lengths[first + slot]
    slot, row, label = slot[inside], row[inside], label[inside]
    conf = round_confidence(peaks[slot, row, label])  # as the results files hold
    return first + slot, label, np.minimum(row, RASTER_FRAMES - 1), conf


def sweep_nms(
    raw: Sequence[Mapping[int, np.ndarray]],
    labels: Sequence[Mapping[str, np.ndarray]],
    settings: Sequence[NmsSetting],
    metrics: Sequence[str] = ("tight", "loose"),
    *,
    workers: int = 1,
) -> pd.DataFrame:
    """Evaluate each NMS setting on the same games.

    Args:
        raw: Per game ``{1: (T1, 17), 2: (T2, 17)}`` raw scores.
        labels: Per game (same order) :func:`~comedian.spotting.metrics.read_labels` arrays.
        settings: The grid.
        metrics: Metric names; the first also gets one column per class.
        workers: Processes evaluating settings side by side (1: this process only). The table
            is the same whatever the number.

    Returns:
        One row per setting: ``setting, kind, window, threshold, min_weight``, one column per
        metric (average-mAP), ``<first metric>/<class>`` columns and ``seconds`` (of that
        setting, in its worker).
    """
    if len(raw) != len(labels) or not raw:
        raise ValueError(
            f"need raw scores and labels of the same games, got {len(raw)}, {len(labels)}"
        )
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"sweep workers: {workers!r} is not an integer >= 1")
    gt = label_events(list(labels))
    stack, lengths = _stack_halves(raw)  # (H, T, C)
    workers = min(workers, len(settings))
    if workers == 1:
        _SHARED.update(stack=stack, lengths=lengths, gt=gt, metrics=tuple(metrics))
        try:
            rows = [_setting_row(s) for s in settings]
        finally:
            _SHARED.clear()
    else:
        with tempfile.TemporaryDirectory(prefix="comedian-sweep-") as tmp:
            shared = Path(tmp) / "scores.npy"
            np.save(shared, stack)
            del stack  # the workers map the file: one copy in the page cache for all
            with ProcessPoolExecutor(
                workers, initializer=_share, initargs=(shared, lengths, gt, tuple(metrics))
            ) as pool:
                rows = list(pool.map(_setting_row, settings))
    for row in rows:
        logger.info("%s: %s", row["setting"], {m: round(row[m], 4) for m in metrics})
    return pd.DataFrame(rows)


#: What every setting of a sweep reads: in this process, or set once in each worker.
_SHARED: dict[str, object] = {}


def _share(scores: Path, lengths: np.ndarray, gt: Events, metrics: tuple[str, ...]) -> None:
    """Worker initializer: map the stacked scores, keep the labels and the metric names."""
    # Copy-on-write: never written, so never copied, but typed like any array by numba.
    _SHARED.update(stack=np.load(scores, mmap_mode="c"), lengths=lengths, gt=gt, metrics=metrics)


def _setting_row(setting: NmsSetting) -> dict[str, object]:
    """One row of the sweep table: NMS of the shared scores and the metrics of its peaks."""
    start = time.perf_counter()
    stack, lengths, gt = _SHARED["stack"], _SHARED["lengths"], _SHARED["gt"]
    metrics: tuple[str, ...] = _SHARED["metrics"]  # type: ignore[assignment]
    # One game at a time: its NMS output stays in the cache for the search of its peaks.
    cells = [
        _peak_cells(setting.apply(stack[i : i + 2]), lengths, i)  # type: ignore[index]
        for i in range(0, len(stack), 2)  # type: ignore[arg-type]
    ]
    columns = (np.concatenate(c) for c in zip(*cells, strict=True))
    evaluator = Evaluator(gt, make_events(*columns, num_halves=len(stack)))  # type: ignore[arg-type]
    row: dict[str, object] = {
        "setting": setting.slug,
        "kind": setting.kind,
        "window": setting.window,
        "threshold": setting.threshold,
        "min_weight": setting.min_weight,
    }
    results = {m: evaluator.average_map(m) for m in metrics}
    row.update({m: results[m]["a_mAP"] for m in metrics})
    per_class = results[metrics[0]]["a_mAP_per_class"]
    row.update({f"{metrics[0]}/{name}": v for name, v in zip(CLASSES, per_class, strict=True)})
    row["seconds"] = time.perf_counter() - start
    return row


def plot_heatmap(
    table: pd.DataFrame, path: str | Path, metrics: Sequence[str] = ("tight", "loose")
) -> None:
    """Heatmap PNG of a sweep: one panel per (NMS kind and min_weight, metric); rows windows,
    columns thresholds, cells average-mAP x 100. Written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from comedian.atomic import atomic_path

    groups = list(table.groupby(["kind", "min_weight"], sort=True))
    fig, axes = plt.subplots(
        len(groups), len(metrics), figsize=(4.5 * len(metrics), 3.5 * len(groups)), squeeze=False
    )
    for r, ((kind, mw), sub) in enumerate(groups):
        for c, metric in enumerate(metrics):
            mat = sub.pivot_table(index="window", columns="threshold", values=metric) * 100
            ax = axes[r, c]
            im = ax.imshow(mat.to_numpy(), cmap="viridis", aspect="auto")
            ax.set_xticks(range(mat.shape[1]), [format_number(t) for t in mat.columns], rotation=45)
            ax.set_yticks(range(mat.shape[0]), [str(w) for w in mat.index])
            ax.set_xlabel("threshold")
            ax.set_ylabel("window (0.5 s steps)")
            ax.set_title(f"{kind} NMS (min_weight {format_number(mw)}): {metric} a-mAP")
            values = mat.to_numpy()
            middle = (np.nanmin(values) + np.nanmax(values)) / 2
            for (i, j), v in np.ndenumerate(values):
                color = "k" if v > middle else "w"  # readable on both ends of viridis
                ax.text(j, i, f"{v:.1f}", ha="center", va="center", color=color, fontsize=8)
            fig.colorbar(im, ax=ax)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")  # the temporary name ends in .tmp
    plt.close(fig)
