"""``results_spotting.json`` files in the official SoccerNet format, and the challenge zip.

Usage:
    preds = peaks_to_predictions({1: peaks_half1, 2: peaks_half2})      # (T, 17) NMS outputs
    write_results(out / game / RESULTS_NAME, game, preds)
    preds = read_results(out / game / RESULTS_NAME)  # {"half", "label", "position_ms", "confidence"}
    zip_results(out, "submission.zip")

Format (method.md section 8)::

    {"UrlLocal": "<league>/<season>/<game>",
     "predictions": [{"gameTime": "1 - 05:23", "label": "Goal", "position": "323400",
                      "half": "1", "confidence": 0.93}, ...]}

Grid row r of a half (time r / 2 s) is written at ``position = 500 * r`` ms, which the official
rasterization maps back to frame r. Predictions are written sorted by half, position, class.
NMS confidences are rounded to 12 decimals (:func:`round_confidence`) and written in fixed point
(``%.12f``); any other value is written with ``repr``. Either way reading gives the exact value.

Layout: one prediction a line, each value right-aligned in a column (spaces before a value are
insignificant in JSON), so our own files parse as a fixed-width byte table with numpy
(:func:`parse_canonical`, every byte checked); any other valid file goes through ``json``.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from comedian.atomic import atomic_path, write_text_atomic
from comedian.data.soccernet import CLASS_INDEX, CLASSES, RESULTS_NAME, format_game_time

#: Milliseconds per grid row (rows are 0.5 s apart).
ROW_MS = 500
#: Decimals of the confidences NMS writes (see :func:`round_confidence`).
DECIMALS = 12
PREDICTION_KEYS: tuple[str, ...] = ("half", "label", "position_ms", "confidence")


def peaks_to_predictions(peaks: Mapping[int, np.ndarray]) -> dict[str, np.ndarray]:
    """Turn per-half NMS outputs (emitted value, 0 elsewhere) into prediction arrays.

    Args:
        peaks: Half (1 or 2) -> array (T, 17).

    Returns:
        ``{"half", "label", "position_ms", "confidence"}``, sorted by half, position, class;
        confidences rounded by :func:`round_confidence`.
    """
    parts = []
    for half in sorted(peaks):
        rows, labels = np.nonzero(peaks[half])  # row-major: sorted by row, then class
        parts.append(
            {
                "half": np.full(len(rows), half, dtype=np.int64),
                "label": labels.astype(np.int64),
                "position_ms": rows.astype(np.int64) * ROW_MS,
                "confidence": round_confidence(peaks[half][rows, labels]),
            }
        )
    if not parts:
        return empty_predictions()
    return {k: np.concatenate([p[k] for p in parts]) for k in PREDICTION_KEYS}


def empty_predictions() -> dict[str, np.ndarray]:
    """Prediction arrays with no prediction."""
    return {
        "half": np.zeros(0, dtype=np.int64),
        "label": np.zeros(0, dtype=np.int64),
        "position_ms": np.zeros(0, dtype=np.int64),
        "confidence": np.zeros(0, dtype=np.float64),
    }


def results_text(game: str, predictions: Mapping[str, np.ndarray]) -> str:
    """The JSON text of one game's results: one prediction a line, every line the same length.

    Each value is right-aligned in a column as wide as its widest value in the file, padded with
    spaces before the value (insignificant whitespace in JSON), so that :func:`parse_canonical`
    reads the file as a fixed-width table.
    """
    half = [str(h) for h in predictions["half"].tolist()]
    label = [f'"{CLASSES[c]}"' for c in predictions["label"].tolist()]
    pos = predictions["position_ms"].tolist()
    game_time = [f'"{format_game_time(int(h), p)}"' for h, p in zip(half, pos, strict=True)]
    position = [f'"{p}"' for p in pos]
    values = np.asarray(predictions["confidence"], dtype=np.float64)
    conf = _fixed_point(values) or [json.dumps(v) for v in values.tolist()]
    if not half:
        return f'{{"UrlLocal": {json.dumps(game)}, "predictions": [\n]}}\n'
    wg, wl, wp, wc = (max(map(len, col)) for col in (game_time, label, position, conf))
    lines = [
        f'{{"gameTime": {g:>{wg}}, "label": {lab:>{wl}}, "position": {p:>{wp}}, '
        f'"half": "{h}", "confidence": {c:>{wc}}}}'
        for g, lab, p, h, c in zip(game_time, label, position, half, conf, strict=True)
    ]
    body = ",\n".join(lines)
    return f'{{"UrlLocal": {json.dumps(game)}, "predictions": [\n{body}\n]}}\n'


def write_results(path: str | Path, game: str, predictions: Mapping[str, np.ndarray]) -> None:
    """Write one game's ``results_spotting.json`` atomically.

    Args:
        path: The output file.
        game: The game path relative to the dataset root (``UrlLocal``).
        predictions: ``{"half", "label", "position_ms", "confidence"}`` arrays.

    Raises:
        ValueError: For non-finite or negative confidences or a half other than 1 or 2.
    """
    conf = np.asarray(predictions["confidence"], dtype=np.float64)
    if not np.isfinite(conf).all() or (conf < 0).any():
        raise ValueError(f"{path}: confidences must be finite and >= 0")
    if not np.isin(predictions["half"], (1, 2)).all():
        raise ValueError(f"{path}: halves must be 1 or 2")
    write_text_atomic(path, results_text(game, predictions))


def read_results(path: str | Path) -> dict[str, np.ndarray]:
    """Read and check one ``results_spotting.json``.

    Files in the layout :func:`write_results` produces are parsed column-wise with numpy
    (:func:`parse_canonical`, checked byte for byte); any other valid JSON goes through the
    ``json`` module. Both give the same arrays.

    Returns:
        ``{"half", "label", "position_ms", "confidence"}`` arrays in file order (``UrlLocal``
        is not needed: the file's folder names the game).

    Raises:
        ValueError: Naming the file and the prediction for anything the official evaluator
            would misread: unknown labels, NaN / inf / negative confidences, halves other than 1
            and 2, positions that are not non-negative integers (ms).
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ValueError(f"{path}: cannot read results ({err})") from err
    preds = parse_canonical(data)
    if preds is None or (preds["label"] < 0).any():
        preds = _parse_generic(path, data)  # which also names an unknown label
    _check_predictions(path, preds["half"], preds["position_ms"], preds["confidence"])
    return preds


def _parse_generic(path: Path, data: bytes) -> dict[str, np.ndarray]:
    try:
        doc = json.loads(data)
        items = doc["predictions"]
        if not isinstance(items, list):
            raise TypeError("'predictions' is not a list")
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{path}: not a SoccerNet results file ({err})") from err
    try:
        labels = [item["label"] for item in items]
        label = np.array([CLASS_INDEX[name] for name in labels], dtype=np.int64)
        half = np.array([int(item["half"]) for item in items], dtype=np.int64)
        pos = np.array([int(item["position"]) for item in items], dtype=np.int64)
        conf = np.array([item["confidence"] for item in items], dtype=np.float64)
    except (KeyError, ValueError, TypeError, OverflowError):
        # Find and name the first bad prediction (slow, only on error).
        for i, item in enumerate(items):
            try:
                if item["label"] not in CLASS_INDEX:
                    raise ValueError(f"unknown label {item['label']!r}")
                int(item["half"]), int(item["position"]), float(item["confidence"])
            except (KeyError, ValueError, TypeError, OverflowError) as err:
                raise ValueError(f"{path}: prediction {i}: {err}") from err
        raise
    return {"half": half, "label": label, "position_ms": pos, "confidence": conf}


_HEADER = b'{"UrlLocal": '
_LIST_START = b'"predictions": [\n'
_TAIL = b"\n]}\n"
#: The fixed parts of a line, in order; values sit between them.
_KEYS = (
    b'{"gameTime": ',
    b', "label": ',
    b', "position": ',
    b', "half": "',
    b'", "confidence": ',
)
_SPACE, _QUOTE = ord(" "), ord('"')


def _quoted_column(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Check cells of the form ``spaces '"' text '"'`` (right-aligned); None if one is not.

    Returns:
        The mask of the text (n, w - 1) and the cells without their closing quote (n, w - 1).
    """
    if not (cells[:, -1] == _QUOTE).all():
        return None
    inner = cells[:, :-1]  # (n, w - 1)
    is_quote = inner == _QUOTE
    cols = np.arange(inner.shape[1])[None, :]
    opening = is_quote.argmax(axis=1)[:, None]  # (n, 1) first quote
    text = cols > opening
    if not (((inner == _SPACE) | (cols >= opening)).all() and not (is_quote & text).any()):
        return None
    return text, inner


def round_confidence(values: np.ndarray) -> np.ndarray:
    """Confidences as written: rounded to ``DECIMALS`` decimals (float64).

    1e-12 is far below any difference the metric can see (its thresholds are 1/199 apart), and
    the rounded values are written and read back exactly in the fixed-point layout.
    """
    return np.round(np.asarray(values, dtype=np.float64), DECIMALS)


def _fixed_point(values: np.ndarray) -> list[str] | None:
    """``%.12f`` texts of ``values`` when that is exact (rounded values below 9000), else None."""
    if len(values) and (
        values.min() < 0 or values.max() >= 9000 or (round_confidence(values) != values).any()
    ):
        return None
    return [f"{v:.{DECIMALS}f}" for v in values.tolist()]


def parse_fixed_point(cells: np.ndarray) -> np.ndarray | None:
    """Exact values of right-aligned ``%.12f`` numbers; None if a cell is not one.

    ``M / 10**12`` with the integer M < 2**53 is one correctly rounded division, the same value
    as ``float(text)``. Shapes: (n, w) uint8 -> (n,) float64.
    """
    width = cells.shape[1]
    dot = width - DECIMALS - 1
    if dot < 1 or not (cells[:, dot] == ord(".")).all():
        return None
    digits = cells - np.uint8(ord("0"))  # (n, w) uint8: a digit's value, > 9 otherwise
    is_digit = digits < 10
    whole, whole_digit, is_space = digits[:, :dot], is_digit[:, :dot], cells[:, :dot] == _SPACE
    # Integer part: spaces, then at least one digit (no digit followed by a space).
    if not (
        (whole_digit | is_space).all()
        and whole_digit[:, -1].all()
        and not (whole_digit[:, :-1] & is_space[:, 1:]).any()
        and is_digit[:, dot + 1 :].all()
    ):
        return None
    # Digit times place value, summed in float64: exact while every sum stays below 2**53.
    whole_value = (whole * whole_digit).astype(np.float64) @ (10.0 ** np.arange(dot - 1, -1, -1))
    if len(whole_value) and whole_value.max() >= 9000:
        return None
    frac = digits[:, dot + 1 :].astype(np.float64) @ (10.0 ** np.arange(DECIMALS - 1, -1, -1))
    return (whole_value * 1e12 + frac) / 1e12


def parse_canonical(data: bytes) -> dict[str, np.ndarray] | None:
    """Parse a file in :func:`results_text`'s layout as a fixed-width table, else None.

    Every byte is checked against the layout (fixed parts identical on every line, values
    well-formed, no escapes or control characters), so a file that passes is read exactly as
    ``json`` reads it. Unknown labels come back as -1.
    """
    if not data.startswith(_HEADER) or b"\\" in data or not data.endswith(_TAIL):
        return None
    at = data.find(_LIST_START)
    try:
        header = json.loads(data[:at] + b'"predictions": []}') if at > 0 else None
    except ValueError:
        return None
    if not isinstance(header, dict) or list(header) != ["UrlLocal", "predictions"]:
        return None
    start = at + len(_LIST_START)
    size = len(data) - len(_TAIL) - start  # the prediction lines, joined by ",\n"
    if size <= 0:  # "[\n]}\n": the list's newline is the tail's
        return empty_predictions() if size == -1 else None
    first_end = data.find(b"\n", start, start + size)
    width = (first_end - 1 if first_end >= 0 else start + size) - start  # a line without ",\n"
    if width < 1 or (size + 2) % (width + 2):
        return None
    # A view, no copy: the last line is followed by the tail's "\n]" instead of ",\n".
    rows = np.frombuffer(data, dtype=np.uint8, count=size + 2, offset=start)
    rows = rows.reshape(-1, width + 2)  # (n, width + 2)
    if not (
        (rows[:-1, -2] == ord(",")).all()
        and (rows[:-1, -1] == ord("\n")).all()
        and rows[-1, -2] == ord("\n")
    ):
        return None
    table, first = rows[:, :width], data[start : start + width]
    if first[-1:] != b"}":
        return None
    # Columns of the fixed parts, from the first line; every line must repeat them.
    bounds, cursor = [], 0
    for key in _KEYS:
        start = first.find(key, cursor)
        if start < 0 or (cursor == 0 and start != 0):
            return None
        bounds.append((start, start + len(key)))
        cursor = start + len(key)
    # Fixed columns must repeat the first line's bytes on every line: one contiguous compare.
    fixed = np.zeros(width + 2, dtype=bool)
    for start, stop in [*bounds, (width - 1, width + 2)]:
        fixed[start:stop] = True
    if not (
        ((rows[:-1] == rows[0]) | ~fixed).all()
        and (rows[-1, :width] == rows[0, :width])[fixed[:width]].all()
    ):
        return None
    (_, g0), (l0, l1), (p0, p1), (h0, h1), (c0, c1) = bounds
    if h1 + 1 != c0:
        return None
    # Value columns, copied once into contiguous blocks (fast elementwise work on them).
    game_time = np.ascontiguousarray(table[:, g0:l0])
    if _quoted_column(game_time) is None or not (game_time >= 0x20).all():
        return None  # (no control characters in a string)
    position = _quoted_column(np.ascontiguousarray(table[:, p1:h0]))
    if position is None:
        return None
    digit_mask, digits = position
    digits = digits.astype(np.int16) - ord("0")  # (n, w)
    if not (digit_mask.any(axis=1).all() and (((digits >= 0) & (digits <= 9)) | ~digit_mask).all()):
        return None
    place = 10.0 ** np.arange(digits.shape[1] - 1, -1, -1)  # right-aligned; exact below 2**53
    position_ms = np.where(digit_mask, digits, 0).astype(np.float64) @ place
    if len(position_ms) and position_ms.max() >= 2**53:
        return None
    half = table[:, h1].astype(np.int64) - ord("0")
    number = np.ascontiguousarray(table[:, c1 : width - 1])  # (n, w) spaces, then %.12f
    if not np.isin(half, (1, 2)).all():
        return None
    confidence = parse_fixed_point(number)
    if confidence is None:
        return None
    names = np.ascontiguousarray(table[:, l1:p0]).view(f"S{p0 - l1}")[:, 0]
    candidates = np.array([f'"{c}"'.rjust(p0 - l1).encode() for c in CLASSES], dtype=f"S{p0 - l1}")
    order = np.argsort(candidates)
    slot = np.searchsorted(candidates[order], names).clip(max=len(CLASSES) - 1)
    known = candidates[order][slot] == names
    return {
        "half": half,
        "label": np.where(known, order[slot], -1),
        "position_ms": position_ms.astype(np.int64),
        "confidence": confidence,
    }


def _check_predictions(path: Path, half: np.ndarray, pos: np.ndarray, conf: np.ndarray) -> None:
    problems = {
        "confidence is NaN or inf": ~np.isfinite(conf),
        "confidence is negative": conf < 0,
        "half is not 1 or 2": ~np.isin(half, (1, 2)),
        "position is negative": pos < 0,
    }
    for what, bad in problems.items():
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{path}: prediction {i}: {what}")


def zip_results(results_dir: str | Path, zip_path: str | Path) -> int:
    """Zip every ``<league>/<season>/<game>/results_spotting.json`` under ``results_dir``
    (paths kept relative to it, as the challenge server expects).

    Returns:
        The number of games zipped.

    Raises:
        ValueError: If there is no results file.
    """
    root = Path(results_dir)
    files = sorted(root.rglob(RESULTS_NAME))
    if not files:
        raise ValueError(f"{root}: no {RESULTS_NAME} found")
    with atomic_path(zip_path) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for f in files:
                zf.write(f, f.relative_to(root).as_posix())
    return len(files)
