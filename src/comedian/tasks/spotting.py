"""Spotting fine-tuning task (method.md §6): classifier init (stage A) and global fine-tuning (B).

Usage:
    task = SpottingTask(model, cfg, freeze_trunk=True, valid=ValidSet(halves, labels))
    fit_and_publish(task, train_loader, val_loader, monitor=VALID_METRIC, ...)

The model is a :class:`~comedian.models.factorized.FactorizedEncoder` with a 17-class head
(logits (B, 64, 17)). Batches arrive as uint8 clips; augmentation (training) or resize +
normalize (validation) runs on the batch after it reaches the device. Training: mixup
Beta(0.1, 0.1) and the mean BCE over all tokens and classes. Validation: sliding windows over
every valid half (method.md §7), merged, soft NMS with the paper's setting, and the tight
average-mAP (the project's fast metric, identical to the official one), logged as
:data:`VALID_METRIC` (the stage keeps the best model on it: :func:`comedian.training.fit_and_publish`).

Classifier init (``freeze_trunk``): every parameter but the head's is frozen and the whole model
stays in eval mode (no drop path, no temporal masking) while training; only the head is optimized.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from comedian.data.halves import Half
from comedian.data.transforms import AugmentConfig, ClipAugment
from comedian.losses.spotting import MixupConfig, random_mixup, spotting_loss
from comedian.models.protocol import SpottingBackbone, conform
from comedian.spotting.merge import merge_windows
from comedian.spotting.settings import NmsSetting
from comedian.spotting.sweep import sweep_nms
from comedian.tasks.base import TrainTask
from comedian.training import TrainConfig

log = logging.getLogger(__name__)

#: Name of the validation metric (the CSV log's column and the exported metrics' key).
VALID_METRIC = "valid_tight"


@dataclass(frozen=True)
class SpottingConfig(MixupConfig, TrainConfig):
    """The settings of spotting fine-tuning (method.md §6): the training, mixup and
    augmentation settings. The ``finetune_head`` and ``finetune`` sections add their data and
    validation settings."""

    augment: AugmentConfig = field(default_factory=AugmentConfig.finetune)


@dataclass
class ValidSet:
    """The valid split for in-training evaluation: its halves (game order, half 1 then 2) and
    the labels of each game in the metric's format (:func:`comedian.spotting.metrics.read_labels`)."""

    halves: Sequence[Half]
    labels: Sequence[Mapping[str, np.ndarray]]
    nms: NmsSetting = NmsSetting()


def head_names(model: nn.Module) -> list[str]:
    """Names of the head's parameters (``head.*``)."""
    return [n for n, _ in model.named_parameters() if n.startswith("head.")]


class SpottingTask(TrainTask):
    """LightningModule of finetune_head and finetune.

    Args:
        model: The ViViT / ViSwin with a head; clips are resized to its ``img_size``.
        cfg: The settings (``mixup_alpha``, ``augment``: training augmentation, §6; the
            optimizer's). Validation uses resize + normalize.
        freeze_trunk: Classifier init: train the head only, model in eval mode.
        valid: The valid split, or None to train without validation.
    """

    cfg: SpottingConfig

    def __init__(
        self,
        model: nn.Module,
        cfg: SpottingConfig,
        *,
        freeze_trunk: bool = False,
        valid: ValidSet | None = None,
    ) -> None:
        super().__init__(cfg)
        if model.get_classifier() is None:
            raise ValueError("the spotting model needs a head (num_classes=17)")
        self.model = model
        self.freeze_trunk = freeze_trunk
        img_size = conform(model, SpottingBackbone).img_size
        augment = dataclasses.replace(cfg.augment, img_size=img_size)
        self.train_transform = ClipAugment(augment).train()
        self.eval_transform = ClipAugment(AugmentConfig.evaluation(img_size)).eval()
        self.valid = valid
        self._val_parts: list[tuple[Tensor, Tensor, Tensor]] = []
        if freeze_trunk:
            heads = set(head_names(model))
            for name, p in model.named_parameters():
                p.requires_grad_(name in heads)

    # -- modes ------------------------------------------------------------------------------
    def train(self, mode: bool = True) -> SpottingTask:
        super().train(mode)
        if self.freeze_trunk:
            self.model.eval()  # frozen trunk: no drop path, no masking, fixed statistics
        self.eval_transform.eval()
        self.train_transform.train()
        return self

    def trainable_names(self) -> Iterable[str] | None:
        if self.freeze_trunk:
            return [f"model.{n}" for n in head_names(self.model)]
        return None

    # -- data -------------------------------------------------------------------------------
    def on_after_batch_transfer(self, batch: dict[str, Tensor], dataloader_idx: int) -> dict:
        transform = self.train_transform if self.trainer.training else self.eval_transform
        batch["x"] = transform(batch.pop("frames"))  # (B, 3, 128, S, S)
        return batch

    # -- training ---------------------------------------------------------------------------
    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        x, y = batch["x"], batch["targets"]  # (B, 3, T, S, S), (B, 64, 17)
        x, y = random_mixup(x, y, self.cfg.mixup_alpha)
        logits = self.model(x)  # (B, 64, 17)
        return self.record_loss(spotting_loss(logits, y), batch)

    # -- validation -------------------------------------------------------------------------
    def on_validation_epoch_start(self) -> None:
        self._val_parts = []

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        probs = torch.sigmoid(self.model(batch["x"]).float())  # (B, 64, 17)
        self._val_parts.append((batch["half"].cpu(), batch["start"].cpu(), probs.cpu()))

    def _gathered(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        parts = self._val_parts
        halves = torch.cat([p[0] for p in parts]) if parts else torch.zeros(0, dtype=torch.long)
        starts = torch.cat([p[1] for p in parts]) if parts else torch.zeros(0, dtype=torch.long)
        probs = torch.cat([p[2] for p in parts]) if parts else torch.zeros(0, 64, 17)
        local = (halves.numpy(), starts.numpy(), probs.numpy())
        if self.trainer.world_size == 1:
            return local
        everyone: list[Any] = [None] * self.trainer.world_size
        torch.distributed.all_gather_object(everyone, local)
        return tuple(np.concatenate([e[i] for e in everyone]) for i in range(3))  # type: ignore[return-value]

    def on_validation_epoch_end(self) -> None:
        if self.valid is None:
            return
        halves, starts, probs = self._gathered()
        raw = merge_valid_scores(self.valid.halves, halves, starts, probs)
        table = sweep_nms(raw, list(self.valid.labels), [self.valid.nms], metrics=("tight",))
        tight = float(table["tight"].iloc[0])
        # every rank computed the same value from the gathered scores; float64, as computed
        self.log(VALID_METRIC, torch.tensor(tight, dtype=torch.float64), prog_bar=True)
        log.info("epoch %d: valid tight average-mAP %.4f", self.current_epoch, tight)


def merge_valid_scores(
    halves: Sequence[Half], half_idx: np.ndarray, starts: np.ndarray, probs: np.ndarray
) -> list[dict[int, np.ndarray]]:
    """Merge window scores into per-game ``{1: (T1, 17), 2: (T2, 17)}`` raw scores.

    ``halves`` lists each game's half 1 then half 2, games in order.
    """
    raw: list[dict[int, np.ndarray]] = []
    for i, h in enumerate(halves):
        sel = half_idx == i
        order = np.argsort(starts[sel], kind="stable")
        merged = merge_windows(probs[sel][order], starts[sel][order], h.num_rows)
        if h.half == 1:
            raw.append({})
        raw[-1][h.half] = merged
    return raw
