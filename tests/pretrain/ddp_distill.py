"""The ``distill`` stage as 2 CPU processes (gloo) under Lightning DDP, started by torchrun.

Usage (what tests/pretrain/test_resume_ddp.py runs):
    python -m torch.distributed.run --standalone --nproc-per-node 2 ddp_distill.py \\
        RECORD_DIR distill ... --set devices=2 --set accelerator=cpu

Runs the real stage (``comedian.cli.main``: trainer factory, loader, sharded sampler) with one
change: the task records, on every rank, the keys it hands to its queue at each step and, when
training ends, its queue, write pointer and trunk weights, in ``RECORD_DIR/rank<R>.pt``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

import comedian.stages.distill as stage
from comedian.cli import main
from comedian.tasks.distill import DistillTask


def recording_task(record_dir: Path) -> type[DistillTask]:
    class Recording(DistillTask):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)
            self.initial_queue = self.queue.vectors.clone()
            self.local_keys: list[torch.Tensor] = []
            enqueue = self.queue.enqueue

            def record(keys: torch.Tensor) -> None:
                self.local_keys.append(keys.detach().cpu().clone())
                enqueue(keys)

            self.queue.enqueue = record  # type: ignore[method-assign]

        def on_train_end(self) -> None:
            rank = self.trainer.global_rank
            torch.save(
                {
                    "world_size": self.trainer.world_size,
                    "initial_queue": self.initial_queue,
                    "local_keys": self.local_keys,
                    "queue": self.queue.vectors.cpu(),
                    "ptr": int(self.queue.ptr),
                    "model": {k: v.cpu() for k, v in self.model.state_dict().items()},
                },
                record_dir / f"rank{rank}.pt",
            )

    return Recording


if __name__ == "__main__":
    record = Path(sys.argv[1])
    record.mkdir(parents=True, exist_ok=True)
    stage.DistillTask = recording_task(record)  # type: ignore[misc]
    sys.exit(main(sys.argv[2:]))
