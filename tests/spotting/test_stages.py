"""Stages nms, evaluate, sweep, ensemble on a small synthetic tree, through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from spotting_synth import write_tree

from comedian.cli import main
from comedian.data.games import games_table, write_games_table
from comedian.data.soccernet import RESULTS_NAME
from comedian.spotting.metrics import RESULT_KEYS
from comedian.spotting.results import read_results
from comedian.spotting.scores import read_raw_game


def run_ok(argv: list[str]) -> None:
    """Run a stage through the command line; it must succeed (exit status 0)."""
    assert main(argv) == 0, f"comedian {' '.join(argv)} failed"


@pytest.fixture()
def tree(tmp_path: Path) -> tuple[Path, Path, list[str]]:
    games = write_tree(tmp_path / "labels", tmp_path / "raw", np.random.default_rng(0), 3)
    return tmp_path / "labels", tmp_path / "raw", games


def test_nms_evaluate_sweep_agree(tmp_path: Path, tree: tuple[Path, Path, list[str]]) -> None:
    labels, raw, games = tree
    out = tmp_path / "nms" / "soft_w12_t0.01_m0"
    run_ok(
        [
            "nms",
            "--raw",
            str(raw),
            "--out",
            str(out),
            "--window",
            "12",
            "--threshold",
            "0.01",
            "--zip",
            str(tmp_path / "sub.zip"),
        ]
    )
    assert all((out / g / RESULTS_NAME).is_file() for g in games)
    assert (tmp_path / "sub.zip").is_file()
    resolved = yaml.safe_load((out / "config.resolved.yaml").read_text())
    assert resolved["stage"] == "nms" and resolved["config"]["window"] == 12
    preds = read_results(out / games[0] / RESULTS_NAME)
    assert len(preds["half"]) > 0 and preds["confidence"].min() >= 0.01

    metrics = tmp_path / "eval" / "metrics.json"
    run_ok(["evaluate", "--labels", str(labels), "--predictions", str(out), "--out", str(metrics)])
    result = json.loads(metrics.read_text())
    assert set(result) == {"tight", "loose", "at1", "at2", "at3", "at4", "at5"}
    assert set(result["tight"]) == set(RESULT_KEYS)
    assert 0 < result["tight"]["a_mAP"] <= 1

    table_path = tmp_path / "sweep" / "sweep.tsv"
    run_ok(
        [
            "sweep",
            "--raw",
            str(raw),
            "--labels",
            str(labels),
            "--out",
            str(table_path),
            "--set",
            "windows=[12, 20]",
            "--set",
            "thresholds=[0.01]",
            "--set",
            "kinds=[soft, hard]",
        ]
    )
    table = pd.read_csv(table_path, sep="\t")
    assert list(table["setting"]) == [
        "soft_w12_t0.01_m0",
        "soft_w20_t0.01_m0",
        "hard_w12_t0.01_m0",
        "hard_w20_t0.01_m0",
    ]
    assert (tmp_path / "sweep" / "heatmap.png").stat().st_size > 0
    row = table.set_index("setting").loc["soft_w12_t0.01_m0"]
    # The in-memory sweep equals NMS + JSON + evaluate (TSV keeps 6 decimals).
    assert row["tight"] == pytest.approx(result["tight"]["a_mAP"], abs=1e-6)
    assert row["loose"] == pytest.approx(result["loose"]["a_mAP"], abs=1e-6)


def test_evaluate_split_needs_games_table(
    tmp_path: Path, tree: tuple[Path, Path, list[str]]
) -> None:
    labels, raw, games = tree
    out = tmp_path / "nms"
    run_ok(["nms", "--raw", str(raw), "--out", str(out)])
    table = games_table([("test", games[0]), ("valid", games[1]), ("valid", games[2])])
    write_games_table(table, tmp_path / "games.tsv")
    one = tmp_path / "one.json"
    run_ok(
        [
            "evaluate",
            "--labels",
            str(labels),
            "--predictions",
            str(out),
            "--out",
            str(one),
            "--games",
            str(tmp_path / "games.tsv"),
            "--split",
            "test",
            "--metric",
            "tight",
        ]
    )
    assert set(json.loads(one.read_text())) == {"tight"}
    with pytest.raises(ValueError, match="needs --games"):
        main(
            [
                "evaluate",
                "--debug",
                "--labels",
                str(labels),
                "--predictions",
                str(out),
                "--out",
                str(one),
                "--split",
                "test",
            ]
        )


def test_ensemble_mean_and_max(tmp_path: Path, tree: tuple[Path, Path, list[str]]) -> None:
    _, raw, games = tree
    other = tmp_path / "raw2"
    for g in games:
        from comedian.spotting.scores import write_raw_game

        write_raw_game(other, g, {h: s * 0.5 for h, s in read_raw_game(raw, g).items()})
    run_ok(["ensemble", "--raw", str(raw), str(other), "--out", str(tmp_path / "mean")])
    run_ok(
        [
            "ensemble",
            "--raw",
            str(raw),
            str(other),
            "--out",
            str(tmp_path / "max"),
            "--reduce",
            "max",
        ]
    )
    src = read_raw_game(raw, games[1])
    np.testing.assert_allclose(
        read_raw_game(tmp_path / "mean", games[1])[2], src[2] * 0.75, rtol=1e-6
    )
    np.testing.assert_array_equal(read_raw_game(tmp_path / "max", games[1])[1], src[1])
    assert (tmp_path / "mean" / "config.resolved.yaml").is_file()
