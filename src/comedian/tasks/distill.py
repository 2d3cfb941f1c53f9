"""Distillation pretraining task, step 2c (method.md §5).

Usage:
    task = DistillTask(vivit, cfg, teacher_dim=512, augment=AugmentConfig.distill(img_size))
    trainer.fit(task, loader)   # {"frames": uint8 (B, 128, H, W, 3), "teacher": (B, 64, 512)}

The ViViT (temporal masking on while training) encodes a 64 s clip into 64 tokens; each goes
through the projector 192 -> 1024 -> 1024 -> 512 and is L2-normalized (q). The keys are the
L2-normalized PCA teacher vectors of the same seconds. The loss is the token SCE of
:func:`comedian.losses.sce_token_loss` (coefficient 0.5, temperatures 0.1 and 0.05, keys of
the same clip, self masked on the key side) over all tokens, masked ones included; the batch's
keys then enter a FIFO queue of 65,536 teacher vectors, gathered over DDP ranks.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from comedian.data.transforms import AugmentConfig, ClipAugment
from comedian.losses import FeatureQueue, sce_token_loss
from comedian.models.heads import build_projector
from comedian.tasks.base import TrainTask
from comedian.training import TrainConfig


class DistillTask(TrainTask):
    """LightningModule of the ``distill`` stage.

    Args:
        model: The ViViT (no head); its ``mask_ratio`` masks seconds in training.
        cfg: Stage settings.
        teacher_dim: Width of the teacher vectors (the PCA's components, 512).
        augment: The one view's augmentation (§5).
        proj_hidden: Projector hidden width (1024).
        queue_size: Queue slots (65,536).
        coeff: SCE coefficient lambda (0.5).
        temp: Query temperature (0.1).
        temp_m: Key temperature (0.05).
    """

    def __init__(
        self,
        model: nn.Module,
        cfg: TrainConfig,
        *,
        teacher_dim: int,
        augment: AugmentConfig,
        proj_hidden: int = 1024,
        queue_size: int = 65536,
        coeff: float = 0.5,
        temp: float = 0.1,
        temp_m: float = 0.05,
    ) -> None:
        super().__init__(cfg)
        if getattr(model, "head", None) is not None:
            raise ValueError("distillation trains the trunk: build the ViViT without a head")
        self.model = model
        self.projector = build_projector(int(model.num_features), proj_hidden, teacher_dim)
        self.queue = FeatureQueue(queue_size, teacher_dim, seed=cfg.seed)
        img_size = int(getattr(model, "img_size", 224))
        if augment.img_size != img_size:
            raise ValueError(f"augment img_size {augment.img_size} != model img_size {img_size}")
        self.transform = ClipAugment(augment)
        self.coeff, self.temp, self.temp_m = coeff, temp, temp_m

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
            coeff=self.coeff,
            temp=self.temp,
            temp_m=self.temp_m,
        )
        self.queue.enqueue(k)
        return loss

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        return self.record_loss(self.distill_loss(batch["x"], batch["teacher"]), batch)
