"""SoccerNet ``Labels-v2.json``: parsing, per-frame targets and per-token targets (method.md §0-1).

Usage:
    events = read_labels("data/synthetic/.../Labels-v2.json")   # pandas DataFrame, one row an event
    first = events[events.half == 1]
    y = frame_targets(first.position_ms, first.class_index, num_frames=5400, fps=2)  # (5400, 17)
    tokens = token_targets(y)                                                          # (2700, 17)

A frame at time t = k / fps is positive for class c when an event of class c lies within 0.5 s of
it, inclusive (|position_s - t| <= 0.5): hard multi-hot, always 17 columns (the reference cache
sometimes emits 18; method.md §1). A token covers two consecutive frames; its label is their OR.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from comedian.data.soccernet import CLASS_INDEX, NUM_CLASSES, VISIBILITIES
from comedian.errors import InputError

#: Columns of the event table returned by :func:`read_labels`.
EVENT_COLUMNS: tuple[str, ...] = (
    "half",
    "position_ms",
    "position_s",
    "class_index",
    "label",
    "team",
    "visibility",
)
REQUIRED_FIELDS: tuple[str, ...] = ("gameTime", "label", "position", "team", "visibility")
_GAME_TIME = re.compile(r"^\s*([12])\s*-\s*(\d+):([0-5]\d)\s*$")


class LabelsError(InputError):
    """A malformed ``Labels-v2.json``; the message names the file, annotation and field."""


def parse_labels(
    doc: Mapping[str, Any],
    source: str = "<labels>",
    half_durations: Mapping[int, float] | None = None,
) -> pd.DataFrame:
    """Turn a parsed ``Labels-v2.json`` document into the event table.

    Args:
        doc: The JSON document (``{"annotations": [...], ...}``).
        source: Name used in error messages (the file path).
        half_durations: Optional duration in seconds of each half; a position at or beyond the
            end of its half is an error.

    Returns:
        One row an annotation, columns :data:`EVENT_COLUMNS`, sorted by half then position
        (stable, so simultaneous events keep their file order).

    Raises:
        LabelsError: Naming ``source``, the annotation index and the offending field.
    """
    if not isinstance(doc, Mapping) or not isinstance(doc.get("annotations"), list):
        raise LabelsError(f"{source}: no 'annotations' list at the top level")
    rows = []
    for i, ann in enumerate(doc["annotations"]):
        where = f"{source}: annotation {i}"
        if not isinstance(ann, Mapping):
            raise LabelsError(f"{where}: not an object")
        for key in REQUIRED_FIELDS:
            if key not in ann:
                raise LabelsError(f"{where}: missing field '{key}'")
        m = _GAME_TIME.match(str(ann["gameTime"]))
        if m is None:
            raise LabelsError(
                f"{where}: field 'gameTime' = {ann['gameTime']!r} is not 'H - MM:SS' with H 1 or 2"
            )
        half = int(m.group(1))
        label = ann["label"]
        if label not in CLASS_INDEX:
            raise LabelsError(f"{where}: field 'label' = {label!r} is not a SoccerNet-v2 class")
        try:
            position_ms = int(str(ann["position"]).strip())
        except ValueError:
            raise LabelsError(
                f"{where}: field 'position' = {ann['position']!r} is not an integer (ms)"
            ) from None
        if position_ms < 0:
            raise LabelsError(f"{where}: field 'position' = {position_ms} is negative")
        if half_durations is not None and half in half_durations:
            if position_ms >= half_durations[half] * 1000.0:
                raise LabelsError(
                    f"{where}: field 'position' = {position_ms} ms is beyond the end of half "
                    f"{half} ({half_durations[half]:.3f} s)"
                )
        visibility = ann["visibility"]
        if visibility not in VISIBILITIES:
            raise LabelsError(
                f"{where}: field 'visibility' = {visibility!r} is not one of {list(VISIBILITIES)}"
            )
        rows.append(
            (
                half,
                position_ms,
                position_ms / 1000.0,
                CLASS_INDEX[label],
                label,
                str(ann["team"]),
                visibility,
            )
        )
    table = pd.DataFrame(rows, columns=list(EVENT_COLUMNS))
    table = table.astype(
        {"half": "int64", "position_ms": "int64", "position_s": "float64", "class_index": "int64"}
    )
    return table.sort_values(["half", "position_ms"], kind="stable").reset_index(drop=True)


def read_labels(
    path: str | Path, half_durations: Mapping[int, float] | None = None
) -> pd.DataFrame:
    """Read and validate a ``Labels-v2.json`` file (see :func:`parse_labels`).

    Raises:
        LabelsError: For unreadable JSON or any malformed annotation, naming ``path``.
    """
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except json.JSONDecodeError as err:
        raise LabelsError(f"{path}: invalid JSON ({err})") from None
    except UnicodeDecodeError as err:
        raise LabelsError(f"{path}: not UTF-8 text ({err})") from None
    return parse_labels(doc, source=str(path), half_durations=half_durations)


def frame_targets(
    position_ms: Sequence[int] | np.ndarray,
    class_index: Sequence[int] | np.ndarray,
    num_frames: int,
    fps: float = 2.0,
    tolerance_s: float = 0.5,
) -> np.ndarray:
    """Hard multi-hot per-frame targets of one half (method.md §1).

    Frame k (time k / fps) is positive for class c when some event of class c has
    |position - k / fps| <= tolerance, inclusive. The comparison is exact (rational
    arithmetic on integer milliseconds), so an event exactly 0.5 s from a frame marks it.

    Args:
        position_ms: Event positions in ms from the start of the half.
        class_index: Event classes (0..16).
        num_frames: Frames of the half (T).
        fps: Frame rate of the frame grid.
        tolerance_s: Half-width of the positive window.

    Returns:
        uint8 array of shape (T, 17).
    """
    pos = np.asarray(position_ms, dtype=np.int64)
    cls = np.asarray(class_index, dtype=np.int64)
    if pos.shape != cls.shape:
        raise ValueError(f"position_ms {pos.shape} and class_index {cls.shape} differ in shape")
    if len(cls) and (cls.min() < 0 or cls.max() >= NUM_CLASSES):
        raise ValueError(f"class_index out of range 0..{NUM_CLASSES - 1}")
    # k / fps in ms is k * den_ms / num_ms with integers: frames k with
    # (pos - tol) * num / den <= k <= (pos + tol) * num / den, computed exactly.
    rate = Fraction(fps).limit_denominator(10_000) / 1000  # frames per ms
    tol = Fraction(tolerance_s).limit_denominator(10_000) * 1000  # ms
    num, den = rate.numerator, rate.denominator
    tol_num, tol_den = tol.numerator, tol.denominator
    # k_lo = ceil((pos - tol) * num / den), k_hi = floor((pos + tol) * num / den), with tol = a/b
    lo_n = (pos * tol_den - tol_num) * num
    hi_n = (pos * tol_den + tol_num) * num
    d = den * tol_den
    k_lo = np.maximum(-((-lo_n) // d), 0)
    k_hi = np.minimum(hi_n // d, num_frames - 1)
    keep = k_lo <= k_hi
    # Difference array per class: +1 at k_lo, -1 after k_hi, then a cumulative sum.
    diff = np.zeros((num_frames + 1, NUM_CLASSES), dtype=np.int64)  # (T + 1, C)
    np.add.at(diff, (k_lo[keep], cls[keep]), 1)
    np.add.at(diff, (k_hi[keep] + 1, cls[keep]), -1)
    return (np.cumsum(diff[:num_frames], axis=0) > 0).astype(np.uint8)


def token_targets(frames: np.ndarray) -> np.ndarray:
    """Per-token targets: the OR of each pair of frames (tokens cover 2 frames, method.md §1).

    Shapes:
        frames: (T, C) -> (ceil(T / 2), C); an odd last frame forms a token alone.
    """
    t = frames.shape[0]
    if t % 2:
        frames = np.concatenate([frames, np.zeros_like(frames[:1])], axis=0)
    return frames.reshape(-1, 2, frames.shape[1]).max(axis=1)  # (ceil(T/2), C)


def token_times(t0: float, num_tokens: int) -> np.ndarray:
    """Times of the tokens of a clip starting at ``t0`` (the mean of their two frames' times).

    At 2 fps token j covers frames at t0 + j and t0 + j + 0.5, so its time is t0 + j + 0.25.
    """
    return t0 + np.arange(num_tokens, dtype=np.float64) + 0.25
