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

What the official evaluator reads of a prediction, and so what :class:`Prediction` requires:
``label`` (one of the 17 classes), ``position`` (ms, integer or string of digits), ``half``
(1 or 2, integer or string) and ``confidence`` (a number); ``gameTime`` and ``UrlLocal`` are
written but not needed to read a file. Grid row r of a half (time r / 2 s) is written at
``position = 500 * r`` ms, which the official rasterization maps back to frame r. Predictions are
written one a line, sorted by half, position, class, with confidences rounded to 12 decimals
(:func:`round_confidence`) and written in fixed point (``%.12f``; any other value with
``repr``): either way reading gives the exact value back. Files in exactly that layout are read
by a compiled scanner (:mod:`comedian.spotting.results_scan`), any other file by msgspec against the types below,
with the same arrays (benchmarks/README.md, "Spotting back end", says why both).
"""

from __future__ import annotations

import json
import operator
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import msgspec
import numpy as np

from comedian.atomic import atomic_path, write_text_atomic
from comedian.data.soccernet import CLASS_INDEX, CLASSES, RESULTS_NAME, format_game_time
from comedian.spotting.results_scan import PREDICTION_KEYS, scan_results

#: Milliseconds per grid row (rows are 0.5 s apart).
ROW_MS = 500
#: Decimals of the confidences NMS writes (see :func:`round_confidence`).
DECIMALS = 12


class Prediction(msgspec.Struct, gc=False):
    """One prediction as the official evaluator reads it (other keys are ignored).

    ``gc=False``: millions of them are decoded at once, and a label, two integers and a float
    can form no reference cycle, so the garbage collector need not track (and rescan) them.
    """

    label: Literal[CLASSES]  # type: ignore[valid-type]
    position: int
    half: int
    confidence: float


class ResultsFile(msgspec.Struct):
    """A ``results_spotting.json`` document (``UrlLocal`` optional: the folder names the game)."""

    predictions: list[Prediction]
    UrlLocal: str = ""


# Lax mode reads the strings the format uses for numbers ("323400", "1") as numbers, as the
# official evaluator's int() / float() do; anything else of the wrong type is refused.
_DECODER = msgspec.json.Decoder(ResultsFile, strict=False)
_LABEL_INDEX = dict(CLASS_INDEX)
_HALF, _LABEL = operator.attrgetter("half"), operator.attrgetter("label")
_POSITION, _CONFIDENCE = operator.attrgetter("position"), operator.attrgetter("confidence")


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


def round_confidence(values: np.ndarray) -> np.ndarray:
    """Confidences as written: rounded to ``DECIMALS`` decimals (float64).

    1e-12 is far below any difference the metric can see (its thresholds are 1/199 apart), and
    the rounded values are written and read back exactly.
    """
    return np.round(np.asarray(values, dtype=np.float64), DECIMALS)


def results_text(game: str, predictions: Mapping[str, np.ndarray]) -> str:
    """The JSON text :func:`write_results` writes: one prediction a line.

    Confidences that :func:`round_confidence` leaves unchanged (and below 9000, where
    ``10**12 * value`` is an exact integer of float64) are written as ``%.12f``, which reads back
    as the same float; any other value as ``repr``, the shortest text that does.
    """
    half = predictions["half"].tolist()
    pos = predictions["position_ms"].tolist()
    conf = np.asarray(predictions["confidence"], dtype=np.float64)
    fixed = ((round_confidence(conf) == conf) & (conf < 9000)).tolist()
    lines = [
        f'{{"gameTime": "{format_game_time(h, p)}", "label": "{CLASSES[c]}", '
        f'"position": "{p}", "half": "{h}", "confidence": {f"{v:.{DECIMALS}f}" if x else repr(v)}}}'
        for h, c, p, v, x in zip(
            half, predictions["label"].tolist(), pos, conf.tolist(), fixed, strict=True
        )
    ]
    body = ",\n".join(lines)
    return f'{{"UrlLocal": {json.dumps(game)}, "predictions": [\n{body}\n]}}\n'  # ASCII only


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

    Returns:
        ``{"half", "label", "position_ms", "confidence"}`` arrays in file order.

    Raises:
        ValueError: Naming the file (and the prediction) for anything the official evaluator
            would misread or refuse: malformed JSON, missing keys, unknown labels, NaN / inf /
            negative confidences or ones above 1, halves other than 1 and 2, positions that are not
            non-negative integers (ms).
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ValueError(f"{path}: cannot read results ({err})") from err
    preds = decode_results(path, data)
    _check_predictions(path, preds)
    return preds


def decode_results(path: Path, data: bytes) -> dict[str, np.ndarray]:
    """Decode a results file's bytes (types checked here, values by :func:`read_results`).

    Files laid out as :func:`results_text` writes them are parsed by a compiled scanner
    (:mod:`comedian.spotting.results_scan`, about 4x msgspec: at 25,000 predictions a half reading dominated the
    metric); it accepts exactly that layout and leaves any other file to msgspec, so the arrays
    are msgspec's either way (tested on written, mutated and foreign files).
    """
    return scan_results(data) or _decode_json(path, data)


def _decode_json(path: Path, data: bytes) -> dict[str, np.ndarray]:
    try:
        # As text: msgspec skips unknown keys without checking their bytes, and a file that is
        # not UTF-8 is one the official evaluator cannot open.
        items = _DECODER.decode(data.decode("utf-8")).predictions
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not UTF-8 text ({err})") from err
    except msgspec.DecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from err
    except msgspec.ValidationError as err:  # says where: `$.predictions[3].label`
        raise ValueError(f"{path}: not a SoccerNet results file ({err})") from err
    n = len(items)
    try:
        # map + attrgetter: the columns without a Python frame per prediction.
        return {
            "half": np.fromiter(map(_HALF, items), np.int64, n),
            "label": np.fromiter(map(_LABEL_INDEX.__getitem__, map(_LABEL, items)), np.int64, n),
            "position_ms": np.fromiter(map(_POSITION, items), np.int64, n),
            "confidence": np.fromiter(map(_CONFIDENCE, items), np.float64, n),
        }
    except OverflowError as err:  # an integer beyond 64 bits
        raise ValueError(f"{path}: not a SoccerNet results file ({err})") from err


def _check_predictions(path: Path, preds: Mapping[str, np.ndarray]) -> None:
    conf, half, pos = preds["confidence"], preds["half"], preds["position_ms"]
    problems = {
        "confidence is NaN or inf": ~np.isfinite(conf),
        "confidence is negative": conf < 0,
        "confidence is above 1 (scores are probabilities in [0, 1])": conf > 1,
        "half is not 1 or 2": (half != 1) & (half != 2),
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
