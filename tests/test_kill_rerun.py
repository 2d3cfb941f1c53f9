"""``kill -9`` of synth, decode and nms mid-run, then a rerun: complete outputs, no temporary
file left anywhere, and ``comedian.report`` works (before the rerun too: it skips them)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from comedian.atomic import temporary_target
from comedian.data.frames import FrameStore
from comedian.data.soccernet import LABELS_NAME, NUM_CLASSES, RESULTS_NAME
from comedian.report import main as report_main
from comedian.spotting.results import read_results
from comedian.spotting.scores import write_raw_game

SYNTH = ["--set=seed=2", "--set=train=0", "--set=valid=0", "--set=test=1", "--set=challenge=0",
         "--set=half_duration_s=20", "--set=workers=1"]  # fmt: skip


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


def _temporaries(root: Path) -> list[Path]:
    return [p for p in root.rglob(".*") if temporary_target(p.name) is not None]


PAUSE = Path(__file__).resolve().parent / "pause_before_rename.py"


def _kill_when_writing(argv: list[str], watch: Path, timeout_s: float = 300.0) -> None:
    """Run ``comedian argv`` until it is about to rename its first temporary file into place
    (it then waits there: tests/pause_before_rename.py), SIGKILL its process group, and check
    that the temporary was left behind under ``watch``. No timing: the kill always lands
    mid-write."""
    marker = Path(tempfile.mkdtemp()) / "paused"
    proc = subprocess.Popen(
        [sys.executable, str(PAUSE), *argv],
        env={**_env(), "COMEDIAN_TEST_PAUSED": str(marker)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own group: ffmpeg and pool workers die with it
    )
    deadline = time.monotonic() + timeout_s
    try:
        while not marker.exists():  # the state it needs, however long it takes to get there
            if proc.poll() is not None:
                pytest.fail(f"comedian {argv[0]} ended (rc {proc.returncode}) before it was killed")
            if time.monotonic() > deadline:
                pytest.fail(f"comedian {argv[0]} renamed no temporary file in {timeout_s} s")
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    tmp = Path(marker.read_text())
    shutil.rmtree(marker.parent)
    assert tmp.exists() and watch in tmp.parents, tmp
    assert _temporaries(watch), "the kill left nothing to clean: not mid-write"


def _run(argv: list[str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "comedian", *argv], env=_env(), capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr


def test_kill_9_then_rerun(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, results = tmp_path / "data", tmp_path / "results"

    # synth: killed while a video is being encoded, then rerun
    _kill_when_writing(["synth", "--out", str(data), *SYNTH], data)
    _run(["synth", "--out", str(data), *SYNTH])
    assert _temporaries(data) == []
    (labels,) = data.rglob(LABELS_NAME)
    game = labels.parent
    for half in (1, 2):
        assert (game / f"{half}_224p.mkv").stat().st_size > 0

    # decode: killed while the store is written, report still works, then rerun
    store = results / "decode" / "25fps" / "g" / "1.frames"
    decode = ["decode", "--video", str(game / "1_224p.mkv"), "--out", str(store), "--fps", "25",
              "--set", "jpeg_quality=100"]  # fmt: skip
    _kill_when_writing(decode, store.parent)
    assert not store.exists()
    assert report_main([str(results)]) == 0
    assert "decode 25fps: 0 halves, 0 frames" in capsys.readouterr().out
    _run(decode)
    assert _temporaries(results) == []
    assert len(FrameStore(store)) == 20 * 25
    assert report_main([str(results)]) == 0
    assert "decode 25fps: 1 halves, 500 frames" in capsys.readouterr().out

    # nms: killed while results are written, then rerun
    raw, out = tmp_path / "raw", results / "nms" / "soft"
    rng = np.random.default_rng(0)
    games = [f"league/season/game {i:03d}" for i in range(60)]
    for g in games:
        scores = {h: rng.random((5400, NUM_CLASSES), dtype=np.float32) ** 8 for h in (1, 2)}
        write_raw_game(raw, g, scores)
    nms = ["nms", "--raw", str(raw), "--out", str(out)]
    _kill_when_writing(nms, out.parent)
    _run(nms)
    assert _temporaries(results) == []
    assert sorted(p.parent.relative_to(out).as_posix() for p in out.rglob(RESULTS_NAME)) == games
    for g in games:
        read_results(out / g / RESULTS_NAME)
    assert report_main([str(results)]) == 0
