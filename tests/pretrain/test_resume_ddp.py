"""The pretraining stages after SIGKILL resume from their rolling checkpoint, and run as 2
Lightning DDP processes (gloo) with their data sharded and their queue gathered over the ranks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
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


KILL_AT_STEP = HERE.parent / "kill_at_step.py"

#: Per stage: the resume checkpoint period (0: every epoch, 2 steps), the step at which the
#: run is killed (the rerun resumes from the last checkpoint before it: 3 is mid-epoch, the
#: sampler skips the epoch's first batch; 4 is an epoch's end) and the loader workers.
RESUMES = {"pretrain": (3, 5, 0), "teacher": (0, 5, 0), "distill": (3, 5, 1)}


def _log_rows(path: Path) -> list[list[str]]:
    return [line.split(",") for line in path.read_text().splitlines()]


@pytest.mark.parametrize("stage", list(RESUMES))
def test_a_killed_training_stage_resumes_exactly(stage, tiny_data, chain, tmp_path):
    """kill -9 after step 5, rerun: the log (losses and lr) is the uninterrupted run's, bit
    for bit: sampler position, random states, queue, optimizer and momentum encoder resume."""
    every, kill, workers = RESUMES[stage]
    epochs = 3  # 2 steps an epoch
    settings = {"epochs": epochs, "checkpoint_every_n_steps": every, "num_workers": workers}
    whole = stage_args(stage, tiny_data, tmp_path / "whole", inputs=chain, **settings)
    run = subprocess.run(_comedian(whole), env=_env(), capture_output=True, text=True,
                         timeout=600)  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]

    args = stage_args(stage, tiny_data, tmp_path / "killed", inputs=chain, **settings)
    out = tmp_path / "killed" / stage / "model.pt"
    ckpt, live = out.parent / ".resume/last.ckpt", out.parent / ".resume/train_log.csv"
    killed = subprocess.run([sys.executable, str(KILL_AT_STEP), str(kill), *args], env=_env(),
                            capture_output=True, text=True, timeout=600)  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    assert ckpt.exists() and not out.exists()
    saved = torch.load(ckpt, map_location="cpu", weights_only=True)["global_step"]
    assert saved == (every or 2) * (kill // (every or 2)) < kill  # 3 or 4, before the kill
    assert csv_steps(live) == list(range(1, kill + 1))  # it went on past the checkpoint
    rerun = subprocess.run(_comedian(args), env=_env(), capture_output=True, text=True,
                           timeout=600)  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert f"resuming from {ckpt} (step {saved})" in rerun.stderr
    expected = _log_rows(tmp_path / "whole" / stage / "train_log.csv")
    assert _log_rows(out.parent / "train_log.csv") == expected
    assert csv_steps(out.parent / "train_log.csv") == list(range(1, 2 * epochs + 1))
    assert not ckpt.parent.exists()


def test_a_second_run_on_the_same_output_is_refused_until_the_first_ends(tiny_data, chain,
                                                                          tmp_path):  # fmt: skip
    """Two runners on one output folder: the second is refused in one line while the first
    trains; once the first is killed -9 (its lock dies with it) a third resumes its work."""
    args = stage_args("pretrain", tiny_data, tmp_path, inputs=chain, checkpoint_every_n_steps=1)
    out = tmp_path / "pretrain"
    first = subprocess.Popen([sys.executable, str(KILL_AT_STEP), "pause:2", *args], env=_env(),
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True)  # fmt: skip
    try:
        assert first.stdout is not None and first.stdout.readline().strip() == "paused"
        second = subprocess.run(_comedian(args), env=_env(), capture_output=True, text=True,
                                timeout=600)  # fmt: skip
        assert second.returncode == 1, second.stderr[-3000:]
        lines = [ln for ln in second.stderr.splitlines() if ln.strip() and not ln[:4].isdigit()]
        assert lines == [
            f"comedian pretrain: {out.resolve()}: another run (pid {first.pid}) is training "
            f"into this folder; wait for it to end or stop it"
        ], second.stderr[-3000:]
        assert csv_steps(out / ".resume/train_log.csv") == [1, 2]  # untouched by the second
    finally:
        first.kill()  # kill -9 while it holds the lock
        first.wait()
    third = subprocess.run(_comedian(args), env=_env(), capture_output=True, text=True,
                           timeout=600)  # fmt: skip
    assert third.returncode == 0, third.stderr[-3000:]
    assert f"resuming from {out / '.resume/last.ckpt'} (step 1)" in third.stderr
    assert csv_steps(out / "train_log.csv") == [1, 2]


def test_a_pickle_planted_as_the_resume_checkpoint_never_runs(tiny_data, chain, tmp_path):
    """.resume/last.ckpt is loaded weights_only: a planted pickle's code does not run, and the
    stage stops in one line naming the file (it is not the stage's to delete)."""
    args = stage_args("pretrain", tiny_data, tmp_path, inputs=chain)
    ckpt = tmp_path / "pretrain/.resume/last.ckpt"
    ckpt.parent.mkdir(parents=True)
    sentinel = tmp_path / "pwned"
    torch.save({"global_step": 1, "comedian_digest": _Planted(str(sentinel))}, ckpt)
    planted = ckpt.read_bytes()
    run = subprocess.run(_comedian(args), env=_env(), capture_output=True, text=True,
                         timeout=600)  # fmt: skip
    assert run.returncode == 1, run.stderr[-3000:]
    assert not sentinel.exists(), "code from the checkpoint ran"
    lines = [ln for ln in run.stderr.splitlines() if ln.strip() and not ln[:4].isdigit()]
    assert len(lines) == 1 and lines[0].startswith(f"comedian pretrain: {ckpt}: "), run.stderr
    assert "Traceback" not in run.stderr
    assert ckpt.read_bytes() == planted and not (tmp_path / "pretrain/model.pt").exists()


class _Planted:
    """Unpickling it creates a file (what a malicious checkpoint could do instead)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):  # noqa: ANN204
        return (open, (self.path, "w"))


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
