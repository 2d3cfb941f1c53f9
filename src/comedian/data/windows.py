"""Index math of every dataset (method.md §2, §3, §5-§7): which frames and rows a sample reads.

Usage:
    starts = window_starts(num_rows)                                # (W,) 64 s inference windows, §7
    keep = kept_tokens(starts, num_rows)                            # (W, 64) tokens the merge keeps
    starts = train_window_starts(n, rng)                            # (25,) spotting train clips, §6
    pairs = ssl_frame_pairs(store.num_frames)                       # (S, 2) 2 fps frames, §2
    frames = teacher_window_frames(rows, store4.num_frames)         # (R, 16) 4 fps frames, §3
    y = teacher_targets(events.position_ms, events.class_index, n)  # (n, 17): window k <- row k
    centres = teacher_window_centres(n4, rng)                       # (100,) 4 fps train centres
    for rows in extraction_batches(n, 64): ...                      # every row, the last too
    starts = distill_window_starts(n, np.random.default_rng(seed))  # (38,) start rows, §5
    targets = align_teacher(bank, starts[0], num_tokens=64)         # (64, 512)

Grids: the 2 fps frame store of a half has n frames; frame (= row) k is at time k / 2 s. The
teacher feature bank of a half has the same n rows, row k being the teacher's feature of the 4 s
window centred on k / 2. The 4 fps store has its own frame count; frame j is at j / 4 s. The
teacher's training windows are centred on that 4 fps grid (centre frame c, time c / 4 s), its
extraction windows on the rows.

Spotting windows (method.md §6, §7): a 64 s clip starting at row s holds rows s .. s + 127 and
``WINDOW_TOKENS`` tokens of one second; token j covers rows s + 2j and s + 2j + 1 and its time is
their mean, (s / 2) + j + 0.25 s. **Time-to-row rule:** a token's score goes to row ``s + 2j``, its
first frame (its time floored to the grid; the same row as the reference's snapping of
t0 + j + 0.25 to t0 + j). Every inference window starts on an even row, so each token of every
window scores an even row: one scored row per token, whatever the parity of the half's length (the
last window may reach one row past the end; its padded frame belongs to the last real row's
token). **Trim:** a window keeps its tokens from 12 s to 52 s; the first window of a half also
keeps its first 12 s and a window that reaches the half's end also keeps its last 12 s (the
reference never scores a half's last 12 s: a bug). Training clips may start on odd rows (the 0.5 s
grid).

Everything is plain numpy on integer indices, vectorized, with no I/O: the datasets that read
frame stores and banks are built on top of it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from comedian.data.labels import frame_targets

#: Frame rate of the main frame store and of the teacher feature bank's rows (method.md §0).
GRID_FPS = 2
#: Tokens (seconds) of one spotting window, and grid rows per token.
WINDOW_TOKENS = 64
ROWS_PER_TOKEN = 2
#: Frames (rows) of one 64 s clip at 2 fps.
CLIP_ROWS = WINDOW_TOKENS * ROWS_PER_TOKEN
#: Inference window stride and trimmed margin, in tokens (seconds).
STRIDE_TOKENS = 32
TRIM_TOKENS = 12


def _check_count(name: str, n: int, minimum: int = 1) -> None:
    if n < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {n}")


def random_window_starts(
    num_rows: int, count: int, rng: np.random.Generator, clip_rows: int = CLIP_ROWS
) -> np.ndarray:
    """``count`` random non-overlapping clip starts on the row (0.5 s) grid, sorted.

    Uniform over all non-overlapping placements (stars and bars: choose ``count`` distinct
    values c_0 < ... in [0, slack + count) and start i at c_i + i * (clip_rows - 1)). When the
    half is too short for ``count`` disjoint clips (the synthetic demo's 3-minute halves) the
    starts are drawn independently and may overlap.

    Returns:
        int64 (count,) starts in [0, max(0, num_rows - clip_rows)].
    """
    last = max(0, num_rows - clip_rows)
    if count <= 0:
        return np.zeros(0, dtype=np.int64)
    slack = num_rows - count * clip_rows
    if slack < 0:
        return np.sort(rng.integers(0, last + 1, size=count)).astype(np.int64)
    chosen = np.sort(rng.choice(slack + count, size=count, replace=False))
    return (chosen + np.arange(count) * (clip_rows - 1)).astype(np.int64)


# --- §2: spatial SSL --------------------------------------------------------------------------


def ssl_frame_pairs(num_frames: int) -> np.ndarray:
    """The SSL samples of a half: sample s is second s, frames (2s, 2s + 1) of the 2 fps store.

    An odd last frame (a half that ends within half a second of a whole second) is no sample:
    a sample needs both frames of its tubelet.

    Shapes:
        -> (num_frames // 2, 2) int64.
    """
    _check_count("num_frames", num_frames, 0)
    return np.arange(num_frames // 2 * 2, dtype=np.int64).reshape(-1, 2)


# --- §3: teacher windows ----------------------------------------------------------------------


def teacher_window_frames(
    rows: np.ndarray | Sequence[int],
    num_frames: int,
    *,
    fps: int = 4,
    window_s: float = 4.0,
    grid_fps: int = GRID_FPS,
) -> np.ndarray:
    """Frames of the teacher store covering [t - window_s / 2, t + window_s / 2) for
    t = row / grid_fps.

    The first frame is round(fps * (t - window_s / 2)) (at 4 fps and a 4 s window: 2 * row - 8
    on the 2 fps grid, centre - 8 on the store's own 4 fps grid), then fps * window_s
    consecutive frames. Indices before the first frame or after
    the last one of the half are clamped: the edge frame is replicated, so every row of the half,
    the first and last two seconds included, gets a full window.

    Args:
        rows: Rows of the ``grid_fps`` grid (window centres at row / grid_fps s).
        num_frames: Frames of the teacher store (at ``fps``) of this half.
        fps: Frame rate of the teacher store.
        window_s: Window length in seconds.
        grid_fps: Rate of the rows' grid: 2 (the feature bank's rows) or ``fps`` (centres on
            the store's own frames, the training windows).

    Returns:
        int64 frame indices in [0, num_frames - 1].

    Shapes:
        rows: (R,) -> (R, fps * window_s).
    """
    _check_count("num_frames", num_frames)
    rows = np.asarray(rows, dtype=np.int64)
    length = round(fps * window_s)
    # fps * (row / grid_fps - window_s / 2), rounded half up; exact for the paper's 4 fps and 4 s.
    first = np.floor(fps * rows / grid_fps - fps * window_s / 2 + 0.5).astype(np.int64)
    frames = first[:, None] + np.arange(length, dtype=np.int64)  # (R, L)
    return np.clip(frames, 0, num_frames - 1)


def teacher_targets(
    position_ms: Sequence[int] | np.ndarray,
    class_index: Sequence[int] | np.ndarray,
    num_rows: int,
    grid_fps: int = GRID_FPS,
) -> np.ndarray:
    """Fine-tuning labels of the teacher windows of a half: window k gets row k (§3).

    The label of a window is the label of its middle time t = k / grid_fps, i.e. the per-frame
    target of method.md §1 on that grid (classes with an event within 0.5 s of t). The training
    windows are centred on the 4 fps grid: ``grid_fps=4`` and ``num_rows`` the 4 fps frames.

    Shapes:
        -> (num_rows, 17) uint8.
    """
    return frame_targets(position_ms, class_index, num_frames=num_rows, fps=float(grid_fps))


def teacher_window_centres(
    num_frames: int,
    rng: np.random.Generator,
    *,
    num_windows: int = 100,
    window_frames: int = 16,
) -> np.ndarray:
    """Centre frames of one half's teacher training windows for one epoch (§3).

    The reference's epoch: per half ``num_windows`` non-overlapping windows of ``window_frames``
    frames (4 s at 4 fps), the two edge windows [0, 4 s) and [d - 4 s, d) and random ones
    between them, uniform over the non-overlapping placements on the 4 fps grid
    (:func:`random_window_starts`). A half too short for ``num_windows``
    disjoint windows (shorter than 400 s at the paper's values) gets as many as fit,
    ``num_frames // window_frames`` (at least one), so the windows never overlap.

    Args:
        num_frames: Frames of the half's teacher store (4 fps).
        rng: Generator (seed it per epoch for new windows each epoch).
        num_windows: Windows per half (100).
        window_frames: Frames per window (16 = 4 s at 4 fps).

    Returns:
        int64 (min(num_windows, max(1, num_frames // window_frames)),) centre frames, sorted:
        window c covers frames [c - window_frames // 2, c + window_frames // 2), i.e. the
        window :func:`teacher_window_frames` reads for row c with ``grid_fps=fps``.
    """
    _check_count("num_frames", num_frames)
    _check_count("num_windows", num_windows)
    _check_count("window_frames", window_frames)
    count = min(num_windows, max(1, num_frames // window_frames))
    half = window_frames // 2
    if count == 1:
        return np.array([half], dtype=np.int64)
    inner = num_frames - 2 * window_frames  # frames between the two edge windows
    starts = random_window_starts(inner, count - 2, rng, window_frames) + window_frames
    edges = np.array([0, num_frames - window_frames], dtype=np.int64)
    return np.sort(np.concatenate([edges, starts])) + half


def extraction_batches(num_rows: int, batch_size: int) -> Iterator[np.ndarray]:
    """Rows of a half in order, in batches; the last batch may be smaller but is never dropped.

    Feature extraction writes one row per 2 fps frame; dropping the last partial batch (as the
    reference does) leaves zero rows at the end of every half (method.md §3 Decision).

    Yields:
        int64 arrays of consecutive rows; together exactly 0 .. num_rows - 1.
    """
    _check_count("num_rows", num_rows)
    _check_count("batch_size", batch_size)
    for lo in range(0, num_rows, batch_size):
        yield np.arange(lo, min(lo + batch_size, num_rows), dtype=np.int64)


# --- §5: distillation windows -----------------------------------------------------------------


def distill_window_starts(
    num_rows: int,
    rng: np.random.Generator,
    *,
    num_windows: int = 38,
    window_rows: int = 128,
) -> np.ndarray:
    """Start rows of the distillation clips of one half (§5).

    When the half holds ``num_windows`` whole windows, it is cut into ``num_windows`` equal slots
    (boundaries floor(i * num_rows / num_windows)) and each window starts uniformly at random at
    a row of its slot such that it ends inside the slot: the windows never overlap and cover the
    half evenly. A shorter half gets ``num_windows`` evenly spaced, overlapping windows from the
    first row to the last possible start (deterministic). Start rows are 2 fps rows, so clips
    start on the 0.5 s grid.

    Args:
        num_rows: Rows (2 fps frames) of the half.
        rng: Generator of the jitter (seed it per epoch for new windows each epoch).
        num_windows: Windows per half (38).
        window_rows: Rows per window (128 = 64 s).

    Returns:
        (num_windows,) int64 start rows, non-decreasing; window w covers rows
        [start, start + window_rows).
    """
    _check_count("num_windows", num_windows)
    _check_count("window_rows", window_rows)
    if num_rows < window_rows:
        raise ValueError(
            f"distillation windows: the half has {num_rows} rows, fewer than one window of "
            f"{window_rows} rows ({window_rows / GRID_FPS:g} s)"
        )
    i = np.arange(num_windows, dtype=np.int64)
    if num_rows >= num_windows * window_rows:
        lo = i * num_rows // num_windows  # (W,) slot starts
        hi = (i + 1) * num_rows // num_windows  # (W,) slot ends, hi - lo >= window_rows
        return lo + rng.integers(0, hi - lo - window_rows + 1)  # (W,)
    span = num_rows - window_rows
    if num_windows == 1:
        return np.array([span // 2], dtype=np.int64)
    # round(i * span / (W - 1)), half up, in integers
    return (2 * i * span + num_windows - 1) // (2 * (num_windows - 1))


def distill_teacher_rows(start: int, num_tokens: int = 64, mode: str = "start") -> np.ndarray:
    """Teacher bank rows of the tokens of a clip starting at row ``start`` (§5 Decision).

    Token j covers frames start + 2j and start + 2j + 1, i.e. times t0 + j and t0 + j + 0.5 with
    t0 = start / 2. Mode "start" takes the teacher row of time t0 + j, row 2 * (t0 + j) =
    start + 2j (the window centred on the token's first frame); mode "mean" averages that row and
    the next, start + 2j + 1 (the windows centred on both of the token's frames).

    Returns:
        int64 rows, shape (num_tokens, 1) for "start" and (num_tokens, 2) for "mean".
    """
    _check_count("num_tokens", num_tokens)
    if start < 0:
        raise ValueError(f"distillation clip start row must be >= 0, got {start}")
    first = start + 2 * np.arange(num_tokens, dtype=np.int64)  # (T,)
    if mode == "start":
        return first[:, None]
    if mode == "mean":
        return np.stack([first, first + 1], axis=1)
    raise ValueError(f"teacher alignment mode must be 'start' or 'mean', got {mode!r}")


def align_teacher(
    bank: np.ndarray, start: int, num_tokens: int = 64, mode: str = "start"
) -> np.ndarray:
    """The teacher vectors of a clip's tokens (see :func:`distill_teacher_rows`).

    Args:
        bank: The half's (PCA-reduced) teacher features, one row per 2 fps row.
        start: The clip's start row.
        num_tokens: Tokens per clip (64).
        mode: "start" or "mean".

    Returns:
        float32 (num_tokens, D).

    Shapes:
        bank: (N, D) -> (num_tokens, D).
    """
    rows = distill_teacher_rows(start, num_tokens, mode)  # (T, 1 | 2)
    if bank.ndim != 2:
        raise ValueError(f"teacher bank must be 2-D (rows, D), got shape {bank.shape}")
    if rows.max() >= bank.shape[0]:
        raise ValueError(
            f"teacher bank has {bank.shape[0]} rows, a clip at row {start} with {num_tokens} "
            f"tokens needs row {int(rows.max())}"
        )
    picked = np.asarray(bank[rows.ravel()], dtype=np.float32)  # (T * R, D)
    return picked.reshape(num_tokens, rows.shape[1], -1).mean(axis=1)  # (T, D)


# --- §6: spotting training clips ----------------------------------------------------------------


def train_window_starts(
    num_rows: int, rng: np.random.Generator, random_windows: int = 23, clip_rows: int = CLIP_ROWS
) -> np.ndarray:
    """One half's training clips (method.md §6): [0, 64 s), [d - 64 s, d) and random ones.

    Returns:
        int64 (2 + random_windows,) start rows: the two edge windows first (one if the half is
        no longer than a clip), then the random windows.
    """
    last = max(0, num_rows - clip_rows)
    edges = np.array([0, last] if last > 0 else [0], dtype=np.int64)
    return np.concatenate([edges, random_window_starts(num_rows, random_windows, rng, clip_rows)])


# --- §7: sliding inference windows --------------------------------------------------------------


def window_starts(
    num_rows: int, window_tokens: int = WINDOW_TOKENS, stride_tokens: int = STRIDE_TOKENS
) -> np.ndarray:
    """Start rows of the sliding windows of one half: every stride, plus one ending at the end.

    Args:
        num_rows: Rows (2 fps frames) of the half.

    Returns:
        int64 (W,) even start rows, increasing; every row of the half is covered by a token.
        A half shorter than a window gets one window at 0.
    """
    if num_rows < 1:
        raise ValueError(f"a half needs at least one row, got {num_rows}")
    span = window_tokens * ROWS_PER_TOKEN
    # The final window ends at the half's end, snapped UP to the even grid: with an odd number
    # of rows an odd start would score odd rows where the other windows score even ones (each
    # event found twice, ~40 s of duplicates). Its frames past the end are padding.
    last = max(0, num_rows - span)
    last += last % ROWS_PER_TOKEN
    starts = np.arange(0, last + 1, stride_tokens * ROWS_PER_TOKEN, dtype=np.int64)
    if starts[-1] != last:
        starts = np.append(starts, last)
    return starts


def token_rows(start: np.ndarray, num_tokens: int = WINDOW_TOKENS) -> np.ndarray:
    """Grid row of each token (its first frame). Shapes: (W,) -> (W, num_tokens)."""
    return np.asarray(start)[:, None] + ROWS_PER_TOKEN * np.arange(num_tokens)[None, :]


def kept_tokens(
    starts: np.ndarray,
    num_rows: int,
    num_tokens: int = WINDOW_TOKENS,
    trim_tokens: int = TRIM_TOKENS,
) -> np.ndarray:
    """The tokens of each window that the merge keeps (the trim, see the module docstring).

    A window drops ``trim_tokens`` tokens at each inner edge: its first ones unless it starts
    the half, its last ones unless it reaches the half's end; tokens past the half's last row
    (a half shorter than a window) are dropped too.

    Args:
        starts: Start row of each window (as :func:`window_starts` gives).
        num_rows: Rows of the half.
        num_tokens: Tokens per window.
        trim_tokens: Tokens dropped at each inner window edge (12 s).

    Shapes:
        starts: (W,) -> bool (W, num_tokens)
    """
    starts = np.asarray(starts, dtype=np.int64)
    j = np.arange(num_tokens)[None, :]  # (1, K)
    at_start = (starts == 0)[:, None]  # (W, 1)
    at_end = (starts + num_tokens * ROWS_PER_TOKEN >= num_rows)[:, None]  # (W, 1)
    keep = (j >= trim_tokens) | at_start
    keep &= (j < num_tokens - trim_tokens) | at_end
    keep &= token_rows(starts, num_tokens) < num_rows  # a half shorter than a window
    return keep
