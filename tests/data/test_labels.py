"""Labels-v2.json parsing, per-frame and per-token targets (method.md §0-1)."""

import json

import numpy as np
import pytest

from comedian.data.labels import (
    LabelsError,
    frame_targets,
    parse_labels,
    read_labels,
    token_targets,
    token_times,
)
from comedian.data.soccernet import CLASS_INDEX, CLASSES, NUM_CLASSES, format_game_time


def ann(game_time="1 - 00:05", label="Goal", position="5000", team="home", visibility="visible"):
    return {
        "gameTime": game_time,
        "label": label,
        "position": position,
        "team": team,
        "visibility": visibility,
    }


def test_class_order_is_official():
    assert NUM_CLASSES == 17
    assert CLASSES[0] == "Penalty" and CLASSES[8] == "Ball out of play"
    assert CLASSES[16] == "Yellow->red card"
    assert CLASS_INDEX["Throw-in"] == 9


def test_format_game_time():
    assert format_game_time(1, 323400) == "1 - 05:23"
    assert format_game_time(2, 2_825_999) == "2 - 47:05"
    assert format_game_time(2, 0) == "2 - 00:00"


def test_parse_sorts_and_converts(tmp_path):
    doc = {
        "UrlLocal": "x/y/z/",
        "annotations": [
            ann("2 - 00:01", "Foul", "1500", "away", "not shown"),
            ann("1 - 05:23", "Goal", "323400"),
            ann("1 - 00:00", "Kick-off", "0", "not applicable"),
        ],
    }
    path = tmp_path / "Labels-v2.json"
    path.write_text(json.dumps(doc))
    ev = read_labels(path)
    assert ev["half"].tolist() == [1, 1, 2]
    assert ev["position_ms"].tolist() == [0, 323400, 1500]
    assert ev["position_s"].tolist() == [0.0, 323.4, 1.5]
    assert ev["class_index"].tolist() == [1, 2, 10]
    assert ev["team"].tolist() == ["not applicable", "home", "away"]
    assert ev["visibility"].tolist() == ["visible", "visible", "not shown"]


@pytest.mark.parametrize(
    ("annotation", "message"),
    [
        ({k: v for k, v in ann().items() if k != "label"}, "annotation 0: missing field 'label'"),
        (ann(game_time="3 - 00:05"), "annotation 0: field 'gameTime'"),
        (ann(game_time="1-5:3"), "annotation 0: field 'gameTime'"),
        (ann(label="Dive"), "annotation 0: field 'label' = 'Dive'"),
        (ann(position="12.5s"), "annotation 0: field 'position'"),
        (ann(position="-5"), "annotation 0: field 'position' = -5 is negative"),
        (ann(visibility="hidden"), "annotation 0: field 'visibility'"),
    ],
)
def test_malformed_annotation_names_file_index_and_field(tmp_path, annotation, message):
    path = tmp_path / "Labels-v2.json"
    path.write_text(json.dumps({"annotations": [annotation]}))
    with pytest.raises(LabelsError) as err:
        read_labels(path)
    assert str(path) in str(err.value)
    assert message in str(err.value)


def test_second_annotation_index_is_reported(tmp_path):
    path = tmp_path / "Labels-v2.json"
    path.write_text(json.dumps({"annotations": [ann(), ann(label="Nope")]}))
    with pytest.raises(LabelsError, match="annotation 1: field 'label'"):
        read_labels(path)


def test_bad_json_and_missing_annotations(tmp_path):
    path = tmp_path / "Labels-v2.json"
    path.write_text('{"annotations": [')
    with pytest.raises(LabelsError, match=f"{path}: invalid JSON"):
        read_labels(path)
    path.write_text('{"UrlLocal": "a"}')
    with pytest.raises(LabelsError, match="no 'annotations' list"):
        read_labels(path)


def test_position_beyond_half(tmp_path):
    doc = {"annotations": [ann("2 - 01:40", "Corner", "100000")]}
    parse_labels(doc, half_durations={1: 50.0, 2: 100.001})
    with pytest.raises(LabelsError, match=r"annotation 0: field 'position' = 100000 ms is beyond"):
        parse_labels(doc, source="f.json", half_durations={1: 50.0, 2: 100.0})


def test_frame_targets_inclusive_half_second():
    # 2 fps: frames at 0, 0.5, 1.0, ... An event at 1.0 s marks frames 1, 2, 3 (0.5, 1.0, 1.5).
    # An event at 2.25 s covers [1.75, 2.75]: frames 4 and 5 (2.0, 2.5) only.
    # An event at 3.5 s marks 3.0, 3.5, 4.0 (frames 6, 7, 8): both ends exactly 0.5 s away.
    y = frame_targets([1000, 2250, 3500], [CLASS_INDEX["Goal"], 0, 16], num_frames=10, fps=2)
    assert y.shape == (10, 17) and y.dtype == np.uint8
    assert np.flatnonzero(y[:, 2]).tolist() == [1, 2, 3]
    assert np.flatnonzero(y[:, 0]).tolist() == [4, 5]
    assert np.flatnonzero(y[:, 16]).tolist() == [6, 7, 8]
    assert y.sum() == 8


def test_frame_targets_edges_and_just_outside():
    # 0.999 s covers [0.499, 1.499]: frames 1, 2 (0.5, 1.0); 1.5 is 0.501 s away.
    y = frame_targets([999, 0, 4999], [5, 7, 9], num_frames=10, fps=2)
    assert np.flatnonzero(y[:, 5]).tolist() == [1, 2]
    assert np.flatnonzero(y[:, 7]).tolist() == [0, 1]  # clipped at the half start
    assert np.flatnonzero(y[:, 9]).tolist() == [9]  # clipped at the half end (4.5 s)
    # An event at 4 fps: frames every 0.25 s, 1.0 s +- 0.5 covers 0.5..1.5 -> frames 2..6.
    y4 = frame_targets([1000], [3], num_frames=12, fps=4)
    assert np.flatnonzero(y4[:, 3]).tolist() == [2, 3, 4, 5, 6]


def test_frame_targets_same_class_overlap_and_empty():
    y = frame_targets([1000, 1500], [4, 4], num_frames=6, fps=2)
    assert np.flatnonzero(y[:, 4]).tolist() == [1, 2, 3, 4]
    assert y.max() == 1
    empty = frame_targets([], [], num_frames=4)
    assert empty.shape == (4, 17) and empty.sum() == 0


def test_token_targets_or_of_pairs():
    frames = np.zeros((5, 17), dtype=np.uint8)
    frames[1, 3] = 1  # token 0
    frames[2, 3] = 1  # token 1
    frames[4, 0] = 1  # token 2 (odd frame alone)
    tokens = token_targets(frames)
    assert tokens.shape == (3, 17)
    assert tokens[:, 3].tolist() == [1, 1, 0]
    assert tokens[:, 0].tolist() == [0, 0, 1]


def test_token_times():
    assert token_times(10.0, 3).tolist() == [10.25, 11.25, 12.25]
