"""Decode one half's video into a frame store at a fixed fps (rule ``decode``).

Usage:
    python -m comedian decode --video "data/x/1_224p.mkv" \\
        --out results/decode/2fps/<game>/1.frames --fps 2 [--set size=[224,224]]

Frame k of the store is the source frame nearest to k / fps seconds, ties to the earlier frame
(method.md section 0; the rule and its float handling are documented in
``comedian.data.decode``). The store is ONE file per half and embeds its own resolved config,
comedian version and git revision in its header, instead of a ``config.resolved.yaml`` beside it,
so that a half stays one file (SoccerNet at 2 fps is 5.4 M frames). A missing, unreadable or
truncated video (its frames end more than ``max_missing_s`` before the duration its container
declares: an interrupted download) or one damaged in the middle (gaps in its frame times, which
share that budget) raises an error naming the file (and the gap's time) and leaves no output.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from comedian.atomic import remove_stale_siblings
from comedian.config import ConfigError, to_dict
from comedian.data.decode import decode_video
from comedian.guards import refuse_overwrite

#: Largest accepted frame side and store rate (a 224p source is 398 x 224; far above: a typo).
MAX_SIDE = 8192
MAX_FPS = 240.0


#: What ``comedian --help`` says of this stage.
SUMMARY = "decode one half's video into a frame store at a fixed fps"


@dataclass(frozen=True)
class Paths:
    """Inputs and outputs of one decode job."""

    video: Path = field(metadata={"help": "the half's video (e.g. <game>/1_224p.mkv)"})
    out: Path = field(metadata={"output": True, "help": "the frame store to write (<half>.frames)"})


@dataclass(frozen=True)
class Config:
    """Decode settings.

    ``jpeg_quality`` 90: on the 398x224 synthetic pitch it gives 20 KB a frame (target
    <= 40 KB; a 45-minute half at 2 fps is ~110 MB) and reads back at ~3,700 frames/s on one
    core (benchmarks/decode.py). Its artefacts sit below those the 224p H.264 source already
    has, and the source's 4:2:0 chroma is kept as is; 95 costs ~30 % more space and ~10 % more
    read time (measured on re-encoded synthetic frames).
    """

    fps: float = field(
        default=2.0,
        metadata={"help": "store frame rate; 2 for all models, 4 for the teacher (method.md 0, 3)"},
    )
    size: tuple[int, int] | None = field(
        default=None,
        metadata={"help": "[height, width] to resize to while decoding; null keeps the source"},
    )
    jpeg_quality: int = field(default=90, metadata={"help": "JPEG quality of stored frames"})
    num_threads: int = field(
        default=0, metadata={"help": "decoder threads (0: all CPUs this job may use)"}
    )
    batch_size: int = field(
        default=64,
        metadata={"help": "source frames fetched from the decoder per call (bounds memory)"},
    )
    max_missing_s: float = field(
        default=2.0,
        metadata={
            "help": "seconds of frames that may be missing, at the end (before the container's "
            "declared duration) and in gaps of the frame times together; more means an "
            "interrupted download or a damaged file and fails"
        },
    )


def check_config(cfg: Config) -> None:
    """Refuse settings out of range, naming the option (before any work).

    Raises:
        ConfigError: For the first bad setting.
    """
    if not (math.isfinite(cfg.fps) and 0 < cfg.fps <= MAX_FPS):
        raise ConfigError(f"--fps: must be finite, > 0 and <= {MAX_FPS:g}, got {cfg.fps}")
    if cfg.size is not None and not all(1 <= v <= MAX_SIDE for v in cfg.size):
        raise ConfigError(f"size: [height, width] must be in 1..{MAX_SIDE}, got {list(cfg.size)}")
    if not 1 <= cfg.jpeg_quality <= 100:
        raise ConfigError(f"--jpeg-quality: must be in 1..100, got {cfg.jpeg_quality}")
    if not 0 <= cfg.num_threads <= 1024:
        raise ConfigError(f"--num-threads: must be in 0..1024, got {cfg.num_threads}")
    if not 1 <= cfg.batch_size <= 4096:
        raise ConfigError(f"--batch-size: must be in 1..4096, got {cfg.batch_size}")
    if not (math.isfinite(cfg.max_missing_s) and cfg.max_missing_s >= 0):
        raise ConfigError(f"--max-missing-s: must be finite and >= 0, got {cfg.max_missing_s}")


def run(cfg: Config, *, paths: Paths) -> None:
    """Decode ``paths.video`` into ``paths.out`` with the settings of ``cfg``."""
    check_config(cfg)
    refuse_overwrite(inputs={"--video": paths.video}, outputs={"--out": paths.out})
    remove_stale_siblings(paths.out)  # the temporary file of a killed run of this job
    decode_video(
        paths.video,
        paths.out,
        fps=cfg.fps,
        size=cfg.size,
        jpeg_quality=cfg.jpeg_quality,
        num_threads=cfg.num_threads,
        batch_size=cfg.batch_size,
        max_missing_s=cfg.max_missing_s,
        config=to_dict(cfg),
    )
