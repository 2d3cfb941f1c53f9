"""Spotting clips on frame stores: 64 s windows and their per-token targets (method.md §6, §7).

Usage:
    halves = split_halves(games, "train", frames, labels)               # comedian.data.halves
    dataset = SpottingClips(halves)                                     # dataset[(half, start_row)]
    sampler = TrainWindowSampler([h.num_rows for h in halves], seed=0)  # comedian.data.samplers
    loader = DataLoader(dataset, batch_size=64, sampler=sampler, collate_fn=collate_clips)

Grid: row r of a half is its 2 fps frame r, at time r / 2 s (method.md §0). A clip starting at row
s holds frames s .. s + 127 (64 s); token j covers rows s + 2j and s + 2j + 1 and is positive for a
class when either frame is (method.md §1). A clip may start on an odd row (the train sampler's
edge window [d - 64, d) and its random windows live on the 0.5 s grid), so token targets are
computed per clip from the clip's own first row, never from a fixed pairing of the half's rows.
Frames past a half's end are the last frame repeated, with zero targets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from comedian.data.frames import FrameStore
from comedian.data.halves import Half
from comedian.data.soccernet import NUM_CLASSES
from comedian.data.windows import CLIP_ROWS, ROWS_PER_TOKEN


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
    "start": int}``; the targets are zeros for a half without them. Frames are augmented later,
    on the batch (:mod:`comedian.data.transforms`).
    """

    def __init__(self, halves: Sequence[Half], clip_rows: int = CLIP_ROWS) -> None:
        self.halves = list(halves)
        self.clip_rows = clip_rows

    def __len__(self) -> int:  # a map-style dataset keyed by the sampler; no natural length
        return sum(h.num_rows for h in self.halves)

    def __getitem__(self, key: tuple[int, int]) -> dict[str, object]:
        i, start = int(key[0]), int(key[1])
        h = self.halves[i]
        targets = (
            np.zeros((self.clip_rows // ROWS_PER_TOKEN, NUM_CLASSES), dtype=np.float32)
            if h.targets is None
            else clip_token_targets(h.targets, start, self.clip_rows)
        )
        return {
            "frames": torch.from_numpy(read_clip(h.store, start, self.clip_rows)),
            "targets": torch.from_numpy(targets),
            "half": i,
            "start": start,
        }


def collate_clips(items: Sequence[Mapping[str, object]]) -> dict[str, torch.Tensor]:
    """Stack clips: frames uint8 (B, 128, H, W, 3), targets (B, 64, 17), half (B,), start (B,)."""
    return {
        "frames": torch.stack([it["frames"] for it in items]),  # type: ignore[misc]
        "targets": torch.stack([it["targets"] for it in items]),  # type: ignore[misc]
        "half": torch.tensor([it["half"] for it in items], dtype=torch.long),
        "start": torch.tensor([it["start"] for it in items], dtype=torch.long),
    }
