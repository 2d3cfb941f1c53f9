"""Render and encode synthetic halves and whole SoccerNet-format datasets.

Usage:
    generate(SynthConfig(seed=0), Path("data/synthetic"), workers=2)
    events = write_half(Path("half.mkv"), duration_s=2700.0, seed=3)   # one 45-minute half

The dataset tree is SoccerNet's: ``<root>/<league>/<season>/<game>/{1_224p.mkv, 2_224p.mkv,
Labels-v2.json}`` (challenge games: videos only). Halves are independent jobs spread over a
process pool; each renders in chunks of frames that stream into ffmpeg, so memory stays small
whatever the duration.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from comedian.data.soccernet import HALVES, LABELS_NAME, VIDEO_NAMES
from comedian.synth.config import SynthConfig
from comedian.synth.labels import write_labels
from comedian.synth.plan import Event, plan_dataset, random_half_events
from comedian.synth.render import HalfScene
from comedian.synth.video import H264Writer

log = logging.getLogger(__name__)

#: Frames rendered at once: 2 s of video, ~13 MB as uint8 at 398x224.
CHUNK_FRAMES = 50


def write_half(
    path: str | Path,
    duration_s: float,
    seed: int,
    *,
    events: Sequence[Event] | None = None,
    half: int = 1,
    kits: tuple[int, int] = (0, 1),
    fps: float = 25.0,
    width: int = 398,
    height: int = 224,
    crf: int = 23,
    preset: str = "superfast",
    gop: int = 50,
) -> list[Event]:
    """Render and encode one half of a synthetic game to an H.264 ``.mkv`` (atomically).

    Args:
        path: Output video file.
        duration_s: Length of the half; the video has ``round(duration_s * fps)`` frames.
        seed: Seed of the scene (and of the events when ``events`` is None).
        events: The half's events; None draws random ones (Kick-off first, then SoccerNet-like
            class frequencies, ~10 % "not shown", one every ~7 s).
        half: 1 or 2 (the teams change ends).
        kits: Kit indices of the home and away teams (comedian.synth.render.KITS).
        fps: Frame rate.
        width: Frame width (even).
        height: Frame height (even).
        crf: x264 constant rate factor.
        preset: x264 speed preset.
        gop: Keyframe interval in frames.

    Returns:
        The events of the half (those given, or those drawn), in time order.

    Raises:
        VideoEncodeError: If ffmpeg fails (the message names ``path``).
    """
    if events is None:
        rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
        events = random_half_events(rng, duration_s, half=half)
    events = sorted(events, key=lambda e: e.position_ms)
    scene_seed = int(np.random.SeedSequence([seed, 0]).generate_state(1)[0])
    scene = HalfScene(
        seed=scene_seed, width=width, height=height, fps=fps, half=half, kits=kits, events=events
    )
    n_frames = round(duration_s * fps)
    with H264Writer(
        path, width=width, height=height, fps=fps, crf=crf, preset=preset, gop=gop
    ) as video:
        for start in range(0, n_frames, CHUNK_FRAMES):
            video.write(scene.render(start, min(start + CHUNK_FRAMES, n_frames)))
    log.debug("wrote %s (%d frames, %d events)", path, n_frames, len(events))
    return list(events)


def _half_job(kwargs: dict[str, Any]) -> str:
    """Process-pool entry point: one half."""
    write_half(**kwargs)
    return str(kwargs["path"])


def generate(cfg: SynthConfig, root: str | Path, *, workers: int = 1) -> None:
    """Write the whole synthetic dataset under ``root`` (see the module docstring).

    Every planned game (comedian.synth.plan.plan_games) gets its two half videos and, unless it
    is a challenge game, its Labels-v2.json; each file is written atomically and existing files
    are replaced. The output does not depend on ``workers``.

    Args:
        cfg: Dataset settings.
        root: Dataset root folder (created if missing).
        workers: Processes rendering halves in parallel (1: in this process).
    """
    root = Path(root)
    plans = plan_dataset(cfg)
    jobs = [
        {
            "path": root / plan.path / VIDEO_NAMES[half],
            "duration_s": cfg.half_duration_s,
            "seed": plan.render_seed(cfg.seed, half),
            "events": plan.half_events(half),
            "half": half,
            "kits": plan.kits,
            "fps": cfg.fps,
            "width": cfg.width,
            "height": cfg.height,
            "crf": cfg.crf,
            "preset": cfg.preset,
            "gop": cfg.gop,
        }
        for plan in plans
        for half in HALVES
    ]
    log.info(
        "rendering %d games (%d halves) into %s with %d workers",
        len(plans),
        len(jobs),
        root,
        workers,
    )
    if workers <= 1:
        for job in jobs:
            _half_job(job)
    else:
        # spawn: workers start clean (no copied locks or threads of the parent).
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            for done in pool.map(_half_job, jobs):
                log.debug("done %s", done)
    # Labels last: a game folder with labels always has its videos.
    for plan in plans:
        if plan.labelled:
            write_labels(plan, root / plan.path / LABELS_NAME)
    log.info("wrote %d games to %s", len(plans), root)
