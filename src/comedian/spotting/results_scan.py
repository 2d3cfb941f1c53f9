"""A compiled reader for ``results_spotting.json`` files in exactly the layout this project writes.

Usage:
    arrays = scan_results(path.read_bytes())   # None: not that layout, read it with msgspec

At 25,000 predictions a half, reading the files dominated the metric; msgspec could not reach the
target speed (benchmarks/README.md, "Spotting back end"), this scanner is about 4x faster. It
accepts only the layout of :func:`comedian.spotting.results.results_text` (one prediction a line)
and returns None on any difference, so callers fall back to msgspec and the arrays are the same
either way (tests/spotting/test_io.py checks both on written, mutated and foreign files).
"""

from __future__ import annotations

import msgspec
import numba
import numpy as np

from comedian.data.soccernet import CLASSES

#: The arrays a results file is read into.
PREDICTION_KEYS: tuple[str, ...] = ("half", "label", "position_ms", "confidence")

# The layout of results_text: a header line, one prediction a line, a closing line.
_HEAD, _LIST = b'{"UrlLocal": ', b', "predictions": ['
_KEYS = [b'{"gameTime": "', b'", "label": "', b'", "position": "', b'", "half": "']
_KEYS = [tuple(k) for k in [*_KEYS, b'", "confidence": ', b"\n]}\n"]]  # as constants
_NAMES = np.array([list(c.encode().ljust(32)) for c in CLASSES], dtype=np.uint8)  # (17, 32)
#: Bytes of the shortest prediction line (empty gameTime, "Goal", one-digit position).
_SHORTEST_LINE = sum(len(k) for k in _KEYS[:5]) + len("Goal010.000000000000},\n")
_NAME_INDEX = np.full((32, 256), -1, dtype=np.int64)  # (length, first byte) -> class
for _c, _name in enumerate(CLASSES):
    assert _NAME_INDEX[len(_name), ord(_name[0])] < 0, "two class names share length and letter"
    _NAME_INDEX[len(_name), ord(_name[0])] = _c


def scan_results(data: bytes) -> dict[str, np.ndarray] | None:
    """The arrays of a file in exactly :func:`~comedian.spotting.results.results_text`'s layout
    (``{"half", "label", "position_ms", "confidence"}``), else None."""
    head = data[: data.find(b"\n")]
    if not (head.startswith(_HEAD) and head.endswith(_LIST) and head.isascii()):
        return None
    try:  # the header is `{"UrlLocal": <one JSON string>, "predictions": [`
        msgspec.json.decode(head[len(_HEAD) : -len(_LIST)], type=str)
    except msgspec.DecodeError:
        return None
    n = len(data) // _SHORTEST_LINE  # at least one a prediction
    out = {k: np.empty(n, np.float64 if k == "confidence" else np.int64) for k in PREDICTION_KEYS}
    buf = np.frombuffer(data, np.uint8)
    n = _scan_lines(buf, len(head) + 1, *_KEYS, _NAMES, _NAME_INDEX, *out.values())
    return None if n < 0 else {k: v[:n] for k, v in out.items()}


@numba.njit(cache=True, nogil=True, inline="always")
def _literal(buf: np.ndarray, pos: int, text: tuple[int, ...]) -> int:  # pragma: no cover
    """The position after ``text`` if ``buf`` holds it at ``pos`` (>= 0), else -1."""
    if pos < 0 or pos + len(text) > len(buf):
        return -1
    same = True
    for i in range(len(text)):  # no branch: the length is a constant, the loop unrolled
        same &= buf[pos + i] == text[i]
    return pos + len(text) if same else -1


@numba.njit(cache=True, nogil=True, inline="always")
def _digits(
    buf: np.ndarray, pos: int, count: int, exact: bool
) -> tuple[int, int]:  # pragma: no cover
    """The number written by the digits at ``pos`` (>= 0), and the position after them; -1
    unless there are 1 .. ``count`` of them (``exact``: ``count``, leading zeros allowed; else
    a JSON integer, no leading zero)."""
    value, end = 0, pos
    while 0 <= end < len(buf) and 48 <= buf[end] <= 57 and end - pos <= count:
        value = value * 10 + buf[end] - 48
        end += 1
    length = end - pos
    if pos < 0 or length > count or (length != count if exact else length == 0):
        return 0, -1
    if not exact and buf[pos] == 48 and length > 1:
        return 0, -1
    return value, end


@numba.njit(cache=True, nogil=True)
def _scan_lines(
    buf, pos, k_time, k_label, k_position, k_half, k_confidence, k_end, names, name_index,
    half, label, position, confidence,
) -> int:  # pragma: no cover  # fmt: skip
    """Parse the prediction lines of :func:`results_text` from ``pos``; their number, or -1
    where anything differs from that layout (the caller then leaves the file to msgspec)."""
    if _literal(buf, pos, k_end) == len(buf):  # no prediction
        return 0
    n = 0
    while n < len(half):  # (more lines than the caller's bound: not that layout)
        pos = _literal(buf, pos, k_time)
        while 0 <= pos < len(buf) and buf[pos] != 34:  # gameTime: printable, no quote/backslash
            pos = pos + 1 if 32 <= buf[pos] < 127 and buf[pos] != 92 else -1
        start = pos = _literal(buf, pos, k_label)
        while 0 <= pos < len(buf) and buf[pos] != 34 and pos - start < names.shape[1] - 1:
            pos += 1
        # The class whose name has this length and first letter (one at most), if it matches.
        c = name_index[pos - start, buf[start]] if start >= 0 else -1
        for i in range(pos - start if c >= 0 else 0):
            if buf[start + i] != names[c, i]:
                c = -1
                break
        if c < 0:
            return -1
        label[n] = c
        position[n], pos = _digits(buf, _literal(buf, pos, k_position), 18, False)
        half[n], pos = _digits(buf, _literal(buf, pos, k_half), 1, False)
        # %.12f: an integer part of at most 4 digits and 12 decimals, together an integer up to
        # 2**53, so that the one division by 10**12 is correctly rounded: the value that any
        # exact decimal parser (msgspec, Python's float) reads.
        whole, pos = _digits(buf, _literal(buf, pos, k_confidence), 4, False)
        if pos < 0 or pos >= len(buf) or buf[pos] != 46:  # '.'
            return -1
        fraction, pos = _digits(buf, pos + 1, 12, True)
        scaled = whole * 10**12 + fraction
        if pos < 0 or scaled > 2**53:
            return -1
        confidence[n] = scaled / 1e12
        n += 1
        if pos + 2 < len(buf) and buf[pos] == 125 and buf[pos + 1] == 44 and buf[pos + 2] == 10:
            pos += 3  # "},\n": another prediction
        elif pos < len(buf) and buf[pos] == 125 and _literal(buf, pos + 1, k_end) == len(buf):
            return n
        else:
            return -1
    return -1
