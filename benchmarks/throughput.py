"""The paper recipe's compute: every stage's items, steps and FLOPs, and its GPU-hours.

Usage:
    python benchmarks/throughput.py                       # no GPU: the derived budget (FLOPs)
    python benchmarks/throughput.py [--stages pretrain teacher ...] [--precision bf16-mixed]
        [--compile] [--steps 20] [--warmup 5] [--half-s 2700]   # on a GPU: measured rates too
    python benchmarks/throughput.py --peak-tflops 989 --utilization 0.35   # the derived budget's
    python benchmarks/throughput.py --tiny --steps 2 --warmup 1     # the code path on a CPU

The recipe's items: 300 train games (600 halves of ``--half-s`` seconds) for pretrain, teacher,
distill and fine-tuning, all 550 games (1,100 halves) for extraction; per epoch every second
(pretrain, method.md §2), 100 non-overlapping 4 s windows a half (teacher, the reference's epoch,
§3), 38 clips a half (distill, §5), 25 clips a half (finetune_head and finetune, §6); 100, 100,
100, 30 and 20 epochs; pretrain, distill and fine-tuning once per ViViT-T seed (3 runs), the
ViSwin-T fine-tuned once (§10). Per-GPU batches are the paper's global batches over 2 GPUs;
steps are optimizer steps (the same on 1 GPU holding the whole global batch).

FLOPs per item (always): the stage's model, loss and backward at the paper's size, counted by
torch's FLOP counter (``torch.utils.flop_counter.FlopCounterMode``, matmuls and convolutions) on
fake tensors, so no memory or time is spent. The augmentation on the device, the optimizer and
the queue updates are not counted (no matmuls). The **derived** budget divides the recipe's FLOPs
by ``--utilization`` x ``--peak-tflops`` (default: 35 % of an H100 SXM's 989 dense bf16
TFLOP/s): an assumption, not a measurement.

Measured (on a GPU, or with ``--measure``): each stage's own task (the paper's model, per-GPU
batch, augmentation on the device, loss and optimizer) runs ``--steps`` timed steps on one
device after ``--warmup`` untimed ones (compilation happens there), on random uint8 frames of the
stores' size (398x224) already on the device: the GPU's rate without data loading (the loaders'
rates are in ``benchmarks/pretrain.py`` and ``benchmarks/finetune.py``). ``extract_features`` is
the teacher's forward pass only.
"""

from __future__ import annotations

import argparse
import contextlib
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch._subclasses.fake_tensor import FakeTensorMode
from torch.utils.flop_counter import FlopCounterMode

from comedian.data.transforms import AugmentConfig, ClipAugment
from comedian.losses.spotting import spotting_loss
from comedian.models import build_model
from comedian.tasks.distill import DistillConfig, DistillTask
from comedian.tasks.spotting import SpottingConfig, SpottingTask
from comedian.tasks.ssl import SslConfig, SslTask
from comedian.tasks.teacher import TeacherConfig, TeacherTask
from comedian.training import build_optimizer

#: Source frame size of the paper's stores (H, W).
FRAME = (224, 398)
TINY_VIT = {"img_size": 32, "patch_size": 16, "embed_dim": 16, "depth": 1, "num_heads": 2}
TINY_VIVIT = {**TINY_VIT, "temporal_depth": 1, "temporal_num_heads": 2, "num_frames": 8}
TINY_VISWIN = {"img_size": 64, "num_frames": 8, "embed_dim": 12, "depths": (2, 2, 2, 2),
               "num_heads": (1, 2, 2, 3), "temporal_depth": 1}  # fmt: skip
TINY_RESNET = {"width": 2, "depths": [1, 1, 1, 1]}
#: The paper's memory of a SoccerNet-v2 half at 2 fps (45 min).
TEACHER_DIM, PCA_DIM = 2048, 512


@dataclass(frozen=True)
class Stage:
    """One stage's paper workload.

    Attributes:
        name: Stage (rule) name.
        batch: Per-GPU batch (the paper's global batch over 2 GPUs).
        items_per_half: Items per half and epoch, from the half's length in seconds.
        epochs: Epochs.
        halves: Halves it reads (600 train halves; 1,100 of all splits for extraction).
        train: A training stage (forward, backward, optimizer) or inference.
        arch: The model.
        runs: How often the recipe runs it (once per ViViT-T seed for the per-run stages).
    """

    name: str
    batch: int
    items_per_half: Callable[[float], float]
    epochs: int
    halves: int = 600
    train: bool = True
    arch: str = "vivit_tiny"
    runs: int = 1

    def items(self, half_s: float) -> float:
        """Items of one run of the stage (all epochs)."""
        return self.halves * self.items_per_half(half_s) * self.epochs

    def steps(self, half_s: float) -> float:
        """Optimizer steps of one run: per epoch, the items over the global batch (2 GPUs)."""
        return -(-self.halves * self.items_per_half(half_s) // (2 * self.batch)) * self.epochs


STAGES = {
    "pretrain": Stage("pretrain", 512, lambda s: s, 100, arch="vit_tiny", runs=3),  # B 1024
    "teacher": Stage("teacher", 128, lambda s: 100, 100, arch="resnet3d_50"),  # B 256
    "extract_features": Stage(
        "extract_features", 64, lambda s: 2 * s, 1, 1100, train=False, arch="resnet3d_50"
    ),  # fmt: skip
    "distill": Stage("distill", 16, lambda s: 38, 100, runs=3),  # 38 clips a half, B 32
    "finetune_head": Stage("finetune_head", 32, lambda s: 25, 30, runs=3),  # 25 a half, B 64
    "finetune": Stage("finetune", 32, lambda s: 25, 20, runs=3),
    "viswin_finetune_head": Stage(
        "viswin_finetune_head", 32, lambda s: 25, 30, arch="viswin_tiny"
    ),  # fmt: skip
    "viswin_finetune": Stage("viswin_finetune", 32, lambda s: 25, 20, arch="viswin_tiny"),
}


def frames(batch: int, t: int, size: tuple[int, int], device: torch.device) -> torch.Tensor:
    return torch.randint(0, 256, (batch, t, *size, 3), dtype=torch.uint8, device=device)


def model_kwargs(arch: str, tiny: bool) -> dict:
    """The paper's model (the builders' defaults) or a tiny one."""
    if not tiny:
        return {}
    return {"vit_tiny": TINY_VIT, "vivit_tiny": TINY_VIVIT, "viswin_tiny": TINY_VISWIN,
            "resnet3d_50": TINY_RESNET}[arch]  # fmt: skip


def build(stage: Stage, tiny: bool, batch: int, device: torch.device, compile_: bool):
    """(task, step function) of one stage on a fixed batch; the step returns the loss (None
    for extraction, which only runs the forward pass)."""
    size = (32, 56) if tiny else FRAME
    name, kwargs = stage.name, model_kwargs(stage.arch, tiny)
    if name == "pretrain":
        trunk = build_model("vit_tiny", **kwargs)
        task = SslTask(trunk, SslConfig(compile=compile_))
        data = {"frames": frames(batch, 2, size, device)}

        def step() -> torch.Tensor:
            b = task.on_after_batch_transfer(dict(data), 0)
            loss = task.ssl_loss(b["x1"], b["x2"])
            task.momentum_update(0.99)
            return loss

        return task, step
    if name in ("teacher", "extract_features"):
        model = build_model("resnet3d_50", num_classes=17, **kwargs)
        img = 32 if tiny else 224
        task = TeacherTask(model, TeacherConfig(compile=compile_, img_size=img))
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
    if name == "distill":
        model = build_model("vivit_tiny", **kwargs)
        t = int(model.num_tubelets) * 2
        task = DistillTask(model, DistillConfig(compile=compile_), teacher_dim=PCA_DIM)
        data = {"frames": frames(batch, t, size, device),
                "teacher": torch.randn(batch, t // 2, PCA_DIM, device=device)}  # fmt: skip

        def step() -> torch.Tensor:
            b = task.on_after_batch_transfer(dict(data), 0)
            return task.distill_loss(b["x"], b["teacher"])

        return task, step
    model = build_model(stage.arch, num_classes=17, **kwargs)
    t = int(model.num_tubelets) * 2
    task = SpottingTask(
        model, SpottingConfig(compile=compile_), freeze_trunk=name.endswith("finetune_head")
    )
    data = {"frames": frames(batch, t, size, device),
            "targets": torch.rand(batch, t // 2, 17, device=device).round()}  # fmt: skip

    def step() -> torch.Tensor:
        x = task.train_transform(data["frames"])
        return task.training_step({"x": x, "targets": data["targets"]}, 0)

    return task, step


def flops_per_item(stage: Stage, tiny: bool) -> float:
    """FLOPs of one item's model, loss and backward, counted on fake tensors (batch 1).

    The input is the model's: (1, 3, T, S, S) floats after the augmentation, which is not
    counted (random, data-dependent, and no matmul). Batch 1 is exact per item: no loss here
    couples the clips of a batch (keys come from the same clip or the queue).
    """
    task, _ = build(stage, tiny, 1, torch.device("cpu"), False)
    task.configure_model()
    task.train(stage.train)
    if hasattr(task, "queue"):
        task.queue.enqueue = lambda keys: None  # a copy into the queue: no FLOPs, data-dependent
    model = task.model if hasattr(task, "model") else task.trunk
    if stage.arch == "resnet3d_50":  # the teacher's input size is the stage's, not the model's
        img, t = (32 if tiny else 224), 16
    else:
        img, t = int(model.img_size), 2 * int(getattr(model, "num_tubelets", 1))
    with FakeTensorMode(allow_non_fake_inputs=True), FlopCounterMode(display=False) as counter:
        if stage.name == "pretrain":
            x1, x2 = (torch.randn(1, 3, 2, img, img) for _ in range(2))
            task.ssl_loss(x1, x2).backward()
        elif stage.name == "extract_features":
            with torch.no_grad():
                task.model.forward_features(torch.randn(1, 3, t, img, img))
        elif stage.name == "teacher":
            logits = task.model(torch.randn(1, 3, t, img, img))  # (1, 17)
            spotting_loss(logits, torch.rand(1, 17)).backward()
        elif stage.name == "distill":
            task.distill_loss(
                torch.randn(1, 3, t, img, img), torch.randn(1, t // 2, PCA_DIM)
            ).backward()
        else:
            logits = task.model(torch.randn(1, 3, t, img, img))  # (1, T / 2, 17)
            spotting_loss(logits, torch.rand(logits.shape)).backward()
    return float(counter.get_total_flops())


def measure(stage: Stage, args: argparse.Namespace, device: torch.device) -> tuple[float, float]:
    """(items per second, peak memory in GiB) of one stage on one device."""
    batch = args.batch or (2 if args.tiny else stage.batch)
    task, step = build(stage, args.tiny, batch, device, args.compile)
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


def disk(half_s: float) -> str:
    """The recipe's disk: JPEG stores of 1,100 halves at 2 and 4 fps and the feature banks."""
    rows = 1100 * 2 * half_s  # 2 fps rows of every half of the 550 games
    feats = rows * TEACHER_DIM * 4 / 1e9
    pca = rows * PCA_DIM * 4 / 1e9
    return (f"feature banks {feats:,.0f} GB (2048-d float32) + {pca:,.0f} GB (PCA 512); "
            f"frame stores: 3 x {rows:,.0f} frames (2 + 4 fps) x the store's kB a frame "
            "(benchmarks/README.md)")  # fmt: skip


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
    p.add_argument("--measure", action="store_true", help="time the steps without a GPU too")
    p.add_argument("--peak-tflops", type=float, default=989.0,
                   help="the GPU's dense peak (H100 SXM bf16: 989)")  # fmt: skip
    p.add_argument("--utilization", type=float, default=0.35,
                   help="fraction of the peak assumed for the derived budget")  # fmt: skip
    args = p.parse_args()
    warnings.filterwarnings("ignore", message=".*self.log.*")  # no Trainer in this loop
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    timed = device.type == "cuda" or args.measure or args.tiny
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"{name}, torch {torch.__version__}, {args.precision}, compile={args.compile}, "
          f"{'tiny' if args.tiny else 'paper'} models, {args.half_s:g} s halves")  # fmt: skip
    rate_flops = args.utilization * args.peak_tflops * 1e12
    print(f"derived: {args.utilization:.0%} of {args.peak_tflops:g} TFLOP/s = "
          f"{rate_flops / 1e12:.0f} TFLOP/s a GPU (an assumption, not a measurement)")  # fmt: skip
    total = derived_total = 0.0
    for stage_name in args.stages:
        stage = STAGES[stage_name]
        items = stage.items(args.half_s)
        per_item = flops_per_item(stage, args.tiny)
        derived = stage.runs * items * per_item / rate_flops / 3600
        derived_total += derived
        runs = f" x {stage.runs} runs" if stage.runs > 1 else ""
        print(f"{stage_name}: per-GPU batch {stage.batch}, {items / stage.epochs:,.0f} items an "
              f"epoch x {stage.epochs} epochs{runs}, {stage.steps(args.half_s):,.0f} steps a run; "
              f"{per_item / 1e9:,.4g} GFLOPs an item; derived {derived:.3g} GPU-hours "
              f"({derived / 2:.3g} h on 2 GPUs, {derived:.3g} h on 1)")  # fmt: skip
        if timed:
            rate, peak = measure(stage, args, device)
            hours = stage.runs * items / rate / 3600
            total += hours
            print(f"{stage_name}: {rate:.1f} items/s a device, peak {peak:.1f} GiB; recipe "
                  f"{items:,.0f} items{runs} = {hours:.1f} device-hours")  # fmt: skip
    print(f"derived total: {derived_total:.1f} GPU-hours ({derived_total / 2:.1f} h on 2 GPUs)")
    if timed:
        print(f"total: {total:.1f} hours of this device (data loading not included)")
    print(f"disk: {disk(args.half_s)}")


if __name__ == "__main__":
    main()
