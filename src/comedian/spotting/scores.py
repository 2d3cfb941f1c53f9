"""Raw per-half score arrays: what inference writes and NMS, sweeps and ensembles read.

Usage:
    write_raw_game(raw_dir, "england_epl/2014-2015/<game>", {1: scores1, 2: scores2})
    scores = read_raw_game(raw_dir, game)          # {1: (T1, 17) float32, 2: (T2, 17) float32}
    games = find_raw_games(raw_dir)

Layout: ``<dir>/<league>/<season>/<game>/1.npy`` and ``2.npy`` (the real game path, as in
SoccerNet's own results layout). Each is a float32 array (T, 17): row r holds the scores at time
r / 2 s of that half (the 0.5 s grid of method.md section 7), columns in the official class order
(:data:`comedian.data.soccernet.CLASSES`). Scores are sigmoid outputs before NMS, so values outside
[0, 1] are refused (they would mean logits or a corrupt file, and NMS thresholds live in (0, 1]).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from comedian.atomic import atomic_path
from comedian.data.soccernet import HALVES, NUM_CLASSES
from comedian.guards import join_inside

#: File name of each half's raw scores inside a game folder.
RAW_NAMES: dict[int, str] = {1: "1.npy", 2: "2.npy"}


def check_raw_scores(scores: np.ndarray, where: str | Path) -> None:
    """Raise ValueError naming ``where`` unless ``scores`` is float32 (T, 17), T >= 1, in [0, 1]."""
    if not isinstance(scores, np.ndarray) or scores.dtype != np.float32:
        kind = getattr(scores, "dtype", type(scores).__name__)
        raise ValueError(f"{where}: raw scores must be float32, got {kind}")
    if scores.ndim != 2 or scores.shape[1] != NUM_CLASSES or scores.shape[0] < 1:
        raise ValueError(
            f"{where}: raw scores must have shape (T, {NUM_CLASSES}), got {scores.shape}"
        )
    if not np.isfinite(scores).all():
        raise ValueError(f"{where}: raw scores hold NaN or inf values")
    low, high = float(scores.min()), float(scores.max())
    if low < 0 or high > 1:
        raise ValueError(
            f"{where}: raw scores must be sigmoid outputs in [0, 1], got values in [{low}, {high}]"
        )


def write_raw_half(path: str | Path, scores: np.ndarray) -> None:
    """Write one half's scores (checked) atomically."""
    check_raw_scores(scores, path)
    with atomic_path(path) as tmp, tmp.open("wb") as f:
        np.save(f, scores)  # to a file object: np.save would append .npy to the .tmp name


def read_raw_half(path: str | Path) -> np.ndarray:
    """Read one half's scores, checking shape, dtype and values. Shapes: -> (T, 17) float32."""
    path = Path(path)
    try:
        scores = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:  # EOFError: an empty or truncated file
        raise ValueError(f"{path}: cannot read raw scores ({err or type(err).__name__})") from err
    check_raw_scores(scores, path)
    return scores


def write_raw_game(root: str | Path, game: str, scores: Mapping[int, np.ndarray]) -> None:
    """Write ``{1: (T1, 17), 2: (T2, 17)}`` under ``<root>/<game>/``."""
    if set(scores) != set(HALVES):
        raise ValueError(f"{game}: raw scores need halves {HALVES}, got {sorted(scores)}")
    folder = join_inside(root, game, source=f"{root}: game")
    for half, arr in scores.items():
        write_raw_half(folder / RAW_NAMES[half], arr)


def read_raw_game(root: str | Path, game: str) -> dict[int, np.ndarray]:
    """Read both halves of one game. Returns ``{1: (T1, 17), 2: (T2, 17)}`` float32."""
    folder = join_inside(root, game, source=f"{root}: game")
    return {half: read_raw_half(folder / RAW_NAMES[half]) for half in HALVES}


def find_raw_games(root: str | Path) -> list[str]:
    """Every game folder under ``root`` holding raw scores (relative paths, sorted).

    Raises:
        ValueError: If a game folder holds only one of its two halves, or none is found.
    """
    root = Path(root)
    folders = {p.parent for name in RAW_NAMES.values() for p in root.rglob(name)}
    games = []
    for folder in sorted(folders):
        missing = [n for n in RAW_NAMES.values() if not (folder / n).is_file()]
        if missing:
            raise ValueError(f"{folder}: raw scores of a game need {missing} too")
        games.append(folder.relative_to(root).as_posix())
    if not games:
        raise ValueError(f"{root}: no raw scores (<game>/1.npy, 2.npy) found")
    return games
