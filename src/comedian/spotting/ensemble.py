"""Ensembles: combine the raw per-half scores of several models (method.md section 10).

Usage:
    combined = combine_scores([scores_a, scores_b, scores_c], reduce="mean")   # each (T, 17)
    ensemble_dirs([raw_a, raw_b], out_dir, reduce="mean")

The ensemble's raw scores are written in the same layout as a model's
(:mod:`comedian.spotting.scores`), so NMS, evaluation and sweeps treat an ensemble as a run.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from comedian.spotting.scores import find_raw_games, read_raw_game, write_raw_game

Reduce = Literal["mean", "max"]


def combine_scores(scores: Sequence[np.ndarray], reduce: Reduce = "mean") -> np.ndarray:
    """Element-wise mean (the paper's ensembles) or max of same-shape score arrays.

    Shapes:
        scores: M x (T, C) -> (T, C) float32
    """
    if not scores:
        raise ValueError("an ensemble needs at least one score array")
    shapes = {s.shape for s in scores}
    if len(shapes) != 1:
        raise ValueError(f"score arrays of an ensemble must have one shape, got {sorted(shapes)}")
    stack = np.stack([s.astype(np.float32, copy=False) for s in scores])  # (M, T, C)
    if reduce == "mean":
        return stack.mean(axis=0, dtype=np.float64).astype(np.float32)
    if reduce == "max":
        return stack.max(axis=0)
    raise ValueError(f"unknown reduce {reduce!r} (expected 'mean' or 'max')")


def ensemble_dirs(
    raw_dirs: Sequence[str | Path], out_dir: str | Path, reduce: Reduce = "mean"
) -> list[str]:
    """Combine the raw scores of every game found in all of ``raw_dirs`` into ``out_dir``.

    Returns:
        The games written.

    Raises:
        ValueError: If the folders do not hold the same games or a game's halves differ in length.
    """
    games = [find_raw_games(d) for d in raw_dirs]
    for d, g in zip(raw_dirs[1:], games[1:], strict=True):
        if g != games[0]:
            extra = sorted(set(g) ^ set(games[0]))
            raise ValueError(f"{d}: not the same games as {raw_dirs[0]} (differ: {extra[:3]})")
    for game in games[0]:
        per_model = [read_raw_game(d, game) for d in raw_dirs]
        try:
            combined = {h: combine_scores([m[h] for m in per_model], reduce) for h in (1, 2)}
        except ValueError as err:
            raise ValueError(f"{game}: {err}") from err
        write_raw_game(out_dir, game, combined)
    return games[0]
