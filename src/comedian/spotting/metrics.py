"""The SoccerNet-v2 average-mAP (method.md section 9), vectorized, identical to the official code.

Usage:
    results = evaluate_games(labels_root, predictions_root, games, ["tight", "loose"])
    # or, from arrays (the sweep does this without any results file):
    gt = label_events([read_labels(root / game / "Labels-v2.json") for game in games])
    pred = prediction_events([read_results(out / game / "results_spotting.json") ...])
    result = Evaluator(gt, pred).average_map("tight")  # {"a_mAP": ..., "a_mAP_per_class": ...}

Speed: the predictions are never sorted; each tolerance costs a greedy matching on the few
predictions near a ground truth (vectorized rounds) and per-class histograms over the 200
thresholds (``bincount`` + suffix sums).

Conventions of ``SoccerNet.Evaluation.ActionSpotting.evaluate(..., version=2)`` reproduced here:

* Every half is a raster of ``120 * 60 * 2`` frames at 2 fps; an event's frame is
  ``int(2 * (position_ms / 1000))`` clipped to the last frame (labels without ``position`` use
  ``gameTime``). Ground truth is +1 (visible) or -1 (``not shown``).
* On one (half, class, frame) a later annotation or prediction overwrites an earlier one.
* Every prediction with confidence >= 0 counts. Per tolerance ``delta`` (seconds) and class, each
  ground truth in frame order greedily takes the highest-scoring unused prediction (ties: the
  earliest frame) with ``|frame difference| <= delta * 2 / 2`` frames.
* Each prediction is tagged with the visibility of its closest ground truth (the raster is split
  half-way between consecutive ground truths; a class without ground truth in a half tags its
  predictions as unshown). Visible / unshown precision and recall use only the predictions so
  tagged and only the ground truth of that visibility.
* Precision / recall at ``linspace(0, 1, 200)`` thresholds (0 / 0 = 0), 11-point interpolated AP,
  mAP = mean over the 17 classes (classes without ground truth count as 0), average-mAP =
  trapezoid over the deltas / (n - 1); the unshown average is multiplied by 17 / 13. A single
  delta (``at1`` .. ``at5``) returns that delta's mAP as is (no 17 / 13 factor).
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from comedian.data.soccernet import CLASS_INDEX, LABELS_NAME, NUM_CLASSES, RESULTS_NAME

logger = logging.getLogger(__name__)

FRAMERATE = 2
#: Frames in the official raster of one half (two hours at 2 fps).
RASTER_FRAMES = 120 * 60 * FRAMERATE
#: Tolerances (seconds) of each metric name.
METRIC_DELTAS: dict[str, tuple[int, ...]] = {
    "tight": (1, 2, 3, 4, 5),
    "loose": tuple(range(5, 65, 5)),
    "at1": (1,),
    "at2": (2,),
    "at3": (3,),
    "at4": (4,),
    "at5": (5,),
}
METRIC_NAMES: tuple[str, ...] = tuple(METRIC_DELTAS)
THRESHOLDS = np.linspace(0, 1, 200)
RESULT_KEYS: tuple[str, ...] = (
    "a_mAP",
    "a_mAP_per_class",
    "a_mAP_visible",
    "a_mAP_per_class_visible",
    "a_mAP_unshown",
    "a_mAP_per_class_unshown",
)
# Key stride of (group, frame) pairs; larger than the raster plus twice the widest tolerance.
_KEY_STRIDE = 1 << 20


@dataclass(frozen=True)
class Events:
    """Rasterized events of several halves, deduplicated and sorted by (group, frame).

    ``group = half_slot * 17 + class`` where ``half_slot`` numbers the halves (game i's first
    and second half are slots 2i and 2i + 1).

    Attributes:
        group: int64 (N,).
        frame: int64 (N,) raster frame in [0, RASTER_FRAMES).
        value: float64 (N,): +1 / -1 visibility for ground truth, confidence for predictions.
        num_halves: Number of half slots (so that empty halves still count).
    """

    group: np.ndarray
    frame: np.ndarray
    value: np.ndarray
    num_halves: int

    @functools.cached_property
    def key(self) -> np.ndarray:
        """int64 (N,) sort key ``group * 2**20 + frame`` (increasing)."""
        return self.group * _KEY_STRIDE + self.frame


def position_to_frame(position_ms: np.ndarray) -> np.ndarray:
    """Official rasterization: ``int(2 * (position / 1000))``, clipped to the last frame."""
    frames = np.trunc(FRAMERATE * (np.asarray(position_ms, dtype=np.int64) / 1000))
    return np.minimum(frames.astype(np.int64), RASTER_FRAMES - 1)


def make_events(
    slot: np.ndarray,
    label: np.ndarray,
    frame: np.ndarray,
    value: np.ndarray,
    num_halves: int,
) -> Events:
    """Build :class:`Events` from events in file order (a later one wins on the same cell).

    Args:
        slot: Half slot of each event (int, (N,)).
        label: Class index (int, (N,)).
        frame: Raster frame (int, (N,)) in [0, RASTER_FRAMES).
        value: +-1 or confidence (float, (N,)).
        num_halves: Number of half slots.
    """
    slot = np.asarray(slot, dtype=np.int64)
    label = np.asarray(label, dtype=np.int64)
    frame = np.asarray(frame, dtype=np.int64)
    value = np.asarray(value, dtype=np.float64)
    # One cell per (half, class, frame), in (group, frame) order. The last event on a cell is
    # found on a dense raster (no sort): a chunk of cells at a time to bound the memory.
    cell = (slot * NUM_CLASSES + label) * RASTER_FRAMES + frame  # (N,)
    total = num_halves * NUM_CLASSES * RASTER_FRAMES
    if total <= _CELLS_PER_CHUNK:  # one game: one small raster
        chunks = [np.arange(len(cell))]
    else:
        chunk = cell // _CELLS_PER_CHUNK
        if len(cell) and chunk.max() >= np.iinfo(np.int16).max:
            raise ValueError(f"too many halves ({num_halves}) for one evaluation")
        # Stable small-integer sort (radix): each chunk's events, still in file order.
        by_chunk = np.argsort(chunk.astype(np.int16), kind="stable")
        bounds = np.searchsorted(chunk[by_chunk], np.arange(chunk.max() + 2 if len(cell) else 0))
        chunks = [by_chunk[bounds[k] : bounds[k + 1]] for k in range(len(bounds) - 1)]
    keep = []
    for k, events in enumerate(chunks):
        if not len(events):
            continue
        last = np.full(min(_CELLS_PER_CHUNK, total - k * _CELLS_PER_CHUNK), -1, dtype=np.int64)
        np.maximum.at(last, cell[events] - k * _CELLS_PER_CHUNK, events)  # latest event per cell
        keep.append(last[last >= 0])
    kept = np.concatenate(keep) if keep else np.zeros(0, dtype=np.int64)
    return Events(
        group=slot[kept] * NUM_CLASSES + label[kept],
        frame=frame[kept],
        value=value[kept],
        num_halves=num_halves,
    )


#: Raster cells handled at once when deduplicating events (32 MB of int64).
_CELLS_PER_CHUNK = 1 << 22


def read_labels(path: str | Path) -> dict[str, np.ndarray]:
    """Read a ``Labels-v2.json`` the way the official evaluator does.

    The half is the first character of ``gameTime``; the frame comes from ``position`` (ms) or,
    without it, from the ``MM:SS`` of ``gameTime``; labels outside the 17 classes and halves other
    than 1 and 2 are skipped (as officially).

    Returns:
        ``{"half", "label", "frame", "value"}`` arrays in file order (value +1 visible, -1 not
        shown).

    Raises:
        ValueError: Naming the file, for a file that is not SoccerNet labels.
    """
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        annotations = doc["annotations"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{path}: not a SoccerNet labels file ({err})") from err
    halves, labels, frames, values = [], [], [], []
    skipped = 0
    for i, ann in enumerate(annotations):
        try:
            game_time = ann["gameTime"]
            half = int(game_time[0])
            if "position" in ann:
                frame = int(FRAMERATE * (int(ann["position"]) / 1000))
            else:
                frame = FRAMERATE * (int(game_time[-2:]) + 60 * int(game_time[-5:-3]))
        except (KeyError, ValueError, TypeError, IndexError) as err:
            raise ValueError(f"{path}: annotation {i} is malformed ({err})") from err
        if ann.get("label") not in CLASS_INDEX or half not in (1, 2):
            skipped += 1
            continue
        if frame < 0:
            raise ValueError(f"{path}: annotation {i} has a negative position")
        halves.append(half)
        labels.append(CLASS_INDEX[ann["label"]])
        frames.append(min(frame, RASTER_FRAMES - 1))
        values.append(-1.0 if ann.get("visibility") == "not shown" else 1.0)
    if skipped:
        logger.warning(
            "%s: skipped %d annotation(s) outside the 17 classes/2 halves", path, skipped
        )
    return {
        "half": np.array(halves, dtype=np.int64),
        "label": np.array(labels, dtype=np.int64),
        "frame": np.array(frames, dtype=np.int64),
        "value": np.array(values, dtype=np.float64),
    }


def concat_events(parts: Sequence[Events]) -> Events:
    """Events of several games, game i's half slots renumbered after those of games < i."""
    offsets = np.cumsum([0] + [p.num_halves for p in parts])
    return Events(
        group=np.concatenate(
            [p.group + off * NUM_CLASSES for p, off in zip(parts, offsets, strict=False)]
            or [np.zeros(0, np.int64)]
        ),
        frame=np.concatenate([p.frame for p in parts] or [np.zeros(0, np.int64)]),
        value=np.concatenate([p.value for p in parts] or [np.zeros(0)]),
        num_halves=int(offsets[-1]),
    )


def label_events(games: Sequence[dict[str, np.ndarray]]) -> Events:
    """Stack per-game :func:`read_labels` arrays into one :class:`Events` (game i's halves are
    slots 2i and 2i + 1). Games are deduplicated one at a time (small, cache-sized rasters)."""
    return concat_events(
        [make_events(g["half"] - 1, g["label"], g["frame"], g["value"], 2) for g in games]
    )


def prediction_events(games: Sequence[dict[str, np.ndarray]]) -> Events:
    """Stack per-game prediction arrays ``{"half", "label", "position_ms", "confidence"}``
    (as :func:`comedian.spotting.results.read_results` returns) into one :class:`Events`."""
    return concat_events(
        [
            make_events(
                g["half"] - 1, g["label"], position_to_frame(g["position_ms"]), g["confidence"], 2
            )
            for g in games
        ]
    )


def _closest_visibility(gt: Events, pred: Events) -> np.ndarray:
    """Visibility (+1 / -1) of each prediction's closest ground truth, as officially defined.

    Ground truth k of a (half, class) owns raster frames
    ``[max(0, (f[k-1] + f[k]) // 2), min(N, (f[k] + f[k+1]) // 2))`` with ``f[-1] = -f[0]`` and
    ``f[K] = 2N``; frames of a class with no ground truth in the half get -1.
    """
    if not len(gt.group):
        return np.full(len(pred.group), -1.0)
    same_prev = np.r_[False, gt.group[1:] == gt.group[:-1]]
    prev = np.where(same_prev, np.r_[0, gt.frame[:-1]], -gt.frame)
    start_key = gt.group * _KEY_STRIDE + np.maximum(0, (prev + gt.frame) // 2)  # increasing
    # Paint each ground truth's index over the predictions from its first one on (no search
    # per prediction): owner[p] = last ground truth whose start key <= the prediction's key.
    first = np.searchsorted(pred.key, start_key, side="left")  # (G,)
    steps = np.zeros(len(pred.group) + 1, dtype=np.int64)
    np.add.at(steps, first, 1)
    owner = np.cumsum(steps[:-1]) - 1  # (P,)
    safe = np.maximum(owner, 0)
    valid = (owner >= 0) & (gt.group[safe] == pred.group)
    return np.where(valid, gt.value[safe], -1.0)


def _best_unused(
    scores: np.ndarray, used: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> np.ndarray:
    """Per range ``[lo, hi)`` of predictions, the index of the best unused one (-1 if none).

    Best = highest score, ties to the lowest index (= earliest frame within a group).
    """
    lens = hi - lo
    out = np.full(len(lo), -1, dtype=np.int64)
    total = int(lens.sum())
    if total == 0:
        return out
    starts = np.cumsum(lens) - lens
    seg = np.repeat(np.arange(len(lo)), lens)  # (total,)
    idx = np.repeat(lo - starts, lens) + np.arange(total)  # (total,) prediction index
    sc = np.where(used[idx], -np.inf, scores[idx])
    nonempty = lens > 0
    segmax = np.full(len(lo), -np.inf)
    segmax[nonempty] = np.maximum.reduceat(sc, starts[nonempty])
    hit = np.flatnonzero((sc == segmax[seg]) & (sc > -np.inf))
    first_seg, first = np.unique(seg[hit], return_index=True)
    out[first_seg] = idx[hit[first]]
    return out


def match_predictions(gt: Events, pred: Events, radius: int) -> np.ndarray:
    """Official greedy matching for one tolerance: which predictions are true positives.

    Each ground truth, in frame order within its (half, class), takes the best unused
    prediction within ``radius`` frames. Done in vectorized rounds: ground truths whose windows
    chain together (gaps <= 2 * radius) form a component; in each round every pending ground
    truth proposes its best unused prediction, and each component accepts its proposals up to
    the first one that repeats its predecessor's. The accepted proposals are exactly the
    sequential choices: proposals computed from the same used set that are pairwise distinct
    are what the sequential loop picks, and within a component a repeated proposal always shows
    up between neighbours (a prediction inside two windows lies inside every window between
    them, and a better proposal of a middle ground truth would have been in an outer window).

    Returns:
        bool (P,): true positive flags.
    """
    tp = np.zeros(len(pred.group), dtype=bool)
    if not len(gt.group) or not len(pred.group):
        return tp
    pkey, gkey = pred.key, gt.key
    lo = np.searchsorted(pkey, gkey - radius, side="left")
    hi = np.searchsorted(pkey, gkey + radius, side="right")
    new_comp = np.r_[True, (gt.group[1:] != gt.group[:-1]) | (np.diff(gt.frame) > 2 * radius)]
    comp = np.cumsum(new_comp)
    used = np.zeros(len(pred.group), dtype=bool)
    pending = np.arange(len(gt.group))
    while pending.size:
        cand = _best_unused(pred.value, used, lo[pending], hi[pending])
        c = comp[pending]
        first = np.r_[True, c[1:] != c[:-1]]
        repeat = np.r_[False, (cand[1:] == cand[:-1]) & (cand[1:] >= 0)] & ~first
        n = np.arange(pending.size)
        comp_start = np.maximum.accumulate(np.where(first, n, 0))
        last_repeat = np.maximum.accumulate(np.where(repeat, n, -1))
        blocked = last_repeat >= comp_start
        taken = cand[~blocked]
        used[taken[taken >= 0]] = True
        pending = pending[blocked]
    tp[used] = True
    return tp


def _ap_11_point(precision: np.ndarray, recall: np.ndarray) -> np.ndarray:
    """Official 11-point interpolated AP per class. Shapes: (C, 200), (C, 200) -> (C,)."""
    ap = np.zeros(precision.shape[0])
    for j in np.arange(11) / 10:  # summed in the official order
        ok = recall >= j
        ap += np.where(ok, precision, -np.inf).max(axis=1, initial=-np.inf).clip(min=0)
    return ap / 11


def threshold_bins(scores: np.ndarray) -> np.ndarray:
    """How many of the 200 thresholds are <= each score (``searchsorted(..., "right")``).

    The thresholds are j / 199 up to rounding: guess j from the score, then settle the two
    candidates around it with exact comparisons. Shapes: (P,) -> (P,) int64.
    """
    last = len(THRESHOLDS) - 1
    guess = np.clip(np.floor(scores * last), 0, last).astype(np.int64)
    above = np.minimum(guess + 1, last)
    return guess + (THRESHOLDS[guess] <= scores) + ((THRESHOLDS[above] <= scores) & (guess < last))


class _ClassCurves:
    """Everything of the precision / recall curves that does not depend on the tolerance.

    ``score >= THRESHOLDS[k]`` holds exactly for ``k < bin`` with
    ``bin = searchsorted(THRESHOLDS, score, "right")``, so counts at the 200 thresholds are
    suffix sums of per-bin counts: no sorting of the predictions. Every counted prediction is
    tagged visible or unshown (its closest ground truth's value, -1 without one), so the "all"
    counts are the sum of the two.
    """

    _BINS = len(THRESHOLDS) + 1

    def __init__(self, gt: Events, pred: Events) -> None:
        closest = _closest_visibility(gt, pred)
        gt_class = gt.group % NUM_CLASSES
        n_vis = np.bincount(gt_class[gt.value > 0], minlength=NUM_CLASSES)
        n_uns = np.bincount(gt_class[gt.value < 0], minlength=NUM_CLASSES)
        self.n_gt = {"all": n_vis + n_uns, "visible": n_vis, "unshown": n_uns}
        bins = threshold_bins(pred.value)  # (P,) in 0 .. 200
        unshown = (closest < -0.5).astype(np.int64)  # 0 visible, 1 unshown
        # Official: predictions are cells with confidence >= 0; others go to a dump cell.
        cell = (unshown * NUM_CLASSES + pred.group % NUM_CLASSES) * self._BINS + bins
        self.cell = np.where(pred.value >= 0, cell, 2 * NUM_CLASSES * self._BINS)  # (P,)
        self.n_pred = self._suffix(self.cell)

    def _suffix(self, cells: np.ndarray) -> dict[str, np.ndarray]:
        """Per variant and class, how many of ``cells`` score >= each threshold. -> (C, 200)"""
        per_bin = np.bincount(cells, minlength=2 * NUM_CLASSES * self._BINS + 1)[:-1]
        per_bin = per_bin.reshape(2, NUM_CLASSES, self._BINS)  # (visible|unshown, C, 201)
        at_least = np.cumsum(per_bin[..., ::-1], axis=-1)[..., ::-1][..., 1:]  # (2, C, 200)
        return {"visible": at_least[0], "unshown": at_least[1], "all": at_least[0] + at_least[1]}

    def mean_ap(self, tp: np.ndarray) -> dict[str, tuple[float, np.ndarray]]:
        """mAP and per-class AP of each variant, given the true-positive flags (P,)."""
        n_tp = self._suffix(self.cell[tp])
        out = {}
        for variant in ("all", "visible", "unshown"):
            with np.errstate(divide="ignore", invalid="ignore"):
                # Counts as float64, divided as officially (0 / 0 -> 0).
                hits = n_tp[variant].astype(np.float64)
                precision = np.nan_to_num(hits / self.n_pred[variant])
                recall = np.nan_to_num(hits / self.n_gt[variant][:, None])
            ap = _ap_11_point(precision, recall)
            out[variant] = (float(np.mean(ap)), ap)
        return out


def _trapezoid(values: Sequence[Any]) -> Any:
    integral = 0.0
    for i in range(len(values) - 1):
        integral += (values[i] + values[i + 1]) / 2
    return integral / (len(values) - 1)


class Evaluator:
    """Average-mAP of one ground truth against one set of predictions, for several metrics.

    Tolerances shared by metrics (5 s is in tight and loose) are matched once.
    """

    def __init__(self, gt: Events, pred: Events) -> None:
        if gt.num_halves != pred.num_halves:
            raise ValueError(
                f"ground truth has {gt.num_halves} halves, predictions {pred.num_halves}"
            )
        self.gt, self.pred = gt, pred
        self.curves = _ClassCurves(gt, pred)
        self._per_delta: dict[int, dict[str, tuple[float, np.ndarray]]] = {}

    def delta_map(self, delta_s: int) -> dict[str, tuple[float, np.ndarray]]:
        """mAP and per-class AP of each variant at one tolerance (seconds)."""
        if delta_s not in self._per_delta:
            radius = int(np.floor(delta_s * FRAMERATE / 2))
            tp = match_predictions(self.gt, self.pred, radius)
            self._per_delta[delta_s] = self.curves.mean_ap(tp)
        return self._per_delta[delta_s]

    def average_map(self, metric: str) -> dict[str, Any]:
        """The official result dict for ``metric`` (tight, loose, at1 .. at5)."""
        if metric not in METRIC_DELTAS:
            raise ValueError(f"unknown metric {metric!r} (expected one of {METRIC_NAMES})")
        per = [self.delta_map(d) for d in METRIC_DELTAS[metric]]
        out: dict[str, Any] = {}
        for variant, suffix in (("all", ""), ("visible", "_visible"), ("unshown", "_unshown")):
            maps = [p[variant][0] for p in per]
            per_class = [p[variant][1] for p in per]
            if len(per) == 1:
                mean, classes = maps[0], per_class[0]
            else:
                mean = _trapezoid(maps)
                classes = np.array(
                    [_trapezoid([pc[c] for pc in per_class]) for c in range(NUM_CLASSES)]
                )
                if variant == "unshown":
                    mean = mean * 17 / 13
            out[f"a_mAP{suffix}"] = float(mean)
            out[f"a_mAP_per_class{suffix}"] = [float(x) for x in classes]
        return out


def average_map(gt: Events, pred: Events, metric: str) -> dict[str, Any]:
    """Shortcut for ``Evaluator(gt, pred).average_map(metric)``."""
    return Evaluator(gt, pred).average_map(metric)


def find_games(labels_root: str | Path, labels_name: str = LABELS_NAME) -> list[str]:
    """Every game folder under ``labels_root`` holding ``labels_name``, relative, sorted."""
    root = Path(labels_root)
    return sorted(p.parent.relative_to(root).as_posix() for p in root.rglob(labels_name))


def evaluate_games(
    labels_root: str | Path,
    predictions_root: str | Path,
    games: Sequence[str] | None = None,
    metrics: Sequence[str] = ("tight",),
    *,
    missing: str = "error",
) -> dict[str, dict[str, Any]]:
    """Average-mAP of ``<predictions_root>/<game>/results_spotting.json`` against
    ``<labels_root>/<game>/Labels-v2.json`` for each game.

    Args:
        labels_root: Root of the label tree.
        predictions_root: Root of the results tree (same relative game paths).
        games: Game paths relative to both roots (default: :func:`find_games`).
        metrics: Metric names (tight, loose, at1 .. at5).
        missing: ``"error"`` (as the official evaluator, which cannot run without every file)
            or ``"empty"`` (a game without a results file has no predictions; logged).

    Returns:
        Metric name -> the official result dict.

    Raises:
        ValueError: For an unknown metric, no game, or a missing / malformed file.
    """
    from comedian.spotting.results import empty_predictions, read_results

    for m in metrics:
        if m not in METRIC_DELTAS:
            raise ValueError(f"unknown metric {m!r} (expected one of {METRIC_NAMES})")
    games = find_games(labels_root) if games is None else list(games)
    if not games:
        raise ValueError(f"{labels_root}: no game with {LABELS_NAME} to evaluate")
    labels, preds = [], []
    for game in games:
        labels.append(read_labels(Path(labels_root) / game / LABELS_NAME))
        path = Path(predictions_root) / game / RESULTS_NAME
        if not path.is_file() and missing == "empty":
            logger.warning("%s: missing, counted as no predictions", path)
            preds.append(empty_predictions())
            continue
        if not path.is_file():
            raise ValueError(f"{path}: results file missing")
        preds.append(read_results(path))
    evaluator = Evaluator(label_events(labels), prediction_events(preds))
    return {m: evaluator.average_map(m) for m in metrics}
