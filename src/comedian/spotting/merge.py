"""Sliding-window inference scores -> one score array per half (method.md section 7).

Usage:
    starts = window_starts(num_rows)                  # grid rows where 64 s windows start
    scores = merge_windows(window_scores, starts, num_rows)   # (W, 64, 17) -> (num_rows, 17)

Grid: row r of a half is time r / 2 s (the 2 fps frames). A window starting at row s covers
``WINDOW_TOKENS`` tokens of one second; token j covers rows s + 2j and s + 2j + 1 and its time is
their mean, (s / 2) + j + 0.25 s.

**Time-to-row rule:** a token's score goes to row ``s + 2j``, its first frame (its time floored
to the grid; the same row as the reference's snapping of t0 + j + 0.25 to t0 + j). Rows that no
kept token lands on stay 0 (never emitted by NMS, whose threshold is > 0). One row a token keeps
NMS from seeing each token twice.

Every window starts on an even row, so each token of every window scores an even row: one
scored row per token, whatever the parity of the half's length (the last window may reach one
row past the end; its padded frame belongs to the last real row's token).

**Trim:** a window keeps its tokens from 12 s to 52 s; the first window of a half also keeps its
first 12 s and a window that reaches the half's end also keeps its last 12 s (the reference never
scores a half's last 12 s: a bug). Overlapping kept tokens merge by element-wise max.
"""

from __future__ import annotations

import numpy as np

#: Tokens (seconds) of one inference window, and grid rows per token.
WINDOW_TOKENS = 64
ROWS_PER_TOKEN = 2
#: Window stride and trimmed margin, in tokens (seconds).
STRIDE_TOKENS = 32
TRIM_TOKENS = 12


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


def merge_windows(
    window_scores: np.ndarray,
    starts: np.ndarray,
    num_rows: int,
    trim_tokens: int = TRIM_TOKENS,
) -> np.ndarray:
    """Merge per-window token scores into one half's grid (trim, then element-wise max).

    Args:
        window_scores: Sigmoid scores of each window's tokens.
        starts: Start row of each window (as :func:`window_starts` gives).
        num_rows: Rows of the half.
        trim_tokens: Tokens dropped at each inner window edge (12 s).

    Returns:
        float32 (num_rows, C); 0 where no kept token lands.

    Shapes:
        window_scores: (W, K, C), starts: (W,) -> (num_rows, C)
    """
    window_scores = np.asarray(window_scores)
    starts = np.asarray(starts, dtype=np.int64)
    num_windows, num_tokens, num_classes = window_scores.shape
    if starts.shape != (num_windows,):
        raise ValueError(f"{num_windows} windows but {starts.shape} start rows")
    rows = token_rows(starts, num_tokens)  # (W, K)
    j = np.arange(num_tokens)[None, :]  # (1, K)
    at_start = (starts == 0)[:, None]  # (W, 1)
    at_end = (starts + num_tokens * ROWS_PER_TOKEN >= num_rows)[:, None]  # (W, 1)
    keep = (j >= trim_tokens) | at_start
    keep &= (j < num_tokens - trim_tokens) | at_end
    keep &= rows < num_rows  # a half shorter than a window
    out = np.zeros((num_rows, num_classes), dtype=np.float32)
    np.maximum.at(out, rows[keep], window_scores[keep].astype(np.float32))  # (N, C) rows may repeat
    return out
