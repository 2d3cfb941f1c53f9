"""Plain, loop-by-loop implementations of method.md sections 8 used as test oracles.

Usage:
    from spotting_oracles import sequential_soft_nms
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np


def sequential_soft_nms(
    values: np.ndarray, window: int, threshold: float, min_weight: float = 0.0
) -> np.ndarray:
    """Soft NMS of one series exactly as written in method.md section 8 (one argmax at a time).

    Shapes:
        values: (T,) -> (T,)
    """
    v = [float(x) for x in values]
    out = [0.0] * len(v)
    half = window / 2
    reach = math.ceil(half)
    while v:
        m = max(range(len(v)), key=lambda i: (v[i], -i))  # first-index argmax
        if v[m] < threshold:
            break
        out[m] = v[m]
        for i in range(max(0, m - reach), min(len(v), m + reach + 1)):
            v[i] *= min(max(min_weight + (1.0 - min_weight) * abs(i - m) / half, 0.0), 1.0)
        v[m] = -1.0
    return np.array(out)


def exact_soft_nms(
    values: np.ndarray, window: int, threshold: float, min_weight: float = 0.0
) -> np.ndarray:
    """Sequential soft NMS in exact rational arithmetic.

    The inputs and the float decay weights are converted to fractions exactly, so ties between
    mathematically equal decayed values are real ties here (broken by the first index), which
    float arithmetic in any multiplication order cannot promise.
    """
    v = [Fraction(float(x)) for x in values]
    out = [Fraction(0)] * len(v)
    half = window / 2
    reach = math.ceil(half)
    weight = {
        d: Fraction(min(max(min_weight + (1.0 - min_weight) * d / half, 0.0), 1.0))
        for d in range(reach + 1)
    }
    while v:
        m = max(range(len(v)), key=lambda i: (v[i], -i))
        if v[m] < threshold:
            break
        out[m] = v[m]
        for i in range(max(0, m - reach), min(len(v), m + reach + 1)):
            v[i] *= weight[abs(i - m)]
        v[m] = Fraction(-1)
    return np.array([float(f) for f in out])


def sequential_hard_nms(values: np.ndarray, window: int, threshold: float) -> np.ndarray:
    """Hard NMS of one series: keep v[i] >= threshold that is the max within +-floor(w / 2)."""
    r = window // 2
    out = np.zeros(len(values))
    for i, x in enumerate(values):
        lo, hi = max(0, i - r), min(len(values), i + r + 1)
        if x >= threshold and x >= max(values[lo:hi]):
            out[i] = x
    return out


def sequential_matching(
    gt_frames: list[int], pred_frames: list[int], pred_scores: list[float], radius: int
) -> list[bool]:
    """Greedy matching of one (half, class) as the official loop does it: each ground truth in
    frame order takes the highest-scoring unused prediction within ``radius`` frames (ties: the
    earliest). Predictions are given sorted by frame; returns their true-positive flags."""
    used = [False] * len(pred_frames)
    for g in sorted(gt_frames):
        best, best_score = None, -1.0
        for i, (f, s) in enumerate(zip(pred_frames, pred_scores, strict=True)):
            if abs(f - g) <= radius and s > best_score and not used[i]:
                best, best_score = i, s
        if best is not None:
            used[best] = True
    return used
