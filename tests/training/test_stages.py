"""The fine-tuning and predict stages on a tiny dataset: outputs, resume after kill -9,
inference coverage, reference weights, bad inputs."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from comedian.cli import main
from comedian.models import model_from_checkpoint, to_reference_state_dict
from comedian.spotting.scores import find_raw_games, read_raw_game

from .conftest import ROWS, stage_args


def predict_args(ds: dict[str, Path], model: Path, out: Path, *extra: str) -> list[str]:
    """``comedian predict`` of the test split of the tiny dataset."""
    return ["predict", "--model", str(model), "--games", str(ds["games"]), "--frames",
            str(ds["frames"]), "--out", str(out), "--set", "split=test", "--num-workers", "0",
            *extra]  # fmt: skip


def test_finetune_head_then_finetune_then_predict(tiny_dataset, tmp_path):
    head = tmp_path / "finetune_head" / "run" / "model.pt"
    assert main(["finetune-head", *stage_args(tiny_dataset, head, "--epochs", "1")]) == 0
    out = head.parent
    assert {"model.pt", "last.pt", "train_log.csv", "config.resolved.yaml"} <= {
        p.name for p in out.iterdir()
    }
    assert not (out / ".resume").exists()
    doc = torch.load(head, weights_only=True)
    assert doc["arch"] == "vivit_tiny" and doc["model_kwargs"]["num_classes"] == 17
    assert "valid_tight" in doc["metrics"]
    log = pd.read_csv(out / "train_log.csv")
    # 2 halves x (2 edges + 1 random) = 6 clips at batch 2: 3 steps, then one validation row
    assert log["step"].dropna().tolist()[:3] == [1, 2, 3] and log["loss"].notna().sum() == 3
    assert log["valid_tight"].notna().sum() == 1
    # each step's lr is the one it trained with: peak 1e-3 x 2 / 256, then the cosine to 1/100
    # over the 3 steps (no warmup)
    peak = 1e-3 * 2 / 256
    want = [peak * (0.01 + 0.99 * (1 + math.cos(math.pi * s / 3)) / 2) for s in range(3)]
    assert log["lr"].dropna().tolist() == pytest.approx(want, rel=1e-5)
    full = tmp_path / "finetune" / "run" / "model.pt"
    assert (
        main(["finetune", *stage_args(tiny_dataset, full, "--epochs", "1", "--init", str(head))])
        == 0
    )
    a = torch.load(head, weights_only=True)["state_dict"]
    b = torch.load(full, weights_only=True)["state_dict"]
    assert not torch.equal(a["pos_embed"], b["pos_embed"])  # stage B trains the trunk too
    raw = tmp_path / "predict" / "run" / "test" / "raw"
    assert main(predict_args(tiny_dataset, full, raw, "--batch-size", "3")) == 0
    games = find_raw_games(raw)
    assert len(games) == 1
    scores = read_raw_game(raw, games[0])
    for half, rows in ROWS.items():
        # every row of both halves (150 even, 141 odd): one scored row per token (even rows)
        assert scores[half].shape == (rows, 17)
        assert (scores[half][0::2] > 0).all() and (scores[half][1::2] == 0).all()


def test_stage_a_freezes_the_trunk(tiny_dataset, tmp_path):
    out = tmp_path / "a" / "model.pt"
    main(
        [
            "finetune-head",
            *stage_args(tiny_dataset, out, "--epochs", "1", "--set", "valid_split=null"),
        ]
    )
    model = model_from_checkpoint(torch.load(out, weights_only=True))
    torch.manual_seed(0)
    # same seed, same init: the trunk of a fresh model equals the trained one
    from comedian.models import build_model
    from comedian.tasks.base import TrainTask

    from .conftest import TINY_MODEL

    TrainTask.seed_everything(0)
    fresh = build_model("vivit_tiny", **TINY_MODEL, num_classes=17)
    trained = model.state_dict()
    for name, value in fresh.state_dict().items():
        if name.startswith("head."):
            assert not torch.equal(value, trained[name])
        else:
            assert torch.equal(value, trained[name]), name


KILL_AT_STEP = Path(__file__).resolve().parents[1] / "kill_at_step.py"


@pytest.mark.parametrize("devices", ["1", "2"])
def test_killed_training_resumes_exactly_from_its_rolling_checkpoint(
    devices, tiny_dataset, tmp_path
):
    """finetune-head with validation, killed -9 after step 5 (checkpoint at 4, mid-epoch in
    the second epoch of 3 steps): the rerun's log, losses and validation metrics included, is
    the uninterrupted run's; on one process and as 2 DDP ranks (gloo), whose sampler must be
    positioned by this rank's share of an epoch."""

    def cmd(out: Path) -> list[str]:
        return [sys.executable, "-m", "comedian", "finetune-head",
                *stage_args(tiny_dataset, out, "--epochs", "3", "--checkpoint-every-n-steps",
                            "4", "--accelerator", "cpu", "--devices", devices)]  # fmt: skip

    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    whole = tmp_path / "whole" / "model.pt"
    run = subprocess.run(cmd(whole), capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    out = tmp_path / "ft" / "model.pt"
    killed = subprocess.run([cmd(out)[0], str(KILL_AT_STEP), "5", *cmd(out)[3:]],
                            capture_output=True, text=True, env=env, timeout=600)  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    ckpt = out.parent / ".resume" / "last.ckpt"
    assert torch.load(ckpt, weights_only=True)["global_step"] == 4
    assert _steps(out.parent / ".resume" / "train_log.csv")[-1] == 5
    assert not out.exists()  # no output that looks complete
    rerun = subprocess.run(cmd(out), capture_output=True, text=True, env=env, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "resuming from" in rerun.stderr and not (out.parent / ".resume").exists()
    expected = (whole.parent / "train_log.csv").read_text()
    assert (out.parent / "train_log.csv").read_text() == expected
    assert pd.read_csv(out.parent / "train_log.csv")["loss"].notna().sum() == 3 * 3
    a, b = (torch.load(p, weights_only=True)["state_dict"] for p in (whole, out))
    for name, value in a.items():
        assert torch.equal(value, b[name]), name


def _steps(log: Path) -> list[int]:
    if not log.exists():
        return []
    try:
        return pd.read_csv(log)["step"].tolist()
    except (pd.errors.EmptyDataError, KeyError):
        return []


def test_predict_from_a_reference_layout_checkpoint_matches_the_export(tiny_dataset, tmp_path):
    from comedian.models import build_model
    from comedian.training import export_model

    from .conftest import TINY_MODEL

    torch.manual_seed(1)
    # the reference ViViT-Tiny has 3 heads (not in its keys, so a release must use them)
    kwargs = {
        **TINY_MODEL,
        "embed_dim": 24,
        "num_heads": 3,
        "temporal_num_heads": 3,
        "num_classes": 17,
    }
    model = build_model("vivit_tiny", **kwargs)
    export_model(tmp_path / "ours.pt", model, arch="vivit_tiny", model_kwargs=kwargs, config={})
    torch.save(to_reference_state_dict(model), tmp_path / "reference.pth")
    outs = []
    for name, extra in (("ours.pt", []), ("reference.pth", ["--arch", "vivit_tiny"])):
        raw = tmp_path / name.replace(".", "_")
        assert main(predict_args(tiny_dataset, tmp_path / name, raw, *extra)) == 0
        outs.append(read_raw_game(raw, find_raw_games(raw)[0]))
    for half in ROWS:
        np.testing.assert_allclose(outs[0][half], outs[1][half], atol=1e-6)


def test_bad_inputs_are_one_line_errors(tiny_dataset, tmp_path, capsys):
    # --out over the --init file, a text file as model, a missing split
    head = tmp_path / "x.pt"
    head.write_text("not a model")
    rc = main(["finetune", *stage_args(tiny_dataset, head, "--init", str(head))])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "--init" in err[0]
    rc = main(
        [
            "predict",
            "--model",
            str(head),
            "--games",
            str(tiny_dataset["games"]),
            "--frames",
            str(tiny_dataset["frames"]),
            "--out",
            str(tmp_path / "r"),
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and len(err) == 1 and str(head) in err[0]
    assert head.read_text() == "not a model"
