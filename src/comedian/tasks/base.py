"""The base of every training task: optimizer, schedule, resume identity, step loss.

Usage:
    class MyTask(TrainTask):
        def training_step(self, batch, idx):
            loss = ...
            return self.record_loss(loss)

A subclass sets ``self.cfg`` (a :class:`comedian.training.TrainConfig`) and may override
:meth:`trainable_names` (e.g. the head only in classifier init) and ``compiled_modules`` (the
networks ``compile: true`` compiles; default ``model``). The config digest goes into
every Lightning checkpoint, so a resume never mixes settings (:mod:`comedian.training`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytorch_lightning as pl
import torch
from torch import Tensor

from comedian.training import TrainConfig, build_optimizer, config_digest


class TrainTask(pl.LightningModule):
    """Shared machinery of the training tasks."""

    def __init__(self, cfg: TrainConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.digest = config_digest(cfg)
        self.last_loss: Tensor | None = None
        self.last_lr: float | None = None

    #: SGD momentum for an SGD task (the teacher); None: AdamW.
    sgd_momentum: float | None = None
    #: The networks ``cfg.compile`` compiles (attribute names of the task).
    compiled_modules: tuple[str, ...] = ("model",)

    def configure_model(self) -> None:
        """``cfg.compile``: torch.compile the task's networks in place (Lightning calls this
        before it wraps the task for DDP). In place, so state-dict keys, checkpoints and the
        exported model are those of the eager network."""
        if not self.cfg.compile:
            return
        for name in self.compiled_modules:
            module = getattr(self, name)
            if getattr(module, "_compiled_call_impl", None) is None:
                module.compile()

    def trainable_names(self) -> Iterable[str] | None:
        """Parameter names the optimizer updates (None: all that require gradients)."""
        return None

    def configure_optimizers(self) -> dict[str, Any]:
        total = int(self.trainer.estimated_stepping_batches)
        per_epoch = max(1, total // max(1, self.trainer.max_epochs or 1))
        return build_optimizer(
            self, self.cfg, total, per_epoch, self.trainable_names(), sgd_momentum=self.sgd_momentum
        )

    def record_loss(self, loss: Tensor) -> Tensor:
        """Keep the step's loss for the CSV log (read once per step) and log it."""
        self.last_loss = loss.detach()
        if self._trainer is not None and self.trainer.optimizers:  # the lr this step used
            self.last_lr = self.trainer.optimizers[0].param_groups[0]["lr"]
        self.log("loss", loss.detach(), prog_bar=True, batch_size=1)
        return loss

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["comedian_digest"] = self.digest

    @staticmethod
    def seed_everything(seed: int) -> None:
        pl.seed_everything(seed, workers=True, verbose=False)
        torch.backends.cudnn.benchmark = True
