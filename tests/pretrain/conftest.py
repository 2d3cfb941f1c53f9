"""A tiny dataset written straight to frame stores: games table, 2 and 4 fps stores, labels."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from comedian.data.frames import write_store
from comedian.data.games import games_table, write_games_table

#: Seconds per half, frame size (H, W) of the stores.
HALF_S, SIZE = 20, (16, 16)
GAMES = (
    ("train", "league/2020/g one"),
    ("train", "league/2020/g 'two'"),
    ("valid", "league/2020/g3"),
)
sys.path.insert(0, str(Path(__file__).resolve().parent))  # pretrain_tiny for the tests


def frames(n: int, seed: int) -> np.ndarray:
    """Frames whose brightness follows their index (distinct, smooth, JPEG-friendly)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (1, *SIZE, 3))
    ramp = (np.arange(n) * 7 % 256)[:, None, None, None]
    return ((base + ramp) % 256).astype(np.uint8)


@dataclass(frozen=True)
class TinyData:
    root: Path
    games: Path
    frames2: Path
    frames4: Path
    labels: Path
    slugs: tuple[str, ...]


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> TinyData:
    return write_tiny_data(tmp_path_factory.mktemp("tiny pretrain"))


def write_tiny_data(root: Path) -> TinyData:
    """Games table, 2 and 4 fps stores and labels of 3 games (2 train, 1 valid) under root."""
    table = games_table(GAMES)
    games = root / "games.tsv"
    write_games_table(table, games)
    for g, (slug, path) in enumerate(zip(table["slug"], table["path"], strict=True)):
        for half in (1, 2):
            for fps in (2, 4):
                n = HALF_S * fps
                write_store(
                    root / f"decode/{fps}fps/{slug}/{half}.frames", [frames(n, 10 * g + half)],
                    fps=fps, num_frames=n, frame_size=SIZE, duration_s=HALF_S,
                )  # fmt: skip
        anns = [
            {"gameTime": f"{h} - 00:{s:02d}", "label": lab, "position": str(s * 1000),
             "team": "home", "visibility": "visible"}
            for h, s, lab in ((1, 5, "Goal"), (1, 12, "Corner"), (2, 8, "Foul"))
        ]  # fmt: skip
        (root / "data" / path).mkdir(parents=True)
        (root / "data" / path / "Labels-v2.json").write_text(json.dumps({"annotations": anns}))
    return TinyData(root, games, root / "decode/2fps", root / "decode/4fps", root / "data",
                    tuple(table["slug"]))  # fmt: skip


@pytest.fixture(scope="session")
def chain(tiny_data: TinyData, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pretrain -> teacher -> extract_features -> pca -> distill once on the tiny stores."""
    from pretrain_tiny import run_chain

    out = tmp_path_factory.mktemp("results")
    run_chain(tiny_data, out)
    return out
