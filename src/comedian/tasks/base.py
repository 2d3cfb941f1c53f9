"""The base of every training task: optimizer, schedule, exact-resume random state, step loss.

Usage:
    @dataclass(frozen=True)
    class MyConfig(SceConfig, TrainConfig):     # the task's settings: the stage section's
        proj_hidden: int = 1024

    class MyTask(TrainTask):
        def __init__(self, model, cfg: MyConfig):
            super().__init__(cfg)
            self.model = model
        def training_step(self, batch, idx):
            loss = ...
            return self.record_loss(loss, batch)

    fit_and_publish(MyTask(model, cfg), loader, ...)   # comedian.training

A task takes its stage's settings (``cfg``, its config section) and has no defaults of its
own; it only computes and logs (``self.log``). It may override :meth:`trainable_names` (e.g.
the head only in classifier init), :meth:`exported_model` (default ``self.model``) and
``compiled_modules`` (the networks ``compile: true`` compiles; default ``model``). Training,
resume, the CSV log and the exported files are :func:`comedian.training.fit_and_publish`'s.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from torch import Tensor, nn

from comedian.errors import ComedianError
from comedian.training import TrainConfig, build_optimizer


class NonFiniteLossError(ComedianError):
    """The training loss became NaN or infinite (the message names the step and the likely
    input)."""


def rng_state() -> dict[str, Any]:
    """The global random states (torch CPU, the current CUDA device, numpy, Python) as
    tensors and plain values, so that a checkpoint holding them loads ``weights_only``."""
    np_state = np.random.get_state()  # noqa: NPY002 - the global state is what is saved
    py_state = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "name": str(np_state[0]),
            "keys": torch.from_numpy(np.asarray(np_state[1], dtype=np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "python": {
            "version": int(py_state[0]),
            "internal": [int(v) for v in py_state[1]],
            "gauss_next": py_state[2],
        },
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore what :func:`rng_state` returned."""
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(  # noqa: NPY002 - the global state is what is restored
        (n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
         n["cached_gaussian"])
    )  # fmt: skip
    p = state["python"]
    random.setstate((p["version"], tuple(p["internal"]), p["gauss_next"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


class TrainTask(pl.LightningModule):
    """Shared machinery of the training tasks."""

    def __init__(self, cfg: TrainConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self._resumed_rng: dict[str, Any] | None = None
        #: Per half index of the batches, the input file a non-finite loss most likely comes
        #: from (a stage may set it; see :meth:`suspect_inputs`).
        self.input_names: Sequence[str] | None = None

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

    def exported_model(self) -> nn.Module:
        """The network the stage's model file holds."""
        return self.model

    def trainable_names(self) -> Iterable[str] | None:
        """Parameter names the optimizer updates (None: all that require gradients)."""
        return None

    def configure_optimizers(self) -> dict[str, Any]:
        total = int(self.trainer.estimated_stepping_batches)
        per_epoch = max(1, total // max(1, self.trainer.max_epochs or 1))
        return build_optimizer(
            self, self.cfg, total, per_epoch, self.trainable_names(), sgd_momentum=self.sgd_momentum
        )

    def record_loss(self, loss: Tensor, batch: Mapping[str, Any] | None = None) -> Tensor:
        """Log the step's loss (``loss``: the CSV log's column and the progress bar).

        A NaN or infinite loss stops training before it updates any weight
        (:class:`NonFiniteLossError`, naming the step and the likely input; under DDP every
        rank stops, whichever rank saw it), so no broken model is ever exported.
        """
        bad = not bool(torch.isfinite(loss.detach()).all())
        if self._trainer is not None:
            bad = self.trainer.strategy.reduce_boolean_decision(bad, all=False)
        if bad:
            step = self.trainer.global_step + 1 if self._trainer is not None else "?"
            epoch = self.trainer.current_epoch if self._trainer is not None else "?"
            raise NonFiniteLossError(
                f"the training loss is {float(loss.detach().float().mean())} at step {step} "
                f"(epoch {epoch}): {self.suspect_inputs(batch or {})}"
            )
        self.log("loss", loss.detach(), prog_bar=True, batch_size=1)
        return loss

    def suspect_inputs(self, batch: Mapping[str, Any]) -> str:
        """What most likely made the loss non-finite: a non-finite float input of the batch
        (named by its key and, through :attr:`input_names`, its file), else the settings."""
        for key, value in batch.items():
            if not torch.is_tensor(value) or not value.is_floating_point():
                continue
            finite = torch.isfinite(value.detach()).flatten(1).all(dim=1)  # (B,)
            if bool(finite.all()):
                continue
            where = ""
            halves = batch.get("half")
            if self.input_names is not None and torch.is_tensor(halves):
                files = sorted({self.input_names[int(h)] for h in halves[~finite.cpu()]})
                where = f" (from {', '.join(files)})"
            return f"the batch's {key} hold NaN or infinite values{where}"
        return (
            "the inputs of this batch are finite: the learning rate (--lr) may be too high for "
            "these settings, or the model diverged"
        )

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # the random state at this step, so a resumed run draws what this one would have
        # drawn next (augmentation, mixup, masking, drop path)
        checkpoint["comedian_rng"] = rng_state()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self._resumed_rng = checkpoint.get("comedian_rng")

    def on_before_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        # Restore the saved random state just before the first batch of the resumed run
        # draws anything: nothing that runs between the restore and this point may draw.
        if self._resumed_rng is not None and self.trainer.training:
            set_rng_state(self._resumed_rng)
            self._resumed_rng = None
        return batch

    @staticmethod
    def seed_everything(seed: int) -> None:
        pl.seed_everything(seed, workers=True, verbose=False)
        torch.backends.cudnn.benchmark = True
