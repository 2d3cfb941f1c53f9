"""Resume of a pretraining stage after SIGKILL, and the distill task under 2-process DDP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from pretrain_tiny import VIVIT

from comedian.data.transforms import AugmentConfig
from comedian.models import build_model
from comedian.tasks.distill import DistillTask
from comedian.training import TrainConfig


def pretrain_cmd(d, out: Path, epochs: int) -> list[str]:
    sets = {"model": VIVIT, "batch_size": 40, "queue_size": 64, "proj_hidden": 32,
            "proj_dim": 16, "accelerator": "cpu", "num_workers": 0, "epochs": epochs,
            "checkpoint_every_n_steps": 1}  # fmt: skip
    args = [a for k, v in sets.items() for a in ("--set", f"{k}={json.dumps(v)}")]
    return [sys.executable, "-m", "comedian", "pretrain", "--games", str(d.games), "--frames",
            str(d.frames2), "--out", str(out), *args]  # fmt: skip


def test_a_killed_pretrain_resumes_from_its_rolling_checkpoint(tiny_data, tmp_path):
    out = tmp_path / "pretrain/model.pt"
    ckpt = out.parent / ".resume/last.ckpt"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    epochs = 8  # 2 steps an epoch: more than run between the first checkpoint and the kill
    proc = subprocess.Popen(pretrain_cmd(tiny_data, out, epochs), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 300
    while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert ckpt.exists() and not out.exists(), "the run ended before it could be killed"
    saved = torch.load(ckpt, map_location="cpu", weights_only=False)["global_step"]
    assert saved >= 1
    rerun = subprocess.run(pretrain_cmd(tiny_data, out, epochs), env=env, capture_output=True,
                           text=True, timeout=600)  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "resuming from" in rerun.stderr
    rows = (out.parent / "train_log.csv").read_text().splitlines()[1:]
    steps = [int(r.split(",")[0]) for r in rows]
    assert steps[-1] == 2 * epochs and steps.count(1) == 1  # continued, never restarted
    assert steps.count(saved + 1) >= 1 and sorted(set(steps)) == list(range(1, 2 * epochs + 1))


def _ddp_worker(rank: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    torch.manual_seed(rank)
    model = build_model("vivit_tiny", **VIVIT)
    task = DistillTask(model, TrainConfig(seed=0), teacher_dim=8,
                       augment=AugmentConfig.distill(img_size=16), proj_hidden=16,
                       queue_size=32)  # fmt: skip
    x = torch.randn(2, 3, 8, 16, 16)
    teacher = torch.full((2, 4, 8), float(rank + 1)) + torch.arange(8.0)
    loss = task.distill_loss(x, teacher)
    loss.backward()
    torch.save({"queue": task.queue.vectors, "ptr": task.queue.ptr, "loss": loss.detach()},
               f"{out}/{rank}.pt")  # fmt: skip
    dist.destroy_process_group()


def test_distill_task_under_two_process_ddp_gathers_the_queue(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_ddp_worker, args=(port, str(tmp_path)), nprocs=2, join=True)
    r0, r1 = (torch.load(tmp_path / f"{r}.pt") for r in range(2))
    assert torch.isfinite(r0["loss"]) and torch.isfinite(r1["loss"])
    # both ranks wrote all 16 keys (8 tokens of each rank, rank order) into identical queues
    torch.testing.assert_close(r0["queue"], r1["queue"])
    assert int(r0["ptr"]) == 16
    keys = torch.nn.functional.normalize(torch.arange(8.0) + torch.tensor([[1.0], [2.0]]), dim=1)
    torch.testing.assert_close(r0["queue"][:8], keys[0].expand(8, 8))
    torch.testing.assert_close(r0["queue"][8:16], keys[1].expand(8, 8))
