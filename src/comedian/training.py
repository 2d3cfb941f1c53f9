"""Training machinery shared by every training stage: settings, trainer, optimizer, schedule,
resume and the exported model file.

Usage (inside a stage's ``run``):
    trainer = build_trainer(cfg, out_dir)
    trainer.fit(task, loader, ckpt_path=resume_checkpoint(out_dir, config_digest(cfg)))
    export_model(out_dir / "model.pt", task.model, arch=cfg.arch, model_kwargs=..., config=cfg)

or, for a stage without validation, all of it (resume, fit, export and publish on rank 0):
    fit_and_publish(task, loader, cfg, out=paths.out, stage=STAGE, paths=paths, export=write)

What every training stage gets:

* **Devices and precision**: ``accelerator`` / ``devices`` / ``num_nodes`` from the stage config
  (Lightning picks DDP when there is more than one process; under SLURM it reads the job's
  geometry); ``precision="auto"`` is bf16 mixed precision on a GPU and fp32 on a CPU.
* **AdamW with the models' own exclusions** (:func:`param_groups`): a parameter gets no weight
  decay when its module's ``no_weight_decay()`` names it (embeddings, CLS and mask tokens, norms,
  biases; method.md §2, §5, §6). Linear lr scaling with the *global* batch: peak lr =
  ``lr * batch_size / 256``.
* **Per-step warmup + cosine** (:func:`warmup_cosine`).
* **Resume**: a rolling Lightning checkpoint ``<out_dir>/.resume/last.ckpt``, written atomically
  every epoch (or every N steps), outside the rule's declared outputs. Rerunning a stage after a
  crash, a kill or a SLURM requeue resumes from it when it was written with the same settings
  (else it is set aside and training restarts). It is removed once the stage's outputs exist.
* **A per-step CSV log** ``train_log.csv`` (step, epoch, lr, loss and the validation metrics),
  kept under ``.resume/`` while training and copied next to the outputs at the end.
* **The exported model** (:func:`export_model`): ``{arch, model_kwargs, state_dict, config,
  metrics}``, plain tensors and Python values only, so it loads with
  ``torch.load(path, weights_only=True)`` and :func:`comedian.models.model_from_checkpoint`.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import math
import os
import shutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO
from pytorch_lightning.callbacks import Callback, ModelCheckpoint
from pytorch_lightning.plugins.environments import SLURMEnvironment
from torch import nn
from torch.utils.data import DataLoader, Dataset

from comedian.atomic import atomic_path
from comedian.config import to_dict, write_resolved
from comedian.paths import RESUME_DIR

log = logging.getLogger(__name__)

RESUME_NAME = "last.ckpt"
LOG_NAME = "train_log.csv"
LOG_COLUMNS = ("step", "epoch", "lr", "loss")


@dataclass(frozen=True)
class TrainConfig:
    """Settings every training stage has (each stage subclasses it with its paper defaults).

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
    JPEG, batches of uint8 clips in pinned memory on a GPU (augmented on the device)."""
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=cfg.num_workers,
        collate_fn=collate_fn,
        pin_memory=torch.cuda.is_available(),
        persistent_workers=cfg.num_workers > 0,
        prefetch_factor=2 if cfg.num_workers > 0 else None,
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


class StepLog(Callback):
    """Append one CSV row a training step (step, epoch, lr, loss) and one a validation.

    The task exposes ``last_loss`` (a detached tensor) and ``val_metrics`` (a dict of floats
    after each validation). Only global rank 0 writes. Rows of a resumed run are appended.
    """

    def __init__(self, path: Path, metric_names: Iterable[str] = ()) -> None:
        self.path = Path(path)
        self.columns = list(LOG_COLUMNS) + list(metric_names)

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

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, *args: Any
    ) -> None:
        loss = getattr(pl_module, "last_loss", None)
        lr = getattr(pl_module, "last_lr", None)
        lr = float("nan") if lr is None else lr
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
        # after the module's own on_validation_epoch_end has computed this epoch's metrics
        metrics = getattr(pl_module, "val_metrics", None) or {}
        if trainer.sanity_checking or not metrics:
            return
        row = {"step": trainer.global_step, "epoch": trainer.current_epoch}
        row.update({k: f"{v:.6f}" for k, v in metrics.items()})
        self._write(trainer, row)


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
    every_steps = cfg.checkpoint_every_n_steps or None
    ckpt = ModelCheckpoint(
        dirpath=rdir,
        filename="last",
        save_top_k=0,
        save_last=True,
        every_n_train_steps=every_steps,
        every_n_epochs=None if every_steps else 1,
        save_on_train_epoch_end=True,
    )
    ckpt.CHECKPOINT_NAME_LAST = "last"
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


def resume_checkpoint(out_dir: Path, digest: str) -> Path | None:
    """The rolling checkpoint to resume from, if one exists and has the same config digest.

    A checkpoint of other settings is renamed ``last.ckpt.stale`` (never silently reused) and
    the stale CSV log removed, so training restarts.
    """
    rdir = resume_dir(out_dir)
    path = rdir / RESUME_NAME
    if not path.exists():
        (rdir / LOG_NAME).unlink(missing_ok=True)  # a log without checkpoint: start afresh
        return None
    try:
        # memory-mapped: only the small header entries are read, not the weights
        doc = torch.load(path, map_location="cpu", weights_only=False, mmap=True)
        saved = doc.get("comedian_digest")
        del doc
    except FileNotFoundError:
        return None  # another rank of the same job set it aside first
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
    log.info("resuming from %s", path)
    return path


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
    task: pl.LightningModule,
    loader: DataLoader,
    cfg: TrainConfig,
    *,
    out: Path,
    stage: str,
    paths: Any,
    export: Callable[[Path], None],
) -> None:
    """Train (resuming from ``.resume/last.ckpt`` beside ``out`` when it matches ``cfg``), then
    on rank 0 export the model to ``out``, publish the CSV log and the resolved config.

    ``cfg.epochs == 0`` skips training: the model is exported as it was built (e.g. a teacher
    given as finished weights).
    """
    out_dir = Path(out).parent
    if cfg.epochs > 0:
        trainer = build_trainer(cfg, out_dir)
        ckpt = resume_checkpoint(out_dir, config_digest(cfg))
        trainer.fit(task, loader, ckpt_path=ckpt)
        if trainer.global_rank != 0:
            return  # rank 0 alone reads the log and publishes (it then removes .resume/)
        first, last = task_losses(out_dir)
        log.info("%s: loss %s -> %s", stage, first, last)
    export(Path(out))
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
