"""The aligned layout of our own ``results_spotting.json`` files: written so that a reader can
check and parse them in place as a table of 64-bit words with numpy (private to
:mod:`comedian.spotting.results`, which defines the format and reads every other file).

Usage (through :mod:`comedian.spotting.results` only):
    text = results_text(game, predictions)       # what write_results writes
    preds = parse_canonical(data)                # the arrays, or None: not in this layout

Layout: one prediction a line, each value right-aligned in a column (spaces before a value are
insignificant in JSON), every line starting on an 8-byte boundary of the file (spaces after
``[``, a wider label column). NMS confidences (rounded to ``DECIMALS`` decimals) are written in
fixed point (``%.12f``), any other value with ``repr``; either way reading gives the exact value.
Why a parser of our own: reading 100 games at soft-NMS density (about 5 M predictions, 600 MB)
through any JSON library builds 5 M Python objects, several times the whole metric's time
(benchmarks/README.md, "Reading results files"); this reads them at memory speed.
"""

from __future__ import annotations

import functools
import json
import mmap
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from comedian.data.soccernet import CLASSES, NUM_CLASSES, format_game_time

#: Decimals of the confidences NMS writes (``comedian.spotting.results.round_confidence``).
DECIMALS = 12
#: Files at least this large are memory-mapped instead of copied (no copy, fewer page faults).
MMAP_BYTES = 1 << 16


def _empty() -> dict[str, np.ndarray]:
    ints = np.zeros(0, dtype=np.int64)
    return {"half": ints, "label": ints, "position_ms": ints, "confidence": np.zeros(0)}


def results_text(game: str, predictions: Mapping[str, np.ndarray]) -> str:
    """The JSON text of one game's results: one prediction a line, every line the same length.

    Each value is right-aligned in a column as wide as its widest value in the file, padded with
    spaces before the value (insignificant whitespace in JSON), so that :func:`parse_canonical`
    reads the file as a fixed-width table. Spaces after ``[`` and a wider label column put every
    line on an 8-byte boundary of the file, so the table is read as machine words in place.

    Args:
        game: ``UrlLocal``, the game path relative to the dataset root.
        predictions: ``{"half", "label", "position_ms", "confidence"}`` arrays.
    """
    half = [str(h) for h in predictions["half"].tolist()]
    label = [f'"{CLASSES[c]}"' for c in predictions["label"].tolist()]
    pos = predictions["position_ms"].tolist()
    game_time = [f'"{format_game_time(int(h), p)}"' for h, p in zip(half, pos, strict=True)]
    position = [f'"{p}"' for p in pos]
    values = np.asarray(predictions["confidence"], dtype=np.float64)
    conf = _fixed_point(values) or [json.dumps(v) for v in values.tolist()]
    head = f'{{"UrlLocal": {json.dumps(game)}, "predictions": ['  # ASCII: json escapes the rest
    if not half:
        return f"{head}\n]}}\n"
    head += " " * (-(len(head) + 1) % 8) + "\n"
    wg, wl, wp, wc = (max(map(len, col)) for col in (game_time, label, position, conf))
    fixed = sum(map(len, _KEYS)) + len("}") + len(half[0]) + len(",\n")
    wl += -(fixed + wg + wl + wp + wc) % 8  # stride a multiple of 8
    lines = [
        f'{{"gameTime": {g:>{wg}}, "label": {lab:>{wl}}, "position": {p:>{wp}}, '
        f'"half": "{h}", "confidence": {c:>{wc}}}}'
        for g, lab, p, h, c in zip(game_time, label, position, half, conf, strict=True)
    ]
    body = ",\n".join(lines)
    return f"{head}{body}\n]}}\n"


def _fixed_point(values: np.ndarray) -> list[str] | None:
    """``%.12f`` texts of ``values`` when that is exact (rounded values below 9000), else None."""
    if len(values) and (
        values.min() < 0 or values.max() >= 9000 or (np.round(values, DECIMALS) != values).any()
    ):
        return None
    return [f"{v:.{DECIMALS}f}" for v in values.tolist()]


# --- The fixed-width table parser -------------------------------------------------------------
#
# A canonical file is read in place as an (n, K) array of little-endian uint64 words, K words a
# line. The first line is checked in Python and serves as a template: every byte that is not part
# of a value must repeat it on every line (a masked XOR, a block of lines at a time, while the
# words that hold values are copied out column by column). Each value is then checked and decoded
# eight bytes at a time with byte-parallel integer arithmetic on one word per line (digit tests,
# where the digits start, the decimal value), never one byte at a time. Nothing is accepted that
# ``json`` would read differently or not at all.

_HEADER = b'{"UrlLocal": '
_LIST_START = b'"predictions": ['
_TAIL = b"\n]}\n"
#: The fixed parts of a line, in order; values sit between them.
_KEYS = (
    b'{"gameTime": ',
    b', "label": ',
    b', "position": ',
    b', "half": "',
    b'", "confidence": ',
)
#: Decimals of the fixed-point confidence plus its dot: the tail of a confidence cell.
_FRACTION = DECIMALS + 1
#: Lines checked at once against the template (half a MB: the block stays in cache while its
#: value words are copied out).
_BLOCK_LINES = 4096
#: The header and the first line must lie within this many bytes.
_HEAD_BYTES = 1 << 16


def _u64(x: int) -> np.uint64:
    return np.uint64(x & 0xFFFFFFFFFFFFFFFF)


def _bytes_of(byte: int) -> np.uint64:
    """``byte`` in each of the eight bytes of a word."""
    return _u64(byte * 0x0101010101010101)


_SPACES, _QUOTES, _ZEROS = _bytes_of(ord(" ")), _bytes_of(ord('"')), _bytes_of(ord("0"))
_LOW7, _PLUS_118, _HIGH, _ONES = _bytes_of(0x7F), _bytes_of(0x76), _bytes_of(0x80), _bytes_of(1)
_FF, _ONE, _SEVEN = np.uint64(0xFF), np.uint64(1), np.uint64(7)
#: A number in a window after k non-digits (8 - k digits), without a leading zero, is at least
#: _SMALLEST[k] (k = 0..8).
_SMALLEST = np.array([10 ** (7 - k) if k < 7 else 0 for k in range(9)], dtype=np.uint64)


def _byte_mask(first: int, stop: int = 8) -> np.uint64:
    """A word with 0xFF in bytes ``first .. stop - 1`` (clipped to 0 .. 7)."""
    return _u64(sum(0xFF << (8 * i) for i in range(max(first, 0), min(stop, 8))))


def _word_at(columns: np.ndarray, offset: int) -> np.ndarray:
    """The 8 bytes at byte ``offset`` of every line as one uint64. (K, n) word columns -> (n,)"""
    j, shift = divmod(offset, 8)
    if shift == 0:
        return columns[j]
    return (columns[j] >> np.uint64(8 * shift)) | (columns[j + 1] << np.uint64(64 - 8 * shift))


def _non_digits(x: np.ndarray) -> np.ndarray:
    """0x80 in every byte of ``x`` that is not an ASCII digit, 0 elsewhere. (n,) -> (n,)

    A digit XOR '0' is 0..9; adding 0x76 to the low 7 bits sets bit 7 from 10 on without a
    carry into the next byte, and bytes >= 0x80 keep their own bit 7.
    """
    t = x ^ _ZEROS
    return (((t & _LOW7) + _PLUS_118) | t) & _HIGH


def _eight_digits(digits: np.ndarray) -> np.ndarray:
    """Decimal value of 8 digit values (bytes 0..9, the first byte most significant).

    Pairs, then quadruples, then the whole: no partial result overflows its lane.
    """
    d = (digits * np.uint64(10) + (digits >> np.uint64(8))) & _u64(0x00FF00FF00FF00FF)
    d = (d * np.uint64(100) + (d >> np.uint64(16))) & _u64(0x0000FFFF0000FFFF)
    return (d * np.uint64(10000) + (d >> np.uint64(32))) & _u64(0xFFFFFFFF)


def _prefix_tables(quoted: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per count k (0..8) of leading non-digit bytes of a window: the non-digit flags (0x80), the
    prefix's bytes and their required value (``spaces [quote]``; never met where k is invalid:
    no digit, or no quote before the digits of a string)."""
    flags, mask, want = (np.zeros(9, dtype=np.uint64) for _ in range(3))
    for k in range(9):
        flags[k] = _byte_mask(0, k) & _HIGH
        if k == 8 or (quoted and k == 0):
            want[k] = 1  # with mask 0: impossible
            continue
        mask[k] = _byte_mask(0, k)
        want[k] = (_byte_mask(0, k - 1) & _SPACES) | (_byte_mask(k - 1, k) & _QUOTES)
        if not quoted:
            want[k] = mask[k] & _SPACES
    return flags, mask, want


_QUOTED_PREFIX, _SPACED_PREFIX = _prefix_tables(quoted=True), _prefix_tables(quoted=False)


def _right_aligned(
    x: np.ndarray, outside: int, quoted: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode 8-byte windows holding ``spaces, [quote,] 1..7 digits`` (a right-aligned number).

    Args:
        x: (n,) uint64 windows, the number's last digit in the last byte.
        outside: Leading bytes of the window that lie outside the cell (read as spaces).
        quoted: The digits follow a quote (the inside of a JSON string) instead of spaces.

    Returns:
        The value (n,) uint64, whether the window is well-formed (n,) bool, and the number of
        leading non-digit bytes k (n,) uint64 (8 - k digits).
    """
    if outside > 0:
        keep = _byte_mask(outside)
        x = (x & keep) | (_SPACES & ~keep)
    flags, mask, want = _QUOTED_PREFIX if quoted else _SPACED_PREFIX
    non_digit = _non_digits(x)
    k = ((non_digit >> _SEVEN) * _ONES) >> np.uint64(56)  # how many bytes are not digits
    prefix = mask[k]
    # The non-digits are the first k bytes, and they are spaces (and a quote).
    ok = (non_digit == flags[k]) & ((x & prefix) == want[k])
    return _eight_digits((x ^ _ZEROS) & ~prefix), ok, k


@dataclass(frozen=True)
class _Layout:
    """Where the values of a line sit (byte offsets in the line) and the masks that check it."""

    game_time: tuple[int, int]
    label: tuple[int, int]
    position: tuple[int, int]  # the cell up to its closing quote
    half: int
    confidence: tuple[int, int]  # the cell up to its dot
    fixed: np.ndarray  # (K,) uint64: bytes every line must repeat from the first one
    fixed_last: np.ndarray  # the same for the last line, which ends with "\n]", not ",\n"
    value_words: tuple[int, ...]  # the words of a line that hold value bytes
    #: (word, 0x80 in each digit byte) of the gameTime digits; None: whole cells vary.
    game_time_digits: tuple[tuple[int, np.uint64], ...] | None


def _word_mask(selected: np.ndarray) -> np.ndarray:
    """0xFF in the selected bytes of a line, as its (K,) little-endian words."""
    return np.where(selected, 0xFF, 0).astype(np.uint8).view("<u8").astype(np.uint64)


def _json_string_cell(cell: bytes) -> bool:
    """Whether ``cell`` is spaces and a JSON string of printable ASCII without escapes."""
    text = cell.lstrip(b" ")
    return (
        len(text) >= 2
        and text[:1] == b'"'
        and text[-1:] == b'"'
        and all(0x20 <= b <= 0x7E and b not in b'"\\' for b in text[1:-1])
    )


def _first_line_layout(first: bytes, stride: int, any_game_time: bool) -> _Layout | None:
    """Check the first line of the table in Python and derive the layout; None if not ours.

    Args:
        first: The first line, without its ",\n".
        stride: Bytes from a line to the next.
        any_game_time: Let the gameTime cells vary as a whole (checked by
            :func:`_game_times_valid`) instead of only in the digits of the first line's.
    """
    width = len(first)
    if first[-1:] != b"}":
        return None
    bounds, cursor = [], 0
    for key in _KEYS:
        start = first.find(key, cursor)
        if start < 0 or (cursor == 0 and start != 0):
            return None
        bounds.append((start, start + len(key)))
        cursor = start + len(key)
    (_, g0), (l0, l1), (p0, p1), (h0, h1), (c0, c1) = bounds
    dot = width - 1 - _FRACTION
    if (
        h1 + 1 != c0
        or c1 >= dot
        or p1 + 2 >= h0
        or not _json_string_cell(first[g0:l0])
        # Spaces that pad the position and confidence cells beyond their 8-byte windows are
        # fixed, as are the position's closing quote and the dot.
        or first[h0 - 1 : h0] != b'"'
        or first[p1 : h0 - 9].strip(b" ")
        or first[dot : dot + 1] != b"."
        or first[c1 : dot - 8].strip(b" ")
    ):
        return None
    variable = np.zeros(-(-stride // 8) * 8, dtype=bool)  # the words of a line, as bytes
    game_time_digits = np.zeros_like(variable)
    if any_game_time:
        variable[g0:l0] = True
    else:  # only the digits change: each must stay a digit on every line
        game_time_digits[g0:l0] = np.frombuffer(first[g0:l0], dtype=np.uint8) - ord("0") < 10
        variable |= game_time_digits
    variable[l1:p0] = True  # label
    variable[max(p1, h0 - 9) : h0 - 1] = True  # position digits (and their opening quote)
    variable[h1] = True  # half
    variable[max(c1, dot - 8) : dot] = True  # confidence, integer part
    variable[dot + 1 : width - 1] = True  # confidence, decimals
    words = variable.reshape(-1, 8).any(axis=1)
    words[(h0 - 9) // 8 : (h0 - 1) // 8 + 1] = True  # the windows read by _word_at
    words[(dot - 8) // 8 : (dot + 13) // 8 + 1] = True
    return _Layout(
        game_time=(g0, l0),
        label=(l1, p0),
        position=(p1, h0 - 1),
        half=h1,
        confidence=(c1, dot),
        fixed=_word_mask(~variable),
        fixed_last=_word_mask(~variable & (np.arange(len(variable)) < width)),
        value_words=tuple(np.flatnonzero(words).tolist()),
        game_time_digits=None
        if any_game_time
        else tuple((j, m) for j, m in enumerate(_word_mask(game_time_digits) & _HIGH) if m),
    )


def _game_times_valid(columns: np.ndarray, layout: _Layout) -> bool:
    """Whether every line's gameTime cell is a JSON string as :func:`_json_string_cell` wants.

    With ``layout.game_time_digits``, the rest of the cells being fixed, their digit bytes must
    be digits. Otherwise digits are replaced by '0' and the few resulting shapes
    (``"1 - 00:00"``, and ``"1 - 000:00"`` after 100 minutes) are each checked once, from their
    first line.
    """
    if layout.game_time_digits is not None:
        return not any(
            (_non_digits(columns[j]) & high).any() for j, high in layout.game_time_digits
        )
    start, stop = layout.game_time
    spans = [
        (j, _byte_mask(start - 8 * j, stop - 8 * j)) for j in range(start // 8, (stop - 1) // 8 + 1)
    ]
    shapes = []
    for j, mask in spans:
        w = columns[j] & mask
        digit = ((_non_digits(w) ^ _HIGH) >> _SEVEN) * _FF & mask  # 0xFF at digits
        shapes.append((w & ~digit) | (_ZEROS & digit))
    pending = np.ones(columns.shape[1], dtype=bool)
    for _ in range(4):  # more shapes than this: not a file we wrote
        lines = np.flatnonzero(pending)
        if not len(lines):
            return True
        shape = [s[lines[0]] for s in shapes]
        text = b"".join(int(w).to_bytes(8, "little") for w in shape)
        if not _json_string_cell(text[start - 8 * spans[0][0] : stop - 8 * spans[0][0]]):
            return False
        same = shapes[0][lines] == shape[0]
        for s, want in zip(shapes[1:], shape[1:], strict=True):
            same &= s[lines] == want
        pending[lines[same]] = False
    return not pending.any()


@functools.lru_cache(maxsize=64)
def _label_table(shift: int, width: int) -> tuple[tuple[int, ...], np.ndarray, np.ndarray]:
    """Perfect hash of the 17 right-aligned quoted labels of a cell of ``width`` bytes starting
    at byte ``shift`` of a word.

    Returns:
        Per word of the cell, the odd multiplier of the hash; the slot -> class table (17 for an
        empty slot); and the cell's words of each class (words, 18), class 17 never matching.
    """
    words = (shift + width + 7) // 8
    cells = np.zeros((NUM_CLASSES + 1, 8 * words), dtype=np.uint8)
    cells[NUM_CLASSES, shift : shift + width] = 0xFF  # not ASCII: no label cell equals it
    fits = np.zeros(NUM_CLASSES, dtype=bool)
    for c, name in enumerate(CLASSES):
        text = f'"{name}"'.rjust(width).encode()
        if len(text) == width:
            cells[c, shift : shift + width] = np.frombuffer(text, dtype=np.uint8)
            fits[c] = True
    table = cells.view("<u8").astype(np.uint64)  # (18, words)
    rng = np.random.default_rng(0)  # deterministic: the same table in every process
    while True:
        mult = rng.integers(0, 2**63, size=words, dtype=np.uint64) * np.uint64(2) + _ONE
        with np.errstate(over="ignore"):
            slot = (table[:NUM_CLASSES] * mult).sum(axis=1, dtype=np.uint64) >> np.uint64(54)
        if len(np.unique(slot[fits])) == fits.sum():
            lookup = np.full(1024, NUM_CLASSES, dtype=np.intp)
            lookup[slot[fits]] = np.flatnonzero(fits)
            return tuple(mult.tolist()), lookup, np.ascontiguousarray(table.T)


def _labels(columns: np.ndarray, cell: tuple[int, int]) -> np.ndarray:
    """Class index of each line's label cell, -1 where it is no class. (K, n) -> (n,)"""
    start, stop = cell
    first_word, shift = divmod(start, 8)
    mult, lookup, table = _label_table(shift, stop - start)
    words = [
        columns[first_word + j] & _byte_mask(shift - 8 * j, shift + stop - start - 8 * j)
        for j in range(len(mult))
    ]
    with np.errstate(over="ignore"):
        acc = words[0] * np.uint64(mult[0])
        for w, m in zip(words[1:], mult[1:], strict=True):
            acc += w * np.uint64(m)
    cls = lookup[acc >> np.uint64(54)]  # (n,) the only class the cell can be
    known = cls < NUM_CLASSES
    for w, candidate in zip(words, table, strict=True):
        known &= w == candidate[cls]
    return np.where(known, cls, -1)


def _check_and_copy(table: np.ndarray, layout: _Layout) -> np.ndarray | None:
    """Compare every line with the first on the fixed bytes, copying out the value words.

    Returns:
        The (K, n) word columns (only ``layout.value_words`` filled); None if a line differs.
    """
    n, k = table.shape
    template = table[0].copy()
    if ((table[-1] ^ template) & layout.fixed_last).any():
        return None
    columns = np.empty((k, n), dtype=np.uint64)
    scratch = np.empty((min(n, _BLOCK_LINES), k), dtype=np.uint64)
    for a in range(0, n, _BLOCK_LINES):
        block = table[a : a + _BLOCK_LINES]  # (b, K), in cache while it is checked and copied
        check = block if a + len(block) < n else block[:-1]
        diff = scratch[: len(check)]
        np.bitwise_xor(check, template, out=diff)
        np.bitwise_and(diff, layout.fixed, out=diff)
        if np.count_nonzero(diff):
            return None
        for j in layout.value_words:
            columns[j, a : a + len(block)] = block[:, j]
    return columns


def _aligned_rows(data: memoryview, start: int, rows: int, stride: int) -> np.ndarray:
    """The table as (rows, stride rounded up to 8 / 8) uint64 words; a view when aligned."""
    raw = np.frombuffer(data, dtype=np.uint8, count=rows * stride, offset=start)
    if stride % 8 == 0 and raw.ctypes.data % 8 == 0:
        return raw.view("<u8").reshape(rows, stride // 8)
    padded = np.zeros((rows, -(-stride // 8) * 8), dtype=np.uint8)  # other layouts: one copy
    padded[:, :stride] = raw.reshape(rows, stride)
    return padded.view("<u8")


def parse_canonical(data: bytes | memoryview | mmap.mmap) -> dict[str, np.ndarray] | None:
    """Parse a file in :func:`results_text`'s layout as a fixed-width table, else None.

    Every byte is checked against the layout (fixed parts identical on every line, values
    well-formed, no escapes or control characters), so a file that passes is read exactly as
    ``json`` reads it. Unknown labels come back as -1. Positions must have at most 7 digits
    (below 10**7 ms, 2.7 h: the official raster stops at 2 h) and confidences be ``%.12f``
    numbers below 9000; other files are left to ``json``. Column-aligned files whose lines are
    not on 8-byte boundaries (older files) are read through one copy.
    """
    view = memoryview(data).cast("B")
    total = len(view)
    if view[: len(_HEADER)] != _HEADER or view[total - len(_TAIL) :] != _TAIL:
        return None
    head = bytes(view[: min(total, _HEAD_BYTES)])  # the header and the first line
    at = head.find(_LIST_START)
    try:
        header = json.loads(head[:at] + b'"predictions": []}') if at > 0 else None
    except ValueError:
        return None
    if not isinstance(header, dict) or list(header) != ["UrlLocal", "predictions"]:
        return None
    start = at + len(_LIST_START)
    while head[start : start + 1] == b" ":  # the writer's padding to an 8-byte boundary
        start += 1
    if head[start : start + 1] != b"\n":
        return None
    start += 1
    size = total - len(_TAIL) - start  # the prediction lines, joined by ",\n"
    if size <= 0:  # "[\n]}\n": the list's newline is the tail's
        return _empty() if size == -1 else None
    first_end = head.find(b"\n", start)
    width = (first_end if 0 <= first_end < start + size else start + size + 1) - 1 - start
    stride = width + 2  # a line and the ",\n" after it
    if width < 1 or (size + 2) % stride or start + stride > len(head):
        return None
    rows = (size + 2) // stride
    first = head[start : start + width]
    if head[start + width : start + stride] != (b",\n" if rows > 1 else b"\n]"):
        return None
    table = _aligned_rows(view, start, rows, stride)  # (n, K)
    # Usually only the digits of gameTime change; if not (halves past 100 minutes), whole cells.
    for any_game_time in (False, True):
        layout = _first_line_layout(first, stride, any_game_time)
        if layout is None:
            return None
        columns = _check_and_copy(table, layout)
        if columns is not None and _game_times_valid(columns, layout):
            break
    else:
        return None
    half = (_word_at(columns, layout.half) & _FF).astype(np.int64) - ord("0")
    p_start, p_quote = layout.position
    position, ok, _ = _right_aligned(
        _word_at(columns, p_quote - 8), p_start - (p_quote - 8), quoted=True
    )
    c_start, dot = layout.confidence
    whole, ok_whole, spaces = _right_aligned(
        _word_at(columns, dot - 8), c_start - (dot - 8), quoted=False
    )
    high8 = _word_at(columns, dot + 1)  # decimals 1-8
    first4 = _byte_mask(0, 4)  # decimals 9-12 as '0000dddd': decimals 5-8 set to '0'
    low4 = (_word_at(columns, dot + 5) & ~first4) | (_ZEROS & first4)
    if not (
        ((half == 1) | (half == 2)).all()
        and ok.all()
        and ok_whole.all()
        and (whole >= _SMALLEST[spaces]).all()  # no leading zero (not JSON)
        and whole.max() < 9000  # whole * 10**12 + decimals stays exact in float64
        and not (_non_digits(high8) | _non_digits(low4)).any()
    ):
        return None
    decimals = _eight_digits(high8 ^ _ZEROS) * np.uint64(10_000) + _eight_digits(low4 ^ _ZEROS)
    # M / 10**12 with the integer M < 2**53: one correctly rounded division, float(text).
    scaled = whole * np.uint64(10**DECIMALS) + decimals
    return {
        "half": half,
        "label": _labels(columns, layout.label),
        "position_ms": position.astype(np.int64),
        "confidence": scaled.astype(np.float64) / 1e12,
    }
