"""Raw score files, results files (official format) and the challenge zip."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest

from comedian.data.soccernet import CLASS_INDEX, RESULTS_NAME
from comedian.spotting.metrics import position_to_frame
from comedian.spotting.results import (
    _decode_json,
    decode_results,
    peaks_to_predictions,
    read_results,
    results_text,
    round_confidence,
    write_results,
    zip_results,
)
from comedian.spotting.results_scan import scan_results
from comedian.spotting.scores import find_raw_games, read_raw_half, write_raw_game, write_raw_half

GAME = "italy_serie-a/2016-2017/2017-01-08 - 17-00 AC Milan 1 - 0 Torino"


def test_raw_round_trip_and_layout(tmp_path: Path) -> None:
    scores = {1: np.ones((5, 17), np.float32), 2: np.zeros((7, 17), np.float32)}
    write_raw_game(tmp_path, GAME, scores)
    assert (tmp_path / GAME / "1.npy").is_file() and (tmp_path / GAME / "2.npy").is_file()
    assert find_raw_games(tmp_path) == [GAME]
    np.testing.assert_array_equal(read_raw_half(tmp_path / GAME / "2.npy"), scores[2])


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((5, 17), np.float64), "must be float32"),
        (np.zeros((5, 16), np.float32), r"shape \(T, 17\)"),
        (np.full((5, 17), np.nan, np.float32), "NaN or inf"),
        # Logits, not sigmoid outputs: the range is named.
        (np.full((5, 17), 1.5, np.float32), r"in \[0, 1\], got values in \[1.5, 1.5\]"),
        (np.full((5, 17), -0.25, np.float32), r"got values in \[-0.25, -0.25\]"),
    ],
)
def test_raw_reading_names_file_and_problem(
    tmp_path: Path, array: np.ndarray, message: str
) -> None:
    path = tmp_path / "1.npy"
    np.save(path, array)
    with pytest.raises(ValueError, match=message) as err:
        read_raw_half(path)
    assert str(path) in str(err.value)
    with pytest.raises(ValueError, match=message):
        write_raw_half(tmp_path / "x.npy", array)


def test_raw_game_needs_both_halves(tmp_path: Path) -> None:
    write_raw_half(tmp_path / GAME / "1.npy", np.zeros((3, 17), np.float32))
    with pytest.raises(ValueError, match="2.npy"):
        find_raw_games(tmp_path)


def test_results_official_format_and_round_trip(tmp_path: Path) -> None:
    peaks = {1: np.zeros((700, 17)), 2: np.zeros((10, 17))}
    peaks[1][646, 2] = 0.9  # 323 s: "1 - 05:23"
    peaks[1][3, 0] = 1 / 3
    peaks[2][9, 16] = 0.001
    preds = peaks_to_predictions(peaks)
    path = tmp_path / GAME / RESULTS_NAME
    write_results(path, GAME, preds)
    doc = json.loads(path.read_text())
    assert doc["UrlLocal"] == GAME
    assert doc["predictions"][1] == {
        "gameTime": "1 - 05:23",
        "label": "Goal",
        "position": "323000",
        "half": "1",
        "confidence": 0.9,
    }
    assert [p["label"] for p in doc["predictions"]] == ["Penalty", "Goal", "Yellow->red card"]
    back = read_results(path)
    for key in preds:
        np.testing.assert_array_equal(back[key], preds[key])  # confidences bit-exact
    # Row r lands back on raster frame r.
    np.testing.assert_array_equal(position_to_frame(back["position_ms"]), [3, 646, 9])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"label": "Dribble"}, r"Invalid enum value 'Dribble' - at `\$.predictions\[0\].label`"),
        # json.dumps writes NaN and Infinity, which are not JSON (the official json.load reads
        # them): refused as malformed, with the byte named.
        ({"confidence": float("nan")}, r"not valid JSON \(JSON is malformed: invalid character"),
        ({"confidence": "nan"}, "prediction 0: confidence is NaN or inf"),
        ({"confidence": "inf"}, "prediction 0: confidence is NaN or inf"),
        ({"confidence": -0.5}, "prediction 0: confidence is negative"),
        (
            {"confidence": True},
            r"Expected `float`, got `bool` - at `\$.predictions\[0\].confidence`",
        ),
        ({"half": "3"}, "prediction 0: half is not 1 or 2"),
        ({"position": "12.5"}, r"Expected `int`, got `str` - at `\$.predictions\[0\].position`"),
        ({"position": "-1000"}, "prediction 0: position is negative"),
        ({"position": "9" * 30}, "not a SoccerNet results file"),
        ({"label": None}, r"at `\$.predictions\[0\].label`"),
        ({"half": None}, r"at `\$.predictions\[0\].half`"),
    ],
)
def test_results_reader_rejects(tmp_path: Path, change: dict, message: str) -> None:
    pred = {
        "gameTime": "1 - 00:01",
        "label": "Goal",
        "position": "1000",
        "half": "1",
        "confidence": 0.5,
    }
    path = tmp_path / RESULTS_NAME
    path.write_text(json.dumps({"UrlLocal": "", "predictions": [pred | change]}))
    with pytest.raises(ValueError, match=message) as err:
        read_results(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '{"predictions": [{"label": "Goal", "position": 1, "half": 1, "confidence": 1e400}]}',
            r"Number out of range - at `\$.predictions\[0\].confidence`",
        ),
        (
            '{"predictions": [{"label": "Goal", "position": 1, "half": 1}]}',
            "missing required field `confidence`",
        ),
        ('{"predictions": {}}', r"Expected `array`, got `object` - at `\$.predictions`"),
        ('{"UrlLocal": "x"}', "missing required field `predictions`"),
        ('{"predictions": [', "truncated"),
        ("", "truncated"),
    ],
)
def test_results_reader_names_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / RESULTS_NAME
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as err:
        read_results(path)
    assert str(err.value).startswith(f"{path}: ")


def test_other_files_decode_as_json_reads_them(tmp_path: Path) -> None:
    # Numbers or strings of digits, extra keys, no gameTime / UrlLocal: what the official
    # evaluator accepts (int() / float() of each value) and what msgspec decodes, checked by hand.
    doc = {
        "predictions": [
            {"label": "Corner", "position": 1500, "half": 2, "confidence": "0.25", "team": "x"},
            {"label": "Goal", "position": "0", "half": "1", "confidence": 1},
        ]
    }
    path = tmp_path / RESULTS_NAME
    path.write_text(json.dumps(doc, indent=1))
    got = read_results(path)
    np.testing.assert_array_equal(got["half"], [2, 1])
    np.testing.assert_array_equal(got["label"], [CLASS_INDEX["Corner"], CLASS_INDEX["Goal"]])
    np.testing.assert_array_equal(got["position_ms"], [1500, 0])
    np.testing.assert_array_equal(got["confidence"], [0.25, 1.0])
    assert got["half"].dtype == got["position_ms"].dtype == np.int64
    # decode_results alone checks types, not values (read_results checks those).
    path.write_text(json.dumps({"predictions": [doc["predictions"][1] | {"half": 7}]}))
    assert decode_results(path, path.read_bytes())["half"].tolist() == [7]
    with pytest.raises(ValueError, match="prediction 0: half is not 1 or 2"):
        read_results(path)


def test_writer_rejects_bad_confidence(tmp_path: Path) -> None:
    preds = peaks_to_predictions({1: np.zeros((3, 17)), 2: np.zeros((3, 17))})
    preds["confidence"] = np.array([])
    write_results(tmp_path / "ok.json", GAME, preds)  # no prediction is fine
    bad = {
        "half": np.array([1]),
        "label": np.array([0]),
        "position_ms": np.array([0]),
        "confidence": np.array([-1.0]),
    }
    with pytest.raises(ValueError, match="finite and >= 0"):
        write_results(tmp_path / "bad.json", GAME, bad)
    assert json.loads(results_text(GAME, preds))["predictions"] == []


def test_zip_keeps_game_paths(tmp_path: Path) -> None:
    preds = peaks_to_predictions({1: np.eye(3, 17), 2: np.zeros((3, 17))})
    write_results(tmp_path / "out" / GAME / RESULTS_NAME, GAME, preds)
    assert zip_results(tmp_path / "out", tmp_path / "sub.zip") == 1
    with zipfile.ZipFile(tmp_path / "sub.zip") as zf:
        assert zf.namelist() == [f"{GAME}/{RESULTS_NAME}"]
    with pytest.raises(ValueError, match="no results_spotting.json"):
        zip_results(tmp_path / "empty", tmp_path / "x.zip")


def _random_predictions(rng: np.random.Generator, n: int, rounded: bool) -> dict:
    conf = rng.random(n) ** 3
    conf[: min(n, 3)] = [0.0, 1.0, 5e-324][: min(n, 3)]
    return {
        "half": np.sort(rng.integers(1, 3, n)),
        "label": rng.integers(0, 17, n),
        # Up to 2.7 h: gameTime minutes with 2 and 3 digits in one file.
        "position_ms": rng.integers(0, 10**7, n) // rng.choice([1, 500]),
        "confidence": round_confidence(conf) if rounded else conf,
    }


@pytest.mark.parametrize("rounded", [True, False])
def test_written_files_read_back_exactly(tmp_path: Path, rounded: bool) -> None:
    rng = np.random.default_rng(int(rounded))
    path = tmp_path / RESULTS_NAME
    for n in (0, 1, 2, 7, 500):
        preds = _random_predictions(rng, n, rounded)
        write_results(path, GAME, preds)
        text = path.read_text()
        assert text.count("\n") == n + 2 + (n == 0)  # one prediction a line
        generic = json.loads(text)["predictions"]
        assert [p["confidence"] for p in generic] == preds["confidence"].tolist()
        assert [int(p["position"]) for p in generic] == preds["position_ms"].tolist()
        back = read_results(path)
        for key in preds:
            np.testing.assert_array_equal(back[key], preds[key])


def test_fixed_point_only_where_it_is_exact() -> None:
    preds = {
        "half": np.array([1, 1, 2, 2]),
        "label": np.array([0, 1, 2, 3]),
        "position_ms": np.array([0, 500, 10**7, 123_456_789_012]),
        "confidence": np.array([0.5, 0.1 + 0.2, 9000.0, 5e-324]),
    }
    lines = results_text(GAME, preds).split("\n")[1:5]
    assert [line.rsplit(": ", 1)[1] for line in lines] == [
        "0.500000000000},",  # rounded: fixed point
        "0.30000000000000004},",  # not rounded to 12 decimals: repr
        "9000.0},",  # too large for an exact fixed point: repr
        "5e-324}",
    ]
    assert '"position": "123456789012"' in lines[3]


def test_large_files_are_read_exactly(tmp_path: Path) -> None:
    preds = _random_predictions(np.random.default_rng(6), 3000, rounded=True)
    path = tmp_path / RESULTS_NAME
    write_results(path, GAME, preds)
    back = read_results(path)
    for key in preds:
        np.testing.assert_array_equal(back[key], preds[key])


def _json_arrays(text: bytes) -> dict[str, list] | None:
    """What ``json`` reads from a results text (unknown labels as -1); None if it fails."""
    try:
        doc = json.loads(text)
        items = doc["predictions"]
        return {
            "half": [int(p["half"]) for p in items],
            "label": [CLASS_INDEX.get(p["label"], -1) for p in items],
            "position_ms": [int(p["position"]) for p in items],
            "confidence": [float(p["confidence"]) for p in items],
        }
    except (ValueError, KeyError, TypeError):
        return None


def test_mutated_files_are_rejected_or_read_as_json_reads_them(tmp_path: Path) -> None:
    """One or two bytes of a written file changed: read_results either refuses the file with
    its name or returns exactly what ``json`` reads (never a value from an invalid file)."""
    rng = np.random.default_rng(7)
    alphabet = np.frombuffer(b' "0123456789.,:-\n{}[]\\aGl\x00\x7f\xff\t', dtype=np.uint8)
    path = tmp_path / RESULTS_NAME
    accepted = 0
    for _ in range(1500):
        preds = _random_predictions(rng, int(rng.integers(1, 6)), rounded=True)
        text = bytearray(results_text(GAME, preds).encode())
        for _ in range(int(rng.integers(1, 3))):
            text[int(rng.integers(0, len(text)))] = int(rng.choice(alphabet))
        path.write_bytes(bytes(text))
        try:
            got = read_results(path)
        except ValueError as err:
            assert str(err).startswith(f"{path}: ")
            continue
        accepted += 1
        want = _json_arrays(bytes(text))
        assert want is not None, bytes(text)
        for key, values in want.items():
            assert got[key].tolist() == values, (key, bytes(text))
    assert 100 < accepted < 1500  # both outcomes were exercised


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b" 0.5", b"00.5"),  # a leading zero: not JSON
        (b" 0.5", b"-0.5"),
        (b"0.500000000000", b"0.50000000000x"),
        (b'"1 - 00:01"', b'"1 - 00:0""'),  # a quote inside a string: not JSON
        (b'"1 - 00:01"', b'"1 - 00:0\x01"'),  # a control character: not JSON
        (b'"half": "1"', b'"half": "3"'),
        (b'"1000"', b'"1 00"'),
        (b'"1000"', b'""'),  # an empty position
        (b"},\n", b"};\n"),
        (b'"half"', b'"halt"'),
        (b'"Goal"', b'"Gaol"'),
    ],
)
def test_tampered_cells_are_refused(tmp_path: Path, old: bytes, new: bytes) -> None:
    preds = {
        "half": np.array([1, 1, 2]),
        "label": np.array([2, 0, 3]),
        "position_ms": np.array([1000, 2000, 3000]),
        "confidence": np.array([0.5, 0.25, 1.0]),
    }
    text = results_text(GAME, preds).encode()
    assert old in text
    path = tmp_path / RESULTS_NAME
    path.write_bytes(text.replace(old, new, 1))
    with pytest.raises(ValueError, match=f"^{re.escape(str(path))}: "):
        read_results(path)
    path.write_bytes(text)
    assert read_results(path)["half"].tolist() == [1, 1, 2]


def test_scanner_reads_our_layout_as_msgspec_does(tmp_path: Path) -> None:
    """Files as written are scanned, other ones (repr confidences, changed bytes) either go to
    msgspec or are scanned to exactly msgspec's arrays."""
    rng = np.random.default_rng(9)
    alphabet = np.frombuffer(b' "0123456789.,:-\n{}[]\\aGl\x00\x7f\xff\t', dtype=np.uint8)
    games = [GAME, 'a "quoted" \\ name', "caf\u00e9/\u00e9t\u00e9"]
    path = tmp_path / RESULTS_NAME
    counts = {"scanned": 0, "mutated and scanned": 0, "left to msgspec": 0}
    for trial in range(3000):
        rounded = trial % 10 != 0
        preds = _random_predictions(rng, int(rng.integers(0, 6)), rounded=rounded)
        if trial % 7 == 0 and len(preds["confidence"]):  # integer parts of 2 to 4 digits
            preds["confidence"][0] = rng.choice([12.5, 999.000000000001, 8999.999999999999])
        text = bytearray(results_text(games[trial % 3], preds).encode())
        mutated = trial % 2 == 1
        for _ in range(int(rng.integers(1, 3)) if mutated else 0):
            text[int(rng.integers(0, len(text)))] = int(rng.choice(alphabet))
        fast = scan_results(bytes(text))
        if not mutated and rounded:
            assert fast is not None, bytes(text)
        if fast is None:
            counts["left to msgspec"] += 1
            continue
        counts["mutated and scanned" if mutated else "scanned"] += 1
        slow = _decode_json(path, bytes(text))  # never a file msgspec refuses
        for key in slow:
            assert fast[key].dtype == slow[key].dtype
            np.testing.assert_array_equal(fast[key], slow[key], err_msg=str(bytes(text)))
    assert min(counts.values()) > 100, counts


def test_scanner_leaves_other_layouts_to_msgspec() -> None:
    preds = {
        "half": np.array([1, 2]),
        "label": np.array([0, 3]),
        "position_ms": np.array([500, 1000]),
        "confidence": np.array([0.5, 0.25]),
    }
    text = results_text(GAME, preds)
    assert scan_results(text.encode()) is not None
    for other in (
        text.replace('"UrlLocal": ', '"UrlLocal":'),  # any other spacing
        text.replace(', "predictions": [', ', "x": [], "predictions": ['),
        text.replace("\n]}\n", "\n]}"),
        text.replace('"Penalty"', '"Penalt\\u0079"'),  # an escaped letter
        text.replace(": 0.", ": 00.", 1),  # not JSON: msgspec says so
        text.replace("0.250000000000", "9007.199254740993"),  # 10**12 x value beyond 2**53
        json.dumps(json.loads(text)),
    ):
        assert scan_results(other.encode()) is None, other


def test_scanner_on_the_shortest_lines(tmp_path: Path) -> None:
    # Lines as short as the layout allows (empty gameTime): the scanner's bound on the number
    # of predictions a file of that size can hold must still hold all of them.
    n = 200
    preds = {
        "half": np.ones(n, dtype=np.int64),
        "label": np.full(n, CLASS_INDEX["Goal"]),
        "position_ms": np.arange(n) % 10,
        "confidence": np.zeros(n),
    }
    text = re.sub(r'"gameTime": "[^"]*"', '"gameTime": ""', results_text("", preds)).encode()
    fast = scan_results(text)
    assert fast is not None
    for key, values in _decode_json(tmp_path, text).items():
        np.testing.assert_array_equal(fast[key], values)
