"""Real SoccerNet-v2 annotations: two vendored Labels-v2.json (tests/fixtures/soccernet_v2) for
parsing, targets and the metric against the official evaluator, and all 500 public files from
``../shared/data/soccernet_v2_labels.tar.xz`` when that archive is present."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import numpy as np
import pytest

from comedian.data.labels import frame_targets, parse_labels, read_labels
from comedian.data.soccernet import CLASSES, LABELS_NAME, NUM_CLASSES
from comedian.spotting.metrics import evaluate_games, find_games
from comedian.spotting.results import write_results

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "soccernet_v2"
ARCHIVE = REPO.parent / "shared" / "data" / "soccernet_v2_labels.tar.xz"
LAS_PALMAS = "spain_laliga/2016-2017/2017-05-14 - 21-00 Las Palmas 1 - 4 Barcelona"


def test_vendored_labels_parse_with_hand_checked_facts() -> None:
    table = read_labels(FIXTURES / LAS_PALMAS / LABELS_NAME)
    assert len(table) == 125
    first = table.iloc[0]  # '1 - 00:00', Kick-off at 220 ms, away, visible
    assert (first["half"], first["position_ms"], first["label"]) == (1, 220, "Kick-off")
    assert (first["team"], first["visibility"]) == ("away", "visible")
    doc = json.loads((FIXTURES / LAS_PALMAS / LABELS_NAME).read_text(encoding="utf-8"))
    raw_goals = sorted(int(a["position"]) for a in doc["annotations"] if a["label"] == "Goal")
    assert len(raw_goals) == 6  # a 1 - 4 game whose file holds 6 "Goal" annotations
    assert sorted(table.loc[table["label"] == "Goal", "position_ms"]) == raw_goals
    assert find_games(FIXTURES) == sorted(p.parent.relative_to(FIXTURES).as_posix()
                                          for p in FIXTURES.rglob(LABELS_NAME))  # fmt: skip


def test_frame_targets_of_the_kick_off() -> None:
    table = read_labels(FIXTURES / LAS_PALMAS / LABELS_NAME)
    half1 = table[table["half"] == 1]
    idx = half1["label"].map(CLASSES.index).to_numpy()
    targets = frame_targets(half1["position_ms"].to_numpy(), idx, num_frames=10)
    kick_off = CLASSES.index("Kick-off")
    # 220 ms: frames at 0 s and 0.5 s lie within 0.5 s of it, 1.0 s (780 ms away) does not
    assert targets.shape == (10, NUM_CLASSES)
    assert targets[:3, kick_off].tolist() == [1, 1, 0]


def _jittered_predictions(labels_root: Path, preds_root: Path, seed: int) -> None:
    """Predictions near the real events (+-8 s), some spurious ones, random confidences."""
    rng = np.random.default_rng(seed)
    for game in find_games(labels_root):
        table = read_labels(labels_root / game / LABELS_NAME)
        n = len(table)
        extra = 40
        half = np.r_[table["half"].to_numpy(), rng.integers(1, 3, extra)]
        pos = np.r_[table["position_ms"].to_numpy() + rng.integers(-8000, 8000, n),
                    rng.integers(0, 2_700_000, extra)]  # fmt: skip
        label = np.r_[table["label"].map(CLASSES.index).to_numpy(), rng.integers(0, 17, extra)]
        predictions = {
            "half": half.astype(np.int64),
            "label": label.astype(np.int64),
            "position_ms": np.maximum(pos, 0).astype(np.int64),
            "confidence": rng.random(n + extra),
        }
        write_results(preds_root / game / "results_spotting.json", game, predictions)


@pytest.mark.slow
@pytest.mark.parametrize("metric", ["tight", "loose"])
def test_metric_on_real_labels_matches_official_evaluator(tmp_path: Path, metric: str) -> None:
    from test_metrics_official import assert_same, official_evaluate

    _jittered_predictions(FIXTURES, tmp_path / "preds", seed=1)
    ours = evaluate_games(FIXTURES, tmp_path / "preds", metrics=[metric])[metric]
    assert_same(ours, official_evaluate(FIXTURES, tmp_path / "preds", metric))
    assert 0.05 < ours["a_mAP"] < 1.0  # jitter up to 8 s: loose and tight both partly right


def test_all_500_public_label_files_parse() -> None:
    if not ARCHIVE.is_file():
        pytest.skip(f"{ARCHIVE} not present (the 500 public SoccerNet-v2 label files)")
    games, annotations = 0, 0
    with tarfile.open(ARCHIVE, "r:xz") as tar:
        for member in tar:
            if not member.isfile() or not member.name.endswith("/" + LABELS_NAME):
                continue
            name = member.name.removeprefix("labels/").removesuffix("/" + LABELS_NAME)
            assert "'" not in name  # real game paths hold no apostrophes (README)
            doc = json.load(tar.extractfile(member))  # type: ignore[arg-type]
            table = parse_labels(doc, source=member.name)
            games += 1
            annotations += len(table)
    assert (games, annotations) == (500, 110_458)  # the official counts
