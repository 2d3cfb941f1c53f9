"""Non-maximum suppression of per-half score arrays (method.md section 8).

Usage:
    peaks = soft_nms(scores, window=20, threshold=0.001)      # scores (..., T, C) -> same shape
    peaks = hard_nms(scores, window=20, threshold=0.5)
    peaks = nms(scores, kind="soft", window=20, threshold=0.001, min_weight=0.0)

The result has the input's shape: the confidence each row was emitted with, 0 where nothing was
emitted (every emitted value is >= ``threshold`` > 0, so 0 is unambiguous). Rows are on the 0.5 s
grid; ``window`` counts grid steps (window 20 = radius 10 steps = 5 s). ``window`` may be one value
or one per class (the last axis).

Soft NMS runs in vectorized *rounds* instead of one argmax at a time; see :func:`soft_nms` for
why the rounds give the sequential algorithm's result.

Settings are checked by :func:`check_setting`, the one place that holds the rules (the nms stage,
the sweep grid, config and slug targets all go through it, via
:class:`comedian.spotting.settings.NmsSetting`). Any window >= 1 is valid: a window reaching
past the half is computed with a radius capped at the half's length, which gives the same
result (nothing lies beyond it), so the time does not grow with the window (for hard NMS, such a
window keeps one peak per half, ties aside).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

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


def _series(scores: np.ndarray, classes: list[int]) -> np.ndarray:
    """The columns ``classes`` of ``scores (..., T, C)`` as float64 series ``(S, T)``."""
    sub = np.moveaxis(scores[..., classes], -1, -2)  # (..., c, T)
    return np.ascontiguousarray(sub.reshape(-1, scores.shape[-2]), dtype=np.float64)


def _unseries(series: np.ndarray, scores: np.ndarray, classes: list[int], out: np.ndarray) -> None:
    lead = scores.shape[:-2]
    block = series.reshape(*lead, len(classes), scores.shape[-2])  # (..., c, T)
    out[..., classes] = np.moveaxis(block, -2, -1)


def _running_max(x: np.ndarray, length: int) -> np.ndarray:
    """``m[..., j] = max(x[..., j : j + length])`` for every full window (doubling trick).

    Shapes:
        x: (S, N) -> (S, N - length + 1)
    """
    m, span = x, 1
    while 2 * span <= length:
        m = np.maximum(m[:, span:], m[:, :-span])  # windows of 2 * span
        span *= 2
    if span < length:
        # Two overlapping windows of `span` cover `length` because length < 2 * span.
        m = np.maximum(m[:, : m.shape[1] - (length - span)], m[:, length - span :])
    return m


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


def _soft_nms_series(v: np.ndarray, window: int, threshold: float, min_weight: float) -> np.ndarray:
    """Soft NMS of independent series ``v (S, T)``; returns the emitted values (0 elsewhere)."""
    # Distances past the series' end change nothing: the cap keeps huge windows cheap.
    weights = soft_decay_weights(window, min_weight, reach=v.shape[1] - 1)
    # Only distances whose weight is < 1 change anything: they define the neighbourhood.
    decaying = np.flatnonzero(weights[1:] < 1.0) + 1
    radius = int(decaying.max()) if decaying.size else 0
    out = np.zeros_like(v)
    # Blocks of series keep the temporaries cache-sized (series are independent).
    block = max(1, _BLOCK_ELEMENTS // (v.shape[1] + 2 * radius))
    for start in range(0, v.shape[0], block):
        stop = min(start + block, v.shape[0])
        out[start:stop] = _soft_nms_block(v[start:stop], weights, decaying, radius, threshold)
    return out


#: Elements per block of series in soft NMS (~4 MB of float64).
_BLOCK_ELEMENTS = 1 << 19


def _soft_nms_block(
    v: np.ndarray, weights: np.ndarray, decaying: np.ndarray, radius: int, threshold: float
) -> np.ndarray:
    num_series, length = v.shape
    out = np.zeros_like(v)
    decay = weights[decaying]  # (D,)
    # `x >= threshold` as `x > below` so that it merges with the left-neighbour test.
    below = np.nextafter(threshold, -np.inf)
    live = np.flatnonzero((v >= threshold).any(axis=1))  # series with something left to emit
    work = np.full((live.size, length + 2 * radius), -np.inf)  # (S', R + T + R)
    work[:, radius : radius + length] = v[live]
    while live.size:
        core = work[:, radius : radius + length]  # (S', T) view
        if radius:
            wmax = _running_max(work, radius)  # wmax[:, j] = max(work[:, j : j + radius])
            left = wmax[:, :length]  # max over rows i - radius .. i - 1
            right = wmax[:, radius + 1 : radius + 1 + length]  # rows i + 1 .. i + radius
            # Values within TIE_RTOL of each other are ties, broken by the first index: the
            # same input decayed by the same weights in another order must still tie.
            # (`left` may be a view of `work`: never write into it.)
            limit = left * (1.0 + TIE_RTOL)
            emit = core > np.maximum(limit, below, out=limit)
            emit &= core * (1.0 + TIE_RTOL) >= right
        else:
            emit = core > below
        s_idx, t_idx = np.nonzero(emit)
        out[live[s_idx], t_idx] = core[s_idx, t_idx]
        # All distances of a side at once: (E, D) positions. They are distinct, as an in-place
        # fancy multiply needs: two emitted rows of a series are more than R apart, and two
        # distances differ by less than R. E x D is at most about 2 S' x T, whatever the window.
        series = np.broadcast_to(s_idx[:, None], (len(s_idx), len(decaying)))
        for sign in (-1, 1):
            pos = t_idx[:, None] + sign * decaying  # (E, D)
            ok = (pos >= 0) & (pos < length)
            core[series[ok], pos[ok]] *= decay[np.nonzero(ok)[1]]
        core[s_idx, t_idx] = -1.0
        # A series that emitted nothing had nothing >= threshold left (its top row is eligible).
        keep = np.bincount(s_idx, minlength=live.size) > 0
        if not keep.all():
            live, work = live[keep], work[keep]
    return out


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

    Why rounds of local maxima give the same result. Let R be the largest distance whose weight
    is < 1 (emissions farther away change nothing). Order rows by ``(value, -index)``, which is
    the order the first-index argmax uses. Call row i *eligible* when ``v[i] >= threshold`` and
    it beats every row within R in that order (``v[i] > v[j]`` for j in [i - R, i),
    ``v[i] >= v[j]`` for j in (i, i + R]). (1) The sequential argmax is always eligible.
    (2) Two eligible rows are more than R apart (each would beat the other). (3) Emitting an
    eligible row a leaves any other eligible row b eligible with the same value: b is out of a's
    reach, and a's neighbours only shrink (weights <= 1 on values >= 0) or stay negative.
    (4) Emitting a then b gives the same state as b then a (multiplications commute). So every
    order of emitting eligible rows is a reordering of commuting steps, and all of them end in
    the same emitted values (the process terminates: each step retires one row). A round emits
    all currently eligible rows at once, which is one such order; the sequential argmax is
    another.

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
    out = np.zeros(scores.shape, dtype=np.float64)
    for w in sorted(set(windows)):
        classes = [c for c, wc in enumerate(windows) if wc == w]
        series = _series(scores, classes)  # (S, T)
        _unseries(_soft_nms_series(series, w, threshold, min_weight), scores, classes, out)
    return out


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
    out = np.zeros(scores.shape, dtype=np.float64)
    for w in sorted(set(windows)):
        classes = [c for c, wc in enumerate(windows) if wc == w]
        v = _series(scores, classes)  # (S, T)
        radius = min(w // 2, max(v.shape[1] - 1, 0))  # farther rows do not exist
        padded = np.full((v.shape[0], v.shape[1] + 2 * radius), -np.inf)
        padded[:, radius : radius + v.shape[1]] = v
        wmax = _running_max(padded, 2 * radius + 1)  # (S, T): max over i - r .. i + r
        kept = np.where((v >= threshold) & (v >= wmax), v, 0.0)
        _unseries(kept, scores, classes, out)
    return out


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
