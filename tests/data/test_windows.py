"""Index math of the datasets: SSL pairs, teacher windows and labels, extraction coverage,
distillation windows, the teacher alignment and the inference trim, with hand-worked indices."""

from __future__ import annotations

import numpy as np
import pytest

from comedian.data.windows import (
    align_teacher,
    distill_teacher_rows,
    distill_window_starts,
    extraction_batches,
    kept_tokens,
    ssl_frame_pairs,
    teacher_targets,
    teacher_window_centres,
    teacher_window_frames,
)


def test_ssl_frame_pairs() -> None:
    assert ssl_frame_pairs(7).tolist() == [[0, 1], [2, 3], [4, 5]]  # frame 6 has no partner
    assert ssl_frame_pairs(6).tolist() == [[0, 1], [2, 3], [4, 5]]
    assert ssl_frame_pairs(1).shape == (0, 2)
    assert len(ssl_frame_pairs(5400)) == 2700  # a 45 min half: one sample a second


def test_teacher_window_middle_of_the_half() -> None:
    # Row 10 is t = 5 s; the window [3, 7) at 4 fps is frames 12 .. 27 (times 3.0 .. 6.75).
    frames = teacher_window_frames([10], num_frames=40)
    assert frames.tolist() == [list(range(12, 28))]
    times = frames[0] / 4
    assert times.min() >= 5 - 2 and times.max() < 5 + 2


def test_teacher_window_edges_are_replicated() -> None:
    # Row 0 (t = 0): frames -8 .. 7 -> eight copies of frame 0, then 0 .. 7.
    # Row 19 (t = 9.5) of a 10 s half (40 frames at 4 fps): frames 30 .. 45 -> 30 .. 39, 39 x 6.
    frames = teacher_window_frames(np.array([0, 1, 19]), num_frames=40)
    assert frames[0].tolist() == [0] * 8 + list(range(8))
    assert frames[1].tolist() == [0] * 6 + list(range(10))  # row 1: frames -6 .. 9
    assert frames[2].tolist() == list(range(30, 40)) + [39] * 6
    assert frames.shape == (3, 16) and frames.dtype == np.int64


def test_teacher_window_other_rate_and_length() -> None:
    # 2 fps store, 2 s window at row 3 (t = 1.5): first = round(2 * 0.5) = 1, frames 1 .. 4.
    frames = teacher_window_frames([3], num_frames=100, fps=2, window_s=2.0)
    assert frames.tolist() == [[1, 2, 3, 4]]


def test_teacher_targets_label_of_the_middle_time() -> None:
    # A goal (class 2) at 5.0 s and a corner (13) at 7.25 s, on a 10 s half (20 rows).
    y = teacher_targets([5000, 7250], [2, 13], num_rows=20)
    assert y.shape == (20, 17)
    assert np.flatnonzero(y[:, 2]).tolist() == [9, 10, 11]  # t = 4.5, 5.0, 5.5 (|5 - t| <= 0.5)
    assert np.flatnonzero(y[:, 13]).tolist() == [14, 15]  # t = 7.0, 7.5
    assert y.sum() == 5


def test_extraction_covers_every_row_once() -> None:
    batches = list(extraction_batches(10, 4))
    assert [b.tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    rows = np.concatenate(list(extraction_batches(5401, 64)))
    assert rows.tolist() == list(range(5401))  # the last partial batch is kept
    # Written into a bank, no row stays zero.
    bank = np.zeros((5401, 3), dtype=np.float32)
    for b in extraction_batches(5401, 64):
        centre = teacher_window_frames(b, num_frames=2 * 5401)[:, 8]  # the frame at t
        bank[b] = centre[:, None] + 1
    assert np.all(bank != 0)
    assert bank[:, 0].tolist() == (2 * np.arange(5401) + 1).tolist()


def test_distill_windows_long_half_jittered_in_slots() -> None:
    n, w, length = 38 * 128 + 500, 38, 128
    starts = distill_window_starts(n, np.random.default_rng(0))
    assert starts.shape == (w,) and starts.dtype == np.int64
    lo = np.arange(w) * n // w
    hi = (np.arange(w) + 1) * n // w
    assert np.all(starts >= lo) and np.all(starts + length <= hi)  # inside its slot
    assert np.all(np.diff(starts) >= length)  # no overlap
    assert starts[0] >= 0 and starts[-1] + length <= n
    again = distill_window_starts(n, np.random.default_rng(0))
    other = distill_window_starts(n, np.random.default_rng(1))
    assert np.array_equal(starts, again) and not np.array_equal(starts, other)


def test_distill_windows_jitter_reaches_both_ends_of_a_slot() -> None:
    # 3 windows of 4 rows on 15 rows: slots [0, 5), [5, 10), [10, 15); starts 0..1, 5..6, 10..11.
    draws = np.stack(
        [
            distill_window_starts(15, np.random.default_rng(s), num_windows=3, window_rows=4)
            for s in range(50)
        ]
    )
    assert [sorted(set(draws[:, i].tolist())) for i in range(3)] == [[0, 1], [5, 6], [10, 11]]


def test_distill_windows_exactly_full_half_has_no_jitter() -> None:
    starts = distill_window_starts(38 * 128, np.random.default_rng(3))
    assert starts.tolist() == list(range(0, 38 * 128, 128))


def test_distill_windows_short_half_evenly_spaced() -> None:
    # 180 s half = 360 rows: 38 windows from 0 to 232, spacing 232 / 37 = 6.27 rows.
    starts = distill_window_starts(360, np.random.default_rng(0))
    assert starts[0] == 0 and starts[-1] == 232 and len(starts) == 38
    assert np.all(np.abs(starts - np.arange(38) * 232 / 37) <= 0.5)
    assert np.array_equal(starts, distill_window_starts(360, np.random.default_rng(9)))
    # 3 windows of 4 rows on 9 rows: span 5, starts round(0, 2.5, 5) = 0, 3, 5 (half up).
    assert distill_window_starts(
        9, np.random.default_rng(0), num_windows=3, window_rows=4
    ).tolist() == [0, 3, 5]
    assert distill_window_starts(128, np.random.default_rng(0)).tolist() == [0] * 38
    with pytest.raises(ValueError, match="100 rows, fewer than one window of 128 rows"):
        distill_window_starts(100, np.random.default_rng(0))


def test_distill_teacher_alignment() -> None:
    # Clip at row 5 (t0 = 2.5 s): token j covers 2.5 + j and 3 + j; the teacher row of time
    # t0 + j is 2 * (2.5 + j) = 5 + 2j.
    assert distill_teacher_rows(5, num_tokens=4).ravel().tolist() == [5, 7, 9, 11]
    assert distill_teacher_rows(5, num_tokens=2, mode="mean").tolist() == [[5, 6], [7, 8]]
    bank = np.stack([np.arange(20.0), -np.arange(20.0)], axis=1)  # row r holds (r, -r)
    assert align_teacher(bank, 5, num_tokens=4).tolist() == [[5, -5], [7, -7], [9, -9], [11, -11]]
    mean = align_teacher(bank, 5, num_tokens=4, mode="mean")
    assert mean[:, 0].tolist() == [5.5, 7.5, 9.5, 11.5] and mean.dtype == np.float32
    # The last clip of a half ends exactly at the bank's last row.
    assert align_teacher(bank, 12, num_tokens=4, mode="mean")[-1, 0] == 18.5
    with pytest.raises(ValueError, match="20 rows, a clip at row 13 with 4 tokens needs row 20"):
        align_teacher(bank, 13, num_tokens=4, mode="mean")
    with pytest.raises(ValueError, match="'start' or 'mean'"):
        distill_teacher_rows(0, mode="middle")


def test_teacher_window_centres_edges_random_non_overlapping_on_the_4fps_grid() -> None:
    # A 45 min half at 4 fps: 10,800 frames hold 675 disjoint 4 s windows; 100 are drawn.
    rng = np.random.default_rng(0)
    c = teacher_window_centres(10_800, rng)
    assert c.shape == (100,) and c.dtype == np.int64
    assert c[0] == 8 and c[-1] == 10_800 - 8  # windows [0, 4 s) and [d - 4 s, d)
    assert (np.diff(c) >= 16).all()  # sorted, 16 frames = 4 s apart: no two windows overlap
    frames = teacher_window_frames(c, 10_800, grid_fps=4)  # window of centre c: c - 8 .. c + 7
    assert frames[0].tolist() == list(range(16)) and frames[-1][-1] == 10_799
    assert len(np.unique(frames)) == 100 * 16  # disjoint and inside the half (no clamping)
    # a new generator state draws other random windows, the edges stay
    d = teacher_window_centres(10_800, rng)
    assert d[0] == 8 and d[-1] == 10_792 and not np.array_equal(c, d)


def test_teacher_window_centres_of_short_halves_are_as_many_as_fit() -> None:
    rng = np.random.default_rng(1)
    # 64 frames (16 s) hold exactly 4 disjoint windows: the only placement
    assert teacher_window_centres(64, rng).tolist() == [8, 24, 40, 56]
    # 70 frames: 4 windows, the two middle ones anywhere in 16 .. 54 without overlap
    c = teacher_window_centres(70, rng, num_windows=100)
    assert len(c) == 4 and c[0] == 8 and c[-1] == 62 and (np.diff(c) >= 16).all()
    assert teacher_window_centres(40, rng, num_windows=1).tolist() == [8]  # first edge only
    assert teacher_window_centres(10, rng).tolist() == [8]  # shorter than one window
    assert teacher_window_centres(32, rng, num_windows=3).tolist() == [8, 24]


def test_teacher_window_centres_are_uniform_over_placements() -> None:
    # 5 windows of 2 frames in 12 frames: 3 random windows in the 8 inner frames (2 .. 9), slack
    # 2: C(5, 3) = 10 placements, each about equally likely over 20,000 draws.
    rng = np.random.default_rng(2)
    draws = [tuple(teacher_window_centres(12, rng, num_windows=5, window_frames=2)) for _ in
             range(20_000)]  # fmt: skip
    counts = np.unique(np.array(draws), axis=0, return_counts=True)[1]
    assert len(counts) == 10 and counts.min() > 1_700 and counts.max() < 2_300


def test_teacher_targets_on_the_4fps_grid() -> None:
    # A goal at 5.0 s: 4 fps frames 18 .. 22 (4.5 .. 5.5 s) are positive.
    y = teacher_targets([5000], [2], num_rows=40, grid_fps=4)
    assert np.flatnonzero(y[:, 2]).tolist() == [18, 19, 20, 21, 22]


def test_kept_tokens_trim_inner_edges_and_keep_the_halves_edges() -> None:
    # a 600-row half: windows at 0, 64, ..., 448 and a final one at 472 (ends at row 600)
    keep = kept_tokens(np.array([0, 64, 472]), 600)  # (3, 64)
    assert keep.shape == (3, 64)
    assert np.flatnonzero(keep[0]).tolist() == list(range(52))  # first: 0 .. 51 s
    assert np.flatnonzero(keep[1]).tolist() == list(range(12, 52))  # inner: 12 .. 51 s
    assert np.flatnonzero(keep[2]).tolist() == list(range(12, 64))  # last: 12 .. 63 s
    # a 41-row half (one window at 0): tokens j with row 2j <= 40, i.e. 0 .. 20
    assert np.flatnonzero(kept_tokens(np.array([0]), 41)[0]).tolist() == list(range(21))
    # a 4-token window with a 1-token trim, inside a long half: tokens 1 and 2
    assert kept_tokens(np.array([10]), 100, num_tokens=4, trim_tokens=1).tolist() == [
        [False, True, True, False]
    ]
