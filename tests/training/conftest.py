"""A tiny spotting dataset without videos: a games table, 2 fps frame stores, labels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from comedian.data.frames import write_store
from comedian.data.games import games_table, write_games_table
from comedian.data.soccernet import format_game_time

#: One train game, one valid game, one test game; halves of 150 rows (75 s) and 141 rows.
GAMES = [
    ("train", "league/2015-2016/2015-01-01 - 20-00 A 1 - 0 B"),
    ("valid", "league/2015-2016/2015-01-02 - 20-00 C 0 - 0 D"),
    ("test", "league/2015-2016/2015-01-03 - 20-00 E 2 - 1 F"),
]
ROWS = {1: 150, 2: 141}
SIZE = 16


def tiny_labels(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    annotations = []
    for half, rows in ROWS.items():
        for pos_ms in sorted(rng.integers(0, rows * 500, size=6)):
            annotations.append(
                {
                    "gameTime": format_game_time(half, int(pos_ms)),
                    "label": ["Goal", "Corner", "Foul"][int(rng.integers(0, 3))],
                    "position": str(int(pos_ms)),
                    "team": "home",
                    "visibility": "visible",
                }
            )
    return {"UrlLocal": "", "annotations": annotations}


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_tiny_dataset(tmp_path_factory.mktemp("tiny spotting"))


def write_tiny_dataset(root: Path) -> dict[str, Path]:
    """Write the games table, frame stores and labels of :data:`GAMES` under ``root``."""
    data, frames = root / "data", root / "results" / "decode" / "2fps"
    table = games_table([(split, path) for split, path in GAMES])
    write_games_table(table, root / "games.tsv")
    rng = np.random.default_rng(0)
    for i, (slug, path) in enumerate(zip(table["slug"], table["path"], strict=True)):
        (data / path).mkdir(parents=True)
        (data / path / "Labels-v2.json").write_text(json.dumps(tiny_labels(i)))
        for half, rows in ROWS.items():
            pixels = rng.integers(0, 256, size=(rows, SIZE, SIZE, 3), dtype=np.uint8)
            write_store(
                frames / slug / f"{half}.frames",
                [pixels],
                fps=2.0,
                num_frames=rows,
                frame_size=(SIZE, SIZE),
                duration_s=rows / 2,
            )
    return {"root": root, "games": root / "games.tsv", "frames": frames, "labels": data}


#: A ViViT small enough for a CPU step in well under a second.
TINY_MODEL = {
    "img_size": 16,
    "patch_size": 8,
    "embed_dim": 16,
    "depth": 1,
    "num_heads": 2,
    "temporal_depth": 1,
    "temporal_num_heads": 2,
}


def stage_args(ds: dict[str, Path], out: Path, *extra: str) -> list[str]:
    return [
        "--games",
        str(ds["games"]),
        "--frames",
        str(ds["frames"]),
        "--labels",
        str(ds["labels"]),
        "--out",
        str(out),
        "--set",
        f"model={json.dumps(TINY_MODEL)}",
        "--batch-size",
        "2",
        "--num-workers",
        "0",
        "--random-windows",
        "1",
        *extra,
    ]
