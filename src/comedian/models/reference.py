"""Load (and export) state dicts of the reference implementation (eztorch) into our models.

Usage:
    sd = torch.load("comedian_vivit_tiny_seed42.pth", map_location="cpu", weights_only=True)
    kwargs = infer_model_kwargs("vivit_tiny", sd)       # temporal depth, mask token, head, ...
    model = build_model("vivit_tiny", **kwargs)
    report = load_reference_state_dict(model, sd, source="comedian_vivit_tiny_seed42.pth")
    sd_ref = to_reference_state_dict(model)             # back to ``trunk.transformer.*`` keys

Our modules carry the reference trunk's key names (checkpoints.md §2.1, §3, §4.1, §6), so the
mapping is the loader recipe of checkpoints.md §1: unwrap ``state_dict``; drop transforms,
``queue*``, ``momentum_*``, ``projector.*``, ``predictor.*``; strip ``trunk.transformer.``,
``trunk.model.`` or ``trunk.``; map ``head_class.layers.0.*`` onto our ``head.layers.0.*``; then
require every trunk tensor with its exact shape. The Swin buffers (``relative_position_index``,
``attn_mask``) depend only on the geometry: they are recomputed, may be absent from the file, and
when present must have our shapes.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from comedian.errors import InputError

log = logging.getLogger(__name__)

#: Keys that carry no model weights for us (checkpoints.md §1 step 4, §2.3, §4.2, §5).
_DROP_RE = re.compile(r"^(\w+_transform\.|queue|momentum_|projector\.|predictor\.)")
#: Trunk prefixes, most specific first (spotting/distillation, teacher, step 1).
_TRUNK_PREFIXES = ("trunk.transformer.", "trunk.model.", "trunk.")
_REF_HEAD = "head_class."
_OUR_HEAD = "head."
#: Buffers recomputed from the geometry (checkpoints.md §3 notes).
_RECOMPUTED_RE = re.compile(r"(^|\.)(relative_position_index|attn_mask)$")


class ReferenceWeightsError(InputError):
    """A reference state dict does not fit the model (missing, unmatched or mis-shaped keys)."""


@dataclass
class LoadReport:
    """What :func:`load_reference_state_dict` did.

    Attributes:
        loaded: Our keys filled from the file.
        dropped: File keys deliberately ignored (transforms, queue, momentum, projector, ...).
        recomputed: Our geometry buffers kept as computed (absent from the file or identical
            in shape).
        head: ``"loaded"``, ``"missing"`` (model head left at its init), ``"ignored"`` (file
            head, model without head) or ``"none"``.
    """

    loaded: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    recomputed: list[str] = field(default_factory=list)
    head: str = "none"


def unwrap_state_dict(obj: Any, source: str = "state dict") -> dict[str, Tensor]:
    """Return ``obj["state_dict"]`` for a Lightning checkpoint, ``obj`` for a plain state dict."""
    if not isinstance(obj, Mapping):
        raise ReferenceWeightsError(f"{source}: expected a mapping, got {type(obj).__name__}")
    inner = obj.get("state_dict", obj)
    if not isinstance(inner, Mapping):
        raise ReferenceWeightsError(f"{source}: 'state_dict' is not a mapping")
    bad = [k for k, v in inner.items() if not isinstance(k, str) or not torch.is_tensor(v)]
    if bad:
        raise ReferenceWeightsError(
            f"{source}: not a state dict, {len(bad)} entries are not str -> tensor: {bad[:5]}"
        )
    return dict(inner)


def split_reference_keys(
    state_dict: Mapping[str, Tensor],
) -> tuple[dict[str, Tensor], dict[str, Tensor], list[str]]:
    """Sort reference keys into trunk (prefix stripped), head (``layers.0.*``) and dropped.

    Returns:
        ``(trunk, head, dropped)``; head keys are relative to the head module.
    """
    trunk: dict[str, Tensor] = {}
    head: dict[str, Tensor] = {}
    dropped: list[str] = []
    for key, value in state_dict.items():
        if _DROP_RE.match(key):
            dropped.append(key)
        elif key.startswith(_REF_HEAD):
            head[key[len(_REF_HEAD) :]] = value
        else:
            prefix = next((p for p in _TRUNK_PREFIXES if key.startswith(p)), "")
            trunk[key[len(prefix) :]] = value
    return trunk, head, dropped


def _listing(title: str, items: list[str], limit: int = 25) -> str:
    shown = "\n    ".join(items[:limit])
    more = f"\n    ... and {len(items) - limit} more" if len(items) > limit else ""
    return f"  {title} ({len(items)}):\n    {shown}{more}"


def _hint(model: nn.Module, trunk: Mapping[str, Tensor]) -> str:
    if hasattr(model, "spatial_cls_token") and "cls_token" in trunk:
        return (
            "\n  hint: this is a ViT (step-1) state dict; initialize a ViViT from it with "
            "comedian.models.init_from_vit, or import it with --arch vit_tiny"
        )
    return ""


def load_reference_state_dict(
    model: nn.Module,
    state_dict: Mapping[str, Any],
    *,
    source: str = "state dict",
    require_head: bool = False,
) -> LoadReport:
    """Load a reference (eztorch) checkpoint or state dict into ``model``, strictly.

    Args:
        model: One of our backbones (ViT, ViViT, ViSwin, ResNet3D), with or without a head.
        state_dict: A plain state dict or a Lightning checkpoint dict (``state_dict`` entry) in
            any layout of checkpoints.md (released fine-tuned, step 1, step 2, teacher).
        source: Name of the file, for error messages.
        require_head: Fail when the model has a head but the file has none (by default the
            head is left at its initialization and the report says so).

    Returns:
        A :class:`LoadReport`.

    Raises:
        ReferenceWeightsError: Listing missing trunk keys, unmatched keys and shape mismatches.
    """
    sd = unwrap_state_dict(state_dict, source)
    trunk, head, dropped = split_reference_keys(sd)
    ours = model.state_dict()
    ours_trunk = {k: v for k, v in ours.items() if not k.startswith(_OUR_HEAD)}
    ours_head = {k[len(_OUR_HEAD) :]: v for k, v in ours.items() if k.startswith(_OUR_HEAD)}

    report = LoadReport(dropped=dropped)
    plan = _match_trunk(ours_trunk, trunk, report)
    _match_head(ours_head, head, plan, report, require_head)
    if plan.missing or plan.unmatched or plan.mismatched:
        raise _unfit_error(model, source, plan, trunk)

    with torch.no_grad():
        for key, value in plan.new.items():
            ours[key].copy_(value)
    report.loaded = sorted(plan.new)
    if report.head == "missing":
        log.warning("%s: no head_class.* in the file; the model's head keeps its init", source)
    elif report.head == "ignored":
        log.warning("%s: the file's head_class.* is ignored (model without head)", source)
    log.info(
        "%s: loaded %d tensors, dropped %d keys, recomputed %d buffers",
        source,
        len(report.loaded),
        len(report.dropped),
        len(report.recomputed),
    )
    return report


@dataclass
class _LoadPlan:
    """What a reference state dict gives a model: the tensors to copy (our keys) and what
    does not fit (missing, unmatched and mis-shaped keys, as listed in the error)."""

    new: dict[str, Tensor] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)


def _shapes(key: str, theirs: Tensor, mine: Tensor) -> str:
    return f"{key}: file {tuple(theirs.shape)}, model {tuple(mine.shape)}"


def _match_trunk(
    ours_trunk: Mapping[str, Tensor], trunk: Mapping[str, Tensor], report: LoadReport
) -> _LoadPlan:
    """Every trunk tensor of the model must come from the file with its shape; the geometry
    buffers are recomputed (listed in ``report.recomputed``), checked in shape when present."""
    plan = _LoadPlan()
    for key, mine in ours_trunk.items():
        theirs = trunk.get(key)
        if _RECOMPUTED_RE.search(key):
            if theirs is not None and tuple(theirs.shape) != tuple(mine.shape):
                plan.mismatched.append(_shapes(key, theirs, mine))
            report.recomputed.append(key)
            continue
        if theirs is None:
            plan.missing.append(key)
        elif tuple(theirs.shape) != tuple(mine.shape):
            plan.mismatched.append(_shapes(key, theirs, mine))
        else:
            plan.new[key] = theirs
    plan.unmatched = [k for k in trunk if k not in ours_trunk]
    return plan


def _match_head(
    ours_head: Mapping[str, Tensor],
    head: Mapping[str, Tensor],
    plan: _LoadPlan,
    report: LoadReport,
    require_head: bool,
) -> None:
    """The head: loaded when both have one, else left at its init (or required), or the
    file's ignored; ``report.head`` says which."""
    if ours_head and head:
        for key, mine in ours_head.items():
            theirs = head.get(key)
            if theirs is None:
                plan.missing.append(f"{_REF_HEAD}{key}")
            elif tuple(theirs.shape) != tuple(mine.shape):
                plan.mismatched.append(_shapes(f"{_REF_HEAD}{key}", theirs, mine))
            else:
                plan.new[_OUR_HEAD + key] = theirs
        plan.unmatched += [f"{_REF_HEAD}{k}" for k in head if k not in ours_head]
        report.head = "loaded"
    elif ours_head:
        if require_head:
            plan.missing += [f"{_REF_HEAD}{k}" for k in ours_head]
        report.head = "missing"
    elif head:
        report.head = "ignored"


def _unfit_error(
    model: nn.Module, source: str, plan: _LoadPlan, trunk: Mapping[str, Tensor]
) -> ReferenceWeightsError:
    """The error listing every key that does not fit, with a hint for a step-1 ViT file."""
    parts = [f"{source}: the reference weights do not fit {type(model).__name__}"]
    if plan.missing:
        parts.append(_listing("missing (model keys absent from the file)", plan.missing))
    if plan.unmatched:
        parts.append(_listing("unmatched (file keys the model does not have)", plan.unmatched))
    if plan.mismatched:
        parts.append(_listing("shape mismatches", plan.mismatched))
    return ReferenceWeightsError("\n".join(parts) + _hint(model, trunk))


def to_reference_state_dict(model: nn.Module, prefix: str = "trunk.transformer.") -> dict:
    """Our state dict in the released-checkpoint layout (checkpoints.md §1).

    Args:
        model: Our backbone.
        prefix: Trunk prefix (``trunk.transformer.`` for ViViT/ViSwin, ``trunk.`` for the step-1
            ViT, ``trunk.model.`` for the teacher).

    Returns:
        ``{prefix + trunk key: tensor, "head_class.layers.0.*": tensor}``.
    """
    out: dict[str, Tensor] = {}
    for key, value in model.state_dict().items():
        if key.startswith(_OUR_HEAD):
            out[_REF_HEAD + key[len(_OUR_HEAD) :]] = value
        else:
            out[prefix + key] = value
    return out


def _max_index(keys: list[str], pattern: str) -> int:
    """1 + the largest N captured by ``pattern`` over ``keys`` (0 when none matches)."""
    rx = re.compile(pattern)
    found = [int(m.group(1)) for k in keys if (m := rx.match(k))]
    return max(found) + 1 if found else 0


def infer_model_kwargs(arch: str, state_dict: Mapping[str, Any]) -> dict[str, Any]:
    """Builder overrides read off a reference state dict (checkpoints.md §1).

    Infers the temporal depth (largest ``temporal_transformer.blocks.N``), the mask-token flag
    (presence of ``temporal_mask_token``; without it masking is switched off), the clip length
    (time embedding x tube), image size and patch from the embeddings, spatial depths, and the
    head's classes.

    Args:
        arch: ``vivit_tiny``, ``viswin_tiny``, ``vit_tiny`` or ``resnet3d_50``.
        state_dict: A reference state dict or checkpoint (any layout of :func:`unwrap_state_dict`).

    Returns:
        Keyword overrides for :func:`comedian.models.build_model`.
    """
    trunk, head, _ = split_reference_keys(unwrap_state_dict(state_dict))
    keys = list(trunk)
    kw: dict[str, Any] = {}

    def need(key: str) -> Tensor:
        if key not in trunk:
            raise ReferenceWeightsError(f"cannot infer {arch} settings: no key {key!r}")
        return trunk[key]

    if arch == "resnet3d_50":
        kw["width"] = int(need("blocks.0.conv.weight").shape[0])
        kw["depths"] = tuple(
            _max_index(keys, rf"^blocks\.{i}\.res_blocks\.(\d+)\.") for i in range(1, 5)
        )
    else:
        proj = need("patch_embed.proj.weight")  # (D, C, tube, p, p)
        kw["tube_size"], kw["patch_size"] = int(proj.shape[2]), int(proj.shape[3])
        kw["embed_dim"] = int(proj.shape[0])
    if arch in ("vit_tiny", "vivit_tiny"):
        n_pos = int(need("pos_embed").shape[1]) - 1
        kw["img_size"] = int(round(n_pos**0.5)) * kw["patch_size"]
        kw["depth"] = _max_index(keys, r"^(?:spatial_transformer\.)?blocks\.(\d+)\.")
    if arch in ("vivit_tiny", "viswin_tiny"):
        kw["num_frames"] = int(need("time_embed").shape[1]) * kw["tube_size"]
        kw["temporal_depth"] = _max_index(keys, r"^temporal_transformer\.blocks\.(\d+)\.")
        kw["mask_token"] = "temporal_mask_token" in trunk
        if not kw["mask_token"]:
            kw["mask_ratio"] = 0.0
    if arch == "viswin_tiny":
        n_stages = _max_index(keys, r"^spatial_transformer\.layers\.(\d+)\.")
        kw["depths"] = tuple(
            _max_index(keys, rf"^spatial_transformer\.layers\.{i}\.blocks\.(\d+)\.")
            for i in range(n_stages)
        )
        tables = [
            need(f"spatial_transformer.layers.{i}.blocks.0.attn.relative_position_bias_table")
            for i in range(n_stages)
        ]  # each ((2w-1)^2, heads)
        kw["num_heads"] = tuple(int(t.shape[1]) for t in tables)
        kw["window"] = (int(round(tables[0].shape[0] ** 0.5)) + 1) // 2
    if "layers.0.weight" in head:
        kw["num_classes"] = int(head["layers.0.weight"].shape[0])
    return kw
