"""Teacher fine-tuning task, step 2a (method.md §3): ResNet3D-50 on 4 s windows at 4 fps.

Usage:
    task = TeacherTask(build_model("resnet3d_50", num_classes=17), cfg)   # a TeacherConfig
    fit_and_publish(task, loader, ...)  # {"frames": uint8 (B, 16, H, W, 3), "targets": (B, 17)}

Each window carries the label of its middle time. Loss: BCE with logits on mixup-ed windows
(Beta(alpha, alpha) per sample, in-batch permutation), averaged over windows and classes.
Optimizer: SGD with momentum 0.9, weight decay 5e-5 except BatchNorm parameters and biases, peak
lr = lr x B / 256, per-step linear warmup and cosine (:func:`comedian.training.warmup_cosine`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from torch import Tensor, nn

from comedian.config import check_number
from comedian.data.transforms import AugmentConfig, ClipAugment
from comedian.losses.spotting import MixupConfig, random_mixup, spotting_loss
from comedian.tasks.base import TrainTask
from comedian.training import TrainConfig


@dataclass(frozen=True)
class TeacherConfig(MixupConfig, TrainConfig):
    """The settings of teacher fine-tuning (method.md §3): the training (SGD: ``momentum``;
    ``betas`` unused), mixup and augmentation settings with the input size. The ``teacher``
    stage's section adds its data settings."""

    momentum: float = field(default=0.9, metadata={"help": "SGD momentum"})
    img_size: int = field(default=224, metadata={"help": "input height and width"})
    augment: AugmentConfig = field(default_factory=AugmentConfig.finetune)

    def check(self) -> None:
        super().check()
        check_number("momentum", self.momentum, minimum=0, below=1)
        check_number("img_size", self.img_size, minimum=1, integer=True)


class TeacherTask(TrainTask):
    """LightningModule of the ``teacher`` stage.

    Args:
        model: The ResNet3D with a 17-class head.
        cfg: The settings (``momentum``, ``mixup_alpha``, ``augment`` at ``img_size``, the
            optimizer's).
    """

    cfg: TeacherConfig

    def __init__(self, model: nn.Module, cfg: TeacherConfig) -> None:
        super().__init__(cfg)
        if model.get_classifier() is None:
            raise ValueError("the teacher needs a head (num_classes=17) to fine-tune")
        self.model = model
        self.transform = ClipAugment(dataclasses.replace(cfg.augment, img_size=cfg.img_size))
        self.sgd_momentum = cfg.momentum  # SGD, not AdamW (method.md §3)

    def on_after_batch_transfer(self, batch: dict[str, Tensor], dataloader_idx: int) -> dict:
        batch["x"] = self.transform(batch.pop("frames"))  # (B, 3, 16, S, S)
        return batch

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        x, y = batch["x"], batch["targets"]  # (B, 3, 16, S, S), (B, 17)
        x, y = random_mixup(x, y, self.cfg.mixup_alpha)
        return self.record_loss(spotting_loss(self.model(x), y), batch)
