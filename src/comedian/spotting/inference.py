"""Sliding-window inference over whole halves (method.md §7): windows -> sigmoid -> merge.

Usage:
    scores = score_halves(model, halves, batch_size=64, num_workers=4)   # [(T, 17) float32, ...]

Every half is cut into the 64 s windows of :func:`comedian.spotting.merge.window_starts` (stride
32 s, a final window at the end, all on the even grid), the frames are resized and normalized
(:class:`comedian.data.transforms.ClipAugment` in eval mode), the model runs in eval mode (no
masking) under bf16 autocast on a GPU, and the windows' token scores are merged onto the half's
0.5 s grid (:func:`comedian.spotting.merge.merge_windows`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from comedian.data.spotting import (
    KeySampler,
    SpottingClips,
    SpottingHalf,
    collate_clips,
    inference_keys,
)
from comedian.data.transforms import AugmentConfig, ClipAugment
from comedian.spotting.merge import merge_windows

log = logging.getLogger(__name__)


def pick_device(device: str = "auto") -> torch.device:
    """``auto``: the first CUDA device when there is one, else the CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


@torch.no_grad()
def score_halves(
    model: nn.Module,
    halves: Sequence[SpottingHalf],
    *,
    batch_size: int = 64,
    num_workers: int = 0,
    device: str | torch.device = "auto",
    bf16: bool | None = None,
    progress: bool = False,
) -> list[np.ndarray]:
    """Raw scores of every half.

    Args:
        model: A spotting model (per-token logits (B, 64, 17)).
        halves: The halves to score.
        batch_size: Windows per forward pass.
        num_workers: DataLoader workers reading the frame stores.
        device: ``auto``, ``cpu``, ``cuda``, ...
        bf16: bf16 autocast (default: on a CUDA device).
        progress: Log progress every ~10 % of the windows.

    Returns:
        One float32 (num_rows, 17) array per half, in order.
    """
    dev = pick_device(device) if isinstance(device, str) else device
    bf16 = dev.type == "cuda" if bf16 is None else bf16
    model = model.to(dev).eval()
    transform = ClipAugment(AugmentConfig.evaluation(int(getattr(model, "img_size", 224)))).eval()
    keys = inference_keys([h.num_rows for h in halves])
    loader = DataLoader(
        SpottingClips(halves),
        batch_size=batch_size,
        sampler=KeySampler(keys, rank=0, world_size=1),
        num_workers=num_workers,
        collate_fn=collate_clips,
        pin_memory=dev.type == "cuda",
    )
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    done, step = 0, max(1, len(keys) // 10)
    for batch in loader:
        x = transform(batch["frames"].to(dev, non_blocking=True))  # (B, 3, 128, S, S)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
            probs = torch.sigmoid(model(x).float())  # (B, 64, 17)
        parts.append((batch["half"].numpy(), batch["start"].numpy(), probs.cpu().numpy()))
        done += len(x)
        if progress and (done // step) != ((done - len(x)) // step):
            log.info("scored %d / %d windows", done, len(keys))
    half_idx = np.concatenate([p[0] for p in parts])
    starts = np.concatenate([p[1] for p in parts])
    probs_all = np.concatenate([p[2] for p in parts])
    out = []
    for i, h in enumerate(halves):
        sel = half_idx == i
        out.append(merge_windows(probs_all[sel], starts[sel], h.num_rows))
    return out
