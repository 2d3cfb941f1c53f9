"""Peak memory of one fine-tuning step with and without gradient checkpointing.

Usage:
    python benchmarks/grad_checkpointing.py                       # ViSwin-T and ViViT-T, paper input
    python benchmarks/grad_checkpointing.py --arch viswin_tiny --batch-sizes 1 2 --dtype bf16
    python benchmarks/grad_checkpointing.py --tiny                # seconds: checks the code path

Each measurement runs in a fresh subprocess: the model with its 17-class head in training mode
(temporal masking on: 48 of 64 tubelets encoded, method.md §5), a (B, 3, 128, 224, 224) clip,
then one step (forward under autocast for bf16, sigmoid-mean loss, backward; no optimizer). The
step's memory is the process's peak resident set (``ru_maxrss``) minus its resident set just
before the step (model, input and imports), so it holds the activations, the transient buffers
and the gradients (4 bytes a parameter); the child runs with ``MALLOC_MMAP_THRESHOLD_=65536`` so
that freed tensors leave the resident set. On a CUDA device ``torch.cuda.max_memory_allocated``
is used instead. Prints one line per (arch, checkpointing, batch) and the per-clip slope.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import time

import torch

from comedian.models import build_model

ARCHS = ("viswin_tiny", "vivit_tiny")
TINY = {"num_frames": 8, "img_size": 32}


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def child(arch: str, checkpointing: bool, batch: int, dtype: str, tiny: bool, device: str) -> dict:
    """One training step in this process; returns its memory and time."""
    torch.manual_seed(0)
    sizes = TINY if tiny else {}
    model = build_model(arch, num_classes=17, **sizes).to(device).train()
    model.set_grad_checkpointing(checkpointing)
    frames, size = (sizes.get("num_frames", 128), sizes.get("img_size", 224))
    x = torch.randn(batch, 3, frames, size, size, device=device)
    params = sum(p.numel() for p in model.parameters())
    cast = (
        torch.autocast(device, dtype=torch.bfloat16)
        if dtype == "bf16"
        else contextlib.nullcontext()
    )
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
    else:
        before = _rss_bytes()
    t0 = time.perf_counter()
    with cast:
        logits = model(x)  # (B, 64, 17)
    logits.float().sigmoid().mean().backward()
    if device == "cuda":
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated()
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    return {
        "arch": arch,
        "grad_checkpointing": checkpointing,
        "batch": batch,
        "dtype": dtype,
        "device": device,
        "step_s": round(time.perf_counter() - t0, 2),
        "step_gib": round((peak - before) / 2**30, 3),
        "grad_gib": round(params * 4 / 2**30, 3),
        "params": params,
    }


def measure(args: argparse.Namespace, arch: str, checkpointing: bool, batch: int) -> dict:
    cmd = [sys.executable, __file__, "--child", arch, str(int(checkpointing)), str(batch),
           "--dtype", args.dtype, "--device", args.device] + (["--tiny"] if args.tiny else [])  # fmt: skip
    # glibc serves every block of 64 KiB or more with its own mmap and unmaps it when freed, so
    # the resident set follows the live tensors instead of keeping freed heap (which inflated
    # the checkpointed steps' peaks several-fold).
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}
    run = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    if run.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{run.stderr[-3000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--arch", nargs="+", default=list(ARCHS), choices=ARCHS)
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[1])
    p.add_argument(
        "--modes", nargs="+", choices=("off", "on"), default=["off", "on"],
        help="without (off) and with (on) gradient checkpointing",
    )  # fmt: skip
    p.add_argument("--dtype", choices=("bf16", "fp32"), default="bf16")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--tiny", action="store_true", help="8 frames at 32 px (a code-path check)")
    p.add_argument("--child", nargs=3, default=None, help=argparse.SUPPRESS)
    p.add_argument("--json", default=None, help="write the results here as JSON")
    args = p.parse_args()
    if args.child:
        arch, ckpt, batch = args.child
        print(json.dumps(child(arch, ckpt == "1", int(batch), args.dtype, args.tiny, args.device)))
        return
    rows = []
    for arch in args.arch:
        for checkpointing in [m == "on" for m in args.modes]:
            for batch in args.batch_sizes:
                row = measure(args, arch, checkpointing, batch)
                rows.append(row)
                print(
                    f"{arch} grad_checkpointing={checkpointing} batch {batch} {args.dtype} "
                    f"on {args.device}: step memory {row['step_gib']:.2f} GiB (gradients "
                    f"{row['grad_gib']:.2f}), {row['step_s']:.1f} s",
                    flush=True,
                )
            sizes = [
                r for r in rows if r["arch"] == arch and r["grad_checkpointing"] == checkpointing
            ]
            if len(sizes) >= 2:
                a, b = sizes[0], sizes[-1]
                slope = (b["step_gib"] - a["step_gib"]) / (b["batch"] - a["batch"])
                print(f"{arch} grad_checkpointing={checkpointing}: {slope:.2f} GiB a clip")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
