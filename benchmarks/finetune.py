"""Spotting loader throughput against the training step rate on the same machine.

Usage:
    python benchmarks/finetune.py --games results/games/games.tsv --frames results/decode/2fps \\
        --labels data/synthetic [--batches 20] [--model-json '{"img_size": 32, ...}']

The loader (:class:`comedian.data.spotting.SpottingClips` with the §6 train sampler: JPEG decode
of 128-frame clips in DataLoader workers, collate, no augmentation) is measured with 0, 2 and all
cores' workers; the training step (augmentation on the batch, forward, BCE, backward, AdamW step)
of the given model on the same batches is measured in the same process. The ratio loader/step
says whether data loading can keep up: above 1 it does. Default model: the demo's tiny ViViT
(config/config.yaml); ``--paper`` uses ViViT-Tiny at 224 px (slow on a CPU).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch
from loader_rate import loader_rate

from comedian.data.halves import split_halves
from comedian.data.samplers import TrainWindowSampler
from comedian.data.spotting import SpottingClips, collate_clips
from comedian.data.transforms import AugmentConfig, ClipAugment
from comedian.losses.spotting import spotting_loss
from comedian.models import build_model

DEMO_MODEL = {
    "img_size": 32,
    "patch_size": 16,
    "embed_dim": 64,
    "depth": 2,
    "num_heads": 2,
    "temporal_depth": 2,
    "temporal_num_heads": 2,
}


def spotting_loader_rate(halves, workers: int, batch_size: int, batches: int) -> float:
    """Clips per second of the spotting loader with the §6 train sampler."""
    sampler = TrainWindowSampler([h.num_rows for h in halves], random_windows=23, seed=0)
    return loader_rate(SpottingClips(halves), sampler, workers=workers, batch_size=batch_size,
                       batches=batches, collate_fn=collate_clips)  # fmt: skip


def step_rate(model_kwargs: dict, batch: dict, steps: int) -> float:
    """Training clips per second of one process (augmentation, forward, backward, step)."""
    model = build_model("vivit_tiny", num_classes=17, **model_kwargs).train()
    augment = ClipAugment(AugmentConfig.finetune(model.img_size)).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    for i in range(steps + 1):
        if i == 1:
            start = time.perf_counter()
        loss = spotting_loss(model(augment(batch["frames"])), batch["targets"])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return steps * len(batch["frames"]) / (time.perf_counter() - start)


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--games", type=Path, default=Path("results/games/games.tsv"))
    p.add_argument("--frames", type=Path, default=Path("results/decode/2fps"))
    p.add_argument("--labels", type=Path, default=Path("data/synthetic"))
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--batches", type=int, default=20)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--model-json", default=json.dumps(DEMO_MODEL))
    p.add_argument("--paper", action="store_true", help="ViViT-Tiny at 224 px (batch 1)")
    args = p.parse_args()
    halves = split_halves(args.games, "train", args.frames, args.labels)
    cores = len(os.sched_getaffinity(0))
    print(
        f"{platform.node()} {platform.processor() or platform.machine()}, {cores} cores, "
        f"torch {torch.__version__}, {len(halves)} halves, frames "
        f"{halves[0].store.meta['frame_size']}"
    )
    rates = {
        w: spotting_loader_rate(halves, w, args.batch_size, args.batches)
        for w in sorted({0, 2, cores})
    }
    kwargs = {} if args.paper else json.loads(args.model_json)
    batch = collate_clips(
        [
            SpottingClips(halves)[(i % len(halves), 0)]
            for i in range(1 if args.paper else args.batch_size)
        ]
    )
    step = step_rate(kwargs, batch, args.steps)
    print(f"training step ({'paper ViViT-T' if args.paper else kwargs}): {step:.2f} clips/s")
    for w, r in rates.items():
        print(f"loader, {w} workers: {r:.1f} clips/s = {r / step:.1f}x the training step rate")


if __name__ == "__main__":
    main()
