"""Spotting clips on frame stores: 64 s windows, per-token targets, the train and inference samplers.

Usage:
    halves = load_halves(stores, labels)                # one SpottingHalf per half
    dataset = SpottingClips(halves)                     # dataset[(half, start_row)]
    sampler = TrainWindowSampler([h.num_rows for h in halves], seed=0)   # method.md §6
    loader = DataLoader(dataset, batch_size=64, sampler=sampler, num_workers=8)
    keys = inference_keys([h.num_rows for h in halves])                  # method.md §7

Grid: row r of a half is its 2 fps frame r, at time r / 2 s (method.md §0). A clip starting at row
s holds frames s .. s + 127 (64 s); token j covers rows s + 2j and s + 2j + 1 and is positive for a
class when either frame is (method.md §1). A clip may start on an odd row (the train sampler's
edge window [d - 64, d) and its random windows live on the 0.5 s grid), so token targets are
computed per clip from the clip's own first row, never from a fixed pairing of the half's rows.
Frames past a half's end are the last frame repeated, with zero targets.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from comedian.data.frames import FrameStore
from comedian.data.games import read_games_table
from comedian.data.labels import frame_targets, read_labels
from comedian.data.soccernet import HALVES, LABELS_NAME
from comedian.guards import join_inside
from comedian.paths import STORE_IN_DIR
from comedian.spotting.merge import ROWS_PER_TOKEN, WINDOW_TOKENS, window_starts

#: Frames (rows) of one 64 s clip at 2 fps.
CLIP_ROWS = WINDOW_TOKENS * ROWS_PER_TOKEN


@dataclass(frozen=True)
class SpottingHalf:
    """One half: its frame store, its 2 fps frame targets and its game path.

    Attributes:
        store: The 2 fps frame store.
        targets: uint8 (num_rows, 17) frame targets (all zeros for unlabelled games).
        game: The game's path (``league/season/game``), for writing results.
        half: 1 or 2.
    """

    store: FrameStore
    targets: np.ndarray
    game: str = ""
    half: int = 1

    @property
    def num_rows(self) -> int:
        return self.store.num_frames


def load_halves(
    stores: Sequence[str | Path],
    labels: Sequence[str | Path | None],
    games: Sequence[str] | None = None,
    halves: Sequence[int] | None = None,
) -> list[SpottingHalf]:
    """Open each half's store and compute its frame targets from the game's ``Labels-v2.json``.

    Args:
        stores: 2 fps frame stores, one per half.
        labels: The labels file of each store's game (None: no labels, zero targets).
        games: Game path of each half (for results); default "".
        halves: Half number of each store; default 1.

    Returns:
        One :class:`SpottingHalf` per store, in order.
    """
    if len(labels) != len(stores):
        raise ValueError(f"{len(stores)} stores but {len(labels)} labels files")
    cache: dict[Path, object] = {}
    out = []
    for i, (store_path, label_path) in enumerate(zip(stores, labels, strict=True)):
        store = FrameStore(store_path)
        half = 1 if halves is None else int(halves[i])
        if store.fps != 2:
            raise ValueError(f"{store_path}: spotting needs a 2 fps store, this one is {store.fps}")
        targets = np.zeros((store.num_frames, 17), dtype=np.uint8)
        if label_path is not None:
            path = Path(label_path)
            if path not in cache:
                cache[path] = read_labels(path)
            table = cache[path]
            events = table[table["half"] == half]  # type: ignore[index]
            targets = frame_targets(
                events["position_ms"].to_numpy(),
                events["class_index"].to_numpy(),
                num_frames=store.num_frames,
                fps=2.0,
            )
        out.append(SpottingHalf(store, targets, "" if games is None else games[i], half))
    return out


def split_halves(
    games_table: str | Path,
    split: str,
    frames_dir: str | Path,
    labels_root: str | Path | None,
    *,
    require_labels: bool = True,
) -> list[SpottingHalf]:
    """Both halves of every game of ``split`` (games table order), targets from their labels.

    Args:
        games_table: The games table (``results/games/games.tsv``).
        split: train, valid, test or challenge.
        frames_dir: The 2 fps stores folder (``results/decode/2fps``: ``<slug>/<half>.frames``).
        labels_root: The dataset root holding ``<game path>/Labels-v2.json``.
        require_labels: Raise naming the file when a game has no labels (training); else such
            a game gets zero targets (challenge inference).
    """
    table = read_games_table(games_table)
    rows = table[table["split"] == split]
    if rows.empty:
        raise ValueError(f"{games_table}: no game in split {split!r}")
    stores, labels, games, halves = [], [], [], []
    for slug, game in zip(rows["slug"], rows["path"], strict=True):
        label_path = (
            None
            if labels_root is None
            else join_inside(labels_root, game, source=f"{games_table}: game") / LABELS_NAME
        )
        if label_path is not None and not label_path.is_file():
            if require_labels:
                raise FileNotFoundError(f"{label_path}: no labels for game {game!r}")
            label_path = None
        for half in HALVES:
            stores.append(Path(frames_dir) / STORE_IN_DIR.format(game=slug, half=half))
            labels.append(label_path)
            games.append(game)
            halves.append(half)
    return load_halves(stores, labels, games, halves)


def clip_token_targets(targets: np.ndarray, start: int, clip_rows: int = CLIP_ROWS) -> np.ndarray:
    """Per-token targets of the clip starting at row ``start`` (any parity).

    Token j is the OR of rows start + 2j and start + 2j + 1; rows past the half are negative.

    Shapes:
        targets: (num_rows, C) -> (clip_rows / 2, C) float32
    """
    rows = start + np.arange(clip_rows)
    inside = rows < len(targets)
    frames = np.zeros((clip_rows, targets.shape[1]), dtype=np.uint8)
    frames[inside] = targets[rows[inside]]
    return frames.reshape(-1, ROWS_PER_TOKEN, targets.shape[1]).max(axis=1).astype(np.float32)


def read_clip(store: FrameStore, start: int, clip_rows: int = CLIP_ROWS) -> np.ndarray:
    """Frames start .. start + clip_rows - 1, the last frame repeated past the half's end.

    Shapes:
        -> uint8 (clip_rows, H, W, 3)
    """
    n = store.num_frames
    if not 0 <= start < n:
        raise IndexError(f"{store.path}: clip start {start} outside 0..{n - 1}")
    end = min(start + clip_rows, n)
    frames = store.read(start, end)
    if end - start < clip_rows:
        pad = np.repeat(frames[-1:], clip_rows - (end - start), axis=0)
        frames = np.concatenate([frames, pad], axis=0)
    return frames


class SpottingClips(Dataset):
    """Clips keyed by ``(half index, start row)``; the sampler chooses the keys.

    Items: ``{"frames": uint8 (128, H, W, 3), "targets": float32 (64, 17), "half": int,
    "start": int}``. Frames are augmented later, on the batch (:mod:`comedian.data.transforms`).
    """

    def __init__(self, halves: Sequence[SpottingHalf], clip_rows: int = CLIP_ROWS) -> None:
        self.halves = list(halves)
        self.clip_rows = clip_rows

    def __len__(self) -> int:  # a map-style dataset keyed by the sampler; no natural length
        return sum(h.num_rows for h in self.halves)

    def __getitem__(self, key: tuple[int, int]) -> dict[str, object]:
        i, start = int(key[0]), int(key[1])
        h = self.halves[i]
        return {
            "frames": torch.from_numpy(read_clip(h.store, start, self.clip_rows)),
            "targets": torch.from_numpy(clip_token_targets(h.targets, start, self.clip_rows)),
            "half": i,
            "start": start,
        }


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


def _shard(keys: list[tuple[int, int]], rank: int, world: int, pad: bool) -> list[tuple[int, int]]:
    """Rank ``rank``'s share of ``keys`` (strided); padded by repetition to equal sizes."""
    if world == 1:
        return keys
    if pad and keys:
        per_rank = -(-len(keys) // world)
        keys = keys + keys[: per_rank * world - len(keys)]
    return keys[rank::world]


def _dist_info(rank: int | None, world: int | None) -> tuple[int, int]:
    if rank is not None and world is not None:
        return rank, world
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


class _Sharded:
    """Rank and world size of a sampler, read from torch.distributed when first iterated,
    and the position a resumed run starts from.

    A stage builds its samplers before ``trainer.fit`` starts the process group; reading the
    rank at construction would give every DDP rank ``(0, 1)``, i.e. all of the data, so
    explicit values are kept and missing ones are looked up at use.

    Resume: :meth:`resume_at` sets the epoch and a number of this rank's keys to skip; the
    next iteration starts past them (then the skip is spent): a run resumed from a checkpoint
    taken mid-epoch sees the keys the interrupted run would have seen next.
    """

    _rank: int | None
    _world_size: int | None
    epoch: int
    _skip: int = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def resume_at(self, epoch: int, skip: int) -> None:
        """Start the next iteration at epoch ``epoch``, past this rank's first ``skip`` keys."""
        if epoch < 0 or skip < 0:
            raise ValueError(f"resume position must be >= 0, got epoch {epoch}, skip {skip}")
        self.epoch = int(epoch)
        self._skip = int(skip)

    def _resumed(self, keys: list[tuple[int, int]]) -> Iterator[tuple[int, int]]:
        skip, self._skip = self._skip, 0
        return iter(keys[skip:])

    @property
    def rank(self) -> int:
        return _dist_info(self._rank, self._world_size)[0]

    @property
    def world_size(self) -> int:
        return _dist_info(self._rank, self._world_size)[1]


class TrainWindowSampler(_Sharded, Sampler[tuple[int, int]]):
    """Method.md §6's training clips of every half, redrawn and reshuffled every epoch.

    The draw depends only on ``(seed, epoch)``, so every DDP rank builds the same epoch and takes
    its own strided share (padded so that all ranks run the same number of steps). Lightning
    calls :meth:`set_epoch` before each epoch.

    Args:
        num_rows: Rows of each half.
        random_windows: Random windows per half (23 in the paper).
        seed: Base seed.
        rank: This process's rank (default: from torch.distributed when iterated, else 0).
        world_size: Number of processes (default: from torch.distributed when iterated,
            else 1).
    """

    def __init__(
        self,
        num_rows: Sequence[int],
        random_windows: int = 23,
        seed: int = 0,
        rank: int | None = None,
        world_size: int | None = None,
        clip_rows: int = CLIP_ROWS,
    ) -> None:
        self.num_rows = [int(n) for n in num_rows]
        self.random_windows = random_windows
        self.seed = seed
        self._rank, self._world_size = rank, world_size
        self.clip_rows = clip_rows
        self.epoch = 0

    def epoch_keys(self) -> list[tuple[int, int]]:
        """Every rank's keys of the current epoch, shuffled (before sharding)."""
        rng = np.random.default_rng([self.seed, self.epoch])
        keys = [
            (i, int(s))
            for i, n in enumerate(self.num_rows)
            for s in train_window_starts(n, rng, self.random_windows, self.clip_rows)
        ]
        order = rng.permutation(len(keys))
        return [keys[j] for j in order]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return self._resumed(_shard(self.epoch_keys(), self.rank, self.world_size, pad=True))

    def __len__(self) -> int:
        total = sum(
            len(
                train_window_starts(
                    n, np.random.default_rng(0), self.random_windows, self.clip_rows
                )
            )
            for n in self.num_rows
        )
        return -(-total // self.world_size)


def inference_keys(num_rows: Sequence[int]) -> list[tuple[int, int]]:
    """``(half index, start row)`` of every sliding inference window (method.md §7)."""
    return [(i, int(s)) for i, n in enumerate(num_rows) for s in window_starts(int(n))]


class KeySampler(_Sharded, Sampler[tuple[int, int]]):
    """A fixed list of keys in order; under DDP each rank takes a strided share, unpadded
    (inference results are gathered by key, so no rank may see a key twice)."""

    def __init__(
        self,
        keys: Sequence[tuple[int, int]],
        rank: int | None = None,
        world_size: int | None = None,
    ) -> None:
        self.keys = list(keys)
        self._rank, self._world_size = rank, world_size

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return iter(_shard(self.keys, self.rank, self.world_size, pad=False))

    def __len__(self) -> int:
        return len(self.keys[self.rank :: self.world_size])


def collate_clips(items: Sequence[Mapping[str, object]]) -> dict[str, torch.Tensor]:
    """Stack clips: frames uint8 (B, 128, H, W, 3), targets (B, 64, 17), half (B,), start (B,)."""
    return {
        "frames": torch.stack([it["frames"] for it in items]),  # type: ignore[misc]
        "targets": torch.stack([it["targets"] for it in items]),  # type: ignore[misc]
        "half": torch.tensor([it["half"] for it in items], dtype=torch.long),
        "start": torch.tensor([it["start"] for it in items], dtype=torch.long),
    }
