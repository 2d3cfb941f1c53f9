"""The vectorized average-mAP equals the official SoccerNet evaluator on randomized label trees."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from comedian.data.soccernet import CLASSES, LABELS_NAME, RESULTS_NAME, format_game_time
from comedian.spotting.metrics import RESULT_KEYS, evaluate_games
from comedian.spotting.results import round_confidence, write_results

official = pytest.importorskip("SoccerNet.Evaluation.ActionSpotting")
from SoccerNet.Evaluation.utils import EVENT_DICTIONARY_V2  # noqa: E402


def official_evaluate(labels: Path, preds: Path, metric: str) -> dict[str, Any]:
    with contextlib.redirect_stderr(io.StringIO()):
        return official.evaluate(
            SoccerNet_path=str(labels),
            Predictions_path=str(preds),
            prediction_file=RESULTS_NAME,
            label_files=LABELS_NAME,
            split="test",
            version=2,
            framerate=2,
            metric=metric,
            dataset=None,
            EVENT_DICTIONARY=EVENT_DICTIONARY_V2,
        )


def assert_same(ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    for key in RESULT_KEYS:
        np.testing.assert_allclose(
            np.asarray(ours[key], dtype=float),
            np.asarray(theirs[key], dtype=float),
            rtol=0,
            atol=1e-6,
            err_msg=key,
        )


def _annotation(half: int, ms: int, label: str, visibility: str) -> dict[str, str]:
    return {
        "gameTime": format_game_time(half, ms),
        "label": label,
        "position": str(ms),
        "team": "home",
        "visibility": visibility,
    }


def write_random_tree(
    rng: np.random.Generator, root: Path, num_games: int, canonical: bool = False
) -> None:
    """Labels and predictions with the awkward cases: missing classes, unshown events, events on
    one frame, predictions past the half's end, several predictions on one frame, ties, empty
    prediction lists."""
    classes = rng.choice(len(CLASSES), size=int(rng.integers(1, 18)), replace=False)
    for g in range(num_games):
        game = f"league/2015-2016/2015-08-0{g} - 17-00 Team A 1 - 0 Team 'B'"
        annotations, predictions = [], []
        for half in (1, 2):
            length_ms = int(rng.integers(60_000, 400_000))
            n_gt = int(rng.integers(0, 25))
            gt_ms = rng.integers(0, length_ms, n_gt)
            # Clusters of nearby events (greedy matching conflicts) and exact repeats.
            gt_ms = np.concatenate(
                [gt_ms, gt_ms[: n_gt // 3] + rng.integers(-3000, 3000, n_gt // 3)]
            )
            gt_ms = np.abs(gt_ms)
            gt_cls = rng.choice(classes, len(gt_ms))
            for ms, c in zip(gt_ms.tolist(), gt_cls.tolist(), strict=True):
                vis = "not shown" if rng.random() < 0.25 else "visible"
                annotations.append(_annotation(half, ms, CLASSES[c], vis))
            if rng.random() < 0.1:
                continue  # a half without predictions
            n_pred = int(rng.integers(0, 150))
            near = rng.random(n_pred) < 0.6
            pos = np.where(
                near & (len(gt_ms) > 0),
                np.abs(rng.choice(gt_ms, n_pred) + rng.integers(-20_000, 20_000, n_pred))
                if len(gt_ms)
                else 0,
                rng.integers(0, length_ms + 200_000, n_pred),  # some past the half's end
            )
            pos = (pos // 500) * 500 if rng.random() < 0.5 else pos  # grid-aligned or not
            cls = np.where(
                rng.random(n_pred) < 0.8, rng.choice(classes, n_pred), rng.integers(0, 17, n_pred)
            )
            conf = rng.random(n_pred)
            if rng.random() < 0.5:
                conf = np.round(conf * 4) / 4  # ties, 0.0 and 1.0
            for ms, c, v in zip(pos.tolist(), cls.tolist(), conf.tolist(), strict=True):
                predictions.append(
                    {
                        "gameTime": format_game_time(half, ms),
                        "label": CLASSES[c],
                        "position": str(ms),
                        "half": str(half),
                        "confidence": v,
                    }
                )
        (root / "labels" / game).mkdir(parents=True)
        (root / "labels" / game / LABELS_NAME).write_text(
            json.dumps({"UrlLocal": game, "annotations": annotations})
        )
        path = root / "preds" / game / RESULTS_NAME
        if canonical:  # our writer's layout, NMS-rounded values
            write_results(
                path,
                game,
                {
                    "half": np.array([int(p["half"]) for p in predictions], dtype=np.int64),
                    "label": np.array([CLASSES.index(p["label"]) for p in predictions]),
                    "position_ms": np.array([int(p["position"]) for p in predictions]),
                    "confidence": round_confidence([p["confidence"] for p in predictions]),
                },
            )
            continue
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps({"UrlLocal": game, "predictions": predictions}))


#: (seed, metric): the official evaluator takes seconds per case, so each case checks one metric.
CASES = [(s, "tight") for s in range(6)] + [(s, "loose") for s in range(6, 9)]
CASES += [(9 + k, f"at{k + 1}") for k in range(5)]


@pytest.mark.slow
@pytest.mark.parametrize(("seed", "metric"), CASES)
def test_matches_official_evaluator(tmp_path: Path, seed: int, metric: str) -> None:
    rng = np.random.default_rng(seed)
    write_random_tree(rng, tmp_path, num_games=int(rng.integers(1, 3)))
    ours = evaluate_games(tmp_path / "labels", tmp_path / "preds", metrics=[metric])[metric]
    assert_same(ours, official_evaluate(tmp_path / "labels", tmp_path / "preds", metric))


@pytest.mark.slow
@pytest.mark.parametrize("metric", ["tight", "loose"])
def test_matches_official_evaluator_on_our_files(tmp_path: Path, metric: str) -> None:
    write_random_tree(np.random.default_rng(100), tmp_path, num_games=2, canonical=True)
    ours = evaluate_games(tmp_path / "labels", tmp_path / "preds", metrics=[metric])[metric]
    assert_same(ours, official_evaluate(tmp_path / "labels", tmp_path / "preds", metric))


def test_missing_results_file_is_an_error_as_officially(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    write_random_tree(rng, tmp_path, num_games=2)
    victim = sorted((tmp_path / "preds").rglob(RESULTS_NAME))[0]
    victim.unlink()
    with pytest.raises(FileNotFoundError):
        official_evaluate(tmp_path / "labels", tmp_path / "preds", "at1")
    with pytest.raises(ValueError, match="results file missing"):
        evaluate_games(tmp_path / "labels", tmp_path / "preds", metrics=["at1"])
    # Opt-in: a missing file counts as a game without predictions.
    victim.parent.mkdir(parents=True, exist_ok=True)
    victim.write_text(json.dumps({"UrlLocal": "", "predictions": []}))
    want = evaluate_games(tmp_path / "labels", tmp_path / "preds", metrics=["at1"])
    victim.unlink()
    got = evaluate_games(tmp_path / "labels", tmp_path / "preds", metrics=["at1"], missing="empty")
    assert got == want
