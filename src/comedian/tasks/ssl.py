"""Spatial self-supervised pretraining task, step 1 (method.md §2).

Usage:
    task = SslTask(build_model("vit_tiny"), cfg, view1=AugmentConfig.ssl_view(1),
                   view2=AugmentConfig.ssl_view(2))
    trainer.fit(task, loader)        # batches {"frames": uint8 (B, 2, H, W, 3)}

Online branch: ViT trunk -> projector 192 -> 1024 -> 1024 -> 256 -> predictor 256 -> 1024 ->
256, L2-normalized. Momentum branch: a copy of trunk + projector, updated after every optimizer
step with m = 1 - (1 - 0.99) (cos(pi step / max_steps) + 1) / 2. Loss: SCE with coefficient 1
(InfoNCE with a queue), temperature 0.1, symmetric over the two views; both views' momentum keys
then enter a FIFO queue of 65,536 vectors (gathered over DDP ranks).
"""

from __future__ import annotations

import copy
from typing import Any

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from comedian.data.transforms import AugmentConfig, ClipAugment
from comedian.losses import FeatureQueue, momentum_schedule, sce_loss
from comedian.models.heads import build_predictor, build_projector
from comedian.tasks.base import TrainTask
from comedian.training import TrainConfig


class SslTask(TrainTask):
    """LightningModule of the ``pretrain`` stage.

    Args:
        trunk: The ViT (CLS output, no head).
        cfg: Stage settings.
        view1: Augmentation of the first view.
        view2: Augmentation of the second view.
        proj_hidden: Projector hidden width (1024).
        proj_dim: Projector output width (256).
        queue_size: Queue slots K (65,536).
        coeff: SCE coefficient lambda (1: InfoNCE).
        temp: Temperature of the query logits (0.1).
        temp_m: Temperature of the key target (0.05; unused at coeff 1).
        momentum: Momentum at step 0 (0.99).
    """

    compiled_modules = ("trunk", "momentum_trunk")

    def __init__(
        self,
        trunk: nn.Module,
        cfg: TrainConfig,
        *,
        view1: AugmentConfig,
        view2: AugmentConfig,
        proj_hidden: int = 1024,
        proj_dim: int = 256,
        queue_size: int = 65536,
        coeff: float = 1.0,
        temp: float = 0.1,
        temp_m: float = 0.05,
        momentum: float = 0.99,
    ) -> None:
        super().__init__(cfg)
        self.trunk = trunk
        dim = int(trunk.num_features)
        self.projector = build_projector(dim, proj_hidden, proj_dim)
        self.predictor = build_predictor(proj_dim, proj_hidden)
        self.momentum_trunk = copy.deepcopy(trunk)
        self.momentum_projector = copy.deepcopy(self.projector)
        for p in (*self.momentum_trunk.parameters(), *self.momentum_projector.parameters()):
            p.requires_grad_(False)
        self.queue = FeatureQueue(queue_size, proj_dim, seed=cfg.seed)
        img_size = int(getattr(trunk, "img_size", 224))
        for view in (view1, view2):
            if view.img_size != img_size:
                raise ValueError(f"augment img_size {view.img_size} != trunk img_size {img_size}")
        self.view1 = ClipAugment(view1)
        self.view2 = ClipAugment(view2)
        self.coeff, self.temp, self.temp_m = coeff, temp, temp_m
        self.base_momentum = momentum
        self.last_momentum = momentum

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
        hyper = {"coeff": self.coeff, "temp": self.temp, "temp_m": self.temp_m}
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
        self.last_momentum = momentum_schedule(self.trainer.global_step, total, self.base_momentum)
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
