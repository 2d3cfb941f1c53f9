"""Benchmark of frame decoding (issue item 9): decode + store vs ffmpeg, clip reads, store size.

Usage:
    python benchmarks/decode.py                       # a synthetic 45-minute half, 2 fps
    python benchmarks/decode.py --duration 300        # a quicker run on a 5-minute half
    python benchmarks/decode.py --video data/x/1_224p.mkv --ffmpeg /usr/bin/ffmpeg

Three measurements, each printed with its target and, where there is one, the ratio to a
baseline measured in the same run (the machine is shared and noisy, so absolute times from
different runs do not compare):

1. Decode + store throughput (store frames/s) of ``comedian.data.decode.decode_video`` vs
   ``ffmpeg -i X -vf fps=2 -f rawvideo -pix_fmt rgb24 -`` piped into this process and drained,
   on the same file; the two alternate ``--repeats`` times and the best of each counts.
   Target: >= 0.7x ffmpeg. Also printed: frames per CPU-second (user + system, all threads)
   relative to ffmpeg's, which other jobs on the machine disturb less than wall time.
2. Clip reads: random 128-frame clips from the store, frames/s on one core (this process is
   pinned to one CPU, torch/OpenMP threads = 1); the baseline decodes the same JPEGs with
   Pillow. Target: >= 1,500 frames/s.
3. Store size per frame. Target: <= 40 KB (1 KB = 1,000 bytes) for 398x224 frames.

The video is ``comedian.synth.write_half(path, duration_s, seed)`` (398x224, 25 fps H.264), or
ffmpeg's ``testsrc2`` pattern when the synth package is not importable, or ``--video``.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import decord
import numpy as np
import simplejpeg
from PIL import Image

from comedian.data.decode import decode_video
from comedian.data.frames import FrameStore

TARGET_FFMPEG_RATIO = 0.7
TARGET_READ_FPS = 1500.0
TARGET_KB_PER_FRAME = 40.0


def find_ffmpeg(requested: str | None) -> str:
    """The ffmpeg to compare against: ``--ffmpeg``, else ``ffmpeg`` on PATH, else imageio's."""
    if requested:
        return requested
    on_path = shutil.which("ffmpeg")
    if on_path:
        return on_path
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def ffmpeg_version(exe: str) -> str:
    out = subprocess.run([exe, "-version"], capture_output=True, text=True, check=True).stdout
    return out.splitlines()[0]


def make_video(path: Path, duration_s: float, seed: int, ffmpeg: str) -> str:
    """Write the benchmark video; return a description of where it came from."""
    try:
        from comedian.synth import write_half
    except ImportError:
        write_half = None
    if write_half is not None:
        write_half(path, duration_s=duration_s, seed=seed)
        return f"comedian.synth.write_half(duration_s={duration_s:g}, seed={seed})"
    src = f"testsrc2=size=398x224:rate=25:duration={duration_s:g}"
    cmd = [ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", src, "-c:v", "libx264"]
    subprocess.run([*cmd, "-preset", "veryfast", "-pix_fmt", "yuv420p", str(path)], check=True)
    return f"ffmpeg lavfi {src} (comedian.synth not importable)"


def cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def time_ffmpeg(
    exe: str, video: Path, fps: float, width: int, height: int
) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds and frame count of ffmpeg decoding to raw RGB at ``fps``."""
    cmd = [exe, "-v", "error", "-nostdin", "-i", str(video), "-vf", f"fps={fps:g}"]
    cmd += ["-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    cpu0 = cpu_seconds(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    total = 0
    while chunk := proc.stdout.read(1 << 22):
        total += len(chunk)
    if proc.wait() != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed with exit code {proc.returncode}")
    wall = time.perf_counter() - start
    return wall, cpu_seconds(resource.RUSAGE_CHILDREN) - cpu0, total // (width * height * 3)


def time_decode(video: Path, out: Path, args: argparse.Namespace) -> tuple[float, float]:
    """Wall and CPU seconds (all threads of this process) of decode_video."""
    cpu0 = cpu_seconds(resource.RUSAGE_SELF)
    start = time.perf_counter()
    decode_video(
        video,
        out,
        fps=args.fps,
        jpeg_quality=args.jpeg_quality,
        num_threads=args.num_threads,
        batch_size=args.batch_size,
    )
    return time.perf_counter() - start, cpu_seconds(resource.RUSAGE_SELF) - cpu0


def time_reads(store: FrameStore, starts: np.ndarray, clip: int) -> float:
    begin = time.perf_counter()
    for k0 in starts:
        store.read(int(k0), int(k0) + clip)
    return time.perf_counter() - begin


def time_pillow_reads(store: FrameStore, starts: np.ndarray, clip: int) -> float:
    """Baseline: the same clips, JPEGs decoded with Pillow into one array."""
    offsets = store._offsets
    fd = os.open(store.path, os.O_RDONLY)
    begin = time.perf_counter()
    try:
        for k0 in starts:
            out = np.empty((clip, *store.frame_size, 3), dtype=np.uint8)
            for i, k in enumerate(range(int(k0), int(k0) + clip)):
                raw = os.pread(fd, int(offsets[k + 1] - offsets[k]), int(offsets[k]))
                out[i] = np.asarray(Image.open(io.BytesIO(raw)).convert("RGB"))
    finally:
        os.close(fd)
    return time.perf_counter() - begin


def status(ok: bool) -> str:
    return "meets target" if ok else "MISSES target"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--video", type=Path, help="benchmark this file instead of a synthetic one")
    parser.add_argument("--duration", type=float, default=2700.0, help="synthetic half, seconds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fps", type=float, default=2.0)
    parser.add_argument("--ffmpeg", help="ffmpeg executable (default: PATH, else imageio's)")
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs of each decoder")
    parser.add_argument("--jpeg-quality", type=int, default=90)
    parser.add_argument("--num-threads", type=int, default=0, help="decord threads (0: auto)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--clips", type=int, default=60, help="random clips to read")
    parser.add_argument("--clip-len", type=int, default=128)
    parser.add_argument("--workdir", type=Path, help="keep the video and store here")
    args = parser.parse_args()

    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        return run(args, args.workdir)
    with tempfile.TemporaryDirectory(prefix="comedian-bench-decode-") as tmp:
        return run(args, Path(tmp))


def run(args: argparse.Namespace, work: Path) -> int:
    """Run the three measurements with the video and store under ``work``."""
    ffmpeg = find_ffmpeg(args.ffmpeg)
    print("# decode benchmark")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"{len(os.sched_getaffinity(0))} usable; python {platform.python_version()}")  # fmt: skip
    print(f"decord {decord.__version__}, simplejpeg {simplejpeg.__version__}")
    print(f"ffmpeg baseline: {ffmpeg} ({ffmpeg_version(ffmpeg)})")

    if args.video is not None:
        video, origin = args.video, "given"
    else:
        video = work / "1_224p.mkv"
        t0 = time.perf_counter()
        origin = make_video(video, args.duration, args.seed, ffmpeg)
        print(f"wrote the video in {time.perf_counter() - t0:.1f} s")
    vr = decord.VideoReader(str(video), num_threads=1)
    height, width = vr[0].shape[:2]
    print(f"video: {video} ({origin}): {len(vr)} frames {width}x{height} @ "
          f"{vr.get_avg_fps():g} fps, {video.stat().st_size / 1e6:.1f} MB")  # fmt: skip
    del vr

    store_path = work / "1.frames"
    ff_wall, ff_cpu, dec_wall, dec_cpu, ff_frames = [], [], [], [], 0
    for _ in range(args.repeats):
        wall, cpu, ff_frames = time_ffmpeg(ffmpeg, video, args.fps, width, height)
        ff_wall.append(wall)
        ff_cpu.append(cpu)
        wall, cpu = time_decode(video, store_path, args)
        dec_wall.append(wall)
        dec_cpu.append(cpu)
    store = FrameStore(store_path)
    ff_rate = ff_frames / min(ff_wall)
    dec_rate = len(store) / min(dec_wall)
    ratio = dec_rate / ff_rate
    cpu_ratio = (len(store) / min(dec_cpu)) / (ff_frames / min(ff_cpu))
    print(f"\n## 1. decode + store vs ffmpeg -vf fps={args.fps:g} (best of {args.repeats})")
    for name, frames, walls, cpus in (
        ("ffmpeg", ff_frames, ff_wall, ff_cpu),
        ("comedian", len(store), dec_wall, dec_cpu),
    ):
        print(
            f"{name:>8}: {frames} frames in {min(walls):.2f} s = {frames / min(walls):.0f} "
            f"frames/s, {min(cpus):.2f} CPU-s (runs: {', '.join(f'{t:.2f}' for t in walls)} s)"
        )
    print(
        f"throughput ratio: {ratio:.2f}x ffmpeg (target >= {TARGET_FFMPEG_RATIO}x: "
        f"{status(ratio >= TARGET_FFMPEG_RATIO)}); frames per CPU-second: {cpu_ratio:.2f}x ffmpeg's"
    )

    # One core from here on: pin the process to one CPU and keep libraries single-threaded
    # (the reader itself starts no threads).
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    os.environ["OMP_NUM_THREADS"] = "1"
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    rng = np.random.default_rng(args.seed)
    clip = min(args.clip_len, len(store))
    starts = rng.integers(0, len(store) - clip + 1, size=args.clips)
    store.read(0, 1)  # open the descriptor outside the timing
    read_s = min(time_reads(store, starts, clip) for _ in range(2))
    pil_s = time_pillow_reads(store, starts, clip)
    n = clip * args.clips
    read_fps = n / read_s
    print(f"\n## 2. clip reads: {args.clips} random {clip}-frame clips, one core")
    print(f"FrameStore.read (simplejpeg): {read_fps:.0f} frames/s "
          f"(target >= {TARGET_READ_FPS:.0f}: {status(read_fps >= TARGET_READ_FPS)})")  # fmt: skip
    print(f"baseline Pillow decode: {n / pil_s:.0f} frames/s; ratio {pil_s / read_s:.2f}x")

    size_kb = (store_path.stat().st_size) / len(store) / 1e3
    print(f"\n## 3. store size: {store_path.stat().st_size / 1e6:.1f} MB for {len(store)} frames")
    print(f"{size_kb:.1f} KB per {store.frame_size[1]}x{store.frame_size[0]} frame at JPEG "
          f"quality {args.jpeg_quality} (target <= {TARGET_KB_PER_FRAME:.0f} KB: "
          f"{status(size_kb <= TARGET_KB_PER_FRAME)})")  # fmt: skip
    print(f"\ncommand: {' '.join([Path(sys.executable).name, *sys.argv])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
