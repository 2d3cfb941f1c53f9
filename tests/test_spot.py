"""``comedian spot`` on synthetic halves (and a 1280x720 30 fps re-encode) with a tiny model."""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
import torch

from comedian.cli import main
from comedian.data.soccernet import CLASS_INDEX, NUM_CLASSES, RESULTS_NAME
from comedian.models import build_model, to_reference_state_dict
from comedian.spotting.results import read_results
from comedian.stages.spot import Config, spot_scores
from comedian.synth.generate import write_half
from comedian.training import export_model
from comedian.viewer import video_url
from tiny_spotting import SPOT_KWARGS

#: 20 s halves: 40 rows at 2 fps, one 64 s window (the window is padded past the end).
HALF_S = 20.0
ROWS = 40


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("spot match")  # a space, as real game folders have
    game = root / "my match"
    game.mkdir()
    out = {"h1": game / "1.mkv", "h2": game / "2.mkv", "hd": game / "1_720p30.mp4"}
    write_half(out["h1"], HALF_S, seed=0, half=1)
    write_half(out["h2"], HALF_S, seed=1, half=2)
    subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-loglevel",
            "error",
            "-i",
            str(out["h1"]),
            "-vf",
            "scale=1280:720",
            "-r",
            "30",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            str(out["hd"]),
        ],
        check=True,
    )
    torch.manual_seed(0)
    model = build_model("vivit_tiny", **SPOT_KWARGS)
    out["model"] = root / "model.pt"
    export_model(out["model"], model, arch="vivit_tiny", model_kwargs=SPOT_KWARGS, config={})
    out["reference"] = root / "reference.pth"
    torch.save(to_reference_state_dict(model), out["reference"])
    out["text"] = root / "text.pth"
    out["text"].write_text("not weights\n")
    out["fake_video"] = root / "fake.mp4"
    out["fake_video"].write_bytes(b"\x00\x00\x00\x18ftypmp42 not a video" * 50)
    return out


def _spot(files: dict[str, Path], out: Path, *videos: str, extra: tuple[str, ...] = ()) -> int:
    argv = ["spot", "--video", *(str(files[v]) for v in videos), "--weights"]
    return main([*argv, str(files["model"]), "--out", str(out), "--num-workers", "0", *extra])


def _official_vectors(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The official evaluator's reader of a results file: two (frames, 17) arrays, -1 = none."""
    official = pytest.importorskip("SoccerNet.Evaluation.ActionSpotting")
    doc = json.loads(path.read_text(encoding="utf-8"))
    return official.predictions2vector(doc, 17, 2, 2, official.EVENT_DICTIONARY_V2)


@pytest.mark.parametrize("video", ["h1", "hd"])
def test_one_video_writes_json_csv_png(files: dict[str, Path], tmp_path: Path, video: str) -> None:
    out = tmp_path / "out"
    assert _spot(files, out, video) == 0
    preds = read_results(out / RESULTS_NAME)
    assert set(preds["half"].tolist()) == {1}
    assert preds["position_ms"].max() < ROWS * 500  # inside the 20 s half
    # soft NMS, window 20 rows: every class emits at least one peak of its 40 rows
    assert set(preds["label"].tolist()) == set(range(NUM_CLASSES))
    half1, half2 = _official_vectors(out / RESULTS_NAME)
    assert (half2 == -1).all()
    rows, classes = np.nonzero(half1 > -1)
    assert len(rows) == len(preds["half"])  # every prediction lands on a distinct frame/class
    np.testing.assert_array_equal(
        half1[preds["position_ms"] // 500, preds["label"]], preds["confidence"]
    )
    with open(out / "events.csv", newline="", encoding="utf-8") as f:
        events = list(csv.DictReader(f))
    assert len(events) == len(preds["half"])
    assert {"half", "time", "game_time", "label", "confidence"} <= set(events[0])
    np.testing.assert_array_equal(
        [CLASS_INDEX[e["label"]] for e in events], preds["label"]
    )  # same order as the JSON
    np.testing.assert_array_equal([float(e["confidence"]) for e in events], preds["confidence"])
    np.testing.assert_array_equal([float(e["time"]) * 1000 for e in events], preds["position_ms"])
    assert (out / "timeline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (out / "viewer.html").read_text(encoding="utf-8")
    assert f'"videos":{{"1":"{video_url(files[video], out)}"}}' in page  # relative to --out
    assert "%20match/" in video_url(files[video], out)
    assert json.loads((out / RESULTS_NAME).read_text())["UrlLocal"] == "my match"


def test_two_videos_give_both_halves_and_nms_options(
    files: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    assert _spot(files, out, "h1", "h2", extra=("--kind", "hard", "--threshold", "0.5")) == 0
    preds = read_results(out / RESULTS_NAME)
    assert set(preds["half"].tolist()) == {1, 2}
    assert (preds["confidence"] >= 0.5).all()  # hard NMS keeps peaks at or above its threshold
    half1, half2 = _official_vectors(out / RESULTS_NAME)
    assert (half1 > -1).sum() + (half2 > -1).sum() == len(preds["half"])


def test_reference_layout_gives_the_same_scores(files: dict[str, Path]) -> None:
    ours = spot_scores(Config(num_workers=0), (files["h1"],), files["model"])
    ref = spot_scores(Config(num_workers=0, arch="vivit_tiny"), (files["h1"],), files["reference"])
    assert ours[1].shape == (ROWS, NUM_CLASSES)
    np.testing.assert_allclose(ours[1], ref[1], atol=1e-6)


@pytest.mark.parametrize(
    ("case", "names"),
    [
        ("fake_video", "fake_video"),
        ("missing_video", "missing"),
        ("text_weights", "text"),
        ("other_arch", "model"),
        ("reference_without_arch", "reference"),
    ],
)
def test_bad_inputs_are_one_line_errors(
    files: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    case: str,
    names: str,
) -> None:
    video, weights, extra = files["h1"], files["model"], []
    if case == "fake_video":
        video = files["fake_video"]
    elif case == "missing_video":
        video = tmp_path / "missing.mkv"
    elif case == "text_weights":
        weights = files["text"]
    elif case == "other_arch":
        extra = ["--arch", "viswin_tiny"]
    else:
        weights = files["reference"]
    argv = ["spot", "--video", str(video), "--weights", str(weights), "--out", str(tmp_path / "o")]
    assert main([*argv, *extra]) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert err[-1].startswith("comedian spot: ") and "Traceback" not in "".join(err)
    named = video if case.endswith("video") else weights
    assert str(named) in err[-1]
    assert not (tmp_path / "o").exists()


def test_three_videos_are_a_usage_error(files: dict[str, Path], tmp_path: Path, capsys) -> None:
    assert _spot(files, tmp_path / "o", "h1", "h2", "hd") == 2
    assert "--video" in capsys.readouterr().err.strip().splitlines()[-1]
