"""Teacher features of one half, step 2a extraction (method.md §3) (rule ``extract_features``).

Usage:
    python -m comedian extract-features --model results/teacher/model.pt \\
        --frames4 results/decode/4fps/GAME/1.frames --frames results/decode/2fps/GAME/1.frames \\
        --out results/extract_features/GAME/1.npy [--batch-size 64]

Row k of the output is the teacher's pooled feature (2048-d for the ResNet3D-50) of the 4 s
window [k / 2 - 2, k / 2 + 2) at 4 fps (16 frames, the half's edge frames replicated), resized
to the teacher's input size and normalized (mean 0.45, std 0.225). There is one row per frame of
the half's 2 fps store (the grid every later stage uses) and every row is computed: the last,
smaller batch is never dropped (the reference leaves zero rows there). float32
(num_rows, features), written atomically.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from comedian.atomic import atomic_path
from comedian.data.halves import open_store
from comedian.data.pretrain import TeacherWindows
from comedian.data.transforms import AugmentConfig, ClipAugment
from comedian.data.windows import GRID_FPS, extraction_batches
from comedian.guards import refuse_overwrite
from comedian.models import model_from_checkpoint
from comedian.models.loading import is_exported, read_weights_file

log = logging.getLogger(__name__)

STAGE = "extract_features"


#: What ``comedian --help`` says of this stage.
SUMMARY = "step 2a: teacher features of every 0.5 s row of one half"


@dataclass(frozen=True)
class Paths:
    """Inputs and outputs of feature extraction for one half."""

    model: Path = field(metadata={"help": "the teacher (results/teacher/model.pt)"})
    frames4: Path = field(metadata={"help": "the half's 4 fps frame store"})
    frames: Path = field(metadata={"help": "the half's 2 fps frame store (its rows are the grid)"})
    out: Path = field(metadata={"output": True, "help": "feature array to write (.npy)"})


@dataclass(frozen=True)
class Config:
    """Extraction settings."""

    batch_size: int = field(default=64, metadata={"help": "windows per forward pass"})
    device: str = field(default="auto", metadata={"help": "auto (cuda if available), cpu, cuda"})
    num_threads: int = field(default=0, metadata={"help": "torch CPU threads (0: default)"})


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


@torch.no_grad()
def extract(
    model: torch.nn.Module,
    windows: TeacherWindows,
    half: int,
    *,
    img_size: int,
    batch_size: int,
    device: torch.device,
) -> np.ndarray:
    """Features of every row of one half, in order.

    Returns:
        float32 (num_rows, model.num_features).
    """
    transform = ClipAugment(AugmentConfig.evaluation(img_size)).eval()
    n = windows.num_rows[half]
    out = np.empty((n, int(model.num_features)), dtype=np.float32)
    use_bf16 = device.type == "cuda"
    for rows in extraction_batches(n, batch_size):
        clips = torch.from_numpy(windows.frames(half, rows)).to(device)  # (R, 16, H, W, 3)
        x = transform(clips)  # (R, 3, 16, S, S)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
            feats = model.forward_features(x)  # (R, F)
        out[rows] = feats.float().cpu().numpy()
    return out


def run(cfg: Config, *, paths: Paths) -> None:
    """Extract the teacher features of one half."""
    refuse_overwrite(
        inputs={"--model": paths.model, "--frames4": paths.frames4, "--frames": paths.frames},
        outputs={"--out": paths.out},
    )
    if cfg.num_threads > 0:
        torch.set_num_threads(cfg.num_threads)
    # not comedian.training.read_model_file: one job a half, so no Lightning import per job
    doc = read_weights_file(paths.model)
    if not is_exported(doc) or doc["arch"] != "resnet3d_50":
        raise ValueError(f"{paths.model}: not an exported resnet3d_50 teacher")
    model = model_from_checkpoint(doc).eval()
    saved = doc.get("config", {})
    img_size = int(saved.get("img_size", 224))
    fps, window_s = int(saved.get("fps", 4)), float(saved.get("window_s", 4.0))
    device = resolve_device(cfg.device)
    model.to(device)
    store4 = open_store(paths.frames4, fps=fps)
    rows = [open_store(paths.frames, fps=GRID_FPS).num_frames]  # the 2 fps grid (method.md §0)
    windows = TeacherWindows([store4], rows, fps=fps, window_s=window_s)
    feats = extract(model, windows, 0, img_size=img_size, batch_size=cfg.batch_size, device=device)
    if not np.isfinite(feats).all():
        raise ValueError(f"{paths.out}: the teacher produced NaN or inf features")
    Path(paths.out).parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(paths.out) as tmp, open(tmp, "wb") as f:
        np.save(f, feats)  # to an open file: np.save would add .npy to the temporary name
    log.info("%s: %s rows x %d features -> %s", STAGE, feats.shape[0], feats.shape[1], paths.out)
