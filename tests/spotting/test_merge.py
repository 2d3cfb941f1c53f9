"""Window merge (method.md section 7) on hand-built windows."""

from __future__ import annotations

import numpy as np
import pytest

from comedian.data.windows import token_rows, window_starts
from comedian.spotting.ensemble import combine_scores
from comedian.spotting.merge import merge_windows


def test_window_starts_stride_and_final_window() -> None:
    # 300 s half = 600 rows: windows every 64 rows (32 s) plus one ending at row 600.
    np.testing.assert_array_equal(window_starts(600), [0, 64, 128, 192, 256, 320, 384, 448, 472])
    np.testing.assert_array_equal(window_starts(512), [0, 64, 128, 192, 256, 320, 384])
    np.testing.assert_array_equal(window_starts(50), [0])  # shorter than one window


def test_token_rows_first_frame_rule() -> None:
    # Token j of a window starting at row s (time s / 2) is at s / 2 + j + 0.25 s -> row s + 2j.
    np.testing.assert_array_equal(token_rows(np.array([0, 5]), 3), [[0, 2, 4], [5, 7, 9]])


def test_merge_trims_inner_edges_keeps_half_edges() -> None:
    num_rows = 600
    starts = window_starts(num_rows)
    scores = np.zeros((len(starts), 64, 2), np.float32)
    scores[..., 0] = np.arange(1, len(starts) + 1)[:, None]  # class 0: the window's number
    scores[..., 1] = np.arange(64)[None, :] / 100  # class 1: the token index
    merged = merge_windows(scores, starts, num_rows)
    assert merged.shape == (600, 2) and merged.dtype == np.float32
    # Every token row is covered, including the first and last 12 s of the half.
    assert (merged[0::2, 0] > 0).all()
    # The first window keeps token 0 (row 0); window 2 (start 64) is kept from token 12 (row 88).
    assert merged[0, 0] == 1
    assert merged[86, 0] == 1 and merged[88, 0] == 2
    # Window 1 keeps up to token 51 (row 102); rows 88..102 are the max of windows 1 and 2.
    assert merged[102, 0] == 2 and merged[104, 0] == 2
    # The final window (start 472, number 9) covers the last 12 s: rows up to 598.
    assert merged[598, 0] == 9 and merged[598, 1] == pytest.approx(0.63)
    # Token 63 of window 8 (start 448) is trimmed: its row 574 comes from window 9 (token 51).
    assert merged[574, 1] == pytest.approx(0.51)
    assert (merged[1::2] == 0).all()  # second frames of tokens get no score


def test_merge_half_shorter_than_window() -> None:
    scores = np.ones((1, 64, 1), np.float32)
    merged = merge_windows(scores, window_starts(41), 41)
    assert merged.shape == (41, 1) and merged[0::2].min() == 1


def test_merge_checks_starts() -> None:
    with pytest.raises(ValueError, match="start rows"):
        merge_windows(np.zeros((2, 64, 17)), np.array([0]), 200)


def test_combine_scores() -> None:
    a, b = np.full((4, 17), 0.2, np.float32), np.full((4, 17), 0.6, np.float32)
    np.testing.assert_allclose(combine_scores([a, b]), 0.4)
    np.testing.assert_array_equal(combine_scores([a, b], "max"), b)
    with pytest.raises(ValueError, match="one shape"):
        combine_scores([a, b[:3]])


@pytest.mark.parametrize("num_rows", [600, 601, 599, 129, 130, 127, 5401, 5400, 41])
def test_every_row_covered_once_per_token_on_odd_and_even_halves(num_rows: int) -> None:
    starts = window_starts(num_rows)
    # Every window starts on the even grid: each token scores an even row only.
    assert (starts % 2 == 0).all() and starts[0] == 0
    # The final window reaches the half's end (at most one padded row past it).
    assert num_rows <= starts[-1] + 128 <= num_rows + 1 or num_rows < 128
    rows = token_rows(starts)  # (W, 64)
    # Every real row belongs to some token (token j covers rows s + 2j and s + 2j + 1).
    covered = np.zeros(max(num_rows, int(rows.max())) + 2, bool)
    covered[rows.ravel()] = True
    covered[rows.ravel() + 1] = True
    assert covered[:num_rows].all()
    merged = merge_windows(np.ones((len(starts), 64, 1), np.float32), starts, num_rows)
    # One scored row per token: exactly the even rows, never an odd one (no duplicate peaks).
    assert (merged[0::2] == 1).all() and (merged[1::2] == 0).all()


def test_odd_half_final_window_snapped_up() -> None:
    # 601 rows: the last window would start at 473 (odd); it starts at 474 and pads row 601.
    np.testing.assert_array_equal(window_starts(601)[-2:], [448, 474])
    np.testing.assert_array_equal(window_starts(599)[-2:], [448, 472])
