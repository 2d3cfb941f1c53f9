"""Sliding-window inference over whole halves (method.md §7): windows -> sigmoid -> merge.

Usage:
    scores = score_halves(model, halves, batch_size=64, num_workers=4)   # [(T, 17) float32, ...]

Every half is cut into the 64 s windows of :func:`comedian.data.windows.window_starts` (stride
32 s, a final window at the end, all on the even grid), the frames are resized and normalized
(:class:`comedian.data.transforms.ClipAugment` in eval mode), the model runs in eval mode (no
masking) under bf16 autocast on a GPU, and the windows' token scores are merged onto the half's
0.5 s grid (:func:`comedian.spotting.merge.merge_windows`).

Factorized models (ViViT, ViSwin) encode each second (tubelet) on its own before the temporal
stage, and the windows overlap by half: their spatial stage, ~95 % of the work, runs once per
second of the half (:meth:`~comedian.models.factorized.FactorizedEncoder.encode_seconds`), then
the temporal stage and the head run per window on the shared vectors. The scores are those of
the model on each window (the windows' frames past the end of a half repeat its last frame,
whatever the window); the frames of the next chunk are read by a thread while the model runs.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from comedian.data.halves import Half
from comedian.data.samplers import KeySampler, inference_keys
from comedian.data.spotting import SpottingClips, collate_clips
from comedian.data.transforms import AugmentConfig, ClipAugment
from comedian.data.windows import CLIP_ROWS, ROWS_PER_TOKEN, window_starts
from comedian.models.factorized import FactorizedEncoder
from comedian.models.protocol import SpottingBackbone, conform
from comedian.spotting.merge import merge_windows

log = logging.getLogger(__name__)


def pick_device(device: str = "auto") -> torch.device:
    """``auto``: the first CUDA device when there is one, else the CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


@torch.inference_mode()
def score_halves(
    model: nn.Module,
    halves: Sequence[Half],
    *,
    batch_size: int = 64,
    num_workers: int = 0,
    device: str | torch.device = "auto",
    bf16: bool | None = None,
    progress: bool = False,
    shared_seconds: bool = True,
) -> list[np.ndarray]:
    """Raw scores of every half.

    Args:
        model: A spotting model (per-token logits (B, 64, 17)).
        halves: The halves to score.
        batch_size: Windows per forward pass (with shared seconds: 64 x ``batch_size`` seconds
            per pass of the spatial stage).
        num_workers: DataLoader workers reading the frame stores (windows path only).
        device: ``auto``, ``cpu``, ``cuda``, ...
        bf16: bf16 autocast (default: on a CUDA device).
        progress: Log progress every ~10 % of the work.
        shared_seconds: Encode each second once for the windows that share it (factorized
            models); False runs the whole model on every window.

    Returns:
        One float32 (num_rows, 17) array per half, in order.
    """
    dev = pick_device(device) if isinstance(device, str) else device
    bf16 = dev.type == "cuda" if bf16 is None else bf16
    model = model.to(dev).eval()
    transform = ClipAugment(
        AugmentConfig.evaluation(conform(model, SpottingBackbone).img_size)
    ).eval()
    if shared_seconds and isinstance(model, FactorizedEncoder):
        return [
            _score_half_shared(model, h, transform, batch_size, dev, bf16, progress) for h in halves
        ]
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


def _second_frames(half: Half, first: int, last: int) -> np.ndarray:
    """Frames of seconds (tubelets) ``first .. last - 1``; frames past the half's end repeat its
    last frame, as in every window (:func:`comedian.data.spotting.read_clip`).

    Shapes:
        -> uint8 (2 * (last - first), H, W, 3)
    """
    n = half.store.num_frames
    k0, k1 = first * ROWS_PER_TOKEN, last * ROWS_PER_TOKEN
    frames = half.store.read(min(k0, n - 1), min(k1, n))
    if k1 - k0 > len(frames):  # the chunk runs past the end
        pad = np.repeat(frames[-1:], k1 - k0 - len(frames), axis=0)
        frames = np.concatenate([frames, pad], axis=0)
    return frames


def _score_half_shared(
    model: FactorizedEncoder,
    half: Half,
    transform: ClipAugment,
    batch_size: int,
    dev: torch.device,
    bf16: bool,
    progress: bool,
) -> np.ndarray:
    """One half: the spatial stage once per second, the temporal stage and head per window."""
    starts = window_starts(half.num_rows)  # (W,) even rows
    tokens = CLIP_ROWS // ROWS_PER_TOKEN  # 64 seconds a window
    seconds = int(starts[-1]) // ROWS_PER_TOKEN + tokens  # every window's seconds
    chunk = tokens * max(1, batch_size)
    bounds = [(a, min(a + chunk, seconds)) for a in range(0, seconds, chunk)]

    def frames_of(i: int) -> torch.Tensor:
        return torch.from_numpy(_second_frames(half, *bounds[i]))

    feats = []
    with ThreadPoolExecutor(max_workers=1) as reader:  # reads chunk i + 1 while i runs
        pending = reader.submit(frames_of, 0)
        for i in range(len(bounds)):
            frames = pending.result()
            if i + 1 < len(bounds):
                pending = reader.submit(frames_of, i + 1)
            x = transform(frames[None].to(dev, non_blocking=True))  # (1, 3, T, S, S)
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
                feats.append(model.encode_seconds(x)[0])  # (T / 2, D)
            if progress:
                log.info("encoded %d / %d s of half %d", bounds[i][1], seconds, half.half)
    seconds_feats = torch.cat(feats)  # (seconds, D)
    probs = []
    first = torch.as_tensor(starts // ROWS_PER_TOKEN, device=dev)  # (W,)
    for w in range(0, len(starts), max(1, batch_size)):
        idx = first[w : w + batch_size, None] + torch.arange(tokens, device=dev)  # (b, 64)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
            logits = model.forward_head(model.temporal_stage(seconds_feats[idx]))
        probs.append(torch.sigmoid(logits.float()).cpu().numpy())  # (b, 64, 17)
    return merge_windows(np.concatenate(probs), starts, half.num_rows)
