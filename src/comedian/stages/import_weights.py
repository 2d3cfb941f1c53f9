"""Convert a reference (eztorch) checkpoint into a comedian model checkpoint.

Usage:
    comedian import-weights --src comedian_vivit_tiny_seed42.pth --out vivit_seed42.pt \\
        --arch vivit_tiny

Accepted inputs (checkpoints.md §1, §4, §5, §6): the released fine-tuned state dicts
(``trunk.transformer.*`` + ``head_class.layers.0.*``, maybe transform buffers), Lightning
checkpoints (their ``state_dict``) of step 1 (``trunk.*``; momentum, projector, predictor and
queue ignored), step 2 and the teacher (``trunk.model.*``, ``--arch resnet3d_50``). Settings that
the keys determine (temporal depth, mask token, clip length, image size, head) are inferred.
With ``--arch vivit_tiny`` and a step-1 ViT file, the ViViT is initialized from the ViT as in
method.md §5 (blocks 0..5 also into the temporal stage).

Output: ``{"arch", "model_kwargs", "state_dict", "source", "report"}`` written atomically,
loadable with ``torch.load(path, weights_only=True)`` and
:func:`comedian.models.model_from_checkpoint`; ``config.resolved.yaml`` goes next to it.
"""

from __future__ import annotations

import logging
import pickle
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch

from comedian import hub
from comedian.atomic import atomic_path
from comedian.config import write_resolved
from comedian.guards import refuse_overwrite
from comedian.models import (
    ReferenceWeightsError,
    build_model,
    infer_model_kwargs,
    init_from_vit,
    load_reference_state_dict,
)
from comedian.models.loading import check_archive
from comedian.models.reference import split_reference_keys, unwrap_state_dict

log = logging.getLogger(__name__)


#: What ``comedian --help`` says of this stage.
SUMMARY = "convert reference (eztorch) checkpoints to comedian state dicts"


@dataclass(frozen=True)
class Paths:
    """Input reference file and output comedian checkpoint."""

    src: Path = field(metadata={"help": "reference checkpoint (.pth state dict or .ckpt)"})
    out: Path = field(metadata={"output": True, "help": "comedian checkpoint to write (.pt)"})


@dataclass(frozen=True)
class Config:
    """Import settings."""

    arch: Literal["vivit_tiny", "viswin_tiny", "vit_tiny", "resnet3d_50"] = field(
        default="vivit_tiny", metadata={"help": "architecture of the file's trunk"}
    )
    require_head: bool = field(
        default=False,
        metadata={"help": "fail if the model has a head (num_classes > 0) but the file has none"},
    )
    trust_pickle: bool = field(
        default=False,
        metadata={
            "help": "allow full unpickling (Lightning .ckpt files with omegaconf objects); "
            "only for files you trust"
        },
    )
    overrides: dict[str, Any] = field(
        default_factory=dict,
        metadata={"help": "builder overrides on top of the inferred ones (e.g. mask_ratio)"},
    )


def _load(ref: Path, trust_pickle: bool) -> Any:
    src = hub.weights_file(ref)  # a Hub reference (comedian.hub): the cached download
    if not src.is_file():
        raise ReferenceWeightsError(f"{src}: no such file")
    if src.stat().st_size == 0:
        raise ReferenceWeightsError(f"{src}: the file is empty")
    check_archive(src)  # torch reads a damaged tensor record without noticing
    try:
        return torch.load(src, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if not trust_pickle:
            raise ReferenceWeightsError(
                f"{src}: cannot be read with weights_only=True (a Lightning checkpoint holding "
                f"Python objects?). If you trust the file, pass --trust-pickle true "
                f"({' '.join(str(err).split())[:300]})"
            ) from err
    except Exception as err:  # noqa: BLE001 - torch fails on foreign bytes in many ways
        # torch's own messages for a text file, a truncated zip or a foreign format
        raise ReferenceWeightsError(
            f"{src}: not a readable PyTorch checkpoint (empty, truncated or another format: "
            f"{' '.join(str(err).split())[:200]})"
        ) from err
    log.warning("%s: loading with full unpickling (--trust-pickle)", src)
    try:
        return torch.load(src, map_location="cpu", weights_only=False)
    except Exception as err:  # noqa: BLE001 - arbitrary pickles fail in arbitrary ways
        raise ReferenceWeightsError(
            f"{src}: cannot unpickle ({type(err).__name__}: {' '.join(str(err).split())[:200]})"
        ) from err


def _is_vit_layout(state_dict: dict[str, torch.Tensor]) -> bool:
    trunk, _, _ = split_reference_keys(state_dict)
    return "cls_token" in trunk and "spatial_cls_token" not in trunk


def _convert(
    cfg: Config, state_dict: dict[str, torch.Tensor], source: str
) -> tuple[torch.nn.Module, dict[str, Any], dict[str, Any]]:
    """Build ``cfg.arch`` from the file's keys and load it: (model, builder kwargs, report)."""
    report: dict[str, Any]
    if cfg.arch == "vivit_tiny" and _is_vit_layout(state_dict):
        # A step-1 ViT: build the paper ViViT around it (method.md §5).
        vit_kwargs = infer_model_kwargs("vit_tiny", state_dict)
        kwargs = {k: vit_kwargs[k] for k in ("img_size", "patch_size", "tube_size", "embed_dim")}
        kwargs["depth"] = vit_kwargs["depth"]
        kwargs.update(cfg.overrides)
        model = build_model(cfg.arch, **kwargs)
        init = init_from_vit(model, state_dict)  # type: ignore[arg-type]
        report = {"mode": "init_from_vit", **asdict(init)}
    else:
        kwargs = {**infer_model_kwargs(cfg.arch, state_dict), **cfg.overrides}
        model = build_model(cfg.arch, **kwargs)
        loaded = load_reference_state_dict(
            model, state_dict, source=source, require_head=cfg.require_head
        )
        report = {"mode": "reference", **asdict(loaded)}
    return model, kwargs, report


def run(cfg: Config, *, paths: Paths) -> None:
    """Read ``paths.src``, map it onto ``cfg.arch`` strictly, write ``paths.out``."""
    refuse_overwrite(
        inputs={"--src": paths.src},
        outputs={
            "--out": paths.out,
            "config.resolved.yaml": paths.out.parent / "config.resolved.yaml",
        },
    )
    source = hub.display(paths.src)
    state_dict = unwrap_state_dict(_load(paths.src, cfg.trust_pickle), source)
    try:
        model, kwargs, report = _convert(cfg, state_dict, source)
    except (KeyError, IndexError, RuntimeError, TypeError, ValueError) as err:
        if isinstance(err, ReferenceWeightsError):
            if source in str(err):
                raise
            raise ReferenceWeightsError(f"{source}: {err}") from err
        # a file of another architecture: missing keys or mismatched shapes
        raise ReferenceWeightsError(
            f"{source}: does not fit --arch {cfg.arch} ({type(err).__name__}: "
            f"{' '.join(str(err).split())[:200]})"
        ) from err
    ckpt = {
        "arch": cfg.arch,
        "model_kwargs": {k: list(v) if isinstance(v, tuple) else v for k, v in kwargs.items()},
        "state_dict": model.state_dict(),
        "source": source,
        "report": report,
    }
    with atomic_path(paths.out) as tmp:
        torch.save(ckpt, tmp)
    write_resolved(
        paths.out.parent / "config.resolved.yaml", stage="import_weights", config=cfg, paths=paths
    )
    log.info("%s -> %s (%s, %s)", source, paths.out, cfg.arch, kwargs)
