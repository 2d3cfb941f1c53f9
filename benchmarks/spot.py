"""``comedian spot`` speed: decoding, inference and NMS of a match half, timed separately.

Usage:
    python benchmarks/spot.py                    # 3 video-minutes, paper-size ViViT-T, CPU
    python benchmarks/spot.py --minutes 6 --device cuda
    python benchmarks/spot.py --tiny --minutes 1 # the code path at toy size (seconds)

1. Decode: a synthetic half of ``--minutes`` (``comedian.synth.write_half``, 398x224, 25 fps,
   H.264) to a 2 fps frame store at the model's input size, as ``comedian spot`` does.
2. Inference: a randomly initialised ViViT-T with the spotting head (the paper's size, 128
   frames at 224 px) scores the half, batch ``--batch-size``, alternating ``--repeats`` times
   between the per-window baseline (the whole model on every 64 s window, what ``comedian
   spot`` ran before) and the current code (each second encoded once for the windows sharing
   it); both outputs compared.
3. NMS: the default soft NMS on a 45-minute half of scores (5,400 rows).

The per-half figures extrapolate the measured costs to a 45-minute half (5,400 rows): decoding by
duration, inference by the number of windows (baseline) or of encoded seconds (current). The
machine's load average and torch's thread count are printed with them: on a shared machine only
the ratios measured here side by side are meaningful.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from comedian.data.decode import decode_video
from comedian.data.frames import FrameStore
from comedian.data.halves import Half
from comedian.data.soccernet import NUM_CLASSES
from comedian.data.windows import ROWS_PER_TOKEN, WINDOW_TOKENS, window_starts
from comedian.models import build_model
from comedian.spotting.inference import pick_device, score_halves
from comedian.spotting.settings import NmsSetting
from comedian.synth.generate import write_half

HALF_ROWS = 5400  # 45 minutes at 2 fps
TINY = {"img_size": 32, "patch_size": 16, "depth": 1, "temporal_depth": 1}


def encoded_seconds(rows: int) -> int:
    """Seconds the spatial stage encodes for a half of ``rows`` rows (shared windows)."""
    return int(window_starts(rows)[-1]) // ROWS_PER_TOKEN + WINDOW_TOKENS


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} CPUs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=3.0, help="video-minutes to measure")
    parser.add_argument("--batch-size", type=int, default=16, help="comedian spot's default")
    parser.add_argument("--repeats", type=int, default=1, help="alternating runs of each code")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--tiny", action="store_true", help="a toy model (checks the script)")
    args = parser.parse_args()
    dev = pick_device(args.device)
    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, device {dev}")  # fmt: skip
    print(f"before: {load()}")
    torch.manual_seed(0)
    model = build_model("vivit_tiny", num_classes=NUM_CLASSES, **(TINY if args.tiny else {}))
    size = model.img_size
    with tempfile.TemporaryDirectory(prefix="comedian-bench-spot-") as tmp:
        video = Path(tmp) / "half.mkv"
        write_half(video, args.minutes * 60, seed=0)
        store_path = Path(tmp) / "half.frames"
        t0, c0 = time.perf_counter(), time.process_time()
        decode_video(video, store_path, fps=2.0, size=(size, size))
        t_decode, c_decode = time.perf_counter() - t0, time.process_time() - c0
        store = FrameStore(store_path)
        rows = store.num_frames
        half = Half(store, np.zeros((rows, NUM_CLASSES), np.uint8))
        times: dict[bool, list[float]] = {False: [], True: []}
        cpu: dict[bool, list[float]] = {False: [], True: []}
        scores = {}
        for _ in range(args.repeats):
            for shared in (False, True):
                t0, c0 = time.perf_counter(), time.process_time()
                scores[shared] = score_halves(
                    model, [half], batch_size=args.batch_size, device=dev, shared_seconds=shared
                )[0]
                times[shared].append(time.perf_counter() - t0)
                cpu[shared].append(time.process_time() - c0)
        store.close()
    diff = float(np.abs(scores[True] - scores[False]).max())
    nms = NmsSetting()
    full = np.random.default_rng(0).random((HALF_ROWS, NUM_CLASSES), dtype=np.float32)
    t0 = time.perf_counter()
    nms.apply(full)
    t_nms = time.perf_counter() - t0
    print(f"after: {load()}")

    minutes = rows / 120
    windows, windows_45 = len(window_starts(rows)), len(window_starts(HALF_ROWS))
    seconds, seconds_45 = encoded_seconds(rows), encoded_seconds(HALF_ROWS)
    old, new = min(times[False]), min(times[True])
    half_decode = t_decode / minutes * 45
    half_old = old / windows * windows_45
    half_new = new / seconds * seconds_45
    print(f"video: {minutes:.1f} min, {rows} rows, {windows} windows, {seconds} encoded seconds; "
          f"a 45-minute half: {windows_45} windows, {seconds_45} encoded seconds")  # fmt: skip
    print(f"decode: {t_decode:.1f} s = {t_decode / minutes:.2f} s a video-minute "
          f"-> {half_decode:.0f} s a half")  # fmt: skip
    print(f"inference baseline (every window): {old:.1f} s = {old / minutes:.2f} s a video-minute "
          f"-> {half_old:.0f} s a half  (runs {', '.join(f'{t:.1f}' for t in times[False])})")  # fmt: skip
    print(f"inference current (shared seconds): {new:.1f} s = {new / minutes:.2f} s a video-minute "
          f"-> {half_new:.0f} s a half  (runs {', '.join(f'{t:.1f}' for t in times[True])})")  # fmt: skip
    print(f"inference speed-up: {old / new:.2f}x measured, {half_old / half_new:.2f}x a half; "
          f"max |score difference| {diff:.2e}")  # fmt: skip
    print(f"nms (soft, {HALF_ROWS} x {NUM_CLASSES}): {t_nms:.3f} s a half")
    # CPU seconds (all threads) are less sensitive to other work than wall time
    c_old, c_new = min(cpu[False]), min(cpu[True])
    print(f"cpu time a 45-minute half: decode {c_decode / minutes * 45:.0f} s, inference baseline "
          f"{c_old / windows * windows_45:.0f} s, current {c_new / seconds * seconds_45:.0f} s "
          f"({c_old / c_new:.2f}x measured)")  # fmt: skip
    total_old = half_decode + half_old + t_nms
    total_new = half_decode + half_new + t_nms
    print(f"a 45-minute half: baseline {total_old / 60:.1f} min, current {total_new / 60:.1f} min "
          f"(decode {half_decode:.0f} s + inference {half_new:.0f} s + nms {t_nms:.1f} s)")  # fmt: skip


if __name__ == "__main__":
    main()
