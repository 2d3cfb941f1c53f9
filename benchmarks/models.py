"""Forward + backward throughput of ViViT-Tiny (or ViSwin-Tiny) at the paper's input.

Usage:
    python benchmarks/models.py --device cpu --batch-size 1 --iters 2       # laptop
    python benchmarks/models.py --device cuda                               # GPU: largest B

Measures training steps (forward, loss, backward; no optimizer) in training mode with temporal
masking on (ratio 0.25: 48 of 64 tubelets encoded, method.md §5) on (B, 3, 128, 224, 224) clips,
in several modes measured in the same process: fp32 eager (the baseline), bf16 autocast eager
and bf16 autocast + ``torch.compile``. Prints clips/s, peak GPU memory and the ratio of every mode
to the baseline at the same batch size, then the largest batch that fits in bf16.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import time
from collections.abc import Iterator

import torch
from torch import nn

from comedian.models import build_model

MODES = ("fp32-eager", "tf32-eager", "bf16-eager", "bf16-compile")


def _autocast(mode: str, device: str) -> contextlib.AbstractContextManager:
    if mode.startswith("bf16"):
        return torch.autocast(device, dtype=torch.bfloat16)
    return contextlib.nullcontext()


@contextlib.contextmanager
def _tf32(enabled: bool) -> Iterator[None]:
    old = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = enabled
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = old


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _step(model: nn.Module, x: torch.Tensor, mode: str, device: str) -> None:
    with _autocast(mode, device):
        logits = model(x)  # (B, 64, 17)
    logits.float().sigmoid().mean().backward()
    model.zero_grad(set_to_none=True)


def measure(
    model: nn.Module, batch: int, args: argparse.Namespace, mode: str
) -> dict[str, float | int | str]:
    """Time ``args.iters`` training steps after ``args.warmup`` untimed ones."""
    device = args.device
    x = torch.randn(batch, 3, args.frames, args.img_size, args.img_size, device=device)
    fn = torch.compile(model) if mode.endswith("compile") else model
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    with _tf32(mode.startswith("tf32")):
        t0 = time.perf_counter()
        for _ in range(args.warmup):
            _step(fn, x, mode, device)
        _sync(device)
        warm = time.perf_counter() - t0
        t0 = time.perf_counter()
        for _ in range(args.iters):
            _step(fn, x, mode, device)
        _sync(device)
        dt = time.perf_counter() - t0
    peak = torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else float("nan")
    return {
        "mode": mode,
        "batch": batch,
        "clips_per_s": batch * args.iters / dt,
        "step_s": dt / args.iters,
        "warmup_s": warm,
        "peak_gib": peak,
    }


def fits(model: nn.Module, batch: int, args: argparse.Namespace, mode: str) -> bool:
    """Whether one eager training step at ``batch`` fits in GPU memory."""
    try:
        x = torch.randn(batch, 3, args.frames, args.img_size, args.img_size, device=args.device)
        _step(model, x, mode, args.device)
        _sync(args.device)
        return True
    except torch.OutOfMemoryError:
        return False
    finally:
        model.zero_grad(set_to_none=True)
        if args.device == "cuda":
            torch.cuda.empty_cache()


def largest_batch(model: nn.Module, args: argparse.Namespace, mode: str, cands: list[int]) -> int:
    for b in cands:
        if fits(model, b, args, mode):
            return b
    raise RuntimeError(f"not even batch {cands[-1]} fits in {mode}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--arch", default="vivit_tiny", choices=["vivit_tiny", "viswin_tiny"])
    p.add_argument("--batch-size", type=int, default=0, help="0: largest that fits (GPU), 1 (CPU)")
    p.add_argument("--frames", type=int, default=128)
    p.add_argument("--img-size", type=int, default=224)
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--modes", nargs="+", choices=MODES, default=None)
    p.add_argument("--candidates", type=int, nargs="+", default=[64, 48, 32, 24, 16, 8, 4, 2, 1])
    p.add_argument(
        "--bf16-max-batch", action="store_true", help="also time bf16 eager at its largest B"
    )
    p.add_argument("--json", default=None, help="write the results here as JSON")
    args = p.parse_args()
    modes = args.modes or (
        ["fp32-eager", "tf32-eager", "bf16-eager", "bf16-compile"]
        if args.device == "cuda"
        else ["fp32-eager", "bf16-eager"]
    )
    torch.manual_seed(0)
    model = build_model(
        args.arch, num_frames=args.frames, img_size=args.img_size, num_classes=17
    ).to(args.device)
    model.train()  # masking on: 48 of 64 tubelets go through the spatial stage
    n_params = sum(q.numel() for q in model.parameters())
    device_name = (
        torch.cuda.get_device_name() if args.device == "cuda" else platform.processor() or "cpu"
    )
    print(f"{args.arch}: {n_params:,} parameters; device {device_name}; torch {torch.__version__}")
    if args.batch_size:
        batch = args.batch_size
    elif args.device == "cuda":
        batch = largest_batch(model, args, modes[0], args.candidates)
    else:
        batch = 1
    print(f"input ({batch}, 3, {args.frames}, {args.img_size}, {args.img_size}), mask ratio 0.25")
    results = []
    for mode in modes:
        r = measure(model, batch, args, mode)
        results.append(r)
        base = results[0]["clips_per_s"]
        print(
            f"  {mode:13s} B={batch:3d}  {r['clips_per_s']:8.2f} clips/s  "
            f"step {r['step_s'] * 1000:8.1f} ms  peak {r['peak_gib']:6.1f} GiB  "
            f"x{r['clips_per_s'] / base:5.2f} vs {modes[0]}  (warmup {r['warmup_s']:.1f} s)",
            flush=True,
        )
    if args.bf16_max_batch and args.device == "cuda":
        bigger = [b for b in args.candidates if b > batch] + [batch]
        b16 = largest_batch(model, args, "bf16-eager", bigger)
        # Eager only: a new batch size would recompile, which costs more than it tells.
        for mode in ("bf16-eager",):
            if b16 != batch:
                r = measure(model, b16, args, mode)
                results.append(r)
                print(
                    f"  {mode:13s} B={b16:3d}  {r['clips_per_s']:8.2f} clips/s  "
                    f"step {r['step_s'] * 1000:8.1f} ms  peak {r['peak_gib']:6.1f} GiB  "
                    f"x{r['clips_per_s'] / results[0]['clips_per_s']:5.2f} vs {modes[0]} "
                    f"B={batch}",
                    flush=True,
                )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"device": device_name, "arch": args.arch, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
