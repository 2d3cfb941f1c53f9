"""Training throughput of every training stage at the paper's size, and the recipe's GPU-hours.

Usage:
    python benchmarks/throughput.py [--stages pretrain teacher extract_features distill finetune]
        [--precision bf16-mixed] [--compile] [--steps 20] [--warmup 5] [--half-s 2700]
    python benchmarks/throughput.py --tiny --steps 2 --warmup 1     # the code path on a CPU

Each stage's own task (method.md §2, §3, §5, §6: the paper's model, per-GPU batch, augmentation
on the device, loss and optimizer) runs ``--steps`` timed steps on one device after ``--warmup``
untimed ones (compilation happens there), on random uint8 frames of the stores' size (398x224)
already on the device, so the number is the GPU's rate without data loading (the loaders' rates
are in ``benchmarks/pretrain.py``). ``extract_features`` is the teacher's forward pass only.

The GPU-hours of the paper recipe follow from the measured rates and the recipe's item counts:
300 train games (600 halves of ``--half-s`` seconds) for pretrain, teacher, distill and
finetune, all 550 games (1,100 halves) for extraction; per epoch every second (pretrain), 100
non-overlapping 4 s windows a half (teacher, the reference's epoch), 38 clips a half (distill),
25 clips a half (finetune_head and finetune);
100, 100, 100, 30 and 20 epochs. Per-GPU batches are the paper's global batches over 2 GPUs.
"""

from __future__ import annotations

import argparse
import contextlib
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch

from comedian.data.transforms import AugmentConfig, ClipAugment
from comedian.models import build_model
from comedian.tasks.distill import DistillTask
from comedian.tasks.spotting import SpottingTask
from comedian.tasks.ssl import SslTask
from comedian.tasks.teacher import TeacherTask
from comedian.training import TrainConfig, build_optimizer

#: Source frame size of the paper's stores (H, W).
FRAME = (224, 398)
TINY_VIT = {"img_size": 32, "patch_size": 16, "embed_dim": 16, "depth": 1, "num_heads": 2}
TINY_VIVIT = {**TINY_VIT, "temporal_depth": 1, "temporal_num_heads": 2}
TINY_RESNET = {"width": 2, "depths": [1, 1, 1, 1]}


@dataclass(frozen=True)
class Stage:
    """One stage's paper workload: per-GPU batch, item count per epoch per half, epochs."""

    name: str
    batch: int
    items_per_half: Callable[[float], float]
    epochs: int
    halves: int = 600
    train: bool = True


STAGES = {
    "pretrain": Stage("pretrain", 512, lambda s: s, 100),  # every second, B 1024 on 2 GPUs
    "teacher": Stage("teacher", 128, lambda s: 100, 100),  # 100 windows a half, B 256
    "extract_features": Stage("extract_features", 64, lambda s: 2 * s, 1, 1100, train=False),
    "distill": Stage("distill", 16, lambda s: 38, 100),  # 38 clips a half, B 32
    "finetune_head": Stage("finetune_head", 32, lambda s: 25, 30),  # 25 clips a half, B 64
    "finetune": Stage("finetune", 32, lambda s: 25, 20),
}


def frames(batch: int, t: int, size: tuple[int, int], device: torch.device) -> torch.Tensor:
    return torch.randint(0, 256, (batch, t, *size, 3), dtype=torch.uint8, device=device)


def build(name: str, tiny: bool, batch: int, device: torch.device, compile_: bool):
    """(task, step function) of one stage on a fixed batch; the step returns the loss (None
    for extraction, which only runs the forward pass)."""
    cfg = TrainConfig(compile=compile_)
    size = (32, 56) if tiny else FRAME
    if name == "pretrain":
        trunk = build_model("vit_tiny", **(TINY_VIT if tiny else {}))
        img = int(trunk.img_size)
        task = SslTask(trunk, cfg, view1=AugmentConfig.ssl_view(1, img),
                       view2=AugmentConfig.ssl_view(2, img))  # fmt: skip
        data = {"frames": frames(batch, 2, size, device)}

        def step() -> torch.Tensor:
            b = task.on_after_batch_transfer(dict(data), 0)
            loss = task.ssl_loss(b["x1"], b["x2"])
            task.momentum_update(0.99)
            return loss

        return task, step
    if name in ("teacher", "extract_features"):
        model = build_model("resnet3d_50", num_classes=17, **(TINY_RESNET if tiny else {}))
        img = 32 if tiny else 224
        task = TeacherTask(model, cfg, augment=AugmentConfig.finetune(img))
        data = {"frames": frames(batch, 16, size, device),
                "targets": torch.rand(batch, 17, device=device).round()}  # fmt: skip
        if name == "extract_features":
            task.eval()
            resize = ClipAugment(AugmentConfig.evaluation(img)).to(device).eval()

            def infer() -> None:
                with torch.no_grad():
                    task.model.forward_features(resize(data["frames"]))

            return task, infer

        def step() -> torch.Tensor:
            b = task.on_after_batch_transfer(dict(data), 0)
            return task.training_step(b, 0)

        return task, step
    model_kwargs = TINY_VIVIT if tiny else {}
    t = 8 if tiny else 128
    if name == "distill":
        model = build_model("vivit_tiny", **{**model_kwargs, **({"num_frames": t} if tiny else {})})
        task = DistillTask(model, cfg, teacher_dim=512, augment=AugmentConfig.distill(int(
            model.img_size)))  # fmt: skip
        data = {"frames": frames(batch, t, size, device),
                "teacher": torch.randn(batch, t // 2, 512, device=device)}  # fmt: skip

        def step() -> torch.Tensor:
            b = task.on_after_batch_transfer(dict(data), 0)
            return task.distill_loss(b["x"], b["teacher"])

        return task, step
    model = build_model("vivit_tiny", num_classes=17,
                        **{**model_kwargs, **({"num_frames": t} if tiny else {})})  # fmt: skip
    task = SpottingTask(model, cfg, freeze_trunk=name == "finetune_head")
    data = {"frames": frames(batch, t, size, device),
            "targets": torch.rand(batch, t // 2, 17, device=device).round()}  # fmt: skip

    def step() -> torch.Tensor:
        x = task.train_transform(data["frames"])
        return task.training_step({"x": x, "targets": data["targets"]}, 0)

    return task, step


def measure(name: str, args: argparse.Namespace, device: torch.device) -> tuple[float, float]:
    """(items per second, peak memory in GiB) of one stage on one device."""
    stage = STAGES[name]
    batch = args.batch or (2 if args.tiny else stage.batch)
    task, step = build(name, args.tiny, batch, device, args.compile)
    task.to(device)
    task.configure_model()
    opt = None
    if stage.train:
        task.train()
        opt = build_optimizer(task, task.cfg, 10_000, 100, task.trainable_names(),
                              sgd_momentum=task.sgd_momentum)["optimizer"]  # fmt: skip
    bf16 = args.precision == "bf16-mixed"
    autocast = (
        torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
    )
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    start = 0.0
    for i in range(args.warmup + args.steps):
        if i == args.warmup:
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start = time.perf_counter()
        with autocast:
            loss = step()
        if opt is not None:
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(task.parameters(), 1.0)
            opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    rate = args.steps * batch / (time.perf_counter() - start)
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else 0.0
    return rate, peak


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--stages", nargs="+", default=list(STAGES), choices=list(STAGES))
    p.add_argument("--precision", default="bf16-mixed", choices=["bf16-mixed", "32-true"])
    p.add_argument("--compile", action="store_true", help="torch.compile the networks")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--batch", type=int, help="per-GPU batch (default: the paper's over 2 GPUs)")
    p.add_argument("--half-s", type=float, default=2700.0, help="seconds of a half")
    p.add_argument("--tiny", action="store_true", help="tiny models on small frames (CPU check)")
    args = p.parse_args()
    warnings.filterwarnings("ignore", message=".*self.log.*")  # no Trainer in this loop
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"{name}, torch {torch.__version__}, {args.precision}, compile={args.compile}, "
          f"{'tiny' if args.tiny else 'paper'} models")  # fmt: skip
    total = 0.0
    for stage_name in args.stages:
        stage = STAGES[stage_name]
        rate, peak = measure(stage_name, args, device)
        items = stage.halves * stage.items_per_half(args.half_s) * stage.epochs
        hours = items / rate / 3600
        total += hours
        print(f"{stage_name}: {rate:.1f} items/s a device, peak {peak:.1f} GiB; recipe "
              f"{items:,.0f} items = {hours:.1f} device-hours")  # fmt: skip
    print(f"total: {total:.1f} hours of this device (data loading not included)")


if __name__ == "__main__":
    main()
