"""Spatial self-supervised pretraining task, step 1 (method.md §2).

Usage:
    task = SslTask(build_model("vit_tiny"), cfg)   # cfg: an SslConfig (the pretrain section)
    fit_and_publish(task, loader, ...)   # batches {"frames": uint8 (B, 2, H, W, 3)}

Online branch: ViT trunk -> projector 192 -> 1024 -> 1024 -> 256 -> predictor 256 -> 1024 ->
256, L2-normalized. Momentum branch: a copy of trunk + projector, updated after every optimizer
step with m = 1 - (1 - 0.99) (cos(pi step / max_steps) + 1) / 2. Loss: SCE with coefficient 1
(InfoNCE with a queue), temperature 0.1, symmetric over the two views; both views' momentum keys
then enter a FIFO queue of 65,536 vectors (gathered over DDP ranks).
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from typing import Any

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from comedian.config import check_number
from comedian.data.transforms import AugmentConfig, ClipAugment
from comedian.losses import FeatureQueue, SceConfig, momentum_schedule, sce_loss
from comedian.models.heads import build_predictor, build_projector
from comedian.models.protocol import VideoTransformer, conform
from comedian.tasks.base import TrainTask
from comedian.training import TrainConfig


@dataclass(frozen=True)
class SslConfig(SceConfig, TrainConfig):
    """The settings of spatial SSL (method.md §2): the training, SCE (coefficient 1: InfoNCE)
    and augmentation settings with the heads' sizes and the key encoder's momentum. The
    ``pretrain`` stage's section adds its data settings."""

    coeff: float = field(default=1.0, metadata={"help": "SCE lambda (1: InfoNCE)"})
    proj_hidden: int = field(default=1024, metadata={"help": "projector/predictor hidden width"})
    proj_dim: int = field(default=256, metadata={"help": "projector output width"})
    momentum: float = field(default=0.99, metadata={"help": "key encoder momentum at step 0"})
    view1: AugmentConfig = field(default_factory=lambda: AugmentConfig.ssl_view(1))
    view2: AugmentConfig = field(default_factory=lambda: AugmentConfig.ssl_view(2))

    def check(self) -> None:
        super().check()
        for name in ("proj_hidden", "proj_dim"):
            check_number(name, getattr(self, name), minimum=1, integer=True)
        check_number("momentum", self.momentum, minimum=0, maximum=1)


class SslTask(TrainTask):
    """LightningModule of the ``pretrain`` stage.

    Args:
        trunk: The ViT (CLS output, no head); the views are augmented at its ``img_size``.
        cfg: The settings (``proj_hidden``, ``proj_dim``, ``queue_size``, ``coeff``, ``temp``,
            ``temp_m``, ``momentum``, ``view1``, ``view2``, the optimizer's).
    """

    cfg: SslConfig
    compiled_modules = ("trunk", "momentum_trunk")

    def __init__(self, trunk: nn.Module, cfg: SslConfig) -> None:
        super().__init__(cfg)
        self.trunk = trunk
        dim = int(trunk.num_features)
        self.projector = build_projector(dim, cfg.proj_hidden, cfg.proj_dim)
        self.predictor = build_predictor(cfg.proj_dim, cfg.proj_hidden)
        self.momentum_trunk = copy.deepcopy(trunk)
        self.momentum_projector = copy.deepcopy(self.projector)
        for p in (*self.momentum_trunk.parameters(), *self.momentum_projector.parameters()):
            p.requires_grad_(False)
        self.queue = FeatureQueue(cfg.queue_size, cfg.proj_dim, seed=cfg.seed)
        img_size = conform(trunk, VideoTransformer).img_size
        self.view1 = ClipAugment(dataclasses.replace(cfg.view1, img_size=img_size))
        self.view2 = ClipAugment(dataclasses.replace(cfg.view2, img_size=img_size))
        self.last_momentum = cfg.momentum

    def exported_model(self) -> nn.Module:
        return self.trunk

    def train(self, mode: bool = True) -> SslTask:
        super().train(mode)
        self.momentum_trunk.eval()  # the key branch never drops paths (MoCo v3 keeps it so)
        self.momentum_projector.eval()
        return self

    def on_after_batch_transfer(self, batch: dict[str, Tensor], dataloader_idx: int) -> dict:
        frames = batch.pop("frames")  # (B, 2, H, W, 3) uint8
        batch["x1"] = self.view1(frames)  # (B, 3, 2, S, S)
        batch["x2"] = self.view2(frames)
        return batch

    def query(self, x: Tensor) -> Tensor:
        """Online branch. Shapes: (B, 3, 2, S, S) -> (B, proj_dim), unit rows."""
        return F.normalize(self.predictor(self.projector(self.trunk(x))), dim=1)

    @torch.no_grad()
    def key(self, x: Tensor) -> Tensor:
        """Momentum branch. Shapes: (B, 3, 2, S, S) -> (B, proj_dim), unit rows."""
        return F.normalize(self.momentum_projector(self.momentum_trunk(x)), dim=1)

    def ssl_loss(self, x1: Tensor, x2: Tensor) -> Tensor:
        """Symmetric SCE of the two views against the current queue, then enqueue both keys."""
        q1, q2 = self.query(x1), self.query(x2)
        k1, k2 = self.key(x1), self.key(x2)
        queue = self.queue.vectors.clone()  # read before this batch's keys enter it
        hyper = {"coeff": self.cfg.coeff, "temp": self.cfg.temp, "temp_m": self.cfg.temp_m}
        loss = 0.5 * (sce_loss(q1, k2, queue, **hyper) + sce_loss(q2, k1, queue, **hyper))
        self.queue.enqueue(torch.cat([k1, k2]))
        return loss

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        return self.record_loss(self.ssl_loss(batch["x1"], batch["x2"]), batch)

    @torch.no_grad()
    def momentum_update(self, m: float) -> None:
        """key <- m key + (1 - m) online, for trunk and projector."""
        pairs = ((self.momentum_trunk, self.trunk), (self.momentum_projector, self.projector))
        for target, online in pairs:
            for pt, po in zip(target.parameters(), online.parameters(), strict=True):
                pt.mul_(m).add_(po.detach(), alpha=1 - m)
            for bt, bo in zip(target.buffers(), online.buffers(), strict=True):
                bt.copy_(bo)

    def after_step(self) -> None:
        """The momentum update that follows each optimizer step."""
        # global_step counts optimizer steps taken, the update just done included
        total = max(1, int(self.trainer.estimated_stepping_batches))
        self.last_momentum = momentum_schedule(self.trainer.global_step, total, self.cfg.momentum)
        self.momentum_update(self.last_momentum)

    def configure_callbacks(self) -> list[pl.Callback]:
        # A callback, not the module's own on_train_batch_end: Lightning runs the module's hook
        # after the callbacks', i.e. after the step's resume checkpoint is written, which would
        # then hold the key encoder of the step before (a resumed run would differ).
        return [_MomentumUpdate()]


class _MomentumUpdate(pl.Callback):
    """Runs :meth:`SslTask.after_step` at the end of each training batch, before any
    checkpoint callback (Lightning runs those last)."""

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: Any, *args: Any) -> None:
        pl_module.after_step()
