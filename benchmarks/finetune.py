"""Spotting loader throughput against the training step rate on the same machine.

Usage:
    python benchmarks/finetune.py --games results/games/games.tsv --frames results/decode/2fps \\
        --labels data/synthetic [--batches 20] [--model-json '{"img_size": 32, ...}']
    python benchmarks/finetune.py --paper --no-step --frames F2 --clip-frames F2_224 \
        --batch-size 16 --batches 10 --repeats 3 --decode-options   # 398x224 against 224x224

The loader (:class:`comedian.data.spotting.SpottingClips` with the §6 train sampler: JPEG decode
of 128-frame clips in DataLoader workers, collate, no augmentation) is measured with 0, 2 and all
cores' workers; the training step (augmentation on the batch, forward, BCE, backward, AdamW step)
of the given model on the same batches is measured in the same process. The ratio loader/step
says whether data loading can keep up: above 1 it does. Default model: the demo's tiny ViViT
(config/config.yaml); ``--paper`` uses ViViT-Tiny at 224 px (slow on a CPU).

``--clip-frames`` names the same halves' stores at the models' input size (config
``decode.clip_size``, e.g. ``results/decode/2fps_224x224``): the loader is measured on both,
alternately ``--repeats`` times in the same process (best of each), and the ratio printed.
``--decode-options`` also times the JPEG decoding of 128-frame clips on one core (one ``pread``
a clip, as the stores read) with libjpeg-turbo's defaults against its faster, pixel-changing
modes (simplejpeg ``fastdct``, ``fastupsample``) and against decoding a clip's frames in threads
(simplejpeg releases the GIL), for each store, and the clips per CPU second of decoding each
batch straight into one shared-memory tensor (what a loader worker hands over).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import simplejpeg
import torch
from loader_rate import loader_rate

from comedian.data.frames import FrameStore
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


def spotting_loader_rate(
    halves, workers: int, batch_size: int, batches: int, clock=time.perf_counter
) -> float:
    """Clips per second of the spotting loader with the §6 train sampler."""
    sampler = TrainWindowSampler([h.num_rows for h in halves], random_windows=23, seed=0)
    return loader_rate(SpottingClips(halves), sampler, workers=workers, batch_size=batch_size,
                       batches=batches, collate_fn=collate_clips, clock=clock)  # fmt: skip


def clip_jpegs(store: FrameStore, starts: list[int], frames: int = 128) -> list[list[bytes]]:
    """The JPEG files of clips of ``frames`` frames, each clip's bytes read in one pread (as
    :meth:`FrameStore.read` does), split at the store's offset table."""
    clips = []
    with open(store.path, "rb") as f:
        for k0 in starts:
            offsets = store._offsets[k0 : k0 + frames + 1]  # noqa: SLF001 - the store's own table
            data = os.pread(f.fileno(), int(offsets[-1] - offsets[0]), int(offsets[0]))
            bounds = offsets - offsets[0]
            clips.append([data[bounds[i] : bounds[i + 1]] for i in range(frames)])
    return clips


def decode_rates(store: FrameStore, repeats: int, clips: int = 8) -> dict[str, float]:
    """Frames per second of one core decoding 128-frame clips: libjpeg-turbo's defaults, its
    faster modes (they change pixels), and a clip's frames in 2 threads (CPU time per frame)."""
    starts = np.linspace(0, store.num_frames - 128, clips).astype(int).tolist()
    jpegs = clip_jpegs(store, starts)
    h, w = store.frame_size
    out = np.empty((128, h, w, 3), np.uint8)
    modes = {
        "default": {},
        "fastdct": {"fastdct": True},
        "fastupsample": {"fastupsample": True},
        "fastdct+fastupsample": {"fastdct": True, "fastupsample": True},
    }
    rates: dict[str, float] = {}

    def decode(item: tuple[int, bytes], opts: dict) -> None:
        i, data = item
        simplejpeg.decode_jpeg(data, colorspace="RGB", buffer=out[i], **opts)

    with ThreadPoolExecutor(2) as pool:
        for _ in range(repeats):
            for name, opts in modes.items():
                start = time.process_time()  # CPU seconds: what a core spends
                for clip in jpegs:
                    for i, data in enumerate(clip):
                        decode((i, data), opts)
                n = 128 * len(jpegs) / (time.process_time() - start)
                rates[name] = max(n, rates.get(name, 0.0))
            start = time.process_time()
            for clip in jpegs:
                list(pool.map(lambda item: decode(item, {}), enumerate(clip)))
            n = 128 * len(jpegs) / (time.process_time() - start)
            rates["2 threads (CPU time)"] = max(n, rates.get("2 threads (CPU time)", 0.0))
    return rates


def batch_decode_rate(store: FrameStore, repeats: int, batch: int = 16, batches: int = 4) -> float:
    """Clips per CPU second of one core decoding each batch of 128-frame clips straight into one
    fresh shared-memory tensor (B, 128, H, W, 3), as a loader worker could hand it over: no
    per-clip array, no stack, no copy into shared memory (the loaders today do all three)."""
    starts = np.linspace(0, store.num_frames - 128, 8).astype(int).tolist()
    jpegs = clip_jpegs(store, starts)
    h, w = store.frame_size
    best = 0.0
    for _ in range(repeats):
        start = time.process_time()
        for _ in range(batches):
            out = torch.empty((batch, 128, h, w, 3), dtype=torch.uint8).share_memory_().numpy()
            for b in range(batch):
                for i, data in enumerate(jpegs[b % len(jpegs)]):
                    simplejpeg.decode_jpeg(data, colorspace="RGB", buffer=out[b, i])
        best = max(best, batch * batches / (time.process_time() - start))
    return best


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
    p.add_argument("--no-step", action="store_true", help="loaders only")
    p.add_argument("--workers", type=int, nargs="+", help="worker counts (default 0, 2, cores)")
    p.add_argument("--clip-frames", type=Path, help="the same halves' stores at 224x224")
    p.add_argument("--repeats", type=int, default=1, help="alternate runs with --clip-frames")
    p.add_argument("--decode-options", action="store_true", help="JPEG decode modes, one core")
    p.add_argument(
        "--cpu-time",
        action="store_true",
        help="time the loader without workers by this process's CPU time: clips per CPU second "
        "of one core, robust to other work on the machine (above 0 workers: wall-clock)",
    )
    args = p.parse_args()
    if args.cpu_time:
        torch.set_num_threads(1)  # as in a DataLoader worker; idle OpenMP threads spin on CPU
    halves = split_halves(args.games, "train", args.frames, args.labels)
    variants = {"": halves}
    if args.clip_frames:
        variants = {
            "full": halves,
            "clip": split_halves(args.games, "train", args.clip_frames, args.labels),
        }
    cores = len(os.sched_getaffinity(0))
    print(
        f"{platform.node()} {platform.processor() or platform.machine()}, {cores} cores, "
        f"torch {torch.__version__}, {len(halves)} halves, frames "
        + ", ".join(f"{v} {h[0].store.meta['frame_size']}" for v, h in variants.items())
    )
    if args.decode_options:
        for v, hs in variants.items():
            for mode, r in decode_rates(hs[0].store, args.repeats).items():
                print(f"JPEG decode {v} {hs[0].store.frame_size}, {mode}: {r:.0f} frames/s")
            r = batch_decode_rate(hs[0].store, args.repeats)
            print(f"decode into a shared batch {v}: {r:.1f} clips per CPU second")
    rates: dict[tuple[str, int], float] = {}
    for _ in range(args.repeats):
        for v, hs in variants.items():
            for w in args.workers or sorted({0, 2, cores}):
                clock = time.process_time if args.cpu_time and w == 0 else time.perf_counter
                r = spotting_loader_rate(hs, w, args.batch_size, args.batches, clock)
                rates[v, w] = max(r, rates.get((v, w), 0.0))
    if args.no_step:
        for (v, w), r in rates.items():
            ratio = f" = {r / rates['full', w]:.2f}x the full-size stores" if v == "clip" else ""
            unit = "clips per CPU second" if args.cpu_time and w == 0 else "clips/s"
            print(f"loader {v}, {w} workers: {r:.1f} {unit}{ratio}")
        return
    kwargs = {} if args.paper else json.loads(args.model_json)
    batch = collate_clips(
        [
            SpottingClips(halves)[(i % len(halves), 0)]
            for i in range(1 if args.paper else args.batch_size)
        ]
    )
    step = step_rate(kwargs, batch, args.steps)
    print(f"training step ({'paper ViViT-T' if args.paper else kwargs}): {step:.2f} clips/s")
    for (v, w), r in rates.items():
        print(f"loader {v}, {w} workers: {r:.1f} clips/s = {r / step:.1f}x the training step rate")


if __name__ == "__main__":
    main()
