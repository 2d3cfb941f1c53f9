"""Distillation pretraining of the spatio-temporal ViViT, step 2c (method.md §5) (rule ``distill``).

Usage:
    python -m comedian distill --games results/games/games.tsv --frames results/decode/2fps \\
        --features results/pca/features --init results/pretrain/RUN/model.pt \\
        --out results/distill/RUN/model.pt [--set 'model={...}']

The run's ViViT (``vivit_tiny`` only) is initialized from the step-1 ViT (``--init``; patch and
position embeddings, CLS, spatial blocks, blocks 0..5 also into the temporal blocks, final norm
into both, non-strict) and trained to match the PCA-reduced teacher vectors with the token SCE
(coefficient 0.5, temperatures 0.1 / 0.05, queue of 65,536 teacher vectors), with temporal
masking. Clips: per train half 38 jittered non-overlapping 64 s windows a epoch; token j of a
clip starting at t0 takes the teacher row of time t0 + j (``align: mean`` averages rows
2(t0 + j) and 2(t0 + j) + 1). AdamW, weight decay 0.05 with the model's exclusions, peak lr
4e-3 x B / 256, 10 warmup epochs from 1/100 of the peak, cosine to 1/100, clipping 1.0,
100 epochs.

Outputs (beside ``--out``): ``model.pt`` (the ViViT without projector: ``finetune_head`` starts
from it), ``train_log.csv``, ``config.resolved.yaml``; rerun after a crash to resume.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from comedian.config import ConfigError, check_number
from comedian.data.halves import split_halves
from comedian.data.pretrain import DistillClips, collate
from comedian.data.samplers import DrawnKeys, distill_draw
from comedian.guards import refuse_overwrite, run_outputs
from comedian.models import build_model
from comedian.models.loading import check_arch, init_trunk
from comedian.tasks.base import TrainTask
from comedian.tasks.distill import DistillConfig, DistillTask
from comedian.training import fit_and_publish, make_loader

log = logging.getLogger(__name__)

STAGE = "distill"


#: What ``comedian --help`` says of this stage.
SUMMARY = "step 2c: distill the PCA teacher features into the ViViT (masked)"


@dataclass(frozen=True)
class Paths:
    """Inputs and outputs of distillation."""

    games: Path = field(metadata={"help": "games table (results/games/games.tsv)"})
    frames: Path = field(metadata={"help": "2 fps frame stores folder (results/decode/2fps)"})
    features: Path = field(metadata={"help": "PCA teacher features folder (results/pca/features)"})
    out: Path = field(
        metadata={"output": True, "help": "model file to write (results/distill/RUN/model.pt)"}
    )
    init: Path | None = field(
        default=None, metadata={"help": "the step-1 ViT (results/pretrain/RUN/model.pt)"}
    )


@dataclass(frozen=True)
class Config(DistillConfig):
    """Step 2c settings: the paper's (method.md §5); SCE, projector and augmentation:
    :class:`comedian.tasks.distill.DistillConfig`."""

    epochs: int = 100
    batch_size: int = 32
    lr: float = 4e-3
    warmup_epochs: float = 10.0
    warmup_start: float = 0.01
    min_lr: float = 0.01
    train_split: str = "train"
    windows_per_half: int = field(default=38, metadata={"help": "64 s clips per half and epoch"})
    align: str = field(default="start", metadata={"help": "teacher rows of a token: start | mean"})

    def check(self) -> None:
        super().check()
        check_number("windows_per_half", self.windows_per_half, minimum=1, integer=True)
        if self.align not in ("start", "mean"):
            raise ConfigError(f"--align (align): must be 'start' or 'mean', got {self.align!r}")


def run(cfg: Config, *, paths: Paths) -> None:
    """Distill the teacher's PCA features into the run's ViViT."""
    refuse_overwrite(
        inputs={
            "--games": paths.games,
            "--frames": paths.frames,
            "--features": paths.features,
            "--init": paths.init,
        },
        outputs=run_outputs(paths.out),
    )
    check_arch(cfg.arch, STAGE)
    TrainTask.seed_everything(cfg.seed)
    kwargs = {k: v for k, v in cfg.model.items() if k != "num_classes"}
    model = build_model(cfg.arch, **kwargs)
    if paths.init is not None:
        log.info("ViViT from %s: %s", paths.init, init_trunk(model, paths.init))
    else:
        log.warning("no --init: the ViViT starts from random weights")
    halves = split_halves(paths.games, cfg.train_split, paths.frames, features=paths.features)
    stores = [h.store for h in halves]
    banks = [h.features for h in halves]
    bank_paths = [str(h.features_path) for h in halves]
    clip_rows = int(model.num_tubelets) * int(kwargs.get("tube_size", 2))
    dataset = DistillClips(stores, banks, clip_rows=clip_rows, align=cfg.align)
    draw = distill_draw([s.num_frames for s in stores], cfg.windows_per_half, clip_rows)
    sampler = DrawnKeys(draw, seed=cfg.seed)
    loader = make_loader(dataset, sampler, cfg.device_batch_size, cfg, collate)
    task = DistillTask(model, cfg, teacher_dim=int(banks[0].shape[1]))
    task.input_names = bank_paths  # a non-finite loss names the teacher features it came from
    log.info("%s: %d halves, %d clips an epoch", STAGE, len(stores), len(sampler.keys))
    fit_and_publish(task, loader, out=paths.out, stage=STAGE, paths=paths, arch=cfg.arch,
                    model_kwargs=kwargs)  # fmt: skip
