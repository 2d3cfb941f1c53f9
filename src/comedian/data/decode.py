"""Decode one half's video with decord into a frame store at a fixed frame rate.

Usage:
    header = decode_video("data/x/1_224p.mkv", "results/decode/2fps/x/1.frames", fps=2.0)
    idx = nearest_source_frames(starts_s, fps=2.0, duration_s=2700.0)   # the selection rule

Frame selection (method.md section 0, Decision). Frame k of a store at ``fps`` is the source
frame whose start timestamp, as decord reports it (``VideoReader.get_frame_timestamp``, column
0), is nearest to ``k / fps`` seconds; of two equally near frames the EARLIER one wins. At 25 fps
the 2 fps frame 1 (0.5 s) is as near to source frame 12 (0.48 s) as to 13 (0.52 s): it is 12, and
in general 2 fps frame k is source frame ``floor(12.5 k)``. The store holds every k with
``k / fps < duration``, where duration is the end time of the last source frame (decord's stop
timestamp). Plain ``ffmpeg -vf fps=2`` picks a frame about 0.24 s later than this rule.

Rounding, handled on purpose: decord keeps timestamps as float32 seconds, so 0.48 and 0.52 come
back as 0.47999999 and 0.51999998 and a naive float comparison would call frame 13 nearer; at
45 minutes a float32 step is 0.24 ms. The rule is therefore evaluated in integer microseconds:
targets ``k / fps`` are computed exactly from the rational value of fps; timestamps are rounded
to microseconds; and two candidates whose distances differ by no more than the timestamps'
own resolution (one float32 step at the largest timestamp, plus 1 us) count as a tie. Real
frames are milliseconds apart, so this tolerance only ever merges true ties.
"""

from __future__ import annotations

import logging
import math
import os
import re
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import decord
import imageio_ffmpeg
import numpy as np

from comedian import __version__
from comedian.config import git_revision
from comedian.data.frames import write_store
from comedian.errors import InputError

log = logging.getLogger(__name__)

_US = 1_000_000


class VideoError(InputError, RuntimeError):
    """A video is missing, unreadable or yields no frames (the message names the file)."""


def store_frame_count(fps: float, duration_s: float) -> int:
    """Number of store frames: how many k >= 0 satisfy ``k / fps < duration_s``.

    >>> store_frame_count(2.0, 300.0), store_frame_count(2.0, 300.04), store_frame_count(4.0, 0.1)
    (600, 601, 1)
    """
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    frac = Fraction(fps).limit_denominator(_US)
    dur_us = round(duration_s * _US)
    # k * 1e6 * q / p < dur_us  <=>  k < dur_us * p / (1e6 * q)
    den = _US * frac.denominator
    return max(0, -(-dur_us * frac.numerator // den))


def nearest_source_frames(starts_s: np.ndarray, fps: float, duration_s: float) -> np.ndarray:
    """Index of the source frame shown in each store frame (the rule in the module docstring).

    Args:
        starts_s: Start timestamps of the source frames in seconds, in decord's dtype (the
            dtype sets the tie tolerance). Shape (M,).
        fps: Store frame rate.
        duration_s: Duration of the video; store frames k satisfy k / fps < duration_s.

    Returns:
        Source frame index of every store frame k, int64. Shape (K,).
    """
    starts = np.asarray(starts_s)
    if starts.ndim != 1 or len(starts) == 0:
        raise ValueError(f"need a non-empty 1-D array of timestamps, got shape {starts.shape}")
    num = store_frame_count(fps, duration_s)
    frac = Fraction(fps).limit_denominator(_US)
    k = np.arange(num, dtype=np.int64)  # (K,)
    p, q = frac.numerator, frac.denominator
    target_us = (2 * k * q * _US + p) // (2 * p)  # round(k / fps * 1e6), exact integer math
    resolution_s = float(np.spacing(np.abs(starts).max()))
    tol_us = int(np.ceil(resolution_s * _US)) + 1
    t_us = np.rint(starts.astype(np.float64) * _US).astype(np.int64)  # (M,)
    order = np.argsort(t_us, kind="stable")  # presentation order, ties keep index order
    sorted_us = t_us[order]
    after = np.searchsorted(sorted_us, target_us, side="left")  # sorted_us[after] >= target
    prev = np.clip(after - 1, 0, len(sorted_us) - 1)
    nxt = np.clip(after, 0, len(sorted_us) - 1)
    d_prev = np.abs(target_us - sorted_us[prev])
    d_next = np.abs(sorted_us[nxt] - target_us)
    take_next = d_next < d_prev - tol_us  # strictly nearer beyond the tolerance; ties -> earlier
    return order[np.where(take_next, nxt, prev)].astype(np.int64)


def fetch_plan(index: np.ndarray, key_indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Source frames to request from decord, and where each store frame is among them.

    decord's ``get_batch`` walks forward through skipped frames without converting them, but
    when the next requested frame lies in a later group of pictures it rewinds the file, seeks
    to that keyframe and flushes the decoder instead, which doubled the CPU time of a 2 fps
    decode with a keyframe every 2 s (benchmarks/decode.py). Requesting the frame just before
    each keyframe as well keeps every step inside one group of pictures, for one extra RGB
    conversion per keyframe.

    Args:
        index: Source frame of each store frame, non-decreasing. Shape (K,).
        key_indices: Source indices of the keyframes (``VideoReader.get_key_indices()``).

    Returns:
        ``fetch``: sorted unique source frames to request, shape (F,); ``pos``: where each
        store frame is in ``fetch`` (``fetch[pos] == index``), shape (K,).
    """
    index = np.asarray(index, dtype=np.int64)
    keys = np.asarray(key_indices, dtype=np.int64)
    bridges = keys[(keys > 0) & (keys <= index.max())] - 1
    fetch = np.union1d(index, bridges)  # sorted, unique
    return fetch, np.searchsorted(fetch, index)


_DURATION_RE = re.compile(r"Duration:\s*(\d+):(\d{2}):(\d{2}(?:\.\d+)?)")


def container_duration(video: str | os.PathLike[str]) -> float | None:
    """The duration the container declares (ffmpeg's ``Duration:``), in seconds, or None.

    An interrupted download keeps its header: a Matroska file cut in half still declares the
    full duration, while decoding it yields only the first half of the frames.
    """
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(video)]
    try:
        # ffmpeg exits 1 here ("no output file"); the header is on stderr either way
        proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=60)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise VideoError(f"{video}: cannot probe the container with ffmpeg ({err})") from err
    m = _DURATION_RE.search(proc.stderr)
    if m is None:
        return None
    h, mnt, s = m.groups()
    return int(h) * 3600 + int(mnt) * 60 + float(s)


def check_duration(
    video: str | os.PathLike[str],
    decoded_s: float,
    declared_s: float | None,
    max_missing_s: float,
) -> None:
    """Refuse a video whose decodable length falls short of what its container declares.

    Args:
        video: The file (for the message).
        decoded_s: End time of the last decodable frame (seconds).
        declared_s: The container's duration, or None when it declares none (then unchecked).
        max_missing_s: How many seconds may be missing at the end (config ``max_missing_s``).

    Raises:
        VideoError: Naming the file and both durations.
    """
    if declared_s is None or declared_s <= 0:
        log.warning("%s: the container declares no duration; length not checked", video)
        return
    missing = declared_s - decoded_s
    if missing > max_missing_s:
        raise VideoError(
            f"{video}: truncated? the frames end at {decoded_s:.2f} s but the container declares "
            f"{declared_s:.2f} s ({missing:.2f} s missing, more than max_missing_s="
            f"{max_missing_s:g}); re-download the file, or raise max_missing_s to accept it"
        )


def timestamp_gaps(starts_s: np.ndarray) -> np.ndarray:
    """Holes in a video's frame times: where consecutive frames lie more than 1.5 frame steps
    apart (the step is the median spacing), what is missing between them.

    A file damaged in the middle (bytes lost or zeroed) still decodes, but the frames of the
    damaged stretch are gone and their neighbours would stand in for them in the store.

    Shapes:
        starts_s: (M,) start times in seconds, any order -> (G, 2) ``[from, to)`` seconds of
        each gap (``from`` = the end of the frame before it), in time order.
    """
    t = np.sort(np.asarray(starts_s, dtype=np.float64))
    if len(t) < 3:
        return np.zeros((0, 2))
    d = np.diff(t)  # (M - 1,)
    positive = d[d > 0]
    if len(positive) == 0:
        return np.zeros((0, 2))
    step = float(np.median(positive))
    at = np.flatnonzero(d > 1.5 * step)
    return np.stack([t[at] + step, t[at + 1]], axis=1) if len(at) else np.zeros((0, 2))


def check_gaps(
    video: str | os.PathLike[str], starts_s: np.ndarray, end_missing_s: float, max_missing_s: float
) -> None:
    """Refuse a video with holes in its frame times beyond the ``max_missing_s`` budget (the
    budget the missing end shares: gaps and the missing end count together).

    Raises:
        VideoError: Naming the file and the largest gap's time.
    """
    gaps = timestamp_gaps(starts_s)
    if len(gaps) == 0:
        return
    sizes = gaps[:, 1] - gaps[:, 0]
    total = float(sizes.sum()) + max(0.0, end_missing_s)
    if total <= max_missing_s:
        return
    i = int(np.argmax(sizes))
    more = f" ({len(gaps)} gaps, {total:.2f} s missing in all)" if len(gaps) > 1 else ""
    raise VideoError(
        f"{video}: damaged? no frames from {gaps[i, 0]:.2f} s to {gaps[i, 1]:.2f} s "
        f"({sizes[i]:.2f} s missing{more}, more than max_missing_s={max_missing_s:g}); "
        f"re-download the file, or raise max_missing_s to accept it"
    )


def check_timestamps(video: str | os.PathLike[str], stamps: np.ndarray) -> None:
    """Refuse missing or absurd frame timestamps (NaN, negative, all zero, beyond a day).

    Shapes:
        stamps: (M, 2) start and end seconds of each frame, as decord reports them.
    """
    if stamps.ndim != 2 or stamps.shape[1] != 2 or len(stamps) == 0:
        raise VideoError(f"{video}: the decoder returned no frame timestamps")
    if not np.isfinite(stamps).all():
        raise VideoError(f"{video}: frame timestamps hold NaN or inf values")
    starts = stamps[:, 0]
    if float(starts.min()) < -1.0 or float(stamps.max()) > 86_400.0:
        raise VideoError(
            f"{video}: absurd frame timestamps ({float(starts.min()):.3f} s .. "
            f"{float(stamps.max()):.3f} s)"
        )
    if len(starts) > 1 and float(starts.max()) <= 0.0:
        raise VideoError(f"{video}: the frames have no timestamps (all {len(starts)} are 0)")


def _open(video: Path, **kwargs: Any) -> decord.VideoReader:
    try:
        reader = decord.VideoReader(str(video), ctx=decord.cpu(0), **kwargs)
    except (RuntimeError, decord.DECORDError) as err:
        raise VideoError(f"{video}: cannot read video ({str(err).strip()[:200]})") from err
    if len(reader) == 0:
        raise VideoError(f"{video}: the video has no frames")
    return reader


def _decord_scales(reader: decord.VideoReader) -> bool:
    """Whether decord returns frames at the size it was asked for.

    decord 0.6 fails to copy scaled frames at some output widths (8, 16, 24, 48, 72 px among
    them: its frames come out with padded rows), whatever the source.
    """
    try:
        reader.get_batch([0]).asnumpy()
    except (RuntimeError, decord.DECORDError):
        return False
    reader.seek(0)
    return True


def resize_frames(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize RGB frames to ``size`` (height, width): bicubic with antialiasing, as FFmpeg's
    scaler does by default. Shapes: (B, H, W, 3) uint8 -> (B, size[0], size[1], 3) uint8."""
    import torch  # only this fallback needs it: the decode jobs stay light
    import torch.nn.functional as F

    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()
    y = F.interpolate(x, size=size, mode="bicubic", antialias=True, align_corners=False)
    return y.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()


@dataclass
class SourceVideo:
    """A probed source video: its reader and the frame times the store is planned from.

    Attributes:
        reader: A decord reader at the source size.
        starts: float32 (M,) start time of every source frame, seconds.
        fps: The container's average frame rate.
        height: Source frame height.
        width: Source frame width.
        duration_s: End time of the last frame (start + 1 / fps without frame durations).
        declared_s: The container's declared duration (None when it declares none).
    """

    reader: decord.VideoReader
    starts: np.ndarray
    fps: float
    height: int
    width: int
    duration_s: float
    declared_s: float | None


def probe_video(video: Path, num_threads: int, max_missing_s: float) -> SourceVideo:
    """Open ``video``, read its frame times and check them (absurd timestamps, truncation,
    gaps; see :func:`decode_video`).

    Raises:
        VideoError: Naming the file.
    """
    declared_s = container_duration(video)
    probe = _open(video, num_threads=num_threads)
    try:
        # Column 0 = start time of each frame, column 1 = its end; float32 seconds.
        stamps = probe.get_frame_timestamp(np.arange(len(probe)))  # (M, 2)
        source_fps = float(probe.get_avg_fps())
        src_h, src_w = probe[0].shape[:2]
    except (RuntimeError, decord.DECORDError, IndexError) as err:
        raise VideoError(f"{video}: cannot probe the video ({str(err).strip()[:200]})") from err
    check_timestamps(video, stamps)
    starts = stamps[:, 0]
    duration_s = float(stamps[:, 1].max())
    if duration_s <= float(starts.max()):  # no frame durations in the container
        if not (math.isfinite(source_fps) and source_fps > 0):
            raise VideoError(f"{video}: no frame durations and no frame rate ({source_fps})")
        duration_s = float(starts.max()) + 1.0 / source_fps
    if duration_s <= 0:
        raise VideoError(f"{video}: the video's duration is {duration_s} s")
    check_duration(video, duration_s, declared_s, max_missing_s)
    end_missing = 0.0 if declared_s is None or declared_s <= 0 else declared_s - duration_s
    check_gaps(video, starts, end_missing, max_missing_s)
    return SourceVideo(probe, starts, source_fps, int(src_h), int(src_w), duration_s, declared_s)


def scaled_reader(
    video: Path, source: SourceVideo, frame_size: tuple[int, int], num_threads: int
) -> tuple[decord.VideoReader, tuple[int, int] | None]:
    """A reader that decodes at ``frame_size``, or the source's reader and the size to resize
    the decoded frames to where decord cannot scale (returns ``(reader, resize)``)."""
    # decord scales inside its decoding filter graph: cheaper than resizing RGB afterwards.
    scaled = _open(video, num_threads=num_threads, height=frame_size[0], width=frame_size[1])
    if _decord_scales(scaled):
        return scaled, None
    log.warning(
        "%s: decord cannot scale to width %d (a decord bug at some widths); resizing "
        "the decoded frames instead (bicubic, antialiased)",
        video,
        frame_size[1],
    )
    return source.reader, frame_size


def store_batches(
    video: Path,
    reader: decord.VideoReader,
    plan: tuple[np.ndarray, np.ndarray],
    batch_size: int,
    resize: tuple[int, int] | None,
) -> Iterator[np.ndarray]:
    """The store's frames in order, in batches, decoding the source frames of ``plan``
    (:func:`fetch_plan`: the frames to fetch, and where each store frame is among them).

    Shapes:
        yields uint8 (B, H, W, 3) RGB.
    """
    fetch, pos = plan
    for f0 in range(0, len(fetch), batch_size):
        chunk = fetch[f0 : f0 + batch_size]
        try:
            frames = reader.get_batch(chunk).asnumpy()  # (B, H, W, 3) RGB
        except (RuntimeError, decord.DECORDError) as err:
            raise VideoError(
                f"{video}: decoding source frames {int(chunk[0])}..{int(chunk[-1])} failed "
                f"({str(err).strip()[:200]})"
            ) from err
        s0, s1 = np.searchsorted(pos, [f0, f0 + len(chunk)])  # store frames in this chunk
        if s1 > s0:
            kept = frames[pos[s0:s1] - f0]
            yield kept if resize is None else resize_frames(kept, resize)


def store_meta(
    video: Path, source: SourceVideo, index: np.ndarray, config: Mapping[str, Any]
) -> dict[str, Any]:
    """The header keys the decoder adds to a store (see :mod:`comedian.data.frames`)."""
    return {
        "source": {
            "path": str(video),
            "width": source.width,
            "height": source.height,
            "fps": source.fps,
            "num_frames": len(source.starts),
            "container_duration_s": source.declared_s,
        },
        "source_frame_index": index.tolist(),
        "source_timestamp_s": [round(float(t), 6) for t in source.starts[index]],
        "comedian_version": __version__,
        "git_revision": git_revision(),
        "config": dict(config),
    }


def decode_video(
    video: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    fps: float = 2.0,
    size: tuple[int, int] | None = None,
    jpeg_quality: int = 90,
    num_threads: int = 0,
    batch_size: int = 64,
    max_missing_s: float = 2.0,
    config: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Decode ``video`` at ``fps`` into the frame store ``out`` (written atomically).

    Args:
        video: The half's video (any container and codec decord reads).
        out: The store file to write; no file appears there unless decoding succeeds.
        fps: Store frame rate (2 for everything, 4 for the teacher; method.md sections 0, 3).
        size: (height, width) to resize to while decoding, or None to keep the source size.
        jpeg_quality: JPEG quality of the stored frames.
        num_threads: Decoder threads (0: as many as the CPUs this process may use).
        batch_size: Source frames fetched from decord per call (bounds memory: about
            ``batch_size * H * W * 3`` bytes).
        max_missing_s: Seconds of frames that may be missing, at the end (short of the
            container's declared duration: an interrupted download) and in gaps of the frame
            times (a file damaged in the middle) together; beyond it decoding fails.
        config: The resolved decode config to embed in the header (default: these arguments).

    Returns:
        The store header.

    Raises:
        VideoError: If the video is missing, unreadable, empty, truncated (shorter than its
            container says), damaged in the middle (a gap in its frame times) or has absurd
            timestamps (names the file).
    """
    video = Path(video)
    if not video.is_file():
        raise VideoError(f"{video}: video file not found")
    if size is not None and (len(size) != 2 or min(size) < 1):
        raise ValueError(f"size must be (height, width) with positive values, got {size}")
    if not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be finite and > 0, got {fps}")
    source = probe_video(video, num_threads, max_missing_s)
    index = nearest_source_frames(source.starts, fps, source.duration_s)  # (K,)
    reader, resize = source.reader, None
    frame_size = (source.height, source.width) if size is None else (int(size[0]), int(size[1]))
    if size is not None:
        reader, resize = scaled_reader(video, source, frame_size, num_threads)
    source.reader = reader  # the one in use: the probe's is dropped when scaling
    if config is None:
        config = {
            "fps": fps,
            "size": None if size is None else list(frame_size),
            "jpeg_quality": jpeg_quality,
            "num_threads": num_threads,
            "batch_size": batch_size,
        }
    meta = store_meta(video, source, index, config)
    log.info(
        "%s: %d source frames %dx%d @ %.3f fps, %.2f s -> %d frames @ %g fps",
        video,
        len(source.starts),
        source.width,
        source.height,
        source.fps,
        source.duration_s,
        len(index),
        fps,
    )
    plan = fetch_plan(index, reader.get_key_indices())
    return write_store(
        out,
        store_batches(video, reader, plan, batch_size, resize),
        fps=fps,
        num_frames=len(index),
        frame_size=frame_size,
        duration_s=source.duration_s,
        jpeg_quality=jpeg_quality,
        meta=meta,
    )
