"""Soft and hard NMS: method.md section 8's worked examples and sequential oracles."""

from __future__ import annotations

import numpy as np
import pytest
from spotting_oracles import exact_soft_nms, sequential_hard_nms, sequential_soft_nms

from comedian.spotting.nms import hard_nms, nms, soft_nms

EXAMPLE = np.array([1e-4, 1.0, 0.2, 0.3, 0.1, 0.2, 0.6])


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        (3, [0, 1.0, 0.2 * 2 / 3 * 2 / 3, 0.3, 0.1 * 2 / 3 * 2 / 3, 0.2 * 2 / 3, 0.6]),
        (4, [0, 1.0, 0.05, 0.3, 0.025, 0.1, 0.6]),
    ],
)
def test_soft_nms_worked_examples(window: int, expected: list[float]) -> None:
    out = soft_nms(EXAMPLE[:, None], window=window, threshold=0.001)[:, 0]
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=0)
    # The rounded numbers as printed in method.md section 8.
    printed = {
        3: [0, 1.0, 0.0889, 0.3, 0.0444, 0.1333, 0.6],
        4: [0, 1.0, 0.05, 0.3, 0.025, 0.1, 0.6],
    }
    np.testing.assert_array_equal(out.round(4), printed[window])


def test_hard_nms_toy() -> None:
    x = np.array([0.1, 0.5, 0.4, 0.5, 0.0, 0.3, 0.2, 0.0005])[:, None]
    # radius 1: 0.5 at 1 and 3 both beat their neighbours; 0.3 at 5 too; 0.0005 < threshold.
    out = hard_nms(x, window=2, threshold=0.001)[:, 0]
    np.testing.assert_array_equal(out, [0, 0.5, 0, 0.5, 0, 0.3, 0, 0])
    assert np.array_equal(nms(x, kind="hard", window=2, threshold=0.001), out[:, None])


def test_input_ties_break_by_first_index() -> None:
    # Two saturated rows next to each other: the first is emitted at 1.0, the second decayed.
    x = np.array([0.0, 1.0, 1.0, 0.0])[:, None]
    out = soft_nms(x, window=4, threshold=0.001)[:, 0]
    np.testing.assert_array_equal(out, [0, 1.0, 0.5, 0])


def _random_series(rng: np.random.Generator, length: int, ties: bool) -> np.ndarray:
    x = rng.random(length) ** rng.uniform(0.5, 4)
    if ties:
        # Saturated runs and repeated values, as sigmoid outputs produce.
        x[rng.random(length) < 0.3] = 1.0
        x[rng.random(length) < 0.1] = x[rng.integers(0, length)]
    return x


def test_soft_nms_matches_sequential_on_continuous_values() -> None:
    rng = np.random.default_rng(7)
    for _ in range(2000):
        length = int(rng.integers(1, 60))
        window = int(rng.integers(1, 14))
        threshold = float(rng.choice([1e-3, 0.05, 0.3]))
        min_weight = float(rng.choice([0.0, 0.0, 0.2, 0.7, 0.95]))
        x = _random_series(rng, length, ties=False)
        got = soft_nms(x[:, None], window=window, threshold=threshold, min_weight=min_weight)
        want = sequential_soft_nms(x, window, threshold, min_weight)
        # Same rows emitted, same values up to the order of the decay products.
        np.testing.assert_array_equal(got[:, 0] > 0, want > 0)
        np.testing.assert_allclose(got[:, 0], want, rtol=1e-9, atol=0)


def test_soft_nms_matches_exact_sequential_with_ties() -> None:
    # Saturated runs tie in the input and, once decayed by the same weights, again: the exact
    # rational oracle says which row comes first (method.md section 8, testing note).
    rng = np.random.default_rng(8)
    for _ in range(1500):
        length = int(rng.integers(1, 50))
        window = int(rng.integers(1, 14))
        threshold = float(rng.choice([1e-3, 0.05, 0.3]))
        min_weight = float(rng.choice([0.0, 0.0, 0.2, 0.7, 0.95]))
        x = _random_series(rng, length, ties=True)
        got = soft_nms(x[:, None], window=window, threshold=threshold, min_weight=min_weight)
        want = exact_soft_nms(x, window, threshold, min_weight)
        np.testing.assert_array_equal(got[:, 0] > 0, want > 0)
        np.testing.assert_allclose(got[:, 0], want, rtol=1e-9, atol=0)


def test_soft_nms_exact_on_dyadic_values() -> None:
    # Window 8: weights d / 4 are exact in binary, so every product is exact and the heavy ties
    # in the decayed values must come out exactly as in the rational sequential algorithm.
    rng = np.random.default_rng(3)
    for _ in range(300):
        length = int(rng.integers(1, 40))
        x = rng.integers(0, 5, length) / 4  # 0, .25, .5, .75, 1: many exact ties
        got = soft_nms(x[:, None], window=8, threshold=0.01)[:, 0]
        np.testing.assert_array_equal(got, exact_soft_nms(x, 8, 0.01))
        np.testing.assert_array_equal(got, sequential_soft_nms(x, 8, 0.01))


def test_vectorized_over_halves_and_classes_with_class_windows() -> None:
    rng = np.random.default_rng(11)
    scores = rng.random((2, 80, 5)).astype(np.float32)  # (halves, T, C)
    windows = [20, 4, 7, 20, 1]
    got = soft_nms(scores, window=windows, threshold=0.01, min_weight=0.1)
    hard = hard_nms(scores, window=windows, threshold=0.01)
    for h in range(2):
        for c in range(5):
            want = sequential_soft_nms(scores[h, :, c], windows[c], 0.01, 0.1)
            np.testing.assert_allclose(got[h, :, c], want, rtol=1e-9, atol=0)
            want_hard = sequential_hard_nms(scores[h, :, c].astype(np.float64), windows[c], 0.01)
            np.testing.assert_array_equal(hard[h, :, c], want_hard)


def test_long_series() -> None:
    rng = np.random.default_rng(5)
    scores = rng.random((3, 200, 4)) ** 3
    got = soft_nms(scores, window=20, threshold=0.001)
    for h in range(3):
        for c in range(4):
            want = sequential_soft_nms(scores[h, :, c], 20, 0.001)
            np.testing.assert_allclose(got[h, :, c], want, rtol=1e-9, atol=0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"threshold": 0.0}, r"threshold: 0.0 is not in \(0, 1\]"),
        ({"threshold": 1.5}, r"threshold: 1.5 is not in \(0, 1\]"),
        ({"threshold": float("nan")}, r"threshold: nan is not in"),
        ({"min_weight": 1.0}, r"min_weight: 1.0 is not in \[0, 1\)"),
        ({"min_weight": -0.1}, r"min_weight: -0.1 is not in"),
        ({"window": 0}, "window: 0 is not an integer >= 1"),
        ({"window": [20, 2.5, 20]}, "window: 2.5 is not an integer"),
        ({"window": [20, 20]}, "2 windows for 3 classes"),
    ],
)
def test_bad_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        soft_nms(np.zeros((10, 3)), **kwargs)


def test_hard_nms_refuses_a_threshold_above_one() -> None:
    with pytest.raises(ValueError, match=r"threshold: 2.0 is not in \(0, 1\]"):
        hard_nms(np.zeros((10, 3)), threshold=2.0)


def test_window_longer_than_the_half() -> None:
    # Hard NMS: a window reaching past both ends keeps the half's maximum only (ties kept).
    x = np.array([0.2, 0.9, 0.1, 0.5, 0.9, 0.3])[:, None]
    for window in (12, 13, 10**12):
        np.testing.assert_array_equal(hard_nms(x, window=window)[:, 0], [0, 0.9, 0, 0, 0.9, 0])
    # Soft NMS, by hand: window 10**12 decays row i by |i - m| / (5 * 10**11) from an emission
    # at m. 0.9 at row 1 first: row 4 falls to 0.9 * 3 / 5e11 < 0.001, the rest even lower.
    got = soft_nms(x, window=10**12, threshold=0.001)[:, 0]
    np.testing.assert_array_equal(got, [0, 0.9, 0, 0, 0, 0])
    # The capped computation equals the definition on windows just past the half too.
    rng = np.random.default_rng(2)
    for _ in range(200):
        length = int(rng.integers(1, 30))
        window = int(rng.integers(length, 4 * length + 2))
        y = _random_series(rng, length, ties=False)
        np.testing.assert_allclose(
            soft_nms(y[:, None], window=window, threshold=1e-3, min_weight=0.2)[:, 0],
            sequential_soft_nms(y, window, 1e-3, 0.2),
            rtol=1e-9,
            atol=0,
        )
        np.testing.assert_array_equal(
            hard_nms(y[:, None], window=window, threshold=1e-3)[:, 0],
            sequential_hard_nms(y, window, 1e-3),
        )


def test_rejects_nan() -> None:
    x = np.zeros((10, 3))
    x[4, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        soft_nms(x)
