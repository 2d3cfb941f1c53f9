"""Non-maximum suppression of per-half score arrays (method.md section 8).

Usage:
    peaks = soft_nms(scores, window=20, threshold=0.001)      # scores (..., T, C) -> same shape
    peaks = hard_nms(scores, window=20, threshold=0.5)
    peaks = nms(scores, kind="soft", window=20, threshold=0.001, min_weight=0.0)

The result has the input's shape: the confidence each row was emitted with, 0 where nothing was
emitted (every emitted value is >= ``threshold`` > 0, so 0 is unambiguous). Rows are on the 0.5 s
grid; ``window`` counts grid steps (window 20 = radius 10 steps = 5 s). ``window`` may be one value
or one per class (the last axis).

Both are loops compiled by numba (a half of 5400 x 17 scores: about 1-2.5 ms for soft NMS, 1 ms
for hard NMS on a busy 2-core machine; the first call in a fresh environment compiles them, then
numba's on-disk cache serves every process). Soft NMS emits
local maxima from a stack instead of taking one global argmax at a time; see :func:`soft_nms`
for why that gives the sequential algorithm's result, and its exact-arithmetic ties.

Settings are checked by :func:`check_setting`, the one place that holds the rules (the nms stage,
the sweep grid, config and slug targets all go through it, via
:class:`comedian.spotting.settings.NmsSetting`). Any window >= 1 is valid: a window reaching
past the half is computed with a radius capped at the half's length, which gives the same
result (nothing lies beyond it) in bounded time (for hard NMS, such a window keeps one peak per
half, ties aside).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numba
import numpy as np

NmsKind = Literal["soft", "hard"]

#: Relative difference below which two soft-NMS values count as tied (see :func:`soft_nms`).
TIE_RTOL = 1e-12


def check_setting(
    kind: str, windows: Sequence[int], threshold: float, min_weight: float = 0.0
) -> None:
    """Raise ValueError naming the option unless the NMS setting is valid.

    The rules: ``kind`` soft or hard; every window an integer >= 1; ``threshold`` in (0, 1]
    (scores are sigmoid outputs in [0, 1]: 0 would never stop, above 1 nothing is emitted);
    ``min_weight`` in [0, 1) (1 would suppress nothing), and 0 for hard NMS, which has no decay
    (one spelling per setting).
    """
    if kind not in ("soft", "hard"):
        raise ValueError(f"NMS kind: {kind!r} is not 'soft' or 'hard'")
    for w in windows:
        if isinstance(w, bool) or not isinstance(w, int | np.integer) or w < 1:
            raise ValueError(f"NMS window: {w!r} is not an integer >= 1 (0.5 s grid steps)")
    for name, value in (("threshold", threshold), ("min_weight", min_weight)):
        if isinstance(value, bool) or not isinstance(value, int | float | np.number):
            raise ValueError(f"NMS {name}: {value!r} is not a number")
    if not 0 < threshold <= 1:  # NaN fails too
        raise ValueError(f"NMS threshold: {threshold!r} is not in (0, 1]")
    if not 0 <= min_weight < 1:
        raise ValueError(f"NMS min_weight: {min_weight!r} is not in [0, 1)")
    if kind == "hard" and min_weight != 0:
        raise ValueError(f"NMS min_weight: {min_weight!r} given for hard NMS (soft NMS only)")


def _windows_per_class(window: int | Sequence[int], num_classes: int) -> list[int]:
    if isinstance(window, int | np.integer) and not isinstance(window, bool):
        return [int(window)] * num_classes
    windows = list(window)  # type: ignore[arg-type]
    if len(windows) != num_classes:
        raise ValueError(f"NMS window: got {len(windows)} windows for {num_classes} classes")
    return windows


def _check(scores: np.ndarray) -> None:
    if scores.ndim < 2:
        raise ValueError(f"scores must be (..., T, C), got shape {scores.shape}")
    if not np.isfinite(scores).all():
        raise ValueError("scores hold NaN or inf values")


def _as_halves(scores: np.ndarray) -> np.ndarray:
    """``scores (..., T, C)`` as one contiguous float32 or float64 array ``(N, T, C)``, a view
    where it can be (the loops work in float64, to which float32 converts exactly)."""
    dtype = scores.dtype if scores.dtype in (np.float32, np.float64) else np.float64
    return np.ascontiguousarray(scores.reshape(-1, *scores.shape[-2:]), dtype=dtype)


def soft_decay_weights(window: int, min_weight: float, reach: int | None = None) -> np.ndarray:
    """Weights applied at distance ``d = 0 .. ceil(window / 2)`` from an emitted row.

    ``clip(min_weight + (1 - min_weight) * d / (window / 2), 0, 1)`` (method.md section 8).
    ``reach`` caps the largest distance (a series of T rows needs distances up to T - 1 only),
    which bounds the work of any window.
    """
    half = window / 2
    last = math.ceil(half) if reach is None else min(math.ceil(half), max(reach, 0))
    d = np.arange(last + 1, dtype=np.float64)
    return np.clip(min_weight + (1.0 - min_weight) * d / half, 0.0, 1.0)


@numba.njit(cache=True, nogil=True)
def _eligible(v: np.ndarray, i: int, radius: int, threshold: float) -> bool:  # pragma: no cover
    """Whether row ``i`` of ``v`` is emitted next by the sequential argmax, whatever the rest.

    ``v[i] >= threshold`` and ``v[i]`` beats every row within ``radius`` in the argmax order
    (value, then first index), values within ``TIE_RTOL`` counting as tied (see
    :func:`soft_nms`). Nearest rows first: on smooth scores they decide at once.
    """
    x = v[i]
    if x < threshold:
        return False
    scaled = x * (1.0 + TIE_RTOL)
    n = v.shape[0]
    for d in range(1, radius + 1):
        if i - d >= 0 and v[i - d] * (1.0 + TIE_RTOL) >= x:
            return False
        if i + d < n and v[i + d] > scaled:
            return False
    return True


@numba.njit(cache=True, nogil=True)
def _soft_nms_kernel(
    scores: np.ndarray,
    classes: np.ndarray,
    weights: np.ndarray,
    threshold: float,
    out: np.ndarray,
) -> None:  # pragma: no cover
    """Soft NMS of the columns ``classes`` of every half of ``scores (N, T, C)`` into ``out``.

    ``weights[d]`` (d = 1 .. R) are the decay weights < 1 of distances 1 .. R.
    """
    num_halves, length, _ = scores.shape
    radius = weights.shape[0] - 1
    v = np.empty(length)  # the series being suppressed
    stack = np.empty(length, dtype=np.int64)  # eligible rows not emitted yet
    pending = np.zeros(length, dtype=np.bool_)
    for h in range(num_halves):
        for c in classes:
            v[:] = scores[h, :, c]
            top = 0
            for i in range(length):
                if _eligible(v, i, radius, threshold):
                    stack[top] = i
                    pending[i] = True
                    top += 1
            while top:
                top -= 1
                m = stack[top]
                pending[m] = False
                out[h, m, c] = v[m]
                for d in range(1, radius + 1):
                    if m - d >= 0:
                        v[m - d] *= weights[d]
                    if m + d < length:
                        v[m + d] *= weights[d]
                v[m] = -1.0
                # Only rows within 2R can have had a row that beat them decayed.
                for j in range(max(0, m - 2 * radius), min(length, m + 2 * radius + 1)):
                    if not pending[j] and _eligible(v, j, radius, threshold):
                        stack[top] = j
                        pending[j] = True
                        top += 1


def soft_nms(
    scores: np.ndarray,
    *,
    window: int | Sequence[int] = 20,
    threshold: float = 0.001,
    min_weight: float = 0.0,
) -> np.ndarray:
    """Soft NMS per class, as method.md section 8 (COMEDIAN: window 20, threshold 0.001).

    The sequential definition: while ``max(v) >= threshold``, take the first-index argmax m, emit
    ``v[m]``, multiply ``v[i]`` for ``|i - m| <= ceil(w / 2)`` by
    ``clip(min_weight + (1 - min_weight) * |i - m| / (w / 2), 0, 1)`` and set ``v[m] = -1``.

    Why emitting local maxima in any order gives the same result. Let R be the largest distance
    whose weight is < 1 (emissions farther away change nothing). Order rows by
    ``(value, -index)``, which is the order the first-index argmax uses. Call row i *eligible*
    when ``v[i] >= threshold`` and it beats every row within R in that order (``v[i] > v[j]``
    for j in [i - R, i), ``v[i] >= v[j]`` for j in (i, i + R]). (1) The sequential argmax is
    always eligible. (2) Two eligible rows are more than R apart (each would beat the other).
    (3) Emitting an eligible row a leaves any other eligible row b eligible with the same value:
    b is out of a's reach, and a's neighbours only shrink (weights <= 1 on values >= 0) or stay
    negative. (4) Emitting a then b gives the same state as b then a (multiplications commute).
    So every order of emitting eligible rows is a reordering of commuting steps, and all of them
    end in the same emitted values (the process terminates: each step retires one row). The
    sequential argmax is one such order. Here a stack holds the eligible rows: it starts with
    those of the input, and after each emission at m only rows within 2R of m (whose
    neighbourhood changed) are checked again, so the work is the input's length plus a local
    window per emitted row, whatever the order of the emissions.

    Float rounding: the order of the decay products differs from the sequential one, so a
    decayed value may differ in its last bits. Where that matters, two values that are equal in
    exact arithmetic (e.g. two saturated 1.0 rows decayed by the same weights) must still tie
    and go by index: values within a relative ``TIE_RTOL`` (1e-12, far above the rounding of a
    few dozen products, far below any real score difference) count as tied. This reproduces
    exact rational arithmetic, which the float sequential algorithm itself does not always do
    (method.md section 8, testing note).

    Args:
        scores: Raw scores, any leading dims (e.g. halves), then rows and classes.
        window: Window in grid steps, one for all classes or one per class.
        threshold: Stop when no value >= threshold remains, in (0, 1].
        min_weight: Decay weight at distance 0 (0 = full suppression next to an emission), in
            [0, 1).

    Returns:
        float64 array of ``scores.shape``: emitted confidences, 0 where nothing was emitted.

    Shapes:
        scores: (..., T, C) -> (..., T, C)
    """
    windows = _windows_per_class(window, scores.shape[-1])
    check_setting("soft", windows, threshold, min_weight)
    _check(scores)
    halves = _as_halves(scores)  # (N, T, C)
    out = np.zeros(halves.shape)
    for w in sorted(set(windows)):
        classes = np.array([c for c, wc in enumerate(windows) if wc == w], dtype=np.int64)
        # Distances past the series' end change nothing: the cap keeps huge windows cheap.
        weights = soft_decay_weights(w, min_weight, reach=halves.shape[1] - 1)
        # Only distances whose weight is < 1 change anything: 1 .. R (the weights increase).
        radius = int(np.count_nonzero(weights[1:] < 1.0))
        _soft_nms_kernel(halves, classes, weights[: radius + 1], float(threshold), out)
    return out.reshape(scores.shape)


@numba.njit(cache=True, nogil=True)
def _hard_nms_kernel(
    scores: np.ndarray, classes: np.ndarray, radius: int, threshold: float, out: np.ndarray
) -> None:  # pragma: no cover
    """Hard NMS of the columns ``classes`` of ``scores (N, T, C)`` into ``out``: the maximum over
    rows ``i - radius .. i + radius`` from a monotone queue of candidates (O(T) a series)."""
    num_halves, length, _ = scores.shape
    v = np.empty(length)
    queue = np.empty(length, dtype=np.int64)  # rows in the window, decreasing values
    for h in range(num_halves):
        for c in classes:
            v[:] = scores[h, :, c]
            head = tail = k = 0
            for i in range(length):
                while k < length and k <= i + radius:  # row k enters the window
                    while tail > head and v[queue[tail - 1]] <= v[k]:
                        tail -= 1
                    queue[tail] = k
                    tail += 1
                    k += 1
                if queue[head] < i - radius:  # the row that left the window
                    head += 1
                if v[i] >= threshold and v[i] >= v[queue[head]]:
                    out[h, i, c] = v[i]


def hard_nms(
    scores: np.ndarray, *, window: int | Sequence[int] = 20, threshold: float = 0.001
) -> np.ndarray:
    """Hard NMS per class (method.md section 8): keep row i when ``v[i] >= threshold`` and
    ``v[i]`` is the maximum of ``v`` within ``+-floor(w / 2)`` rows (ties: every tied row is kept).

    Returns:
        float64 array of ``scores.shape``: kept values, 0 elsewhere.

    Shapes:
        scores: (..., T, C) -> (..., T, C)
    """
    windows = _windows_per_class(window, scores.shape[-1])
    check_setting("hard", windows, threshold)
    _check(scores)
    halves = _as_halves(scores)  # (N, T, C)
    out = np.zeros(halves.shape)
    for w in sorted(set(windows)):
        classes = np.array([c for c, wc in enumerate(windows) if wc == w], dtype=np.int64)
        radius = min(w // 2, max(halves.shape[1] - 1, 0))  # farther rows do not exist
        _hard_nms_kernel(halves, classes, radius, float(threshold), out)
    return out.reshape(scores.shape)


def nms(
    scores: np.ndarray,
    *,
    kind: NmsKind = "soft",
    window: int | Sequence[int] = 20,
    threshold: float = 0.001,
    min_weight: float = 0.0,
) -> np.ndarray:
    """Dispatch to :func:`soft_nms` or :func:`hard_nms` (``min_weight`` is soft only)."""
    if kind == "soft":
        return soft_nms(scores, window=window, threshold=threshold, min_weight=min_weight)
    if kind == "hard":
        return hard_nms(scores, window=window, threshold=threshold)
    raise ValueError(f"NMS kind: {kind!r} is not 'soft' or 'hard'")
