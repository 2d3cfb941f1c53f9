"""The pretraining stages after SIGKILL resume from their rolling checkpoint; the distill stage
runs as 2 Lightning DDP processes (gloo) with its queue gathered over the ranks."""

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


def test_distill_stage_under_two_process_ddp_gathers_the_queue(tiny_data, chain, tmp_path):
    record = tmp_path / "record"
    # 8 clips an epoch (2 per half), 4 a step (2 per rank): 2 steps an epoch, 4 steps; 16 keys
    # a step (4 tokens a clip) go into a 48-slot queue, which wraps once.
    args = stage_args("distill", tiny_data, tmp_path, inputs=chain, devices=2, epochs=2,
                      batch_size=4, windows_per_half=2, queue_size=48)  # fmt: skip
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
           "2", str(HERE / "ddp_distill.py"), str(record), *args]  # fmt: skip
    run = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    # rank 0 alone reads the live log (rank 1 would race its removal when rank 0 publishes)
    assert run.stderr.count("distill: loss ") == 1, run.stderr[-3000:]
    r0, r1 = (torch.load(record / f"rank{r}.pt", weights_only=True) for r in range(2))
    assert r0["world_size"] == r1["world_size"] == 2
    # each rank trained on its own shard: different clips, hence different teacher keys
    assert len(r0["local_keys"]) == len(r1["local_keys"]) == 4
    for k0, k1 in zip(r0["local_keys"], r1["local_keys"], strict=True):
        assert k0.shape == k1.shape == (8, 8) and not torch.allclose(k0, k1)
    # both queues hold every rank's keys, gathered in rank order step by step
    expected = FeatureQueue(48, 8)
    expected.vectors.copy_(r0["initial_queue"])
    for k0, k1 in zip(r0["local_keys"], r1["local_keys"], strict=True):
        expected.enqueue(torch.cat([k0, k1]))
    assert r0["ptr"] == r1["ptr"] == int(expected.ptr) == 64 % 48
    torch.testing.assert_close(r0["queue"], expected.vectors)
    torch.testing.assert_close(r1["queue"], expected.vectors)
    # gradients were averaged: the replicas end with the same weights
    for name, w in r0["model"].items():
        torch.testing.assert_close(w, r1["model"][name], msg=name)
    # one model, one log row a step (rank 0's), no resume folder left
    out = tmp_path / "distill"
    assert (out / "model.pt").is_file() and not (out / ".resume").exists()
    assert csv_steps(out / "train_log.csv") == [1, 2, 3, 4]
