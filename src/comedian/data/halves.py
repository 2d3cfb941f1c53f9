"""The halves of a split: one record a half, with the stores, labels and features a stage asks for.

Usage:
    halves = split_halves(games, "train", "results/decode/2fps", "data/synthetic")   # + labels
    halves = split_halves(games, "train", frames, labels, frames4="results/decode/4fps", fps4=4)
    halves = split_halves(games, "train", frames, features="results/pca/features")
    store = open_store("results/decode/4fps/<game>/1.frames", fps=4)

Every half of a split is listed in games table order, half 1 then half 2 of each game
(:data:`comedian.data.soccernet.HALVES`); its 2 fps frame store is always opened (its frames are
the rows of every grid, method.md §0) and checked. Options add the game's labels (the half's
events and 2 fps frame targets, method.md §1), the teacher's frame store (§3) and the teacher's
PCA features (§5, one row per 2 fps row). Every problem is an error naming the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from comedian.data.frames import FrameStore
from comedian.data.games import read_games_table
from comedian.data.labels import frame_targets, read_labels
from comedian.data.soccernet import HALVES, LABELS_NAME, NUM_CLASSES
from comedian.data.windows import GRID_FPS
from comedian.guards import join_inside
from comedian.paths import BANK_IN_DIR, STORE_IN_DIR


@dataclass(frozen=True)
class Half:
    """One half of a game.

    Attributes:
        store: The 2 fps frame store: row r of the half is its frame r, at r / 2 s.
        targets: uint8 (num_rows, 17) frame targets (all zeros for a game without labels), or
            None where no labels were asked for.
        game: The game's path (``league/season/game``), for writing results.
        half: 1 or 2.
        slug: The game's slug in the games table ("" for a half outside one).
        events: This half's events (:func:`comedian.data.labels.read_labels` rows), or None.
        store4: The teacher's frame store (4 fps), or None.
        features: The teacher's PCA features (num_rows, D) (a memory map), or None.
        features_path: The file of ``features``.
    """

    store: FrameStore
    targets: np.ndarray | None = None
    game: str = ""
    half: int = 1
    slug: str = ""
    events: pd.DataFrame | None = None
    store4: FrameStore | None = None
    features: np.ndarray | None = None
    features_path: Path | None = None

    @property
    def num_rows(self) -> int:
        return self.store.num_frames


def open_store(path: str | Path, fps: float) -> FrameStore:
    """Open a frame store, checking its rate (the error names the file)."""
    store = FrameStore(path)
    if store.fps != fps:
        raise ValueError(f"{store.path}: expected a {fps:g} fps store, this one is {store.fps:g} fps")
    return store


def split_halves(
    games_table: str | Path,
    split: str,
    frames: str | Path,
    labels_root: str | Path | None = None,
    *,
    require_labels: bool = True,
    frames4: str | Path | None = None,
    fps4: int = 4,
    features: str | Path | None = None,
) -> list[Half]:
    """Both halves of every game of ``split`` (games table order), with what is asked for.

    Args:
        games_table: The games table (``results/games/games.tsv``).
        split: train, valid, test or challenge.
        frames: The 2 fps stores folder (``results/decode/2fps``: ``<slug>/<half>.frames``).
        labels_root: The dataset root holding ``<game path>/Labels-v2.json``: each half gets its
            events and frame targets. None: no labels (``events`` and ``targets`` None).
        require_labels: Raise naming the file when a game has no labels (training); else such
            a game gets no events and zero targets (challenge inference).
        frames4: The teacher's stores folder (``results/decode/4fps``), checked to be ``fps4``.
        fps4: Rate of the teacher's stores.
        features: The teacher features folder (``results/pca/features``: ``<slug>/<half>.npy``),
            one row per 2 fps row, the same width for every half.

    Returns:
        One :class:`Half` per half of the split.
    """
    table = read_games_table(games_table)
    rows = table[table["split"] == split]
    if rows.empty:
        raise ValueError(f"{games_table}: no game in split {split!r}")
    out: list[Half] = []
    for slug, game in zip(rows["slug"], rows["path"], strict=True):
        table_events = None
        if labels_root is not None:
            game_dir = join_inside(labels_root, game, source=f"{games_table}: game")
            table_events = _game_labels(game_dir / LABELS_NAME, game, require_labels)
        for half in HALVES:
            store = open_store(Path(frames) / STORE_IN_DIR.format(game=slug, half=half), GRID_FPS)
            events, targets = None, None
            if labels_root is not None:
                targets = np.zeros((store.num_frames, NUM_CLASSES), dtype=np.uint8)
            if table_events is not None:
                events = table_events[table_events["half"] == half]
                targets = frame_targets(
                    events["position_ms"].to_numpy(),
                    events["class_index"].to_numpy(),
                    num_frames=store.num_frames,
                    fps=float(GRID_FPS),
                )
            store4 = None
            if frames4 is not None:
                store4 = open_store(Path(frames4) / STORE_IN_DIR.format(game=slug, half=half), fps4)
            bank, bank_path = None, None
            if features is not None:
                bank_path = Path(features) / BANK_IN_DIR.format(game=slug, half=half)
                first = out[0].features if out else None
                bank = _read_bank(bank_path, slug, half, store, first)
            out.append(
                Half(store, targets, game, half, slug, events, store4, bank, bank_path)
            )
    return out


def _game_labels(path: Path, game: str, required: bool) -> pd.DataFrame | None:
    """The events of a game's labels file; None when it has none and none are required."""
    if not path.is_file():
        if required:
            raise FileNotFoundError(f"{path}: no labels for game {game!r}")
        return None
    return read_labels(path)


def _read_bank(
    path: Path, slug: str, half: int, store: FrameStore, first: np.ndarray | None
) -> np.ndarray:
    """One half's teacher features: a row per row of its 2 fps store, the first half's width."""
    from comedian.data.pca import PcaError, read_features  # sklearn: only where features are read

    bank = read_features(path, half=f"half {half} of {slug}")
    if len(bank) != store.num_frames:
        raise PcaError(
            f"{path}: features of half {half} of {slug} have {len(bank)} rows, its frame "
            f"store {store.path} has {store.num_frames}"
        )
    if first is not None and bank.shape[1] != first.shape[1]:
        raise PcaError(
            f"{path}: features of half {half} of {slug} have {bank.shape[1]} dims, "
            f"the first half's have {first.shape[1]}"
        )
    return bank
