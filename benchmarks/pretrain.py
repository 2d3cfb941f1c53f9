"""Pretraining loaders' throughput against their training step rate on the same machine.

Usage:
    python benchmarks/pretrain.py [--games results/games/games.tsv] \\
        [--frames results/decode/2fps] [--frames4 results/decode/4fps] \\
        [--features results/pca/features] [--batches 20] [--steps 5] [--stages ssl teacher distill]
    python benchmarks/pretrain.py --paper --frames F2 --frames4 F4 --no-step   # 398x224 stores
    python benchmarks/pretrain.py --paper --no-step --frames F2 --frames4 F4 \
        --clip-frames F2_224 --clip-frames4 F4_224    # the same halves' 224x224 stores beside

For each pretraining stage, the stage's own dataset and sampler on the train split's frame stores
(JPEG decode in DataLoader workers, collate, no augmentation):

* ``ssl`` (``pretrain``, method.md §2): one item = the 2 frames of one second;
* ``teacher`` (§3): one item = a 4 s window of 16 frames from the 4 fps store;
* ``distill`` (§5): one item = a 64 s clip of 128 frames and its 64 teacher vectors;
* ``extract`` (``extract_features``, §3): one item = one row's 4 s window, read as the stage
  reads them (batches of 64 rows, each batch's frame span read once, in the main process: the
  stage has no loader workers, so only "0 workers" applies);

measured with 0, 2 and all cores' workers, and the stage's training step (the task's batch
augmentation, forward, loss, backward, optimizer step) on the same batches, in the same process.
The ratio loader/step says whether data loading keeps up: above 1 it does. Models and batch
sizes are the demo's (config/config.yaml); ``--paper`` builds the paper's (ViT-Tiny / ViViT-Tiny
at 224 px, ResNet3D-50), and teacher vectors of the paper's width are drawn at random when
``--features`` has none for the stores.

``--clip-frames`` / ``--clip-frames4`` name the same halves' stores at the models' input size
(config ``decode.clip_size``, e.g. ``results/decode/2fps_224x224``): the stages that read
those stores in the DAG (teacher, extract, distill) are then measured on both, alternately
``--repeats`` times in the same process (best of each), and the ratio clip / full is printed.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from loader_rate import loader_rate

from comedian.config import apply_overrides
from comedian.data.halves import split_halves
from comedian.data.pretrain import DistillClips, SslPairs, TeacherWindows, collate
from comedian.data.samplers import DrawnKeys, ShuffledKeys, distill_draw, ssl_keys, teacher_draw
from comedian.data.windows import extraction_batches
from comedian.models import build_model
from comedian.paths import BANK_IN_DIR
from comedian.stages import distill as distill_stage
from comedian.stages import pretrain as pretrain_stage
from comedian.stages import teacher as teacher_stage
from comedian.tasks.distill import DistillTask
from comedian.tasks.ssl import SslTask
from comedian.tasks.teacher import TeacherTask
from comedian.training import build_optimizer

ROOT = Path(__file__).resolve().parent.parent
CPU_TIME_HELP = (
    "time the loader without workers by this process's CPU time: items per CPU second of one "
    "core, robust to other work on the machine (worker counts above 0 stay wall-clock)"
)
PAPER_VIVIT: dict[str, Any] = {}  # the builders' defaults are the paper's
PAPER_RESNET: dict[str, Any] = {}


def demo_settings(config: Path) -> dict[str, Any]:
    doc = yaml.safe_load(config.read_text())
    model = doc["runs"]["vivit"]["model"]
    return {
        "ssl": {**doc["pretrain"], "model": model},
        "teacher": dict(doc["teacher"]),
        "distill": {**doc["distill"], "model": model},
    }


def step_rate(task: Any, batch: dict[str, torch.Tensor], steps: int) -> float:
    """Training items per second of one process: the task's augmentation, step, backward and
    its own optimizer (Lightning's loop without Lightning)."""
    task.train()
    opt = build_optimizer(task, task.cfg, 1000, 100, task.trainable_names(),
                          sgd_momentum=task.sgd_momentum)["optimizer"]  # fmt: skip
    for i in range(steps + 1):
        if i == 1:
            start = time.perf_counter()
        b = task.on_after_batch_transfer({k: v.clone() for k, v in batch.items()}, 0)
        loss = task.training_step(b, i)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if isinstance(task, SslTask):
            task.momentum_update(task.cfg.momentum)
    return steps * len(batch["frames"]) / (time.perf_counter() - start)


def extraction_rate(
    windows: TeacherWindows, batch_size: int, batches: int, clock=time.perf_counter
) -> float:
    """Rows per second of extract_features' window reads (its loop without the model)."""
    plan = [(i, rows) for i in range(len(windows.num_rows))
            for rows in extraction_batches(windows.num_rows[i], batch_size)]  # fmt: skip
    windows.frames(*plan[0])  # warm-up (opens the store)
    start, n = clock(), 0
    for k in range(1, batches + 1):
        n += len(windows.frames(*plan[k % len(plan)]))
    return n / (clock() - start)


def random_banks(stores: list, dim: int, folder: Path) -> list[np.ndarray]:
    banks = []
    for i, s in enumerate(stores):
        path = folder / f"{i}.npy"
        np.save(path, np.random.default_rng(i).standard_normal((s.num_frames, dim), np.float32))
        banks.append(np.load(path, mmap_mode="r"))
    return banks


def build(stage: str, args: argparse.Namespace, settings: dict, tmp: Path) -> tuple:
    """(dataset, sampler, batch size, task factory) of one stage, as its stage module builds
    them (method.md §2, §3, §5)."""
    s = dict(settings.get(stage, {}))
    halves = split_halves(args.games, "train", args.frames)
    stores = [h.store for h in halves]
    if stage == "ssl":
        cfg = apply_overrides(pretrain_stage.Config(), s)
        kwargs = pretrain_stage.vit_kwargs(PAPER_VIVIT if args.paper else cfg.model)
        sampler = ShuffledKeys(ssl_keys([st.num_frames for st in stores]), seed=0)

        def task() -> SslTask:
            return SslTask(build_model("vit_tiny", **kwargs), cfg)

        return SslPairs(stores), sampler, cfg.batch_size, task
    if stage == "teacher":
        cfg = apply_overrides(teacher_stage.Config(), s)
        halves4 = split_halves(args.games, "train", args.frames, frames4=args.frames4, fps4=cfg.fps)
        stores4 = [h.store4 for h in halves4]
        n4 = [st.num_frames for st in stores4]
        targets = [np.zeros((n, 17), np.uint8) for n in n4]
        dataset = TeacherWindows(
            stores4, n4, targets, fps=cfg.fps, window_s=cfg.window_s, grid_fps=cfg.fps
        )
        per_half = teacher_stage.Config().windows_per_half if args.paper else cfg.windows_per_half
        sampler = DrawnKeys(teacher_draw(n4, per_half, round(cfg.fps * cfg.window_s)), seed=0)
        model_kwargs = {**(PAPER_RESNET if args.paper else cfg.model), "num_classes": 17}
        if args.paper:
            cfg = dataclasses.replace(cfg, img_size=224)

        def task() -> TeacherTask:
            return TeacherTask(build_model(cfg.arch, **model_kwargs), cfg)

        return dataset, sampler, cfg.batch_size, task
    if stage == "extract":
        cfg = apply_overrides(teacher_stage.Config(), settings["teacher"])
        halves4 = split_halves(args.games, "train", args.frames, frames4=args.frames4, fps4=cfg.fps)
        rows = [h.store.num_frames for h in halves4]  # the 2 fps grid
        windows = TeacherWindows([h.store4 for h in halves4], rows, fps=cfg.fps,
                                 window_s=cfg.window_s)  # fmt: skip
        return windows, None, 64, None
    cfg = apply_overrides(distill_stage.Config(), s)
    kwargs = {k: v for k, v in (PAPER_VIVIT if args.paper else cfg.model).items()}
    probe = build_model("vivit_tiny", **kwargs)
    clip_rows = int(probe.num_tubelets) * int(kwargs.get("tube_size", 2))
    banks = []
    for h in halves:
        path = Path(args.features) / BANK_IN_DIR.format(game=h.slug, half=h.half)
        if not path.is_file():
            banks = random_banks(stores, 512 if args.paper else 64, tmp)
            break
        banks.append(np.load(path, mmap_mode="r"))
    dataset = DistillClips(stores, banks, clip_rows=clip_rows, align=cfg.align)
    draw = distill_draw([st.num_frames for st in stores], cfg.windows_per_half, clip_rows)
    sampler = DrawnKeys(draw, seed=0)

    def task() -> DistillTask:
        return DistillTask(
            build_model("vivit_tiny", **kwargs), cfg, teacher_dim=int(banks[0].shape[1])
        )

    return dataset, sampler, cfg.batch_size, task


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--games", type=Path, default=Path("results/games/games.tsv"))
    p.add_argument("--frames", type=Path, default=Path("results/decode/2fps"))
    p.add_argument("--frames4", type=Path, default=Path("results/decode/4fps"))
    p.add_argument("--features", type=Path, default=Path("results/pca/features"))
    p.add_argument("--config", type=Path, default=ROOT / "config/config.yaml")
    p.add_argument("--clip-frames", type=Path, help="the same halves' 2 fps stores at 224x224")
    p.add_argument("--clip-frames4", type=Path, help="the same halves' 4 fps stores at 224x224")
    p.add_argument("--repeats", type=int, default=1, help="alternate runs with --clip-frames")
    p.add_argument("--cpu-time", action="store_true", help=CPU_TIME_HELP)
    p.add_argument("--stages", nargs="+", default=["ssl", "teacher", "distill"],
                   choices=["ssl", "teacher", "distill", "extract"])  # fmt: skip
    p.add_argument("--batches", type=int, default=20)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--workers", type=int, nargs="+", help="worker counts (default 0, 2, cores)")
    p.add_argument("--batch-size", type=int, help="loader batch (default: the stage's)")
    p.add_argument("--paper", action="store_true", help="the paper's models (224 px)")
    p.add_argument("--no-step", action="store_true", help="loaders only")
    args = p.parse_args()
    if args.cpu_time:
        torch.set_num_threads(1)  # as in a DataLoader worker; idle OpenMP threads spin on CPU
    cores = len(os.sched_getaffinity(0))
    warnings.filterwarnings("ignore", message=".*self.log.*")  # no Trainer in this loop
    print(
        f"{platform.node()} {platform.processor() or platform.machine()}, {cores} cores, "
        f"torch {torch.__version__}, {'paper' if args.paper else 'demo'} models"
    )
    settings = demo_settings(args.config)
    workers = args.workers or sorted({0, 2, cores})
    with tempfile.TemporaryDirectory() as tmp:
        for stage in args.stages:
            variants = {"": args}
            if stage != "ssl" and (args.clip_frames or args.clip_frames4):
                clip = argparse.Namespace(**vars(args))
                clip.frames = args.clip_frames or args.frames
                clip.frames4 = args.clip_frames4 or args.frames4
                variants = {"full": args, "clip": clip}
            built = {v: build(stage, a, settings, Path(tmp)) for v, a in variants.items()}
            rates: dict[tuple[str, int], float] = {}
            for _ in range(args.repeats):
                for v, (dataset, sampler, batch_size, _) in built.items():
                    # extract_features' own batch of rows (config extract_features.batch_size)
                    batch_size = batch_size if stage == "extract" else args.batch_size or batch_size
                    for w in [0] if stage == "extract" else workers:
                        clock = time.process_time if args.cpu_time and w == 0 else time.perf_counter
                        if stage == "extract":
                            r = extraction_rate(dataset, batch_size, args.batches, clock)
                        else:
                            r = loader_rate(dataset, sampler, workers=w, batch_size=batch_size,
                                            batches=args.batches, collate_fn=collate, clock=clock)  # fmt: skip
                        rates[v, w] = max(r, rates.get((v, w), 0.0))
            dataset, sampler, batch_size, make_task = built[next(iter(built))]
            batch_size = batch_size if stage == "extract" else args.batch_size or batch_size
            if stage == "extract":
                line = f"{stage}: rows of 16 frames, batches of {batch_size} rows, main process"
            else:
                frames = dataset[sampler.keys[0]]["frames"].shape
                line = f"{stage}: items of {tuple(frames)} uint8, batch {batch_size}"
            step = None
            if not args.no_step and stage != "extract":
                torch.manual_seed(0)
                step_batch = collate([dataset[k] for k in sampler.keys[: min(batch_size, 8)]])
                step = step_rate(make_task(), step_batch, args.steps)
                line += f"; training step {step:.2f} items/s"
            print(line)
            for (v, w), r in rates.items():
                ratio = "" if step is None else f" = {r / step:.1f}x the training step rate"
                if v == "clip":
                    ratio += f"; {r / rates['full', w]:.2f}x the full-size stores"
                store = built[v][0]
                size = store.stores[0] if hasattr(store, "stores") else None
                size = f" [{v} {tuple(size.frame_size)}]" if v and size is not None else ""
                unit = "items per CPU second" if args.cpu_time and w == 0 else "items/s"
                print(f"  loader, {w} workers{size}: {r:.1f} {unit}{ratio}")


if __name__ == "__main__":
    main()
