"""Spot the actions of any match video with a trained or released model (method.md §7-8).

Usage:
    python -m comedian spot --video match_1st_half.mp4 match_2nd_half.mp4 \\
        --weights comedian_vivit_tiny_seed42.pth --arch vivit_tiny --out spotted/match
    python -m comedian spot --video half.mkv --weights results/finetune/vivit/model.pt \\
        --out spotted/half --window 30 --kind hard --threshold 0.5

Each video (one half; two videos are halves 1 and 2) is decoded by decord at 2 fps and resized
to the model's square input while decoding (any resolution, frame rate and container decord
reads), into a temporary frame store; the 64 s sliding windows run on a GPU when there is one;
scores go through NMS (default: the paper's soft NMS, window 20 rows = +-5 s, threshold 0.001).
``--weights`` is an exported model of this project or a released reference checkpoint
(converted on the fly; ``--arch`` names its architecture). Writes into ``--out``:

* ``results_spotting.json``: the official SoccerNet format (``UrlLocal`` = the first video's
  folder name), one or two halves;
* ``events.csv``: half, time (s), game_time, label, confidence; one row a prediction;
* ``timeline.png``: the predictions per class against time, one panel a half;
* ``viewer.html``: the match viewer (:mod:`comedian.viewer`): open it in a browser to play the
  video from a few seconds before any event, with a timeline per class and filters by class and
  confidence (the videos are linked by their path relative to ``--out``);
* ``config.resolved.yaml``.
"""

from __future__ import annotations

import csv
import dataclasses
import logging
import tempfile
from pathlib import Path

import numpy as np

from comedian.atomic import atomic_path, atomic_tree, remove_stale_siblings
from comedian.config import write_resolved
from comedian.data.decode import VideoError, decode_video
from comedian.data.frames import FrameStore
from comedian.data.halves import Half
from comedian.data.soccernet import CLASSES, NUM_CLASSES, RESULTS_NAME, format_game_time
from comedian.errors import UsageError
from comedian.guards import refuse_overwrite
from comedian.models import SpottingBackbone, conform
from comedian.models.loading import load_spotting_model
from comedian.plots import plot_timeline
from comedian.spotting.results import ROW_MS, peaks_to_predictions, write_results
from comedian.spotting.settings import NmsSetting
from comedian.viewer import VIEWER_NAME, write_viewer

log = logging.getLogger(__name__)

#: Frame rate of the frame stores every model of the method reads (method.md §0).
SPOT_FPS = 2.0
EVENTS_NAME = "events.csv"
TIMELINE_NAME = "timeline.png"


#: What ``comedian --help`` says of this stage.
SUMMARY = "spot the actions of any match video (1 or 2 halves) with a model file"


@dataclasses.dataclass(frozen=True)
class Paths:
    video: tuple[Path, ...] = dataclasses.field(
        metadata={"help": "the video of one half, or of halves 1 and 2", "metavar": "VIDEO"}
    )
    weights: Path = dataclasses.field(
        metadata={
            "help": "exported model (.pt), released reference checkpoint (.pth), a Hub file "
            "hf://owner/repo[@revision]/file, or a released short name (comedian-vivit-tiny-seed42)"
        }
    )
    out: Path = dataclasses.field(
        metadata={"output": True, "help": "folder to write the results into"}
    )


@dataclasses.dataclass(frozen=True)
class Config(NmsSetting):
    """The NMS setting (``kind``, ``window``, ... as in the nms stage) and inference settings."""

    arch: str | None = dataclasses.field(
        default=None, metadata={"help": "architecture of a reference checkpoint (vivit_tiny)"}
    )
    batch_size: int = dataclasses.field(default=16, metadata={"help": "windows per forward pass"})
    num_workers: int = dataclasses.field(
        default=2,
        metadata={"help": "DataLoader workers of window-by-window models (ViViT/ViSwin: a thread)"},
    )
    device: str = dataclasses.field(
        default="auto", metadata={"help": "auto (a GPU when there is one), cpu, cuda, cuda:1"}
    )
    trust_pickle: bool = dataclasses.field(
        default=False, metadata={"help": "full unpickling of a trusted Lightning checkpoint"}
    )

    def __hash__(self) -> int:
        return hash((super().__hash__(), self.arch, self.batch_size, self.device))

    @property
    def nms(self) -> NmsSetting:
        """The NMS part alone."""
        return NmsSetting(**{f.name: getattr(self, f.name) for f in dataclasses.fields(NmsSetting)})


def spot_scores(cfg: Config, videos: tuple[Path, ...], weights: Path) -> dict[int, np.ndarray]:
    """Raw per-half scores of the videos: decode to temporary 2 fps stores, then score.

    Returns:
        Half (1, 2) -> float32 (rows, 17) scores, row r at r / 2 s.
    """
    from comedian.spotting.inference import pick_device, score_halves  # torch: import late

    model, arch, _ = load_spotting_model(weights, cfg.arch, trust_pickle=cfg.trust_pickle)
    size = conform(model, SpottingBackbone).img_size
    device = pick_device(cfg.device)
    log.info("%s: %s model, %dx%d input, on %s", weights, arch, size, size, device)
    with tempfile.TemporaryDirectory(prefix="comedian-spot-") as tmp:
        halves = []
        for half, video in enumerate(videos, start=1):
            log.info("decoding half %d: %s", half, video)
            store_path = Path(tmp) / f"{half}.frames"
            # Squashed to the model's square input while decoding, as the pipeline's stores
            # are (method.md §0).
            decode_video(video, store_path, fps=SPOT_FPS, size=(size, size))
            store = FrameStore(store_path)
            targets = np.zeros((store.num_frames, NUM_CLASSES), dtype=np.uint8)  # no labels
            halves.append(Half(store, targets, game=video.parent.name, half=half))
        scores = score_halves(
            model,
            halves,
            batch_size=cfg.batch_size,
            num_workers=cfg.num_workers,
            device=device,
            progress=True,
        )
        for h in halves:
            h.store.close()
    return {h.half: s for h, s in zip(halves, scores, strict=True)}


def write_events_csv(path: Path, predictions: dict[str, np.ndarray]) -> None:
    """One row a prediction: half, time (s), game_time, label, confidence (atomically)."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["half", "time", "game_time", "label", "confidence"])
        for h, c, p, v in zip(
            predictions["half"].tolist(),
            predictions["label"].tolist(),
            predictions["position_ms"].tolist(),
            predictions["confidence"].tolist(),
            strict=True,
        ):
            writer.writerow([h, f"{p / 1000:.1f}", format_game_time(h, p), CLASSES[c], repr(v)])


def run(cfg: Config, *, paths: Paths) -> None:
    videos = tuple(paths.video)
    if not 1 <= len(videos) <= 2:
        raise UsageError(f"--video: give one or two videos (halves 1 and 2), not {len(videos)}")
    refuse_overwrite(
        inputs={"--video": list(videos), "--weights": paths.weights}, outputs={"--out": paths.out}
    )
    for video in videos:  # before the model loads: a typo fails at once
        if not video.is_file():
            raise VideoError(f"{video}: video file not found")
    remove_stale_siblings(paths.out)  # the temporary folder of a killed run
    scores = spot_scores(cfg, videos, paths.weights)
    nms = cfg.nms
    peaks = {half: nms.apply(s) for half, s in scores.items()}  # (T, 17) each
    predictions = peaks_to_predictions(peaks)
    game = videos[0].parent.name
    owned = (RESULTS_NAME, EVENTS_NAME, TIMELINE_NAME, VIEWER_NAME, "config.resolved.yaml")
    with atomic_tree(paths.out, owned=owned) as tmp:
        write_results(tmp / RESULTS_NAME, game, predictions)
        write_events_csv(tmp / EVENTS_NAME, predictions)
        title = " | ".join(f"half {h}: {v.name}" for h, v in enumerate(videos, start=1))
        plot_timeline(tmp / TIMELINE_NAME, predictions, title=f"{title} ({nms.slug})")
        write_viewer(
            tmp / VIEWER_NAME,
            predictions,
            dict(enumerate(videos, start=1)),
            title=f"{title} ({nms.slug})",
            page_dir=paths.out,  # tmp is renamed to it
            durations_s={h: len(s) * ROW_MS / 1000 for h, s in scores.items()},
        )
        write_resolved(tmp / "config.resolved.yaml", stage="spot", config=cfg, paths=paths)
    rows = sum(len(s) for s in scores.values())
    log.info(
        "%d halves, %.1f min, %d predictions -> %s",
        len(scores),
        rows * ROW_MS / 60_000,
        len(predictions["half"]),
        paths.out,
    )
