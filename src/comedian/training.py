"""Training machinery shared by every training stage: settings, trainer, optimizer, schedule,
resume and the exported model file.

Usage (a training stage's ``run``: build the model, the data and the task, then):
    fit_and_publish(task, loader, out=paths.out, stage=STAGE, paths=paths, arch=cfg.arch,
                    model_kwargs=kwargs)
    fit_and_publish(task, train_loader, val_loader, monitor="valid_tight", ...)  # best model

The task (:class:`comedian.tasks.base.TrainTask`) holds the settings (``task.cfg``, a
:class:`TrainConfig`) and only logs (``self.log``: ``loss`` each step, its metrics after each
validation); everything else below is done here, the same for every stage.

What every training stage gets:

* **Devices and precision**: ``accelerator`` / ``devices`` / ``num_nodes`` from the stage config
  (Lightning picks DDP when there is more than one process; under SLURM it reads the job's
  geometry); ``precision="auto"`` is bf16 mixed precision on a GPU and fp32 on a CPU.
* **AdamW with the models' own exclusions** (:func:`param_groups`): a parameter gets no weight
  decay when its module's ``no_weight_decay()`` names it (embeddings, CLS and mask tokens, norms,
  biases; method.md §2, §5, §6). Linear lr scaling with the *global* batch: peak lr =
  ``lr * batch_size / 256``.
* **Per-step warmup + cosine** (:func:`warmup_cosine`).
* **Settings checked where parsed** (:meth:`TrainConfig.check`): epochs, lr, clipping, warmup,
  devices, model sizes and keys, ... are refused naming the option, whether they come from the
  command line, ``--set`` or Snakemake's config.
* **Resume**: a rolling Lightning checkpoint ``<out_dir>/.resume/last.ckpt``, written atomically
  every epoch (or every N steps), outside the rule's declared outputs. Rerunning a stage after a
  crash, a kill or a SLURM requeue resumes from it when it was written with the same settings
  (else it is set aside and training restarts). It is removed once the stage's outputs exist.
  It is loaded ``weights_only`` (it holds tensors and plain values only; a file holding other
  objects stops the stage, never runs). Resume is exact: the sampler restarts at the batch
  after the checkpoint and the global random states (torch, CUDA, numpy, Python) are restored,
  so the resumed run logs the losses the uninterrupted run would have (:func:`fit_resumable`).
* **One runner an output folder** (:func:`lock_output`): ``flock`` on ``.resume/lock``.
* **A non-finite loss** stops the stage naming the step and the likely input
  (:class:`comedian.tasks.base.NonFiniteLossError`); no model is exported.
* **DDP teardown**: the process group is destroyed on every rank after ``fit``, also on failure.
* **A per-step CSV log** ``train_log.csv`` (step, epoch, lr, loss and the validation metrics),
  kept under ``.resume/`` while training and copied next to the outputs at the end.
* **The best model** of a stage that validates (:class:`BestModelExport`, ``monitor``): kept as
  ``.resume/best.pt`` while training and published as the model file; ``last.pt`` beside it.
* **The exported model** (:func:`export_model`): ``{arch, model_kwargs, state_dict, config,
  metrics}``, plain tensors and Python values only, so it loads with
  ``torch.load(path, weights_only=True)`` and :func:`comedian.models.model_from_checkpoint`.
"""

from __future__ import annotations

import csv
import fcntl
import hashlib
import inspect
import json
import logging
import math
import os
import pickle
import re
import shutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import pytorch_lightning as pl
import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO
from pytorch_lightning.callbacks import Callback, Checkpoint
from pytorch_lightning.plugins.environments import SLURMEnvironment
from torch import nn
from torch.utils.data import DataLoader, Dataset

from comedian.atomic import atomic_path
from comedian.config import (
    ConfigError,
    Settings,
    check_number,
    option_name,
    to_dict,
    write_resolved,
)
from comedian.errors import ComedianError, InputError
from comedian.paths import RESUME_DIR

if TYPE_CHECKING:
    from comedian.tasks.base import TrainTask

log = logging.getLogger(__name__)

RESUME_NAME = "last.ckpt"
LOG_NAME = "train_log.csv"
LOG_COLUMNS = ("step", "epoch", "lr", "loss")
LOCK_NAME = "lock"
#: The best validated model while training (in ``.resume/``) and the last one beside ``out``.
BEST_NAME = "best.pt"
LAST_NAME = "last.pt"


# -- settings checks ------------------------------------------------------------------------


def check_model_settings(arch: str, model: Mapping[str, Any], prefix: str = "model") -> None:
    """Refuse ``model`` overrides that the ``arch`` builder does not take or that are not
    sizes (integers >= 1), rates in [0, 1) or finite ratios > 0, naming the key.

    An unknown key (a typo) would otherwise be kept and silently ignored where a stage uses
    only some of the keys (the step-1 ViT takes the ViViT's spatial ones).
    """
    from comedian.models import MODELS  # the models import this module's users, not it

    if arch not in MODELS:
        raise ConfigError(
            f"{option_name('arch')}: unknown model {arch!r}; known: {', '.join(MODELS)}"
        )
    params = {
        n: p
        for n, p in inspect.signature(MODELS[arch]).parameters.items()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }
    for key, value in model.items():
        name = f"{prefix}.{key}"
        if key not in params:
            raise ConfigError(
                f"{name}: {arch} has no setting {key!r}; its settings: {', '.join(params)}"
            )
        default = params[key].default
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise ConfigError(f"{name}: must be true or false, got {value!r}")
        elif isinstance(default, int):
            check_number(name, value, minimum=0 if key == "num_classes" else 1, integer=True)
        elif isinstance(default, float):
            if "rate" in key or ("ratio" in key and "mlp" not in key):
                check_number(name, value, minimum=0, below=1)
            else:
                check_number(name, value, above=0)
        elif isinstance(default, tuple):
            if not isinstance(value, list | tuple) or not value:
                raise ConfigError(f"{name}: must be a list of integers >= 1, got {value!r}")
            for i, v in enumerate(value):
                check_number(f"{name}[{i}]", v, minimum=1, integer=True)


@dataclass(frozen=True)
class TrainConfig(Settings):
    """Settings every training stage has (each stage subclasses it with its paper defaults;
    a task's settings combine it with the loss and augmentation sections it uses, e.g.
    :class:`comedian.tasks.ssl.SslConfig`).

    Attributes:
        arch: Model builder name (:data:`comedian.models.MODELS`).
        model: Constructor overrides of the model (image size, depths, ...).
        epochs: Training epochs.
        batch_size: Global batch (all devices together); must divide by the process count.
        lr: Base learning rate per 256 clips (peak = lr * batch_size / 256).
        weight_decay: AdamW weight decay of the decayed group.
        betas: AdamW betas.
        warmup_epochs: Linear warmup length in epochs (stepped per iteration).
        warmup_start: First warmup lr as a fraction of the peak.
        min_lr: Final cosine lr as a fraction of the peak.
        clip_grad: Gradient norm clipping (0 disables).
        accelerator: Lightning accelerator (auto, cpu, gpu).
        devices: Devices per node.
        num_nodes: Nodes.
        precision: auto (bf16-mixed on GPU, 32-true on CPU) or a Lightning precision string.
        compile: torch.compile the model.
        num_workers: DataLoader workers per process (0: load in the main process).
        seed: Seed of weights, sampling and augmentation.
        checkpoint_every_n_steps: Resume checkpoint period in steps (0: every epoch).
        progress_bar: Show Lightning's progress bar.
        max_steps: Stop after this many optimizer steps (0: ``epochs`` decide); the lr schedule
            then ends there (Lightning's estimated stepping batches). A rehearsal caps every
            stage with it.
    """

    arch: str = "vivit_tiny"
    model: dict[str, Any] = field(default_factory=dict)
    epochs: int = 1
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.05
    betas: tuple[float, float] = (0.9, 0.999)
    warmup_epochs: float = 0.0
    warmup_start: float = 0.0
    min_lr: float = 0.01
    clip_grad: float = 1.0
    accelerator: str = "auto"
    devices: int = 1
    num_nodes: int = 1
    precision: str = "auto"
    compile: bool = False
    num_workers: int = 4
    seed: int = 0
    checkpoint_every_n_steps: int = 0
    progress_bar: bool = False
    max_steps: int = 0

    #: Fewest epochs a run may have (the teacher's 0 exports its --init weights untrained).
    MIN_EPOCHS: ClassVar[int] = 1
    #: Whether ``arch`` may be empty (the model then comes whole from ``--init``).
    ARCH_FROM_INIT: ClassVar[bool] = False

    def check(self) -> None:
        """Refuse settings that would train nothing or a broken model, naming the setting
        (:class:`ConfigError`, exit status 2). Runs whenever a config is built or overridden,
        so the command line, ``--set`` and Snakemake's config are all checked where parsed.
        Stages with more settings extend it."""
        super().check()
        check_number("epochs", self.epochs, minimum=self.MIN_EPOCHS, integer=True)
        check_number("batch_size", self.batch_size, minimum=1, integer=True)
        check_number("lr", self.lr, above=0)
        check_number("weight_decay", self.weight_decay, minimum=0)
        if len(self.betas) != 2:
            raise ConfigError(f"betas: expected 2 values, got {list(self.betas)}")
        for i, beta in enumerate(self.betas):
            check_number(f"betas[{i}]", beta, minimum=0, below=1)
        check_number("warmup_epochs", self.warmup_epochs, minimum=0)
        check_number("warmup_start", self.warmup_start, minimum=0, maximum=1)
        check_number("min_lr", self.min_lr, minimum=0, maximum=1)
        check_number("clip_grad", self.clip_grad, minimum=0)
        check_number("devices", self.devices, minimum=1, integer=True)
        check_number("num_nodes", self.num_nodes, minimum=1, integer=True)
        check_number("num_workers", self.num_workers, minimum=0, integer=True)
        check_number("seed", self.seed, minimum=0, integer=True)
        check_number("checkpoint_every_n_steps", self.checkpoint_every_n_steps, minimum=0,
                     integer=True)  # fmt: skip
        if not (self.ARCH_FROM_INIT and self.arch == ""):
            check_model_settings(self.arch, self.model)

    @property
    def world_size(self) -> int:
        return self.devices * self.num_nodes

    @property
    def peak_lr(self) -> float:
        """Linear scaling with the global batch (method.md §2, §5, §6)."""
        return self.lr * self.batch_size / 256

    @property
    def device_batch_size(self) -> int:
        if self.batch_size % self.world_size:
            raise ValueError(
                f"batch_size {self.batch_size} does not divide over {self.world_size} processes"
            )
        return self.batch_size // self.world_size


def config_digest(cfg: Any) -> str:
    """A short hash of a resolved config: a resume checkpoint must come from the same one."""
    text = json.dumps(to_dict(cfg), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def resolve_precision(cfg: TrainConfig) -> str:
    """``auto``: bf16 mixed precision where a CUDA device trains, fp32 elsewhere."""
    if cfg.precision != "auto":
        return cfg.precision
    on_gpu = cfg.accelerator in ("gpu", "cuda") or (
        cfg.accelerator == "auto" and torch.cuda.is_available()
    )
    return "bf16-mixed" if on_gpu else "32-true"


# -- optimizer and schedule -----------------------------------------------------------------


def no_weight_decay_set(module: nn.Module) -> set[str]:
    """Names (relative to ``module``) of the parameters the modules inside it exclude.

    The outermost submodules that define ``no_weight_decay()`` name their own parameters
    (relative to themselves); any other bias is excluded too.
    """
    names = {n for n, _ in module.named_parameters() if n == "bias" or n.endswith(".bias")}
    owners: list[str] = []
    for prefix, mod in module.named_modules():
        if not hasattr(mod, "no_weight_decay"):
            continue
        if any(prefix == o or prefix.startswith(f"{o}.") or not o for o in owners):
            continue  # inside a module that already named its parameters
        owners.append(prefix)
        dot = f"{prefix}." if prefix else ""
        names |= {dot + n for n in mod.no_weight_decay()}
    return names


def param_groups(
    module: nn.Module, weight_decay: float, params: Iterable[str] | None = None
) -> list[dict[str, Any]]:
    """AdamW groups: decayed, and not decayed (:func:`no_weight_decay_set`).

    Args:
        module: The trained module (a task holding model, projector, ...).
        weight_decay: Decay of the first group.
        params: Only these parameter names (e.g. the head in classifier init); default all
            parameters that require gradients.

    Returns:
        ``[{"params", "weight_decay", "names"}, ...]``, empty groups left out.
    """
    skip = no_weight_decay_set(module)
    wanted = None if params is None else set(params)
    decay: list[tuple[str, nn.Parameter]] = []
    no_decay: list[tuple[str, nn.Parameter]] = []
    for name, p in module.named_parameters():
        if not p.requires_grad or (wanted is not None and name not in wanted):
            continue
        (no_decay if name in skip else decay).append((name, p))
    groups = [
        {
            "params": [p for _, p in decay],
            "weight_decay": weight_decay,
            "names": [n for n, _ in decay],
        },
        {
            "params": [p for _, p in no_decay],
            "weight_decay": 0.0,
            "names": [n for n, _ in no_decay],
        },
    ]
    return [g for g in groups if g["params"]]


def warmup_cosine(
    step: int, total_steps: int, warmup_steps: int, start: float = 0.0, end: float = 0.0
) -> float:
    """The lr factor (of the peak) at ``step``: linear warmup, then cosine.

    Warmup goes from ``start`` at step 0 to 1 at ``warmup_steps``; the cosine goes from 1 there
    to ``end`` at ``total_steps`` (and stays there).
    """
    if warmup_steps > 0 and step < warmup_steps:
        return start + (1.0 - start) * step / warmup_steps
    span = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    return end + (1.0 - end) * 0.5 * (1.0 + math.cos(math.pi * progress))


def build_optimizer(
    module: nn.Module,
    cfg: TrainConfig,
    total_steps: int,
    steps_per_epoch: int,
    params: Iterable[str] | None = None,
    *,
    sgd_momentum: float | None = None,
) -> dict[str, Any]:
    """AdamW (or SGD with ``sgd_momentum``, the teacher's, method.md §3) + per-step
    warmup/cosine, in Lightning's ``configure_optimizers`` format."""
    groups = param_groups(module, cfg.weight_decay, params)
    for g in groups:
        g.pop("names")
    if sgd_momentum is None:
        opt: torch.optim.Optimizer = torch.optim.AdamW(groups, lr=cfg.peak_lr, betas=cfg.betas)
    else:
        opt = torch.optim.SGD(groups, lr=cfg.peak_lr, momentum=sgd_momentum)
    warmup = round(cfg.warmup_epochs * steps_per_epoch)

    def factor(step: int) -> float:
        return warmup_cosine(step, total_steps, warmup, cfg.warmup_start, cfg.min_lr)

    sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
    return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def make_loader(
    dataset: Dataset, sampler: Any, batch_size: int, cfg: TrainConfig, collate_fn: Callable
) -> DataLoader:
    """The DataLoader of every training stage: ``cfg.num_workers`` persistent workers decode
    JPEG, batches of uint8 clips in pinned memory on a GPU (augmented on the device).

    The workers draw nothing at random (the sampler chooses every key from ``(seed, epoch)``;
    augmentation runs in the main process), and the loader seeds them from its own generator,
    so starting an iterator never advances the global random state: a resumed run's random
    stream is the killed run's (:func:`fit_resumable`)."""
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=cfg.num_workers,
        collate_fn=collate_fn,
        pin_memory=torch.cuda.is_available(),
        persistent_workers=cfg.num_workers > 0,
        prefetch_factor=2 if cfg.num_workers > 0 else None,
        generator=torch.Generator().manual_seed(cfg.seed),
    )


# -- trainer, logging and resume ------------------------------------------------------------


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning checkpoints written to a hidden temporary name, then renamed: a job killed
    while saving leaves the previous ``last.ckpt`` intact."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None
    ) -> None:
        with atomic_path(path) as tmp:
            super().save_checkpoint(checkpoint, tmp, storage_options)

    def load_checkpoint(
        self, path: Any, map_location: Any = None, weights_only: bool | None = None
    ) -> dict[str, Any]:
        """Always ``weights_only``: a resume checkpoint is tensors and plain values, and a
        pickle planted in its place never runs."""
        return super().load_checkpoint(path, map_location=map_location, weights_only=True)


class StepLog(Callback):
    """Append one CSV row a training step (step, epoch, lr, loss) and one a validation.

    The loss and the validation metrics are what the task logs (``self.log``: ``loss`` every
    step, the ``metric_names`` after each validation); the lr is the optimizer's as the step
    starts (the one it trains with). Only global rank 0 writes. Rows of a resumed run are
    appended.
    """

    def __init__(self, path: Path, metric_names: Iterable[str] = ()) -> None:
        self.path = Path(path)
        self.metric_names = list(metric_names)
        self.columns = list(LOG_COLUMNS) + self.metric_names
        self._lr: float | None = None

    def _write(self, trainer: pl.Trainer, row: Mapping[str, Any]) -> None:
        if trainer.global_rank != 0:
            return
        new = not self.path.exists()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=self.columns, extrasaction="ignore")
            if new:
                w.writeheader()
            w.writerow(row)

    def on_train_batch_start(self, trainer: pl.Trainer, *args: Any) -> None:
        # Lightning steps the schedule before on_train_batch_end: read the lr here
        self._lr = trainer.optimizers[0].param_groups[0]["lr"] if trainer.optimizers else None

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, *args: Any
    ) -> None:
        loss = trainer.callback_metrics.get("loss")
        lr = float("nan") if self._lr is None else self._lr
        self._write(
            trainer,
            {
                "step": trainer.global_step,
                "epoch": trainer.current_epoch,
                "lr": f"{lr:.6g}",
                "loss": "" if loss is None else f"{float(loss):.6f}",
            },
        )

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # after the module's own on_validation_epoch_end has logged this epoch's metrics
        metrics = {k: trainer.callback_metrics[k] for k in self.metric_names
                   if k in trainer.callback_metrics}  # fmt: skip
        if trainer.sanity_checking or not metrics:
            return
        row = {"step": trainer.global_step, "epoch": trainer.current_epoch}
        row.update({k: f"{float(v):.6f}" for k, v in metrics.items()})
        self._write(trainer, row)


class BestModelExport(Callback):
    """After each validation, export the model to ``path`` (global rank 0) when the metric
    ``monitor`` that the task logs improved (higher is better).

    Lightning's ``ModelCheckpoint(monitor=...)`` keeps Lightning checkpoints (optimizer and
    loop state included); a stage publishes an exported model file (:func:`export_model`),
    so this callback writes that instead. The best value so far travels in the resume
    checkpoint (``best_metric``), so a resumed run keeps the best model of the killed one.

    Attributes:
        best: The best value so far (-inf before the first validation).
        last: The value of the latest validation of this process (None before it).
    """

    def __init__(
        self, path: Path, monitor: str, export: Callable[[Path, Mapping[str, float]], None]
    ) -> None:
        self.path = Path(path)
        self.monitor = monitor
        self.export = export
        self.best = float("-inf")
        self.last: float | None = None

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        value = trainer.callback_metrics.get(self.monitor)
        if trainer.sanity_checking or value is None:
            return
        self.last = float(value)
        if self.last > self.best:
            self.best = self.last
            if trainer.global_rank == 0:
                self.export(self.path, {self.monitor: self.best, "epoch": trainer.current_epoch})

    def on_save_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        checkpoint["best_metric"] = self.best

    def on_load_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        self.best = float(checkpoint.get("best_metric", float("-inf")))


class ResumeCheckpoint(Checkpoint):
    """Write the rolling resume checkpoint every ``every_n_steps`` training steps, or at the
    end of every training epoch when it is 0 (after that epoch's validation).

    Lightning's ModelCheckpoint keeps no ``last.ckpt`` at an epoch's end unless it also keeps
    a top-k checkpoint, so this one calls ``trainer.save_checkpoint`` itself (on every rank:
    rank 0 writes, through :class:`AtomicCheckpointIO`). As a ``Checkpoint`` it runs after
    every other callback of the same hook (the step's log row, the momentum update), so the
    checkpoint holds the state the next step starts from. Every checkpoint carries
    ``comedian_digest``, the digest of the settings (:func:`config_digest`) that
    :func:`resume_checkpoint` compares.
    """

    def __init__(self, path: Path, digest: str, every_n_steps: int = 0) -> None:
        self.path = Path(path)
        self.digest = digest
        self.every_n_steps = int(every_n_steps)

    def on_train_batch_end(self, trainer: pl.Trainer, *args: Any) -> None:
        if self.every_n_steps and trainer.global_step % self.every_n_steps == 0:
            trainer.save_checkpoint(self.path)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self.every_n_steps:
            trainer.save_checkpoint(self.path)

    def on_save_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        checkpoint["comedian_digest"] = self.digest


def resume_dir(out_dir: Path) -> Path:
    return Path(out_dir) / RESUME_DIR


def build_trainer(
    cfg: TrainConfig,
    out_dir: Path,
    *,
    metric_names: Iterable[str] = (),
    val_every_n_epochs: int | None = None,
    callbacks: Iterable[Callback] = (),
) -> pl.Trainer:
    """The one Lightning Trainer factory of every training stage.

    Args:
        cfg: The stage's settings.
        out_dir: The folder of the stage's outputs; its ``.resume/`` holds the rolling
            checkpoint and the live CSV log.
        metric_names: Validation metrics the CSV log has columns for.
        val_every_n_epochs: Validation period (None: no validation loop).
        callbacks: Extra callbacks.
    """
    rdir = resume_dir(out_dir)
    ckpt = ResumeCheckpoint(rdir / RESUME_NAME, config_digest(cfg), cfg.checkpoint_every_n_steps)
    plugins: list[Any] = [AtomicCheckpointIO()]
    if SLURMEnvironment.detect():
        # Retries and requeues are Snakemake's and Slurm's (profiles/slurm): Lightning must
        # not requeue the job itself; the rerun resumes from .resume/last.ckpt.
        plugins.append(SLURMEnvironment(auto_requeue=False))
    return pl.Trainer(
        accelerator=cfg.accelerator,
        devices=cfg.devices,
        num_nodes=cfg.num_nodes,
        precision=resolve_precision(cfg),  # type: ignore[arg-type]
        max_epochs=cfg.epochs,
        max_steps=cfg.max_steps if cfg.max_steps > 0 else -1,
        gradient_clip_val=cfg.clip_grad or None,
        callbacks=[ckpt, StepLog(rdir / LOG_NAME, metric_names), *callbacks],
        plugins=plugins,
        logger=False,
        enable_progress_bar=cfg.progress_bar,
        enable_model_summary=False,
        check_val_every_n_epoch=val_every_n_epochs or 1,
        limit_val_batches=None if val_every_n_epochs else 0,
        num_sanity_val_steps=0,
        use_distributed_sampler=False,  # our samplers shard by rank themselves
        log_every_n_steps=1,
        deterministic=False,
        benchmark=None,
    )


class UntrustedCheckpointError(InputError):
    """A resume checkpoint holds Python objects that ``weights_only`` loading refuses."""


def read_resume_header(path: Path) -> dict[str, Any]:
    """The resume checkpoint's small entries (digest, step), loaded ``weights_only`` and
    memory-mapped (the weights are not read).

    Raises:
        UntrustedCheckpointError: The file holds objects other than tensors and plain values
            (another program's file, or one planted there): it is never unpickled.
    """
    try:
        doc = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except pickle.UnpicklingError as err:
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(err))
        what = f" ({found.group(1).rstrip('.')})" if found else ""
        raise UntrustedCheckpointError(
            f"{path}: the resume checkpoint holds Python objects{what} other than tensors and "
            f"plain values, so it is not loaded (a comedian checkpoint never does); delete it "
            f"to train from the start"
        ) from None
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: not a Lightning checkpoint")
    header = {
        "comedian_digest": doc.get("comedian_digest"),
        "global_step": int(doc.get("global_step", 0)),
    }
    del doc
    return header


def resume_checkpoint(out_dir: Path, digest: str) -> Path | None:
    """The rolling checkpoint to resume from, if one exists and has the same config digest.

    A checkpoint of other settings, or an unreadable one, is renamed ``last.ckpt.stale``
    (never silently reused) and the stale CSV log removed, so training restarts. One holding
    anything but tensors and plain values stops the stage (:class:`UntrustedCheckpointError`).
    When resuming, the log rows of steps after the checkpoint (a killed run went on past it)
    are dropped: the resumed run logs those steps again, exactly.
    """
    rdir = resume_dir(out_dir)
    path = rdir / RESUME_NAME
    if not path.exists():
        (rdir / LOG_NAME).unlink(missing_ok=True)  # a log without checkpoint: start afresh
        return None
    step = 0
    try:
        header = read_resume_header(path)
        saved, step = header["comedian_digest"], header["global_step"]
    except FileNotFoundError:
        return None  # another rank of the same job set it aside first
    except UntrustedCheckpointError:
        raise
    except Exception as err:  # noqa: BLE001 - any unreadable checkpoint means start afresh
        log.warning("%s: unreadable resume checkpoint (%s); training restarts", path, err)
        saved = None
    if saved != digest:
        if saved is not None:
            log.warning("%s was written with other settings; training restarts", path)
        try:
            os.replace(path, path.with_name(RESUME_NAME + ".stale"))
        except FileNotFoundError:
            pass  # every rank calls this before the process group exists: one of them won
        (rdir / LOG_NAME).unlink(missing_ok=True)
        return None
    if global_rank() == 0:
        truncate_log(rdir / LOG_NAME, step)
    log.info("resuming from %s (step %d)", path, step)
    return path


def truncate_log(path: Path, step: int) -> None:
    """Drop the CSV log rows of steps after ``step`` (atomically; no log: nothing to do)."""
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except FileNotFoundError:
        return
    if not rows:
        return
    header, body = rows[0], rows[1:]
    kept = [r for r in body if r and r[0].strip().isdigit() and int(r[0]) <= step]
    if len(kept) == len(body):
        return
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        csv.writer(f).writerows([header, *kept])


def global_rank() -> int:
    """This process's rank as the launcher says (torchrun, srun, Lightning's own children),
    read before any process group exists; 0 when alone."""
    for var in ("RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK"):
        if os.environ.get(var, "").strip().isdigit():
            return int(os.environ[var])
    local = os.environ.get("LOCAL_RANK", "").strip()
    return int(local) if local.isdigit() else 0


# -- one runner an output folder ------------------------------------------------------------

_held_locks: dict[Path, Any] = {}


class OutputLockedError(ComedianError):
    """Another process trains into the same output folder."""


def lock_output(out_dir: Path) -> None:
    """Take the lock of a training stage's output folder for the rest of this process.

    The lock is ``fcntl.flock`` on ``<out_dir>/.resume/lock`` (outside the declared outputs):
    the kernel releases it when the process ends, however it ends (kill -9 included), so a
    lock is never stale. Only global rank 0 of a job takes it (the ranks of one job share the
    folder). A second runner on the same folder is refused in one line.

    Raises:
        OutputLockedError: Naming the folder and the process that holds it.
    """
    if global_rank() != 0:
        return
    out_dir = Path(out_dir).resolve()
    if out_dir in _held_locks:
        return
    path = resume_dir(out_dir) / LOCK_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    f = open(path, "a+")  # noqa: SIM115 - held open until the process exits
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.seek(0)
        holder = f.read().strip() or "?"
        f.close()
        raise OutputLockedError(
            f"{out_dir}: another run (pid {holder}) is training into this folder; wait for it "
            f"to end or stop it"
        ) from None
    f.seek(0)
    f.truncate()
    f.write(f"{os.getpid()}\n")
    f.flush()
    _held_locks[out_dir] = f


# -- fit: exact resume, teardown ------------------------------------------------------------


def position_sampler(loader: DataLoader, ckpt: Path | None) -> None:
    """Put the training sampler where the checkpoint's run was: the epoch of its step and,
    for a checkpoint taken mid-epoch, past the batches already trained on.

    Lightning restores the step and the epoch counters but restarts a plain DataLoader at
    its first batch; the samplers here skip the batches instead, so the resumed run sees the
    batches the killed one would have seen next. The position is resolved by the sampler when
    it is next iterated (``resume_after_step``): by then DDP has started the process group and
    an epoch's length is this rank's share; before it, every rank would count the whole epoch
    as its own and skip to the wrong epoch and batch.
    """
    sampler = getattr(loader, "sampler", None)
    if ckpt is None or not hasattr(sampler, "resume_after_step"):
        return
    step = read_resume_header(ckpt)["global_step"]
    sampler.resume_after_step(step, int(loader.batch_size or 1))


def teardown_distributed() -> None:
    """Destroy the process group (every rank, also after a failure): a process that exits
    with gloo/NCCL threads alive can abort at exit ("terminate called without an active
    exception") after its work is done."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        try:
            torch.distributed.destroy_process_group()
        except Exception as err:  # noqa: BLE001 - teardown must not hide the real outcome
            log.debug("destroy_process_group: %s", err)


def fit_resumable(
    build: Callable[[], pl.Trainer],
    task: pl.LightningModule,
    train_loader: DataLoader,
    val_loader: DataLoader | None = None,
    *,
    out_dir: Path,
    cfg: TrainConfig,
) -> pl.Trainer:
    """``trainer.fit`` of every training stage: resume from ``.resume/last.ckpt`` when it was
    written with ``cfg`` (weights_only, the sampler positioned, the random state restored by
    the task: the losses go on as if never interrupted), then tear DDP down on every rank.

    Args:
        build: Makes the trainer (called once the resume checkpoint has been checked, so a
            refused checkpoint stops the stage before Lightning starts).

    Returns:
        The trainer, after ``fit``.
    """
    try:
        ckpt = resume_checkpoint(out_dir, config_digest(cfg))
        position_sampler(train_loader, ckpt)
        trainer = build()
        trainer.fit(task, train_loader, val_loader, ckpt_path=ckpt, weights_only=True)
    finally:
        teardown_distributed()
    return trainer


def finish(out_dir: Path, log_out: Path) -> None:
    """Publish the CSV log next to the outputs and drop the resume folder."""
    rdir = resume_dir(out_dir)
    src = rdir / LOG_NAME
    with atomic_path(log_out) as tmp:
        if src.exists():
            shutil.copyfile(src, tmp)
        else:
            tmp.write_text(",".join(LOG_COLUMNS) + "\n")
    shutil.rmtree(rdir, ignore_errors=True)


def fit_and_publish(
    task: TrainTask,
    train_loader: DataLoader,
    val_loader: DataLoader | None = None,
    *,
    out: Path,
    stage: str,
    paths: Any,
    arch: str,
    model_kwargs: Mapping[str, Any],
    monitor: str | None = None,
    val_every_n_epochs: int = 1,
) -> None:
    """The lifecycle of every training stage: lock the output folder, train ``task`` with the
    settings ``task.cfg`` (resuming from ``.resume/last.ckpt`` beside ``out`` when it was
    written with them), then on global rank 0 export the model, publish the CSV log and
    ``config.resolved.yaml``.

    Args:
        task: The stage's LightningModule; :meth:`TrainTask.exported_model` is what is exported.
        train_loader: The training batches.
        val_loader: The validation batches (None: no validation).
        out: The model file to write; every other output goes beside it.
        stage: The stage's name (in ``config.resolved.yaml``).
        paths: The stage's inputs and outputs (in ``config.resolved.yaml``).
        arch: Model builder name the exported file records.
        model_kwargs: Builder settings the exported file records.
        monitor: A stage that selects its model on a metric the task logs after each
            validation (higher is better): ``out`` is then the best validated model
            (:class:`BestModelExport`; the last one when nothing was validated) and
            ``last.pt`` beside it the last one, both with their metrics and epoch. None:
            ``out`` is the last model.
        val_every_n_epochs: Validation period in epochs.

    ``cfg.epochs == 0`` skips training: the model is exported as it was built (e.g. a teacher
    given as finished weights).
    """
    cfg = task.cfg
    out = Path(out)
    out_dir = out.parent
    lock_output(out_dir)

    def export(path: Path, metrics: Mapping[str, float] | None = None) -> None:
        export_model(path, task.exported_model(), arch=arch, model_kwargs=model_kwargs,
                     config=cfg, metrics=metrics)  # fmt: skip

    validated = monitor is not None and val_loader is not None
    best = BestModelExport(resume_dir(out_dir) / BEST_NAME, monitor, export) if validated else None
    last_metrics: dict[str, float] = {}
    if cfg.epochs > 0:
        trainer = fit_resumable(
            lambda: build_trainer(
                cfg,
                out_dir,
                metric_names=[best.monitor] if best is not None else [],
                val_every_n_epochs=val_every_n_epochs if val_loader is not None else None,
                callbacks=[best] if best is not None else [],
            ),
            task,
            train_loader,
            val_loader,
            out_dir=out_dir,
            cfg=cfg,
        )
        if trainer.global_rank != 0:
            return  # rank 0 alone reads the log and publishes (it then removes .resume/)
        first, last = task_losses(out_dir)
        log.info("%s: loss %s -> %s", stage, first, last)
        last_metrics = {"epoch": trainer.current_epoch}
        if best is not None and best.last is not None:
            last_metrics[best.monitor] = best.last
    if monitor is None:
        export(out)
    else:
        export(out_dir / LAST_NAME, last_metrics)
        if best is not None and best.path.exists():
            with atomic_path(out) as tmp:
                best.path.replace(tmp)
            log.info("%s: best %s %.4f -> %s", stage, monitor, best.best, out)
        else:
            export(out, last_metrics)
    finish(out_dir, out_dir / LOG_NAME)
    write_resolved(out_dir / "config.resolved.yaml", stage=stage, config=cfg, paths=paths)


def task_losses(out_dir: Path) -> tuple[str, str]:
    """First and last logged loss of the live CSV log (for the stage's log line)."""
    try:
        with open(resume_dir(out_dir) / LOG_NAME, newline="") as f:
            losses = [row["loss"] for row in csv.DictReader(f) if row.get("loss")]
    except FileNotFoundError:
        return "?", "?"
    return (losses[0], losses[-1]) if losses else ("?", "?")


# -- exported model -------------------------------------------------------------------------


def plain_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """Contiguous CPU copies of the state dict, without a torch.compile wrapper prefix."""
    sd = getattr(model, "_orig_mod", model).state_dict()
    return {k: v.detach().cpu().clone().contiguous() for k, v in sd.items()}


def export_model(
    path: str | Path,
    model: nn.Module,
    *,
    arch: str,
    model_kwargs: Mapping[str, Any],
    config: Any,
    metrics: Mapping[str, float] | None = None,
) -> None:
    """Write ``{arch, model_kwargs, state_dict, config, metrics}`` atomically.

    Everything is a tensor or a plain Python value, so the file loads with
    ``torch.load(path, weights_only=True)``.
    """
    doc = {
        "arch": arch,
        "model_kwargs": json.loads(json.dumps(to_dict(dict(model_kwargs)))),
        "state_dict": plain_state_dict(model),
        "config": json.loads(json.dumps(to_dict(config), default=str)),
        "metrics": {k: float(v) for k, v in (metrics or {}).items()},
    }
    with atomic_path(path) as tmp:
        torch.save(doc, tmp)


def read_model_file(path: str | Path) -> dict[str, Any]:
    """Load an exported model file (``weights_only``), naming the file on any problem."""
    path = Path(path)
    try:
        doc = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such model file") from None
    except Exception as err:  # noqa: BLE001 - torch raises many types for a bad file
        raise ValueError(f"{path}: not a readable model file ({err})") from None
    if not isinstance(doc, dict) or "arch" not in doc or "state_dict" not in doc:
        raise ValueError(f"{path}: not an exported comedian model (no 'arch'/'state_dict')")
    return doc
