"""Spatial self-supervised pretraining, step 1 (method.md §2) (rule ``pretrain``).

Usage:
    python -m comedian pretrain --games results/games/games.tsv --frames results/decode/2fps \\
        --out results/pretrain/RUN/model.pt [--set 'model={...}'] [--epochs 100]

The run's ``vivit_tiny`` settings (``model``) give the spatial ViT that is pretrained (image
size, patch, width, depth, heads, drop path); other architectures are refused. Every second of
every train half is a sample (its two 2 fps frames); two views are augmented on the device (§2:
random resized crop, jitter, gray, blur, solarize, flip, the same for both frames of a view).
SCE with coefficient 1 (InfoNCE with a queue of 65,536 momentum keys), symmetric; AdamW, weight
decay 0.05 except norms, biases, position embedding and CLS; peak lr 5e-4 x B / 256, 10 warmup
epochs then cosine to 0 per step; clipping 1.0; 100 epochs; momentum 0.99 -> 1 per step.

Outputs (beside ``--out``): ``model.pt`` (the ViT, arch ``vit_tiny``: ``distill`` initializes
the ViViT from it), ``train_log.csv``, ``config.resolved.yaml``. Rerun after a crash to resume
from ``.resume/last.ckpt``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from comedian.data.halves import split_halves
from comedian.data.pretrain import SslPairs, collate
from comedian.data.samplers import ShuffledKeys, ssl_keys
from comedian.guards import refuse_overwrite, run_outputs
from comedian.models import build_model
from comedian.models.loading import VIT_KEYS, check_arch
from comedian.tasks.base import TrainTask
from comedian.tasks.ssl import SslConfig, SslTask
from comedian.training import fit_and_publish, make_loader

log = logging.getLogger(__name__)

STAGE = "pretrain"


#: What ``comedian --help`` says of this stage.
SUMMARY = "step 1: self-supervised pretraining of the spatial ViT (SCE)"


@dataclass(frozen=True)
class Paths:
    """Inputs and outputs of spatial pretraining."""

    games: Path = field(metadata={"help": "games table (results/games/games.tsv)"})
    frames: Path = field(metadata={"help": "2 fps frame stores folder (results/decode/2fps)"})
    out: Path = field(
        metadata={"output": True, "help": "model file to write (results/pretrain/RUN/model.pt)"}
    )


@dataclass(frozen=True)
class Config(SslConfig):
    """Step 1 settings: the paper's (method.md §2); SCE, heads, momentum and views:
    :class:`comedian.tasks.ssl.SslConfig`."""

    epochs: int = 100
    batch_size: int = 1024
    lr: float = 5e-4
    warmup_epochs: float = 10.0
    min_lr: float = 0.0
    train_split: str = "train"


def vit_kwargs(model: dict) -> dict:
    """The step-1 ViT's builder settings: the ViViT's spatial ones (method.md §5 mapping)."""
    return {k: v for k, v in model.items() if k in VIT_KEYS}


def run(cfg: Config, *, paths: Paths) -> None:
    """Pretrain the run's spatial ViT with SCE on every second of the train split."""
    refuse_overwrite(
        inputs={"--games": paths.games, "--frames": paths.frames}, outputs=run_outputs(paths.out)
    )
    check_arch(cfg.arch, STAGE)
    TrainTask.seed_everything(cfg.seed)
    kwargs = vit_kwargs(cfg.model)
    trunk = build_model("vit_tiny", **kwargs)
    int(trunk.img_size)
    stores = [h.store for h in split_halves(paths.games, cfg.train_split, paths.frames)]
    sampler = ShuffledKeys(ssl_keys([s.num_frames for s in stores]), seed=cfg.seed)
    loader = make_loader(SslPairs(stores), sampler, cfg.device_batch_size, cfg, collate)
    task = SslTask(trunk, cfg)
    log.info("%s: %d halves, %d samples an epoch", STAGE, len(stores), len(sampler.keys))
    fit_and_publish(task, loader, out=paths.out, stage=STAGE, paths=paths, arch="vit_tiny",
                    model_kwargs=kwargs)  # fmt: skip
