"""The ResNet3D-50 teacher, step 2a (method.md §3) (rule ``teacher``).

Usage:
    python -m comedian teacher --games results/games/games.tsv --frames results/decode/2fps \\
        --frames4 results/decode/4fps --labels data/synthetic --out results/teacher/model.pt \\
        [--init slow_r50.pyth] [--epochs 100] [--set 'model={width: 8}']

A slow-only ResNet3D-50 with a 17-class head is fine-tuned on the train split: 4 s windows at
4 fps (16 frames) centred on the 4 fps grid, per half and epoch ``windows_per_half`` (100)
non-overlapping ones, the two edge windows and random ones, redrawn every epoch (the reference's
epoch: ~60 k windows on the 300 train games), each with the label of its middle time; BCE + mixup; SGD momentum 0.9, weight decay 5e-5 except BatchNorm and biases,
peak lr 1.0 x B / 256, 10 warmup epochs, cosine to 0, 100 epochs.

``--init`` (optional, e.g. Kinetics-400 weights) starts from a user-supplied checkpoint:
pytorchvideo's ``slow_r50`` (its keys are ours; its 400-class head is left out), the reference
teacher (``trunk.model.*`` keys, converted by the import code) or an exported comedian teacher.
With ``--epochs 0`` the given weights are exported as they are (a teacher fine-tuned elsewhere).

Outputs (beside ``--out``): ``model.pt`` (arch ``resnet3d_50``; its config holds the input
size that ``extract_features`` uses), ``train_log.csv``, ``config.resolved.yaml``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import torch

from comedian import hub
from comedian.config import check_number
from comedian.data.halves import split_halves
from comedian.data.pretrain import TeacherWindows, collate
from comedian.data.samplers import DrawnKeys, teacher_draw
from comedian.data.soccernet import NUM_CLASSES
from comedian.data.windows import teacher_targets
from comedian.guards import refuse_overwrite, run_outputs
from comedian.models import build_model
from comedian.models.loading import copy_weights, is_exported, read_weights_file
from comedian.models.reference import split_reference_keys, unwrap_state_dict
from comedian.tasks.base import TrainTask
from comedian.tasks.teacher import TeacherConfig, TeacherTask
from comedian.training import fit_and_publish, make_loader

log = logging.getLogger(__name__)

STAGE = "teacher"


#: What ``comedian --help`` says of this stage.
SUMMARY = "step 2a: fine-tune the ResNet3D-50 teacher on 4 s windows at 4 fps"


@dataclass(frozen=True)
class Paths:
    """Inputs and outputs of teacher fine-tuning."""

    games: Path = field(metadata={"help": "games table (results/games/games.tsv)"})
    frames: Path = field(metadata={"help": "2 fps frame stores folder (each half's is checked)"})
    frames4: Path = field(metadata={"help": "4 fps frame stores folder (results/decode/4fps)"})
    labels: Path = field(metadata={"help": "dataset root holding <game>/Labels-v2.json"})
    out: Path = field(
        metadata={"output": True, "help": "model file to write (results/teacher/model.pt)"}
    )
    init: Path | None = field(
        default=None, metadata={"help": "starting weights (slow_r50, reference or exported)"}
    )


@dataclass(frozen=True)
class Config(TeacherConfig):
    """Teacher fine-tuning settings: the paper's (method.md §3); SGD momentum, mixup, input
    size and augmentation: :class:`comedian.tasks.teacher.TeacherConfig`."""

    arch: str = "resnet3d_50"
    epochs: int = 100
    batch_size: int = 256
    lr: float = 1.0
    weight_decay: float = 5e-5
    warmup_epochs: float = 10.0
    min_lr: float = 0.0
    train_split: str = "train"
    windows_per_half: int = field(
        default=100,
        metadata={"help": "non-overlapping train windows per half and epoch (as many as fit)"},
    )
    fps: int = field(default=4, metadata={"help": "frame rate of the teacher stores"})
    window_s: float = field(default=4.0, metadata={"help": "window length in seconds"})
    trust_pickle: bool = field(
        default=False, metadata={"help": "allow full unpickling of --init (trusted files only)"}
    )

    MIN_EPOCHS = 0  # epochs 0: export the --init weights as they are

    def check(self) -> None:
        super().check()
        check_number("windows_per_half", self.windows_per_half, minimum=1, integer=True)
        check_number("fps", self.fps, minimum=1, integer=True)
        check_number("window_s", self.window_s, above=0)


@torch.no_grad()
def load_teacher_weights(model: torch.nn.Module, path: Path, trust_pickle: bool = False) -> dict:
    """Copy every trunk weight of ``path`` into ``model``; its head too when it has 17 classes.

    Accepts pytorchvideo's ``slow_r50`` state dict (``blocks.0..4`` are ours, ``blocks.5`` is
    its Kinetics head and is left out), the reference teacher (``trunk.model.*``,
    ``head_class.*``) and an exported comedian teacher. Every trunk weight must be present and
    of the right shape (else an error naming the file).
    """
    obj = read_weights_file(path, trust_pickle)
    path = hub.display(path)  # a Hub reference (comedian.hub) is named as hf://...
    if is_exported(obj):
        sd = dict(obj["state_dict"])
    else:
        trunk, head, _ = split_reference_keys(unwrap_state_dict(obj, str(path)))
        sd = {**trunk, **{f"head.{k}": v for k, v in head.items()}}
    copied = copy_weights(model, sd, path=path, with_head=True)
    heads = [k for k in model.state_dict() if k.startswith("head.")]
    unused = sorted(set(sd) - set(copied))
    log.info("%s: %d tensors loaded, head %s; unused: %s", path, len(copied),
             "loaded" if heads and heads[0] in copied else "new", unused[:10])  # fmt: skip
    return {"copied": len(copied), "unused": unused}


def run(cfg: Config, *, paths: Paths) -> None:
    """Fine-tune (or just export) the teacher."""
    refuse_overwrite(
        inputs={
            "--games": paths.games,
            "--frames": paths.frames,
            "--frames4": paths.frames4,
            "--labels": paths.labels,
            "--init": paths.init,
        },
        outputs=run_outputs(paths.out),
    )
    TrainTask.seed_everything(cfg.seed)
    kwargs = {**cfg.model, "num_classes": NUM_CLASSES}
    model = build_model(cfg.arch, **kwargs)
    if paths.init is not None:
        load_teacher_weights(model, paths.init, cfg.trust_pickle)
    elif cfg.epochs == 0:
        raise ValueError("teacher: epochs 0 exports the --init weights, but no --init was given")
    halves = split_halves(
        paths.games,
        cfg.train_split,
        paths.frames,
        paths.labels,
        frames4=paths.frames4,
        fps4=cfg.fps,
    )
    stores4 = [h.store4 for h in halves]
    # windows are centred on the 4 fps grid: one label per 4 fps frame (its middle time)
    targets = [
        teacher_targets(
            h.events["position_ms"].to_numpy(),
            h.events["class_index"].to_numpy(),
            h.store4.num_frames,
            grid_fps=cfg.fps,
        )
        for h in halves
    ]
    num_frames = [s.num_frames for s in stores4]
    dataset = TeacherWindows(
        stores4, num_frames, targets, fps=cfg.fps, window_s=cfg.window_s, grid_fps=cfg.fps
    )
    window_frames = round(cfg.fps * cfg.window_s)
    draw = teacher_draw(num_frames, cfg.windows_per_half, window_frames)
    sampler = DrawnKeys(draw, seed=cfg.seed)
    loader = make_loader(dataset, sampler, cfg.device_batch_size, cfg, collate)
    task = TeacherTask(model, cfg)
    log.info("%s: %d halves, %d windows an epoch", STAGE, len(stores4), len(sampler.keys))
    fit_and_publish(task, loader, out=paths.out, stage=STAGE, paths=paths, arch=cfg.arch,
                    model_kwargs=kwargs)  # fmt: skip
