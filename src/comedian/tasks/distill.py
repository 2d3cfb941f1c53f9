"""Distillation pretraining task, step 2c (method.md §5).

Usage:
    task = DistillTask(vivit, cfg, teacher_dim=512)   # cfg: a DistillConfig (distill section)
    fit_and_publish(task, loader, ...)
    # batches {"frames": uint8 (B, 128, H, W, 3), "teacher": (B, 64, 512)}

The ViViT (temporal masking on while training) encodes a 64 s clip into 64 tokens; each goes
through the projector 192 -> 1024 -> 1024 -> 512 and is L2-normalized (q). The keys are the
L2-normalized PCA teacher vectors of the same seconds. The loss is the token SCE of
:func:`comedian.losses.sce_token_loss` (coefficient 0.5, temperatures 0.1 and 0.05, keys of
the same clip, self masked on the key side) over all tokens, masked ones included; the batch's
keys then enter a FIFO queue of 65,536 teacher vectors, gathered over DDP ranks.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import torch.nn.functional as F
from torch import Tensor, nn

from comedian.config import check_number
from comedian.data.transforms import AugmentConfig, ClipAugment
from comedian.losses import FeatureQueue, SceConfig, sce_token_loss
from comedian.models.heads import build_projector
from comedian.models.protocol import SpottingBackbone, conform
from comedian.tasks.base import TrainTask
from comedian.training import TrainConfig


@dataclass(frozen=True)
class DistillConfig(SceConfig, TrainConfig):
    """The settings of distillation (method.md §5): the training, token SCE and augmentation
    settings with the projector's hidden width. The ``distill`` stage's section adds its data
    settings."""

    proj_hidden: int = field(default=1024, metadata={"help": "projector hidden width"})
    augment: AugmentConfig = field(default_factory=AugmentConfig.distill)

    def check(self) -> None:
        super().check()
        check_number("proj_hidden", self.proj_hidden, minimum=1, integer=True)


class DistillTask(TrainTask):
    """LightningModule of the ``distill`` stage.

    Args:
        model: The ViViT (no head); its ``mask_ratio`` masks seconds in training; clips are
            augmented at its ``img_size``.
        cfg: The settings (``proj_hidden``, ``queue_size``, ``coeff``, ``temp``, ``temp_m``,
            ``augment``, the optimizer's).
        teacher_dim: Width of the teacher vectors (the PCA's components, 512).
    """

    cfg: DistillConfig

    def __init__(self, model: nn.Module, cfg: DistillConfig, *, teacher_dim: int) -> None:
        super().__init__(cfg)
        if model.get_classifier() is not None:
            raise ValueError("distillation trains the trunk: build the ViViT without a head")
        self.model = model
        self.projector = build_projector(int(model.num_features), cfg.proj_hidden, teacher_dim)
        self.queue = FeatureQueue(cfg.queue_size, teacher_dim, seed=cfg.seed)
        img_size = conform(model, SpottingBackbone).img_size
        self.transform = ClipAugment(dataclasses.replace(cfg.augment, img_size=img_size))

    def on_after_batch_transfer(self, batch: dict[str, Tensor], dataloader_idx: int) -> dict:
        batch["x"] = self.transform(batch.pop("frames"))  # (B, 3, 128, S, S)
        return batch

    def distill_loss(self, x: Tensor, teacher: Tensor) -> Tensor:
        """Token SCE against the current queue, then enqueue this batch's keys.

        Shapes:
            x: (B, 3, T, S, S); teacher: (B, T / 2, D_t).
        """
        tokens = self.model(x)  # (B, Tt, D)
        b, tt = tokens.shape[:2]
        if teacher.shape[:2] != (b, tt):
            raise ValueError(
                f"teacher vectors {tuple(teacher.shape)} do not match tokens {(b, tt)}"
            )
        q = F.normalize(self.projector(tokens), dim=-1).flatten(0, 1)  # (B * Tt, D_t)
        k = F.normalize(teacher.float(), dim=-1).flatten(0, 1)  # (B * Tt, D_t)
        loss = sce_token_loss(
            q,
            k,
            self.queue.vectors.clone(),
            tokens_per_clip=tt,
            coeff=self.cfg.coeff,
            temp=self.cfg.temp,
            temp_m=self.cfg.temp_m,
        )
        self.queue.enqueue(k)
        return loss

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        return self.record_loss(self.distill_loss(batch["x"], batch["teacher"]), batch)
