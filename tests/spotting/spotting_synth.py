"""Small synthetic label trees and raw scores whose peaks sit near the events.

Usage:
    games = write_tree(tmp_path / "labels", tmp_path / "raw", rng, num_games=3)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from comedian.data.soccernet import CLASSES, LABELS_NAME, NUM_CLASSES, format_game_time
from comedian.spotting.scores import write_raw_game


def game_path(i: int) -> str:
    return f"england_epl/2014-2015/2015-02-2{i} - 18-00 Chelsea {i} - 1 Burnley's"


def write_tree(
    labels_root: Path, raw_root: Path, rng: np.random.Generator, num_games: int, rows: int = 400
) -> list[str]:
    """Write ``num_games`` games: Labels-v2.json and raw scores (halves of ~``rows`` rows)."""
    games = []
    for i in range(num_games):
        game = game_path(i)
        annotations, scores = [], {}
        for half in (1, 2):
            length = rows + int(rng.integers(-20, 20))
            x = rng.random((length, NUM_CLASSES)).astype(np.float32) * 0.05
            for _ in range(int(rng.integers(3, 15))):
                c = int(rng.integers(0, NUM_CLASSES))
                ms = int(rng.integers(0, length * 500))
                vis = "not shown" if rng.random() < 0.2 else "visible"
                annotations.append(
                    {
                        "gameTime": format_game_time(half, ms),
                        "label": CLASSES[c],
                        "position": str(ms),
                        "team": "away",
                        "visibility": vis,
                    }
                )
                row = min(length - 1, ms // 500 + int(rng.integers(-4, 5)))
                lo, hi = max(0, row - 3), min(length, row + 4)
                x[lo:hi, c] = np.maximum(x[lo:hi, c], rng.uniform(0.3, 1.0, hi - lo))
            scores[half] = x
        (labels_root / game).mkdir(parents=True, exist_ok=True)
        (labels_root / game / LABELS_NAME).write_text(
            json.dumps({"UrlLocal": game, "annotations": annotations})
        )
        write_raw_game(raw_root, game, scores)
        games.append(game)
    return games
