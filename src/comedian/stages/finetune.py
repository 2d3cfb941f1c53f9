"""Global fine-tuning for action spotting, step 3 stage B (method.md §6) (rule ``finetune``).

Usage:
    python -m comedian finetune --init results/finetune_head/RUN/model.pt \\
        --games results/games/games.tsv --frames results/decode/2fps --labels data/synthetic \\
        --out results/finetune/RUN/model.pt [--epochs 20] [--devices 2] [--set lr=1e-3]

Everything trains, starting from the classifier-init model (stage A, ``finetune_head``): AdamW,
weight decay 0.05 except embeddings, tokens, norms and biases, peak lr 1e-3 x B / 256, no
warmup, per-step cosine to 1/100 of the peak, mixed precision on a GPU, clipping 1.0, mixup
Beta(0.1, 0.1), temporal masking as in pretraining, 20 epochs. Train clips: per half the two edge
windows and 23 random non-overlapping 64 s windows, redrawn each epoch. Every
``val_every_n_epochs`` the valid split is scored with sliding windows, soft NMS (window 20,
threshold 0.001) and the tight average-mAP.

Outputs (beside ``--out``): ``model.pt`` (the best on valid; the last when there is no
validation), ``last.pt``, ``train_log.csv`` (per step: lr and loss; per validation: the
metric), ``config.resolved.yaml``. The rolling resume checkpoint lives in ``.resume/`` there
while training: rerun the same command after a crash to continue (comedian.training).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import torch

from comedian.config import ConfigError, check_number
from comedian.data.halves import split_halves
from comedian.data.samplers import KeySampler, TrainWindowSampler, inference_keys
from comedian.data.soccernet import LABELS_NAME, NUM_CLASSES
from comedian.data.spotting import SpottingClips, collate_clips
from comedian.guards import join_inside, refuse_overwrite, run_outputs
from comedian.models import SpottingBackbone, build_model, conform
from comedian.models.loading import init_trunk, load_spotting_model
from comedian.spotting.metrics import read_labels
from comedian.tasks.base import TrainTask
from comedian.tasks.spotting import VALID_METRIC, SpottingConfig, SpottingTask, ValidSet
from comedian.training import fit_and_publish, make_loader

log = logging.getLogger(__name__)

STAGE = "finetune"


#: What ``comedian --help`` says of this stage.
SUMMARY = "step 3 stage B: fine-tune the whole spotting model"


@dataclass(frozen=True)
class Paths:
    """Inputs and outputs of a fine-tuning stage."""

    games: Path = field(metadata={"help": "games table (results/games/games.tsv)"})
    frames: Path = field(metadata={"help": "2 fps frame stores folder (results/decode/2fps)"})
    labels: Path = field(metadata={"help": "dataset root holding <game>/Labels-v2.json"})
    out: Path = field(
        metadata={"output": True, "help": "model file to write (model.pt; last.pt beside it)"}
    )
    init: Path | None = field(
        default=None,
        metadata={"help": "the classifier-init model (results/finetune_head/RUN/model.pt)"},
    )


@dataclass(frozen=True)
class Config(SpottingConfig):
    """Stage B settings: the paper's (method.md §6); mixup and augmentation:
    :class:`comedian.tasks.spotting.SpottingConfig`."""

    arch: str = field(
        default="", metadata={"help": "the --init model's architecture ('': whatever it is)"}
    )
    epochs: int = 20
    batch_size: int = 64
    lr: float = 1e-3
    min_lr: float = 0.01
    random_windows: int = field(
        default=23, metadata={"help": "random 64 s windows per half and epoch (plus 2 edges)"}
    )
    train_split: str = "train"
    valid_split: str | None = field(
        default="valid", metadata={"help": "split validated on (null: no validation)"}
    )
    val_every_n_epochs: int = field(default=1, metadata={"help": "validation period (epochs)"})
    eval_batch_size: int = field(default=64, metadata={"help": "windows per validation batch"})
    grad_checkpointing: bool = field(
        default=False,
        metadata={"help": "recompute the blocks' activations in backward: less memory, more time"},
    )

    #: Stage B takes its model whole from --init: ``arch`` and ``model`` may only repeat it.
    ARCH_FROM_INIT = True

    def check(self) -> None:
        super().check()
        check_number("random_windows", self.random_windows, minimum=0, integer=True)
        check_number("val_every_n_epochs", self.val_every_n_epochs, minimum=1, integer=True)
        check_number("eval_batch_size", self.eval_batch_size, minimum=1, integer=True)


def check_init_agrees(cfg: Config, path: Path, arch: str, kwargs: dict) -> None:
    """Refuse ``arch`` / ``model`` settings that disagree with the ``--init`` model they
    would otherwise be silently ignored beside (the model comes whole from the file)."""
    if cfg.arch and cfg.arch != arch:
        raise ConfigError(f"--arch (arch): {cfg.arch!r}, but --init {path} holds a {arch!r} model")
    for key, value in cfg.model.items():
        if key not in kwargs or kwargs[key] != value:
            held = repr(kwargs[key]) if key in kwargs else "its default"
            raise ConfigError(
                f"model.{key}: {value!r}, but --init {path} holds a model with {key} {held}; "
                f"the model comes whole from --init (leave model unset)"
            )


def build_spotting_model(
    cfg: Config, paths: Paths, stage: str
) -> tuple[torch.nn.Module, str, dict]:
    """Stage A: ``cfg.arch`` with a 17-class head, trunk from ``--init`` (or random).
    Stage B: the stage A model file as it is."""
    if stage == "finetune":
        if paths.init is None:
            raise ValueError("--init: finetune starts from the finetune_head model")
        model, arch, kwargs = load_spotting_model(paths.init)
        check_init_agrees(cfg, paths.init, arch, kwargs)
        return model, arch, kwargs
    kwargs = {**cfg.model, "num_classes": NUM_CLASSES}
    model = build_model(cfg.arch, **kwargs)
    if paths.init is not None:
        report = init_trunk(model, paths.init)
        log.info("trunk from %s: %s", paths.init, report)
    else:
        log.warning("no --init: the trunk starts from random weights")
    return model, cfg.arch, kwargs


def train_spotting(cfg: Config, paths: Paths, *, stage: str, freeze_trunk: bool) -> None:
    """Run stage A or B (shared by ``finetune_head`` and ``finetune``)."""
    refuse_overwrite(
        inputs={
            "--games": paths.games,
            "--frames": paths.frames,
            "--labels": paths.labels,
            "--init": paths.init,
        },
        outputs=run_outputs(paths.out),
    )
    TrainTask.seed_everything(cfg.seed)
    model, arch, kwargs = build_spotting_model(cfg, paths, stage)
    conform(model, SpottingBackbone).set_grad_checkpointing(cfg.grad_checkpointing)
    train_halves = split_halves(paths.games, cfg.train_split, paths.frames, paths.labels)
    sampler = TrainWindowSampler(
        [h.num_rows for h in train_halves], cfg.random_windows, seed=cfg.seed
    )
    train_loader = make_loader(
        SpottingClips(train_halves), sampler, cfg.device_batch_size, cfg, collate_clips
    )
    valid, val_loader = None, None
    if cfg.valid_split:
        halves = split_halves(paths.games, cfg.valid_split, paths.frames, paths.labels)
        games = list(dict.fromkeys(h.game for h in halves))
        valid = ValidSet(
            halves,
            [
                read_labels(
                    join_inside(paths.labels, g, source=f"{paths.games}: game") / LABELS_NAME
                )
                for g in games
            ],
        )
        keys = inference_keys([h.num_rows for h in halves])
        val_loader = make_loader(
            SpottingClips(halves), KeySampler(keys), cfg.eval_batch_size, cfg, collate_clips
        )
    task = SpottingTask(model, cfg, freeze_trunk=freeze_trunk, valid=valid)
    fit_and_publish(task, train_loader, val_loader, monitor=VALID_METRIC,
                    val_every_n_epochs=cfg.val_every_n_epochs, out=paths.out, stage=stage,
                    paths=paths, arch=arch, model_kwargs=kwargs)  # fmt: skip


def run(cfg: Config, *, paths: Paths) -> None:
    """Fine-tune everything from the classifier-init model."""
    train_spotting(cfg, paths, stage=STAGE, freeze_trunk=False)
