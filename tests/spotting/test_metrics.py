"""Average-mAP: hand-computed cases and the vectorized greedy matching against a plain loop."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from spotting_oracles import sequential_matching

from comedian.data.soccernet import CLASS_INDEX, LABELS_NAME, NUM_CLASSES, RESULTS_NAME
from comedian.spotting.metrics import (
    Evaluator,
    evaluate_games,
    label_events,
    make_events,
    match_predictions,
    position_to_frame,
    prediction_events,
    threshold_bins,
)
from comedian.spotting.results import write_results


def _labels(*events: tuple[int, str, int, float]) -> dict[str, np.ndarray]:
    """(half, label, frame, value) tuples -> read_labels-style arrays."""
    half, label, frame, value = zip(*events, strict=True) if events else ((), (), (), ())
    return {
        "half": np.array(half, dtype=np.int64),
        "label": np.array([CLASS_INDEX[x] for x in label], dtype=np.int64),
        "frame": np.array(frame, dtype=np.int64),
        "value": np.array(value, dtype=np.float64),
    }


def _preds(*preds: tuple[int, str, int, float]) -> dict[str, np.ndarray]:
    """(half, label, position_ms, confidence) tuples -> read_results-style arrays."""
    half, label, pos, conf = zip(*preds, strict=True) if preds else ((), (), (), ())
    return {
        "half": np.array(half, dtype=np.int64),
        "label": np.array([CLASS_INDEX[x] for x in label], dtype=np.int64),
        "position_ms": np.array(pos, dtype=np.int64),
        "confidence": np.array(conf, dtype=np.float64),
    }


def _evaluate(labels, preds, metric):  # noqa: ANN001, ANN202
    return Evaluator(label_events([labels]), prediction_events([preds])).average_map(metric)


def test_position_to_frame_floors_at_2fps_and_clips() -> None:
    np.testing.assert_array_equal(
        position_to_frame(np.array([0, 499, 500, 4999, 323400, 10**9])), [0, 0, 1, 9, 646, 14399]
    )


def test_position_to_frame_is_the_official_float_formula() -> None:
    rng = np.random.default_rng(0)
    ms = np.r_[np.arange(200_000), rng.integers(0, 10**7, 10**5), rng.integers(0, 2**62, 1000)]
    official = [min(int(2 * (p / 1000)), 14399) for p in ms.tolist()]
    np.testing.assert_array_equal(position_to_frame(ms), official)


def test_one_hit_gives_one_class_full_ap() -> None:
    labels = _labels((1, "Goal", 200, 1.0))
    preds = _preds((1, "Goal", 100_500, 0.9))  # frame 201: one frame off
    result = _evaluate(labels, preds, "tight")
    assert result["a_mAP"] == pytest.approx(1 / 17)
    assert result["a_mAP_per_class"][CLASS_INDEX["Goal"]] == pytest.approx(1.0)
    assert result["a_mAP_visible"] == pytest.approx(1 / 17)
    assert result["a_mAP_unshown"] == 0.0


def test_tolerance_curve_trapezoid() -> None:
    labels = _labels((1, "Goal", 200, 1.0))
    preds = _preds((1, "Goal", 102_000, 0.9))  # frame 204: found from at4 (radius 4 frames) on
    assert _evaluate(labels, preds, "at3")["a_mAP"] == 0.0
    assert _evaluate(labels, preds, "at4")["a_mAP"] == pytest.approx(1 / 17)
    # mAP per delta [0, 0, 0, 1, 1] / 17 -> trapezoid (0 + 0 + 0.5 + 1) / 4
    assert _evaluate(labels, preds, "tight")["a_mAP"] == pytest.approx(0.375 / 17)


def test_greedy_matching_and_11_point_ap() -> None:
    labels = _labels((1, "Corner", 100, 1.0), (1, "Corner", 102, 1.0))
    preds = _preds((1, "Corner", 50_500, 0.9), (1, "Corner", 52_000, 0.5))  # frames 101, 104
    # at2 (radius 2): the first ground truth takes frame 101, the second frame 104: AP 1.
    assert _evaluate(labels, preds, "at2")["a_mAP"] == pytest.approx(1 / 17)
    # at1: only one hit. Thresholds <= .5: P .5 R .5; (.5, .9]: P 1 R .5 -> AP = 6 / 11.
    result = _evaluate(labels, preds, "at1")
    assert result["a_mAP_per_class"][CLASS_INDEX["Corner"]] == pytest.approx(6 / 11)


def test_unshown_variant_and_factor() -> None:
    labels = _labels((1, "Goal", 200, -1.0))
    preds = _preds((1, "Goal", 100_000, 0.7))
    result = _evaluate(labels, preds, "tight")
    assert result["a_mAP_unshown"] == pytest.approx(1 / 17 * 17 / 13)
    assert result["a_mAP_visible"] == 0.0
    # A single tolerance reports the raw mean, without the 17/13 factor (as officially).
    assert _evaluate(labels, preds, "at1")["a_mAP_unshown"] == pytest.approx(1 / 17)


def test_later_prediction_on_same_frame_overwrites() -> None:
    labels = _labels((1, "Goal", 200, 1.0))
    # Same frame 200 (100.0 s and 100.4 s): the later, low one replaces the high one.
    preds = _preds((1, "Goal", 100_000, 0.9), (1, "Goal", 100_400, 0.1), (1, "Goal", 90_000, 0.5))
    result = _evaluate(labels, preds, "at1")
    # Thresholds <= .1: 2 preds, 1 TP (P .5, R 1); (.1, .5]: 1 pred, 0 TP -> AP = 11 * .5 / 11.
    assert result["a_mAP_per_class"][CLASS_INDEX["Goal"]] == pytest.approx(0.5)


def test_no_predictions_gives_zero() -> None:
    result = _evaluate(_labels((2, "Foul", 5, 1.0)), _preds(), "loose")
    assert result["a_mAP"] == 0.0
    assert len(result["a_mAP_per_class"]) == NUM_CLASSES


@pytest.mark.parametrize("radius", [1, 3, 10, 60])
def test_vectorized_matching_equals_sequential_loop(radius: int) -> None:
    rng = np.random.default_rng(radius)
    for _ in range(200):
        n_groups = int(rng.integers(1, 4))
        span = int(rng.integers(5, 300))
        gt_g = rng.integers(0, n_groups, int(rng.integers(0, 30)))
        gt_f = rng.integers(0, span, len(gt_g))
        pr_g = rng.integers(0, n_groups, int(rng.integers(0, 60)))
        pr_f = rng.integers(0, span, len(pr_g))
        scores = np.round(rng.random(len(pr_g)) * rng.choice([3, 100]), 0) / 100  # ties
        gt = make_events(np.zeros_like(gt_g), gt_g, gt_f, np.ones(len(gt_g)), 1)
        pred = make_events(np.zeros_like(pr_g), pr_g, pr_f, scores, 1)
        got = match_predictions(gt, pred, radius)
        for g in range(n_groups):
            p = pred.group == g
            want = sequential_matching(
                gt.frame[gt.group == g].tolist(),
                pred.frame[p].tolist(),
                pred.value[p].tolist(),
                radius,
            )
            np.testing.assert_array_equal(got[p], want)


def test_label_file_order_decides_a_shared_frame(tmp_path: Path) -> None:
    """Officially the last annotation *in file order* sets a (half, class, frame) cell: here the
    not-shown one at 100.0 s, listed after a visible one at 100.4 s (same frame 200). A table
    sorted by position would make the cell visible instead."""
    game = "league/season/game"
    (tmp_path / "labels" / game).mkdir(parents=True)
    annotations = [
        {"gameTime": "1 - 01:40", "label": "Goal", "position": str(ms), "visibility": vis}
        for ms, vis in [(100_400, "visible"), (100_000, "not shown")]
    ]
    (tmp_path / "labels" / game / LABELS_NAME).write_text(json.dumps({"annotations": annotations}))
    write_results(tmp_path / "preds" / game / RESULTS_NAME, game, _preds((1, "Goal", 100_000, 0.9)))
    result = evaluate_games(tmp_path / "labels", tmp_path / "preds", metrics=["at1"])["at1"]
    assert result["a_mAP_unshown"] == pytest.approx(1 / 17)
    assert result["a_mAP_visible"] == 0.0


@pytest.mark.parametrize("time_sorted", [True, False])
def test_make_events_sorts_and_keeps_the_last_event_of_a_cell(time_sorted: bool) -> None:
    rng = np.random.default_rng(int(time_sorted))
    n = 2000
    slot, label = rng.integers(0, 4, n), rng.integers(0, NUM_CLASSES, n)
    frame, value = rng.integers(0, 300, n), rng.random(n)
    if time_sorted:  # as our results files: by half, then frame
        order = np.lexsort((frame, slot))
        slot, label, frame, value = slot[order], label[order], frame[order], value[order]
    events = make_events(slot, label, frame, value, num_halves=4)
    # Oracle: a dict filled in file order keeps the last event of each cell.
    cells = {}
    for s, c, f, v in zip(
        slot.tolist(), label.tolist(), frame.tolist(), value.tolist(), strict=True
    ):
        cells[(s * NUM_CLASSES + c, f)] = v
    want = sorted(cells.items())
    np.testing.assert_array_equal(events.group, [k[0] for k, _ in want])
    np.testing.assert_array_equal(events.frame, [k[1] for k, _ in want])
    np.testing.assert_array_equal(events.value, [v for _, v in want])
    np.testing.assert_array_equal(events.key, events.group * 2**20 + events.frame)


def test_threshold_bins_equal_a_binary_search() -> None:
    rng = np.random.default_rng(0)
    thresholds = np.linspace(0, 1, 200)
    scores = np.r_[
        rng.random(10_000),
        thresholds,
        np.nextafter(thresholds, 2),  # just above and below every threshold
        np.nextafter(thresholds, -1),
        np.round(rng.random(1000), 3),
        [-1.0, 0.0, 1.0, 2.0, 5000.0, 1e300],
    ]
    np.testing.assert_array_equal(
        threshold_bins(scores), np.searchsorted(thresholds, scores, side="right")
    )
