"""What the pretraining stages share (not a rule): loaders, the fit-export-publish sequence and
the run's architecture check.

Usage (inside a stage's ``run``):
    loader = make_loader(dataset, sampler, cfg.device_batch_size, cfg)
    fit_and_publish(task, loader, cfg, out=paths.out, stage=STAGE, paths=paths, export=write)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from torch.utils.data import DataLoader, Dataset

from comedian import training
from comedian.config import write_resolved
from comedian.data.pretrain import collate
from comedian.tasks.base import TrainTask
from comedian.training import (
    LOG_NAME,
    TrainConfig,
    build_trainer,
    config_digest,
    finish,
    resume_checkpoint,
)

log = logging.getLogger(__name__)

#: The only architecture with a spatial ViT to pretrain and a temporal stage to distill into.
PRETRAINED_ARCH = "vivit_tiny"
#: ViViT builder keys that the step-1 ViT shares (method.md §5 initialization).
VIT_KEYS = (
    "img_size", "patch_size", "tube_size", "in_chans", "embed_dim", "depth", "num_heads",
    "mlp_ratio", "drop_path_rate",
)  # fmt: skip


def check_arch(arch: str, stage: str) -> None:
    """Refuse runs whose architecture the pretraining stages cannot serve (one line)."""
    if arch != PRETRAINED_ARCH:
        raise ValueError(
            f"{stage}: arch {arch!r} cannot be pretrained; steps 1-2 exist for "
            f"{PRETRAINED_ARCH} only (set pretrain: false for this run)"
        )


def make_loader(dataset: Dataset, sampler: Any, batch_size: int, cfg: TrainConfig) -> DataLoader:
    """:func:`comedian.training.make_loader` with the pretraining datasets' collate."""
    return training.make_loader(dataset, sampler, batch_size, cfg, collate)


def fit_and_publish(
    task: TrainTask,
    loader: DataLoader,
    cfg: TrainConfig,
    *,
    out: Path,
    stage: str,
    paths: Any,
    export: Callable[[Path], None],
) -> None:
    """Train (resuming from ``.resume/last.ckpt`` beside ``out`` when it matches ``cfg``), then
    on rank 0 export the model to ``out``, publish the CSV log and the resolved config.

    ``cfg.epochs == 0`` skips training: the model is exported as it was built (e.g. a teacher
    given as finished weights).
    """
    out_dir = Path(out).parent
    rank = 0
    if cfg.epochs > 0:
        trainer = build_trainer(cfg, out_dir)
        ckpt = resume_checkpoint(out_dir, config_digest(cfg))
        trainer.fit(task, loader, ckpt_path=ckpt)
        rank = trainer.global_rank
        first, last = task_losses(out_dir)
        log.info("%s: loss %s -> %s", stage, first, last)
    if rank != 0:
        return
    export(Path(out))
    finish(out_dir, out_dir / LOG_NAME)
    write_resolved(out_dir / "config.resolved.yaml", stage=stage, config=cfg, paths=paths)


def task_losses(out_dir: Path) -> tuple[str, str]:
    """First and last logged loss of the live CSV log (for the stage's log line)."""
    path = Path(out_dir) / ".resume" / LOG_NAME
    if not path.exists():
        return "?", "?"
    rows = [line.split(",") for line in path.read_text().splitlines()[1:]]
    losses = [r[3] for r in rows if len(r) > 3 and r[3]]
    return (losses[0], losses[-1]) if losses else ("?", "?")
