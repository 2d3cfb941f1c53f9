"""The SoccerNet-v2 average-mAP (method.md section 9), vectorized, identical to the official code.

Usage:
    results = evaluate_games(labels_root, predictions_root, games, ["tight", "loose"])
    # or, from arrays (the sweep does this without any results file):
    gt = label_events([read_labels(root / game / "Labels-v2.json") for game in games])
    pred = prediction_events([read_results(out / game / "results_spotting.json") ...])
    result = Evaluator(gt, pred).average_map("tight")  # {"a_mAP": ..., "a_mAP_per_class": ...}

Speed: events are put in (half, class, frame) order by stable radix sorts on small integer keys
(O(N); a file sorted by time, as ours, needs one); each prediction gets its histogram cell
(visibility tag, class, threshold bin) once; each tolerance then costs a greedy matching on the
few predictions near a ground truth (vectorized rounds) and a histogram of its true positives,
with counts at the 200 thresholds from ``bincount`` + suffix sums. All games of an evaluation
are one concatenated event array (half slots numbered game after game).

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

import json
import logging
from collections.abc import Mapping, Sequence
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
_KEY_BITS = 20
_KEY_STRIDE = 1 << _KEY_BITS


@dataclass(frozen=True)
class Events:
    """Rasterized events of several halves, deduplicated and sorted by (group, frame).

    ``group = half_slot * 17 + class`` where ``half_slot`` numbers the halves (game i's first
    and second half are slots 2i and 2i + 1). Only the key and the value are stored (16 bytes an
    event: evaluations hold millions of predictions).

    Attributes:
        key: int64 (N,) ``group * 2**20 + frame``, increasing.
        value: float64 (N,): +1 / -1 visibility for ground truth, confidence for predictions.
        num_halves: Number of half slots (so that empty halves still count).
    """

    key: np.ndarray
    value: np.ndarray
    num_halves: int

    @property
    def group(self) -> np.ndarray:
        """int64 (N,) ``half_slot * 17 + class``."""
        return self.key >> _KEY_BITS

    @property
    def frame(self) -> np.ndarray:
        """int64 (N,) raster frame in [0, RASTER_FRAMES)."""
        return self.key & (_KEY_STRIDE - 1)


def position_to_frame(position_ms: np.ndarray) -> np.ndarray:
    """Official rasterization ``int(2 * (position / 1000))``, clipped to the last frame.

    For integer ms p >= 0 this is exactly ``p // 500``: with p = 500 r + s (0 <= s < 500) the
    double ``2 * (p / 1000)`` is r exactly for s = 0, and otherwise within 2**-53 * p / 500
    (< 1 / 500 for p < 2**53) of r + s / 500, so it truncates to r; larger p clip either way.
    """
    frames = np.asarray(position_ms, dtype=np.int64) // (1000 // FRAMERATE)
    return np.minimum(frames, RASTER_FRAMES - 1)


def _stable_order(values: np.ndarray, bound: int) -> np.ndarray:
    """Stable argsort of integers in [0, bound): radix sorts on 8 / 16-bit keys, O(N)."""
    if bound <= 1 << 8:
        return np.argsort(values.astype(np.uint8), kind="stable")
    if bound <= 1 << 16:
        return np.argsort(values.astype(np.uint16), kind="stable")
    low = np.argsort((values & 0xFFFF).astype(np.uint16), kind="stable")
    return low[np.argsort((values[low] >> 16).astype(np.uint16), kind="stable")]


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
    frame = np.asarray(frame, dtype=np.int64)
    value = np.asarray(value, dtype=np.float64)
    group = slot * NUM_CLASSES + np.asarray(label, dtype=np.int64)  # (N,)
    # Stable radix sorts keep file order among equal keys. Files sorted by time (ours) are
    # sorted by key once sorted by group; others are sorted by frame first (LSD radix).
    groups = max(1, num_halves * NUM_CLASSES)
    time_key = slot * RASTER_FRAMES + frame
    if (time_key[1:] >= time_key[:-1]).all():
        order = _stable_order(group, groups)
    else:
        order = _stable_order(frame, RASTER_FRAMES)
        order = order[_stable_order(group[order], groups)]
    key = group[order] * _KEY_STRIDE + frame[order]
    step = np.diff(key)
    if (step == 0).any():  # several events on one cell: the last one in file order wins
        last = np.r_[step != 0, True]
        order, key = order[last], key[last]
    return Events(key=key, value=value[order], num_halves=num_halves)


def read_labels(path: str | Path) -> dict[str, np.ndarray]:
    """Read a ``Labels-v2.json`` the way the official evaluator does.

    The half is the first character of ``gameTime``; the frame comes from ``position`` (ms) or,
    without it, from the ``MM:SS`` of ``gameTime``; labels outside the 17 classes and halves other
    than 1 and 2 are skipped (as officially).

    Why not :func:`comedian.data.labels.read_labels` (the validated parser for training): the
    metric must keep the official conventions, and that table cannot carry them. It is sorted by
    (half, position), while officially the *last annotation in file order* sets a (half, class,
    frame) cell: two annotations 0.4 s apart on one frame, the later one in time listed first,
    give the earlier one's visibility officially and the later one's from the sorted table (a
    visible / unshown swap; tested). It also rejects what the official evaluator accepts (labels
    outside the 17 classes, annotations without ``position``, ``team`` or ``visibility``), so
    an evaluation would fail where the official one runs.

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
    offsets = np.cumsum([0] + [p.num_halves for p in parts])  # in half slots
    shift = NUM_CLASSES * _KEY_STRIDE  # a half slot in key units
    keys = [p.key + off * shift for p, off in zip(parts, offsets.tolist(), strict=False)]
    return Events(
        key=np.concatenate(keys) if keys else np.zeros(0, dtype=np.int64),
        value=np.concatenate([p.value for p in parts]) if parts else np.zeros(0),
        num_halves=int(offsets[-1]),
    )


def game_label_events(labels: Mapping[str, np.ndarray]) -> Events:
    """One game's :func:`read_labels` arrays as :class:`Events` (half slots 0 and 1)."""
    return make_events(labels["half"] - 1, labels["label"], labels["frame"], labels["value"], 2)


def game_prediction_events(predictions: Mapping[str, np.ndarray]) -> Events:
    """One game's ``{"half", "label", "position_ms", "confidence"}`` arrays (as
    :func:`comedian.spotting.results.read_results` returns) as :class:`Events`."""
    frame = position_to_frame(predictions["position_ms"])
    return make_events(
        predictions["half"] - 1, predictions["label"], frame, predictions["confidence"], 2
    )


def label_events(games: Sequence[Mapping[str, np.ndarray]]) -> Events:
    """Stack per-game :func:`read_labels` arrays into one :class:`Events` (game i's halves are
    slots 2i and 2i + 1)."""
    return concat_events([game_label_events(g) for g in games])


def prediction_events(games: Sequence[Mapping[str, np.ndarray]]) -> Events:
    """Stack per-game prediction arrays into one :class:`Events` (see
    :func:`game_prediction_events`)."""
    return concat_events([game_prediction_events(g) for g in games])


def _visible_owner(gt: Events, pred: Events) -> np.ndarray:
    """Whether each prediction's closest ground truth is visible, as officially defined.

    Ground truth k of a (half, class) owns raster frames
    ``[max(0, (f[k-1] + f[k]) // 2), min(N, (f[k] + f[k+1]) // 2))`` with ``f[-1] = -f[0]`` and
    ``f[K] = 2N``; frames of a class with no ground truth in the half count as not visible (the
    official -1). Returns bool (P,).
    """
    if not len(gt.key) or not len(pred.key):
        return np.zeros(len(pred.key), dtype=bool)
    same_prev = np.r_[False, gt.group[1:] == gt.group[:-1]]
    prev = np.where(same_prev, np.r_[0, gt.frame[:-1]], -gt.frame)
    start = gt.group * _KEY_STRIDE + np.maximum(0, (prev + gt.frame) // 2)  # (G,) increasing
    # Each one's keys end where the next one's start, or at the end of its group.
    end = np.r_[start[1:], 0]
    last_of_group = np.r_[~same_prev[1:], True]
    end[last_of_group] = (gt.group[last_of_group] + 1) * _KEY_STRIDE
    visible = gt.value > 0
    # Paint +1 / -1 at the first prediction inside / after each visible range: one cumsum.
    steps = np.zeros(len(pred.key) + 1, dtype=np.int32)
    np.add.at(steps, np.searchsorted(pred.key, start[visible]), 1)
    np.add.at(steps, np.searchsorted(pred.key, end[visible]), -1)
    return np.cumsum(steps[:-1]) > 0


def _matched(gt: Events, pred: Events, radius: int, used: np.ndarray | None = None) -> np.ndarray:
    """Indices of the predictions the official greedy matching takes at one radius (frames).

    Args:
        used: Optional all-False bool (P,) scratch, left all False on return.
    """
    if not len(gt.key) or not len(pred.key):
        return np.zeros(0, dtype=np.int64)
    lo = np.searchsorted(pred.key, gt.key - radius, side="left")
    hi = np.searchsorted(pred.key, gt.key + radius, side="right")
    # Only ground truths with a candidate and the predictions in their windows take part.
    has = hi > lo
    lo, hi, group, frame = lo[has], hi[has], gt.group[has], gt.frame[has]
    new_comp = np.r_[True, (group[1:] != group[:-1]) | (np.diff(frame) > 2 * radius)]
    comp = np.cumsum(new_comp)
    if used is None:
        used = np.zeros(len(pred.key), dtype=bool)
    pending = np.arange(len(lo))
    taken_all = []
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
        taken = taken[taken >= 0]
        used[taken] = True
        taken_all.append(taken)
        pending = pending[blocked]
    matched = np.concatenate(taken_all) if taken_all else np.zeros(0, dtype=np.int64)
    used[matched] = False
    return matched


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
    Ground truths with no prediction in their window take nothing and change nothing for the
    others, so they are left out.

    Returns:
        bool (P,): true positive flags.
    """
    tp = np.zeros(len(pred.key), dtype=bool)
    tp[_matched(gt, pred, radius)] = True
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
    guess = (np.clip(scores, 0, 1) * last).astype(np.int64)  # truncation: floor for >= 0
    return guess + (THRESHOLDS[guess] <= scores) + (_THRESHOLDS_NEXT[guess] <= scores)


#: The threshold after each one (+inf after the last).
_THRESHOLDS_NEXT = np.r_[THRESHOLDS[1:], np.inf]


class _ClassCurves:
    """Everything of the precision / recall curves that does not depend on the tolerance.

    ``score >= THRESHOLDS[k]`` holds exactly for ``k < bin`` with
    ``bin = searchsorted(THRESHOLDS, score, "right")``, so counts at the 200 thresholds are
    suffix sums of per-bin counts: no sorting of the predictions. Every counted prediction is
    tagged visible or unshown (its closest ground truth's value, -1 without one), so the "all"
    counts are the sum of the two. A tolerance then only needs the cells of its true positives.
    """

    _BINS = len(THRESHOLDS) + 1
    _CELLS = 2 * NUM_CLASSES * _BINS + 1  # the last one: predictions that do not count
    _BLOCK = 1 << 16

    def __init__(self, gt: Events, pred: Events) -> None:
        gt_class = gt.group % NUM_CLASSES
        n_vis = np.bincount(gt_class[gt.value > 0], minlength=NUM_CLASSES)
        n_uns = np.bincount(gt_class[gt.value < 0], minlength=NUM_CLASSES)
        self.n_gt = {"all": n_vis + n_uns, "visible": n_vis, "unshown": n_uns}
        # Histogram cell (visible | unshown, class, bin) of each prediction, as int16, a block
        # of predictions at a time: millions of predictions need no large temporaries. The
        # class comes from a small group -> class table (cheaper than a modulo).
        class_of = (np.arange(pred.num_halves * NUM_CLASSES) % NUM_CLASSES) * self._BINS
        unshown = np.where(_visible_owner(gt, pred), 0, NUM_CLASSES * self._BINS).astype(np.int16)
        self.cell = np.empty(len(pred.key), dtype=np.int16)  # (P,)
        per_bin = np.zeros(self._CELLS, dtype=np.int64)
        for a in range(0, len(pred.key), self._BLOCK):
            value = pred.value[a : a + self._BLOCK]
            cell = class_of[pred.key[a : a + self._BLOCK] >> _KEY_BITS] + threshold_bins(value)
            cell += unshown[a : a + self._BLOCK]
            # Official: predictions are cells with confidence >= 0; others go to a dump cell.
            cell[value < 0] = self._CELLS - 1
            self.cell[a : a + self._BLOCK] = cell
            per_bin += np.bincount(cell, minlength=self._CELLS)
        self.n_pred = self._suffix_of_bins(per_bin)

    def _suffix(self, cells: np.ndarray) -> dict[str, np.ndarray]:
        """Per variant and class, how many of ``cells`` score >= each threshold. -> (C, 200)"""
        return self._suffix_of_bins(np.bincount(cells, minlength=self._CELLS))

    def _suffix_of_bins(self, per_cell: np.ndarray) -> dict[str, np.ndarray]:
        """:meth:`_suffix` from the count of each cell."""
        per_bin = per_cell[:-1].reshape(2, NUM_CLASSES, self._BINS)  # (visible|unshown, C, 201)
        at_least = np.cumsum(per_bin[..., ::-1], axis=-1)[..., ::-1][..., 1:]  # (2, C, 200)
        return {"visible": at_least[0], "unshown": at_least[1], "all": at_least[0] + at_least[1]}

    def mean_ap(self, matched: np.ndarray) -> dict[str, tuple[float, np.ndarray]]:
        """mAP and per-class AP of each variant, given the indices of the true positives."""
        n_tp = self._suffix(self.cell[matched])
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
        self._used = np.zeros(len(pred.key), dtype=bool)  # matching scratch, kept all False
        self._per_delta: dict[int, dict[str, tuple[float, np.ndarray]]] = {}

    def delta_map(self, delta_s: int) -> dict[str, tuple[float, np.ndarray]]:
        """mAP and per-class AP of each variant at one tolerance (seconds)."""
        if delta_s not in self._per_delta:
            radius = int(np.floor(delta_s * FRAMERATE / 2))
            matched = _matched(self.gt, self.pred, radius, self._used)
            self._per_delta[delta_s] = self.curves.mean_ap(matched)
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
    # Each game's arrays become compact events at once (only those are kept).
    labels, preds = [], []
    for game in games:
        labels.append(game_label_events(read_labels(Path(labels_root) / game / LABELS_NAME)))
        path = Path(predictions_root) / game / RESULTS_NAME
        if not path.is_file() and missing == "empty":
            logger.warning("%s: missing, counted as no predictions", path)
            preds.append(game_prediction_events(empty_predictions()))
            continue
        if not path.is_file():
            raise ValueError(f"{path}: results file missing")
        preds.append(game_prediction_events(read_results(path)))
    evaluator = Evaluator(concat_events(labels), concat_events(preds))
    return {m: evaluator.average_map(m) for m in metrics}
