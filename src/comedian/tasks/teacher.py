"""Teacher fine-tuning task, step 2a (method.md §3): ResNet3D-50 on 4 s windows at 4 fps.

Usage:
    task = TeacherTask(build_model("resnet3d_50", num_classes=17), cfg, augment=...)
    trainer.fit(task, loader)     # {"frames": uint8 (B, 16, H, W, 3), "targets": (B, 17)}

Each window carries the label of its middle time. Loss: BCE with logits on mixup-ed windows
(Beta(alpha, alpha) per sample, in-batch permutation), averaged over windows and classes.
Optimizer: SGD with momentum 0.9, weight decay 5e-5 except BatchNorm parameters and biases, peak
lr = lr x B / 256, per-step linear warmup and cosine (:func:`comedian.training.warmup_cosine`).
"""

from __future__ import annotations

from torch import Tensor, nn

from comedian.data.transforms import AugmentConfig, ClipAugment
from comedian.losses.spotting import mixup, sample_mixup, spotting_loss
from comedian.tasks.base import TrainTask
from comedian.training import TrainConfig


class TeacherTask(TrainTask):
    """LightningModule of the ``teacher`` stage.

    Args:
        model: The ResNet3D with a 17-class head.
        cfg: Stage settings (``betas[0]`` is unused; SGD's momentum is ``momentum``).
        augment: Training augmentation of the windows.
        mixup_alpha: Beta(alpha, alpha) of mixup (0 disables).
        momentum: SGD momentum (0.9).
    """

    def __init__(
        self,
        model: nn.Module,
        cfg: TrainConfig,
        *,
        augment: AugmentConfig,
        mixup_alpha: float = 0.1,
        momentum: float = 0.9,
    ) -> None:
        super().__init__(cfg)
        if getattr(model, "head", None) is None:
            raise ValueError("the teacher needs a head (num_classes=17) to fine-tune")
        self.model = model
        self.transform = ClipAugment(augment)
        self.mixup_alpha = mixup_alpha
        self.sgd_momentum = momentum  # SGD, not AdamW (method.md §3)

    def on_after_batch_transfer(self, batch: dict[str, Tensor], dataloader_idx: int) -> dict:
        batch["x"] = self.transform(batch.pop("frames"))  # (B, 3, 16, S, S)
        return batch

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        x, y = batch["x"], batch["targets"]  # (B, 3, 16, S, S), (B, 17)
        if self.mixup_alpha > 0 and x.shape[0] > 1:
            lam, perm = sample_mixup(x.shape[0], self.mixup_alpha, device=x.device)
            x, y = mixup(x, y, lam, perm)
        return self.record_loss(spotting_loss(self.model(x), y), batch)
