"""The NMS sweep in one or several processes equals nms + evaluate through results files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from spotting_synth import write_tree

from comedian.data.soccernet import CLASSES, LABELS_NAME, RESULTS_NAME
from comedian.spotting.metrics import evaluate_games, read_labels
from comedian.spotting.results import peaks_to_predictions, write_results
from comedian.spotting.scores import read_raw_game
from comedian.spotting.settings import NmsSetting
from comedian.spotting.sweep import grid, sweep_nms
from comedian.stages.nms import apply_nms

SETTINGS = [
    *grid(["soft"], [4, 20], [0.001, 0.3], [0.0, 0.5]),
    *grid(["hard"], [2, 12], [0.01]),
    NmsSetting("soft", 12, 0.01, windows_per_class={"Goal": 30, "Corner": 3}),
]


@pytest.fixture(scope="module")
def games(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[str]]:
    root = tmp_path_factory.mktemp("sweep")
    names = write_tree(root / "labels", root / "raw", np.random.default_rng(3), 4)
    return root / "labels", root / "raw", names


@pytest.fixture(scope="module")
def reference(
    games: tuple[Path, Path, list[str]], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict]:
    """Tight and loose results of each setting the long way: nms, results files, evaluate."""
    labels, raw, names = games
    out = {}
    for setting in SETTINGS:
        root = tmp_path_factory.mktemp(setting.slug)
        for game in names:
            peaks = apply_nms(setting, read_raw_game(raw, game))
            write_results(root / game / RESULTS_NAME, game, peaks_to_predictions(peaks))
        out[setting.slug] = evaluate_games(labels, root, names, ["tight", "loose"])
    return out


@pytest.mark.parametrize("workers", [1, 2])
def test_sweep_equals_nms_and_evaluate(
    games: tuple[Path, Path, list[str]], reference: dict[str, dict], workers: int
) -> None:
    labels, raw, names = games
    table = sweep_nms(
        [read_raw_game(raw, g) for g in names],
        [read_labels(labels / g / LABELS_NAME) for g in names],
        SETTINGS,
        workers=workers,
    )
    assert table["setting"].tolist() == [s.slug for s in SETTINGS]  # grid order
    assert len(set(table["tight"])) > 5  # the settings differ
    for _, row in table.iterrows():
        want = reference[row["setting"]]
        assert row["tight"] == want["tight"]["a_mAP"]  # exactly, not approximately
        assert row["loose"] == want["loose"]["a_mAP"]
        per_class = [row[f"tight/{c}"] for c in CLASSES]
        assert per_class == want["tight"]["a_mAP_per_class"]


def test_sweep_refuses_a_bad_worker_count(games: tuple[Path, Path, list[str]]) -> None:
    labels, raw, names = games
    with pytest.raises(ValueError, match="sweep workers: 0 is not an integer >= 1"):
        sweep_nms(
            [read_raw_game(raw, names[0])],
            [read_labels(labels / names[0] / LABELS_NAME)],
            SETTINGS,
            workers=0,
        )


def test_stage_workers_option() -> None:
    from comedian.config import ConfigError
    from comedian.stages.sweep import Config

    assert Config().workers == 0  # every usable CPU
    assert Config(workers=2).workers == 2
    with pytest.raises(ConfigError, match=r"sweep workers: must be in 0..1024, got -1"):
        Config(workers=-1)
