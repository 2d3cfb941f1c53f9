"""Sliding-window inference scores -> one score array per half (method.md section 7).

Usage:
    starts = window_starts(num_rows)                  # grid rows where 64 s windows start
    scores = merge_windows(window_scores, starts, num_rows)   # (W, 64, 17) -> (num_rows, 17)

The window geometry (where windows start, which row a token scores, which tokens the trim keeps)
is :mod:`comedian.data.windows`: token j of a window starting at row s scores row ``s + 2j``; a
window keeps its tokens from 12 s to 52 s (all of them at a half's edges). Overlapping kept tokens
merge by element-wise max; rows that no kept token lands on stay 0 (never emitted by NMS, whose
threshold is > 0).
"""

from __future__ import annotations

import numpy as np

from comedian.data.windows import TRIM_TOKENS, kept_tokens, token_rows


def merge_windows(
    window_scores: np.ndarray,
    starts: np.ndarray,
    num_rows: int,
    trim_tokens: int = TRIM_TOKENS,
) -> np.ndarray:
    """Merge per-window token scores into one half's grid (trim, then element-wise max).

    Args:
        window_scores: Sigmoid scores of each window's tokens.
        starts: Start row of each window (as :func:`comedian.data.windows.window_starts` gives).
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
    keep = kept_tokens(starts, num_rows, num_tokens, trim_tokens)  # (W, K)
    out = np.zeros((num_rows, num_classes), dtype=np.float32)
    np.maximum.at(out, rows[keep], window_scores[keep].astype(np.float32))  # (N, C) rows may repeat
    return out
