"""The pretraining stages after SIGKILL resume from their rolling checkpoint, and run as 2
Lightning DDP processes (gloo) with their data sharded and their queue gathered over the ranks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from pretrain_tiny import csv_steps, stage_args

from comedian.losses import FeatureQueue

HERE = Path(__file__).resolve().parent


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "OMP_NUM_THREADS": "1"}


def _comedian(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "comedian", *args]


@pytest.mark.parametrize("stage", ["pretrain", "teacher", "distill"])
def test_a_killed_training_stage_resumes_from_its_rolling_checkpoint(
    stage, tiny_data, chain, tmp_path
):
    out = tmp_path / stage / "model.pt"
    ckpt = out.parent / ".resume/last.ckpt"
    epochs = 8  # 2 steps an epoch: more than run between the first checkpoint and the kill
    args = stage_args(stage, tiny_data, tmp_path, inputs=chain, epochs=epochs,
                      checkpoint_every_n_steps=1)  # fmt: skip
    proc = subprocess.Popen(_comedian(args), env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 300
    while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert ckpt.exists() and not out.exists(), "the run ended before it could be killed"
    saved = torch.load(ckpt, map_location="cpu", weights_only=False)["global_step"]
    assert saved >= 1
    rerun = subprocess.run(_comedian(args), env=_env(), capture_output=True, text=True,
                           timeout=600)  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "resuming from" in rerun.stderr
    steps = csv_steps(out.parent / "train_log.csv")
    assert steps[-1] == 2 * epochs and steps.count(1) == 1  # continued, never restarted
    assert steps.count(saved + 1) >= 1 and sorted(set(steps)) == list(range(1, 2 * epochs + 1))
    assert not ckpt.parent.exists()


#: Per stage: settings for 2 steps an epoch over 2 ranks, and the queue's (slots, key dim).
DDP_RUNS = {
    # SSL pairs: ~40 seconds of train halves an epoch, 20 a rank a step; both views' keys
    # (40 a rank a step) enter a 96-slot queue, which wraps.
    "pretrain": ({"queue_size": 96}, (96, 16)),
    # teacher windows: 2 a rank a step; no queue
    "teacher": ({}, None),
    # distill clips: 8 an epoch (2 per half), 2 a rank a step; 4 tokens a clip, so 8 keys a rank
    # a step, into a 48-slot queue, which wraps once.
    "distill": ({"batch_size": 4, "windows_per_half": 2, "queue_size": 48}, (48, 8)),
}


@pytest.mark.parametrize("stage", list(DDP_RUNS))
def test_a_pretraining_stage_under_two_process_ddp(stage, tiny_data, chain, tmp_path):
    """The real stage as 2 gloo processes: sharded data, averaged gradients, gathered queue."""
    overrides, queue_shape = DDP_RUNS[stage]
    record, epochs = tmp_path / "record", 2
    args = stage_args(stage, tiny_data, tmp_path, inputs=chain, devices=2, epochs=epochs,
                      **overrides)  # fmt: skip
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
           "2", str(HERE / "ddp_stage.py"), str(record), *args]  # fmt: skip
    run = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    # rank 0 alone reads the live log (rank 1 would race its removal when rank 0 publishes)
    assert run.stderr.count(f"{stage}: loss ") == 1, run.stderr[-3000:]
    r0, r1 = (torch.load(record / f"rank{r}.pt", weights_only=True) for r in range(2))
    assert r0["world_size"] == r1["world_size"] == 2
    # each epoch both ranks shuffle the same keys, then each takes its own half of them
    assert len(r0["drawn"]) == len(r1["drawn"]) == epochs
    for e0, e1 in zip(r0["drawn"], r1["drawn"], strict=True):
        assert e0["epoch"] == e1["epoch"] and len(e0["epoch"]) % 2 == 0
        assert len(e0["mine"]) == len(e1["mine"]) == len(e0["epoch"]) // 2
        assert not set(e0["mine"]) & set(e1["mine"])
        assert set(e0["mine"]) | set(e1["mine"]) == set(e0["epoch"])
    # gradients were averaged: the replicas end with the same weights
    for name, w in r0["params"].items():
        torch.testing.assert_close(w, r1["params"][name], msg=name)
    steps = 2 * epochs
    if queue_shape is not None:
        # both queues hold every rank's keys, gathered in rank order step by step
        size, dim = queue_shape
        assert len(r0["local_keys"]) == len(r1["local_keys"]) == steps
        for k0, k1 in zip(r0["local_keys"], r1["local_keys"], strict=True):
            assert k0.shape == k1.shape and k0.shape[1] == dim and not torch.allclose(k0, k1)
        expected = FeatureQueue(size, dim)
        expected.vectors.copy_(r0["initial_queue"])
        for k0, k1 in zip(r0["local_keys"], r1["local_keys"], strict=True):
            expected.enqueue(torch.cat([k0, k1]))
        total = sum(2 * len(k) for k in r0["local_keys"])
        assert r0["ptr"] == r1["ptr"] == int(expected.ptr) == total % size
        assert total > size  # the queue wrapped
        torch.testing.assert_close(r0["queue"], expected.vectors)
        torch.testing.assert_close(r1["queue"], expected.vectors)
    # one model, one log row a step (rank 0's), no resume folder left
    out = tmp_path / stage
    assert (out / "model.pt").is_file() and not (out / ".resume").exists()
    assert csv_steps(out / "train_log.csv") == list(range(1, steps + 1))
