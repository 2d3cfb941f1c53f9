"""Labels-v2.json: exact format, and parsed back by the SoccerNet package's own evaluation."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest
from SoccerNet.Evaluation.ActionSpotting import evaluate, label2vector
from SoccerNet.Evaluation.utils import EVENT_DICTIONARY_V2

from comedian.data.soccernet import LABELS_NAME, RESULTS_NAME
from comedian.synth import (
    Event,
    GamePlan,
    SynthConfig,
    labels_document,
    plan_dataset,
    write_labels,
)

GOLDEN = """{
    "UrlLocal": "germany_bundesliga/2015-2016/2015-10-03 - 15-30 Borussia M'gladbach 1 - 0 St. Pauli/",
    "UrlYoutube": "",
    "annotations": [
        {
            "gameTime": "1 - 00:02",
            "label": "Kick-off",
            "position": "2500",
            "team": "home",
            "visibility": "visible"
        },
        {
            "gameTime": "1 - 01:05",
            "label": "Ball out of play",
            "position": "65999",
            "team": "not applicable",
            "visibility": "not shown"
        },
        {
            "gameTime": "2 - 00:01",
            "label": "Kick-off",
            "position": "1000",
            "team": "away",
            "visibility": "visible"
        },
        {
            "gameTime": "2 - 47:05",
            "label": "Goal",
            "position": "2825000",
            "team": "home",
            "visibility": "visible"
        }
    ],
    "gameAwayTeam": "St. Pauli",
    "gameDate": "03/10/2015 - 15:30",
    "gameHomeTeam": "Borussia M'gladbach",
    "gameScore": "1 - 0"
}"""


def _toy_plan() -> GamePlan:
    events = (
        Event(2, 2825000, "Goal", "home", "visible"),  # unsorted on purpose
        Event(1, 2500, "Kick-off", "home", "visible"),
        Event(2, 1000, "Kick-off", "away", "visible"),
        Event(1, 65999, "Ball out of play", "not applicable", "not shown"),
    )
    return GamePlan(
        index=0,
        split="train",
        league="germany_bundesliga",
        season="2015-2016",
        home="Borussia M'gladbach",
        away="St. Pauli",
        kickoff=dt.datetime(2015, 10, 3, 15, 30),
        events=events,
        kits=(0, 1),
    )


def test_labels_file_matches_soccernet_format_exactly(tmp_path: Path) -> None:
    path = tmp_path / LABELS_NAME
    write_labels(_toy_plan(), path)
    assert path.read_text(encoding="utf-8") == GOLDEN
    assert list(labels_document(_toy_plan())) == [
        "UrlLocal",
        "UrlYoutube",
        "annotations",
        "gameAwayTeam",
        "gameDate",
        "gameHomeTeam",
        "gameScore",
    ]


def test_generated_labels_field_by_field(tiny_root: Path, tiny_cfg: SynthConfig) -> None:
    plans = plan_dataset(tiny_cfg)
    for plan in plans:
        path = tiny_root / plan.path / LABELS_NAME
        if not plan.labelled:
            assert not path.exists()  # challenge games have no labels, as in SoccerNet
            continue
        doc = json.loads(path.read_text(encoding="utf-8"))
        assert doc["UrlLocal"] == plan.path + "/" and doc["UrlYoutube"] == ""
        assert (doc["gameHomeTeam"], doc["gameAwayTeam"]) == (plan.home, plan.away)
        assert doc["gameScore"] == "{} - {}".format(*plan.score)
        assert plan.path.endswith(f"{plan.home} {doc['gameScore']} {plan.away}")
        day, time = doc["gameDate"].split(" - ")
        stamp = dt.datetime.strptime(day + time, "%d/%m/%Y%H:%M").strftime("%Y-%m-%d - %H-%M")
        assert plan.path.split("/")[2].startswith(stamp)
        keys = [list(a) for a in doc["annotations"]]
        assert all(k == ["gameTime", "label", "position", "team", "visibility"] for k in keys)
        halves = [int(a["gameTime"][0]) for a in doc["annotations"]]
        positions = [int(a["position"]) for a in doc["annotations"]]
        pairs = list(zip(halves, positions, strict=True))
        assert sorted(pairs) == pairs
        for a, half, pos in zip(doc["annotations"], halves, positions, strict=True):
            assert isinstance(a["position"], str) and a["position"] == str(pos)
            assert 0 <= pos < tiny_cfg.half_duration_s * 1000
            minutes, seconds = divmod(pos // 1000, 60)
            assert a["gameTime"] == f"{half} - {minutes:02d}:{seconds:02d}"
        assert len(doc["annotations"]) == len(plan.events)


def _write_ground_truth_predictions(
    cfg: SynthConfig, root: Path, pred_root: Path, shift_ms: int = 0
) -> int:
    """results_spotting.json per labelled game holding its ground truth; returns the game count."""
    n = 0
    for plan in plan_dataset(cfg):
        if not plan.labelled:
            continue
        predictions = [
            {
                "gameTime": a["gameTime"],
                "label": a["label"],
                "position": str(int(a["position"]) + shift_ms),
                "half": a["gameTime"][0],
                "confidence": 1.0,
            }
            for a in json.loads((root / plan.path / LABELS_NAME).read_text())["annotations"]
        ]
        out = pred_root / plan.path / RESULTS_NAME
        out.parent.mkdir(parents=True)
        out.write_text(json.dumps({"UrlLocal": plan.path, "predictions": predictions}))
        n += 1
    return n


@pytest.mark.parametrize(("shift_ms", "perfect"), [(0, True), (10_000, False)])
def test_soccernet_evaluation_parses_our_labels(
    tiny_root: Path, tiny_cfg: SynthConfig, tmp_path: Path, shift_ms: int, perfect: bool
) -> None:
    """The official evaluation, fed the ground truth as predictions, scores a perfect 1.0 on
    visible events (and less when predictions are 10 s late): it reads every label we write."""
    assert _write_ground_truth_predictions(tiny_cfg, tiny_root, tmp_path, shift_ms) == 3
    results = evaluate(
        SoccerNet_path=str(tiny_root),
        Predictions_path=str(tmp_path),
        prediction_file=RESULTS_NAME,
        label_files=LABELS_NAME,
        split=None,
        version=2,
        framerate=2,
        metric="tight",
        dataset=None,
        EVENT_DICTIONARY=EVENT_DICTIONARY_V2,
    )
    if perfect:
        assert results["a_mAP_visible"] == pytest.approx(1.0)
        assert results["a_mAP"] == pytest.approx(1.0)
    else:
        assert results["a_mAP_visible"] < 0.5


def test_soccernet_label2vector_reads_every_annotation(
    tiny_root: Path, tiny_cfg: SynthConfig
) -> None:
    """Every annotation lands in SoccerNet's label vectors: +1 visible, -1 not shown."""
    for plan in plan_dataset(tiny_cfg)[:3]:
        labels = json.loads((tiny_root / plan.path / LABELS_NAME).read_text())
        half1, half2 = label2vector(
            labels, num_classes=17, version=2, EVENT_DICTIONARY=EVENT_DICTIONARY_V2
        )
        both = np.stack([half1, half2])  # (2, frames, 17)
        assert (both == 1).sum() == sum(e.visibility == "visible" for e in plan.events)
        assert (both == -1).sum() == sum(e.visibility == "not shown" for e in plan.events)
        for e in plan.events:
            row = int(2 * e.position_ms / 1000)
            assert both[e.half - 1, row, EVENT_DICTIONARY_V2[e.label]] != 0
