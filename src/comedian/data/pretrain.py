"""Datasets of the pretraining stages on frame stores (method.md §2, §3, §5).

Usage:
    halves = split_halves(games_table, "train", frames_dir)             # comedian.data.halves
    stores = [h.store for h in halves]                                  # 2 fps stores
    ssl = SslPairs(stores)                                              # §2: key (half, second)
    sampler = ShuffledKeys(ssl_keys([s.num_frames for s in stores]), seed=0)
    teacher = TeacherWindows(stores4, n4, targets4, grid_fps=4)         # §3: key (half, centre)
    sampler = DrawnKeys(teacher_draw(n4, num_windows=100), seed=0)      # 100 windows a half
    distill = DistillClips(stores, banks)                               # §5: key (half, start)
    sampler = DrawnKeys(distill_draw([s.num_frames for s in stores], 38, 128), seed=0)

Every dataset is keyed by ``(half index, position)`` and reads only what its key needs (random
access into the JPEG stores); the samplers (:mod:`comedian.data.samplers`) choose the keys. Frames
stay uint8: augmentation runs on the batch, on the device (:mod:`comedian.data.transforms`). The
index math (which frames, which rows) is :mod:`comedian.data.windows`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from comedian.data.frames import FrameStore
from comedian.data.samplers import Key
from comedian.data.soccernet import NUM_CLASSES
from comedian.data.spotting import read_clip
from comedian.data.windows import GRID_FPS, align_teacher, teacher_window_frames


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
    keys the centre frames of the 4 fps store (``grid_fps=fps``,
    :func:`comedian.data.samplers.teacher_draw`).

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
            np.zeros(NUM_CLASSES, np.float32)
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

