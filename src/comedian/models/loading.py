"""Load model weights from any file the pipeline accepts: an exported comedian model or a
reference (eztorch) checkpoint, converted on the fly through the import code.

Usage:
    model, arch, kwargs = load_weights("results/finetune/vivit/model.pt")
    model, arch, kwargs = load_weights("comedian_vivit_tiny_seed42.pth", arch="vivit_tiny")
    model, arch, kwargs = load_weights("comedian-vivit-tiny-seed42")   # from the Hub (comedian.hub)
    report = init_trunk(spotting_model, "results/distill/vivit/model.pt")   # trunk only

An exported model (``{arch, model_kwargs, state_dict, ...}``, :func:`comedian.training.
export_model`, :mod:`comedian.stages.import_weights`) is rebuilt as saved. Anything else is read
as a reference checkpoint of architecture ``arch`` (checkpoints.md): its settings are inferred
from its keys and it is loaded strictly (a step-1 ViT file given for a ViViT initializes the ViViT
as method.md §5 says). Every path may also be a Hub reference (``hf://owner/repo/file`` or a
short name of the released checkpoints, :mod:`comedian.hub`), read from the Hugging Face cache
after its download. Errors name the file.
"""

from __future__ import annotations

import logging
import zipfile
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from comedian import hub
from comedian.models import (
    ReferenceWeightsError,
    SpottingBackbone,
    build_model,
    check_pretrainable,
    conform,
    entry,
    infer_model_kwargs,
    init_from_vit,
    load_reference_state_dict,
    model_from_checkpoint,
    spotting_archs,
)
from comedian.models.reference import split_reference_keys, unwrap_state_dict

log = logging.getLogger(__name__)


def read_weights_file(path: str | Path, trust_pickle: bool = False) -> Any:
    """``torch.load`` with ``weights_only`` (full unpickling only when trusted), errors naming
    the file. A Hub reference (:mod:`comedian.hub`) is downloaded into the cache first."""
    name = hub.display(path)
    local = hub.weights_file(path)
    if not local.is_file():
        raise FileNotFoundError(f"{name}: no such weights file")
    check_archive(local)
    try:
        return torch.load(local, map_location="cpu", weights_only=not trust_pickle)
    except Exception as err:  # noqa: BLE001 - torch raises many types for a bad file
        hint = "" if trust_pickle else " (a Lightning checkpoint you trust? pass trust_pickle)"
        raise ReferenceWeightsError(f"{name}: not a readable weights file{hint}: {err}") from None


def is_exported(obj: Any) -> bool:
    return isinstance(obj, Mapping) and "arch" in obj and "state_dict" in obj


def is_vit_layout(state_dict: Mapping[str, Any]) -> bool:
    """A step-1 ViT (``cls_token``) rather than a ViViT (``spatial_cls_token``)."""
    trunk, _, _ = split_reference_keys(dict(state_dict))
    return "cls_token" in trunk and "spatial_cls_token" not in trunk


def model_from_reference(
    obj: Any,
    arch: str,
    *,
    source: str,
    overrides: Mapping[str, Any] | None = None,
    require_head: bool = False,
) -> tuple[nn.Module, dict[str, Any], dict[str, Any]]:
    """Build ``arch`` from a reference state dict or checkpoint.

    Returns:
        The model, its builder kwargs and a report (``mode`` and what was loaded).
    """
    state_dict = unwrap_state_dict(obj, source)
    if entry(arch).pretrainable and is_vit_layout(state_dict):
        vit = infer_model_kwargs("vit_tiny", state_dict)
        kwargs = {k: vit[k] for k in ("img_size", "patch_size", "tube_size", "embed_dim", "depth")}
        kwargs.update(overrides or {})
        model = build_model(arch, **kwargs)
        return model, kwargs, {"mode": "init_from_vit", **asdict(init_from_vit(model, state_dict))}
    kwargs = {**infer_model_kwargs(arch, state_dict), **(overrides or {})}
    model = build_model(arch, **kwargs)
    loaded = load_reference_state_dict(model, state_dict, source=source, require_head=require_head)
    return model, kwargs, {"mode": "reference", **asdict(loaded)}


def load_weights(
    path: str | Path,
    arch: str | None = None,
    *,
    overrides: Mapping[str, Any] | None = None,
    trust_pickle: bool = False,
) -> tuple[nn.Module, str, dict[str, Any]]:
    """A model from an exported comedian model or a reference checkpoint.

    Args:
        path: The file.
        arch: Architecture of a reference checkpoint (an exported model says its own; a
            different ``arch`` is an error; a released checkpoint's short name implies it).
        overrides: Builder overrides for a reference checkpoint (e.g. ``mask_ratio``).
        trust_pickle: Allow full unpickling (Lightning checkpoints holding Python objects).

    Returns:
        ``(model, arch, model_kwargs)``.
    """
    obj = read_weights_file(path, trust_pickle)
    path = hub.display(path)
    if is_exported(obj):
        if arch is not None and obj["arch"] != arch:
            raise ReferenceWeightsError(
                f"{path}: holds a {obj['arch']} model, but {arch} was asked for"
            )
        try:
            model = model_from_checkpoint(obj)
        except (RuntimeError, TypeError, KeyError) as err:
            raise ReferenceWeightsError(f"{path}: cannot rebuild the model: {err}") from None
        return model, obj["arch"], dict(obj.get("model_kwargs", {}))
    arch = arch or hub.released_arch(path)
    if arch is None:
        raise ReferenceWeightsError(f"{path}: a reference checkpoint needs its arch")
    model, kwargs, _ = model_from_reference(obj, arch, source=str(path), overrides=overrides)
    return model, arch, kwargs


@torch.no_grad()
def copy_weights(
    model: nn.Module,
    state_dict: Mapping[str, torch.Tensor],
    *,
    path: str | Path,
    with_head: bool = False,
) -> list[str]:
    """Copy every trunk weight (all but ``head.*``) of ``state_dict`` into ``model``, and the
    head too when ``with_head`` and the file holds one of the same shapes.

    Raises:
        ReferenceWeightsError: Naming ``path``, for a missing trunk weight or a wrong shape.

    Returns:
        The keys copied.
    """
    target = model.state_dict()
    keys = [k for k in target if not k.startswith("head.")]
    missing = [k for k in keys if k not in state_dict]
    if missing:
        raise ReferenceWeightsError(
            f"{path}: {len(missing)} trunk weights missing, e.g. {missing[:3]} (another "
            "architecture or size?)"
        )
    heads = [k for k in target if k.startswith("head.")]
    if (
        with_head
        and heads
        and all(k in state_dict and state_dict[k].shape == target[k].shape for k in heads)
    ):
        keys += heads
    for k in keys:
        if tuple(state_dict[k].shape) != tuple(target[k].shape):
            raise ReferenceWeightsError(
                f"{path}: {k} has shape {tuple(state_dict[k].shape)}, the model needs "
                f"{tuple(target[k].shape)}"
            )
        target[k].copy_(state_dict[k])
    return keys


@torch.no_grad()
def init_trunk(model: nn.Module, path: str | Path, trust_pickle: bool = False) -> dict[str, Any]:
    """Initialize the trunk of a spotting model from a file; the head keeps its init.

    Accepts an exported model of the same architecture (e.g. the distilled ViViT, with or
    without head), an exported or reference step-1 ViT (method.md §5 initialization), or a
    reference checkpoint of the model's architecture. Every trunk key must be present and of
    the right shape.

    Returns:
        A report: ``mode``, and the keys copied / left at their initialization.
    """
    obj = read_weights_file(path, trust_pickle)
    path = hub.display(path)
    sd = obj["state_dict"] if is_exported(obj) else unwrap_state_dict(obj, str(path))
    if (is_exported(obj) and obj["arch"] == "vit_tiny") or (
        not is_exported(obj) and is_vit_layout(sd)
    ):
        report = init_from_vit(model, sd)  # type: ignore[arg-type]
        return {"mode": "init_from_vit", "copied": len(report.copied), "kept": report.kept_initial}
    if not is_exported(obj):
        trunk, _, _ = split_reference_keys(dict(sd))
        sd = trunk
    trunk_keys = copy_weights(model, sd, path=path)
    unused = sorted(set(sd) - set(trunk_keys) - {k for k in sd if k.startswith("head.")})
    log.info("%s: trunk initialized (%d tensors); unused: %s", path, len(trunk_keys), unused)
    return {"mode": "trunk", "copied": len(trunk_keys), "unused": unused}


#: ViViT builder keys that the step-1 ViT shares (method.md §5 initialization).
VIT_KEYS = (
    "img_size", "patch_size", "tube_size", "in_chans", "embed_dim", "depth", "num_heads",
    "mlp_ratio", "drop_path_rate",
)  # fmt: skip


def check_arch(arch: str, stage: str) -> None:
    """Refuse runs whose architecture the pretraining stages cannot serve (one line)."""
    check_pretrainable(arch, stage)


def load_spotting_model(
    path: str | Path, arch: str | None = None, *, trust_pickle: bool = False
) -> tuple[nn.Module, str, dict[str, Any]]:
    """:func:`load_weights`, refusing at once a file that holds no 17-class spotting model.

    A teacher (``resnet3d_50``), a step-1 ViT, a distilled trunk without head or a head of
    another number of classes would otherwise fail minutes later, deep in inference or training.

    Raises:
        ReferenceWeightsError: Naming the file and what it holds.
    """
    from comedian.data.soccernet import NUM_CLASSES
    from comedian.data.windows import WINDOW_TOKENS

    model, arch, kwargs = load_weights(path, arch, trust_pickle=trust_pickle)
    head = model.get_classifier()
    linears = [] if head is None else [m for m in head.modules() if isinstance(m, nn.Linear)]
    classes = linears[-1].out_features if linears else None
    if arch not in spotting_archs() or classes != NUM_CLASSES:
        what = "no head" if head is None else f"a {classes}-class head"
        raise ReferenceWeightsError(
            f"{path}: holds a {arch} model with {what}; spotting needs a "
            f"{' or '.join(spotting_archs())} model with a {NUM_CLASSES}-class head "
            "(a finetune_head or finetune model.pt)"
        )
    tokens = conform(model, SpottingBackbone).num_tubelets
    if tokens != WINDOW_TOKENS:
        raise ReferenceWeightsError(
            f"{path}: holds a {arch} model for clips of {tokens} tokens; spotting reads clips of "
            f"{WINDOW_TOKENS} tokens (64 s at 2 fps)"
        )
    return model, arch, kwargs


def check_archive(path: Path) -> None:
    """Refuse a zip-format weights file (what ``torch.save`` writes) whose records fail their
    CRC-32: torch reads a damaged tensor record without noticing. Legacy (non-zip) files pass.

    Raises:
        ReferenceWeightsError: Naming the file and the damaged record.
    """
    if not zipfile.is_zipfile(path):
        return
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
        raise ReferenceWeightsError(f"{path}: damaged weights file (zip: {err})") from None
    if bad is not None:
        raise ReferenceWeightsError(f"{path}: damaged weights file (record {bad} fails its CRC)")
