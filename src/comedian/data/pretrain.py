"""Datasets and samplers of the pretraining stages on frame stores (method.md §2, §3, §5).

Usage:
    halves = split_stores(games_table, "train", frames_dir)              # 2 fps stores
    ssl = SslPairs(halves)                                               # §2: key (half, second)
    sampler = ShuffledKeys(ssl_keys([h.num_frames for h in halves]), seed=0)
    teacher = TeacherWindows(stores4, n4, targets4, grid_fps=4)          # §3: key (half, centre)
    sampler = DrawnKeys(teacher_draw(n4, num_windows=100), seed=0)       # 100 windows a half
    distill = DistillClips(halves, banks)                                # §5: key (half, start)
    sampler = DistillSampler([h.num_frames for h in halves], num_windows=38, seed=0)

Every dataset is keyed by ``(half index, position)`` and reads only what its key needs (random
access into the JPEG stores); the samplers draw an epoch's keys from ``(seed, epoch)`` alone, so
every DDP rank builds the same list and takes its own strided share (Lightning calls
``set_epoch``). Frames stay uint8: augmentation runs on the batch, on the device
(:mod:`comedian.data.transforms`). The index math (which frames, which rows) is
:mod:`comedian.data.windows`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from comedian.data.frames import FrameStore
from comedian.data.games import read_games_table
from comedian.data.soccernet import HALVES
from comedian.data.spotting import _shard, _Sharded, read_clip
from comedian.data.windows import (
    GRID_FPS,
    align_teacher,
    distill_window_starts,
    ssl_frame_pairs,
    teacher_window_centres,
    teacher_window_frames,
)
from comedian.paths import STORE_IN_DIR

Key = tuple[int, int]


def split_half_paths(
    games_table: str | Path, split: str, folder: str | Path, pattern: str = STORE_IN_DIR
) -> list[tuple[str, int, Path]]:
    """``(slug, half, path)`` of both halves of every game of ``split`` (games table order).

    Args:
        games_table: The games table.
        split: The split.
        folder: Folder holding ``pattern`` (``{game}`` is the slug, ``{half}`` 1 or 2).
        pattern: File pattern inside ``folder``.
    """
    table = read_games_table(games_table)
    rows = table[table["split"] == split]
    if rows.empty:
        raise ValueError(f"{games_table}: no game in split {split!r}")
    return [
        (slug, half, Path(folder) / pattern.format(game=slug, half=half))
        for slug in rows["slug"]
        for half in HALVES
    ]


def open_stores(paths: Sequence[Path], fps: float) -> list[FrameStore]:
    """Open frame stores, checking their rate (the error names the file)."""
    stores = [FrameStore(p) for p in paths]
    for s in stores:
        if s.fps != fps:
            raise ValueError(f"{s.path}: expected a {fps:g} fps store, this one is {s.fps:g} fps")
    return stores


# --- samplers -------------------------------------------------------------------------------


class ShuffledKeys(_Sharded, Sampler[Key]):
    """A fixed set of keys, reshuffled every epoch from ``(seed, epoch)``, sharded over ranks.

    Args:
        keys: All keys of an epoch.
        seed: Base seed.
        rank: This process's rank (default: from torch.distributed when iterated, else 0).
        world_size: Number of processes (default: from torch.distributed when iterated,
            else 1).
    """

    def __init__(
        self,
        keys: Sequence[Key],
        seed: int = 0,
        rank: int | None = None,
        world_size: int | None = None,
    ) -> None:
        self.keys = list(keys)
        if not self.keys:
            raise ValueError("a sampler needs at least one key")
        self.seed = seed
        self._rank, self._world_size = rank, world_size
        self.epoch = 0

    def epoch_keys(self) -> list[Key]:
        """Every rank's keys of the current epoch, shuffled (before sharding)."""
        order = np.random.default_rng([self.seed, self.epoch]).permutation(len(self.keys))
        return [self.keys[j] for j in order]

    def __iter__(self) -> Iterator[Key]:
        return self._resumed(_shard(self.epoch_keys(), self.rank, self.world_size, pad=True))

    def __len__(self) -> int:
        return -(-len(self.keys) // self.world_size)


class DrawnKeys(ShuffledKeys):
    """Keys redrawn every epoch by ``draw(rng)`` (a fixed count), shuffled and sharded."""

    def __init__(
        self,
        draw: Callable[[np.random.Generator], list[Key]],
        seed: int = 0,
        rank: int | None = None,
        world_size: int | None = None,
    ) -> None:
        self.draw = draw
        super().__init__(draw(np.random.default_rng([seed, 0])), seed, rank, world_size)

    def epoch_keys(self) -> list[Key]:
        rng = np.random.default_rng([self.seed, self.epoch])
        keys = self.draw(rng)
        return [keys[j] for j in rng.permutation(len(keys))]


def ssl_keys(num_frames: Sequence[int]) -> list[Key]:
    """§2: every second of every half, ``(half index, second)``."""
    return [(i, s) for i, n in enumerate(num_frames) for s in range(len(ssl_frame_pairs(int(n))))]


def teacher_draw(
    num_frames: Sequence[int], num_windows: int = 100, window_frames: int = 16
) -> Callable[[np.random.Generator], list[Key]]:
    """§3 fine-tuning windows: per half ``num_windows`` non-overlapping 4 s windows (the two
    edges and random ones, as many as fit), redrawn each epoch; keys are
    ``(half index, centre frame of the 4 fps store)``
    (:func:`comedian.data.windows.teacher_window_centres`)."""
    if num_windows < 1:
        raise ValueError(f"teacher windows per half must be >= 1, got {num_windows}")

    def draw(rng: np.random.Generator) -> list[Key]:
        return [
            (i, int(c))
            for i, n in enumerate(num_frames)
            for c in teacher_window_centres(
                int(n), rng, num_windows=num_windows, window_frames=window_frames
            )
        ]

    return draw


def distill_draw(
    num_rows: Sequence[int], num_windows: int, window_rows: int
) -> Callable[[np.random.Generator], list[Key]]:
    """§5: ``num_windows`` jittered non-overlapping windows per half, redrawn each epoch."""

    def draw(rng: np.random.Generator) -> list[Key]:
        return [
            (i, int(s))
            for i, n in enumerate(num_rows)
            for s in distill_window_starts(
                int(n), rng, num_windows=num_windows, window_rows=window_rows
            )
        ]

    return draw


# --- datasets -------------------------------------------------------------------------------


class SslPairs(Dataset):
    """§2 samples: second s of a half is its 2 fps frames (2s, 2s + 1).

    Items: ``{"frames": uint8 (2, H, W, 3)}``; both views are augmented from it on the batch.
    """

    def __init__(self, stores: Sequence[FrameStore]) -> None:
        self.stores = list(stores)

    def __len__(self) -> int:
        return sum(s.num_frames // 2 for s in self.stores)

    def __getitem__(self, key: Key) -> dict[str, torch.Tensor]:
        i, second = int(key[0]), int(key[1])
        return {"frames": torch.from_numpy(self.stores[i].read(2 * second, 2 * second + 2))}


class TeacherWindows(Dataset):
    """§3 windows: row k of a half is the 4 s window centred on k / grid_fps s, read from the
    4 fps store (edge frames replicated), with the label of its middle time.

    Extraction keys the rows of the 2 fps grid (``grid_fps=2``, one feature per row); training
    keys the centre frames of the 4 fps store (``grid_fps=fps``, :func:`teacher_draw`).

    Args:
        stores: 4 fps stores, one per half.
        num_rows: Rows of each half's grid (its 2 fps store's frame count for ``grid_fps=2``,
            its 4 fps store's for ``grid_fps=4``).
        targets: Per-row uint8 (num_rows, 17) labels of each half
            (:func:`comedian.data.windows.teacher_targets` on the same grid), or None
            (extraction: no labels).
        fps: Rate of the teacher stores.
        window_s: Window length in seconds.
        grid_fps: Rate of the rows' grid.

    Items: ``{"frames": uint8 (fps * window_s, H, W, 3), "targets": float32 (17,), "half",
    "row"}``.
    """

    def __init__(
        self,
        stores: Sequence[FrameStore],
        num_rows: Sequence[int],
        targets: Sequence[np.ndarray] | None = None,
        *,
        fps: int = 4,
        window_s: float = 4.0,
        grid_fps: int = GRID_FPS,
    ) -> None:
        if len(num_rows) != len(stores) or (targets is not None and len(targets) != len(stores)):
            raise ValueError("teacher windows: one row count (and label array) per store")
        self.stores = list(stores)
        self.num_rows = [int(n) for n in num_rows]
        self.targets = None if targets is None else list(targets)
        self.fps = fps
        self.window_s = window_s
        self.grid_fps = grid_fps

    def __len__(self) -> int:
        return sum(self.num_rows)

    def frames(self, i: int, rows: np.ndarray) -> np.ndarray:
        """The windows of ``rows`` of half ``i``, reading the covered frame range once.

        Shapes:
            rows: (R,) -> uint8 (R, L, H, W, 3)
        """
        idx = teacher_window_frames(
            rows,
            self.stores[i].num_frames,
            fps=self.fps,
            window_s=self.window_s,
            grid_fps=self.grid_fps,
        )
        lo, hi = int(idx.min()), int(idx.max()) + 1
        span = self.stores[i].read(lo, hi)  # (hi - lo, H, W, 3): windows of nearby rows overlap
        return span[idx - lo]

    def __getitem__(self, key: Key) -> dict[str, object]:
        i, row = int(key[0]), int(key[1])
        if not 0 <= row < self.num_rows[i]:
            raise IndexError(f"{self.stores[i].path}: row {row} outside 0..{self.num_rows[i] - 1}")
        frames = self.frames(i, np.array([row]))[0]  # (L, H, W, 3)
        y = (
            np.zeros(17, np.float32)
            if self.targets is None
            else self.targets[i][row].astype(np.float32)
        )
        return {
            "frames": torch.from_numpy(frames),
            "targets": torch.from_numpy(y),
            "half": i,
            "row": row,
        }


class DistillClips(Dataset):
    """§5 clips: 64 s of 2 fps frames and the teacher vector of each of its tokens.

    Args:
        stores: 2 fps stores, one per half.
        banks: Each half's PCA-reduced teacher features (num_rows, D), e.g. memory maps.
        clip_rows: Frames per clip (128).
        align: Teacher alignment mode, "start" or "mean"
            (:func:`comedian.data.windows.distill_teacher_rows`).

    Items: ``{"frames": uint8 (clip_rows, H, W, 3), "teacher": float32 (clip_rows / 2, D),
    "half", "start"}``.
    """

    def __init__(
        self,
        stores: Sequence[FrameStore],
        banks: Sequence[np.ndarray],
        clip_rows: int = 128,
        align: str = "start",
    ) -> None:
        if len(banks) != len(stores):
            raise ValueError(f"{len(stores)} stores but {len(banks)} teacher banks")
        for s, bank in zip(stores, banks, strict=True):
            if bank.ndim != 2 or bank.shape[0] != s.num_frames:
                raise ValueError(
                    f"{s.path}: {s.num_frames} frames but its teacher bank has shape {bank.shape}"
                )
        self.stores = list(stores)
        self.banks = list(banks)
        self.clip_rows = clip_rows
        self.align = align

    def __len__(self) -> int:
        return sum(s.num_frames for s in self.stores)

    def __getitem__(self, key: Key) -> dict[str, object]:
        i, start = int(key[0]), int(key[1])
        # token j <-> teacher row start + 2j (and + 1 in "mean" mode): §5 Decision
        teacher = align_teacher(self.banks[i], start, self.clip_rows // 2, self.align)  # (T, D)
        return {
            "frames": torch.from_numpy(read_clip(self.stores[i], start, self.clip_rows)),
            "teacher": torch.from_numpy(np.ascontiguousarray(teacher, dtype=np.float32)),
            "half": i,
            "start": start,
        }


def collate(items: Sequence[dict[str, object]]) -> dict[str, torch.Tensor]:
    """Stack tensors and turn int fields into int64 tensors."""
    out: dict[str, torch.Tensor] = {}
    for name, value in items[0].items():
        if torch.is_tensor(value):
            out[name] = torch.stack([it[name] for it in items])  # type: ignore[misc]
        else:
            out[name] = torch.tensor([it[name] for it in items], dtype=torch.long)
    return out


def num_rows_2fps(stores: Sequence[FrameStore]) -> list[int]:
    """Rows of the 2 fps grid of each half = its 2 fps store's frame count (method.md §0)."""
    for s in stores:
        if s.fps != GRID_FPS:
            raise ValueError(f"{s.path}: the row grid needs a {GRID_FPS} fps store, got {s.fps:g}")
    return [s.num_frames for s in stores]
