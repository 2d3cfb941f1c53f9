"""Report figures (comedian.plots)."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.image
import numpy as np
import pandas as pd
import pytest

from comedian.data.labels import parse_labels
from comedian.errors import InputError
from comedian.plots import (
    plot_class_ap,
    plot_game_timeline,
    plot_summary_table,
    plot_timeline,
    plot_training_curves,
    read_metrics_files,
    training_log_name,
    truth_arrays,
)
from comedian.spotting.results import peaks_to_predictions, write_results


def _image(path: Path) -> np.ndarray:
    img = matplotlib.image.imread(path)  # (H, W, 4) floats in [0, 1]
    assert img.ndim == 3 and img.shape[0] > 50 and img.shape[1] > 50
    assert img[..., :3].std() > 0.01  # something is drawn, not a blank canvas
    return img


LABELS = {
    "annotations": [
        {
            "gameTime": "2 - 00:03",
            "label": "Corner",
            "position": "3000",
            "visibility": "visible",
            "team": "home",
        },
        {
            "gameTime": "1 - 01:00",
            "label": "Goal",
            "position": "60000",
            "visibility": "visible",
            "team": "home",
        },
    ]
}


def test_truth_arrays_from_a_labels_table() -> None:
    truth = truth_arrays(parse_labels(LABELS))
    np.testing.assert_array_equal(truth["half"], [1, 2])  # sorted by half, then position
    np.testing.assert_array_equal(truth["label"], [2, 13])  # Goal, Corner
    np.testing.assert_array_equal(truth["position_ms"], [60000, 3000])


def test_timeline_of_a_game(tmp_path: Path) -> None:
    peaks = {1: np.zeros((240, 17)), 2: np.zeros((10, 17))}
    peaks[1][120, 2] = 0.9  # a Goal at 60 s: on its ground truth
    peaks[2][3, 0] = 0.2
    write_results(tmp_path / "r.json", "g", peaks_to_predictions(peaks))
    (tmp_path / "labels.json").write_text(json.dumps(LABELS))
    plot_game_timeline(tmp_path / "t.png", tmp_path / "r.json", tmp_path / "labels.json")
    two = _image(tmp_path / "t.png")
    plot_timeline(tmp_path / "one.png", peaks_to_predictions({1: peaks[1]}))
    one = _image(tmp_path / "one.png")
    assert two.shape[0] > 1.5 * one.shape[0]  # a panel a half
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # atomic


def _metrics(tight: float) -> dict:
    per_class = np.linspace(0, 1, 17).tolist()
    return {k: {"a_mAP": tight, "a_mAP_per_class": per_class} for k in ("tight", "loose")}


def test_class_ap_and_metrics_names(tmp_path: Path) -> None:
    files = []
    for run, split in (("vivit", "valid"), ("vivit", "test")):
        f = tmp_path / "results" / "evaluate" / run / split / "soft_w20_t0.001_m0" / "metrics.json"
        f.parent.mkdir(parents=True)
        f.write_text(json.dumps(_metrics(0.5)))
        files.append(f)
    docs = read_metrics_files(files)
    assert list(docs) == ["vivit valid", "vivit test"]
    plot_class_ap(tmp_path / "ap.png", docs)
    _image(tmp_path / "ap.png")
    bad = {"x": {"tight": {"a_mAP": 0.1, "a_mAP_per_class": [0.1] * 3}}}
    with pytest.raises(InputError, match="x: tight a_mAP_per_class has 3 values"):
        plot_class_ap(tmp_path / "bad.png", bad)
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(InputError, match="broken.json"):
        read_metrics_files([tmp_path / "broken.json"])


def test_training_curves(tmp_path: Path) -> None:
    logs = {}
    for stage in ("teacher", "finetune/vivit"):
        path = tmp_path / stage.replace("/", "_") / "train_log.csv"
        path.parent.mkdir()
        valid = [np.nan, 0.1, np.nan, 0.2] if stage != "teacher" else [np.nan] * 4
        pd.DataFrame(
            {
                "step": [1, 2, 3, 4],
                "epoch": 0,
                "lr": 1e-3,
                "loss": [4, 3, 2, 1],
                "valid_tight": valid,
            }
        ).to_csv(path, index=False)
        logs[stage] = path
    plot_training_curves(tmp_path / "curves.png", logs)
    _image(tmp_path / "curves.png")
    bad = tmp_path / "bad.csv"
    bad.write_text("step,lr\n1,0.1\n")
    with pytest.raises(InputError, match=r"bad.csv: training log lacks column\(s\) loss"):
        plot_training_curves(tmp_path / "x.png", {"x": bad})
    assert training_log_name("results/finetune/vivit/train_log.csv") == "finetune/vivit"
    assert training_log_name("results/teacher/train_log.csv") == "teacher"


def test_summary_table(tmp_path: Path) -> None:
    tsv = tmp_path / "summary.tsv"
    tsv.write_text("run\tsplit\tnms\ttight\tloose\nvivit\ttest\tsoft_w20_t0.001_m0\t0.2\t0.3\n")
    plot_summary_table(tmp_path / "s.png", tsv)
    _image(tmp_path / "s.png")
    (tmp_path / "bad.tsv").write_text("a\tb\n1\t2\n")
    with pytest.raises(InputError, match="bad.tsv: summary table lacks"):
        plot_summary_table(tmp_path / "b.png", tmp_path / "bad.tsv")


def test_summary_text_keeps_long_run_names_apart(tmp_path: Path) -> None:
    from comedian.report import summary_text

    tsv = tmp_path / "summary.tsv"
    tsv.write_text(
        "run\tsplit\tnms\ttight\tloose\n"
        "released_ensemble\tvalid\tsoft_w20_t0.001_m0\t0.1571\t0.3816\n"
        "vivit\ttest\tsoft_w20_t0.001_m0\t0.8421\t0.8712\n"
    )
    lines = summary_text(tsv).splitlines()
    assert lines[1].split() == ["run", "split", "nms", "tight", "loose"]
    assert lines[2].split() == [
        "released_ensemble",
        "valid",
        "soft_w20_t0.001_m0",
        "15.71",
        "38.16",
    ]
    assert lines[3].split() == ["vivit", "test", "soft_w20_t0.001_m0", "84.21", "87.12"]
    assert len({len(line) for line in lines[1:]}) == 1  # aligned columns
