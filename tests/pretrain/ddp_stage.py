"""A pretraining stage as 2 CPU processes (gloo) under Lightning DDP, started by torchrun.

Usage (what tests/pretrain/test_resume_ddp.py runs):
    python -m torch.distributed.run --standalone --nproc-per-node 2 ddp_stage.py \\
        RECORD_DIR STAGE ... --set devices=2 --set accelerator=cpu

Runs the real stage (``comedian.cli.main``: trainer factory, loader, sharded sampler) with two
recorders added, nothing changed: the keys each rank's sampler yields every epoch (and the
epoch's full key list), and, for tasks with a queue, the keys the task hands to it at each
step. When training ends each rank writes them, with its queue, write pointer and trainable
parameters, to ``RECORD_DIR/rank<R>.pt``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import torch

import comedian.stages.distill
import comedian.stages.pretrain
import comedian.stages.teacher
from comedian.cli import main
from comedian.data.samplers import ShuffledKeys

#: The stage module and the name of its task class.
TASKS = {
    "pretrain": (comedian.stages.pretrain, "SslTask"),
    "teacher": (comedian.stages.teacher, "TeacherTask"),
    "distill": (comedian.stages.distill, "DistillTask"),
}

drawn: list[dict[str, list[tuple[int, int]]]] = []


def _plain(keys: list[Any]) -> list[tuple[int, int]]:
    return [(int(a), int(b)) for a, b in keys]


def record_sampler() -> None:
    iterate = ShuffledKeys.__iter__

    def recording(self: ShuffledKeys):  # type: ignore[no-untyped-def]
        mine = list(iterate(self))
        drawn.append({"mine": _plain(mine), "epoch": _plain(self.epoch_keys())})
        return iter(mine)

    ShuffledKeys.__iter__ = recording  # type: ignore[method-assign]


def recording_task(base: type, record_dir: Path) -> type:
    class Recording(base):  # type: ignore[misc, valid-type]
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)
            self.local_keys: list[torch.Tensor] = []
            queue = getattr(self, "queue", None)
            self.initial_queue = None if queue is None else queue.vectors.clone()
            if queue is not None:
                enqueue = queue.enqueue

                def record(keys: torch.Tensor) -> None:
                    self.local_keys.append(keys.detach().cpu().clone())
                    enqueue(keys)

                queue.enqueue = record

        def on_train_end(self) -> None:
            queue = getattr(self, "queue", None)
            torch.save(
                {
                    "world_size": self.trainer.world_size,
                    "drawn": drawn,
                    "initial_queue": self.initial_queue,
                    "local_keys": self.local_keys,
                    "queue": None if queue is None else queue.vectors.cpu(),
                    "ptr": None if queue is None else int(queue.ptr),
                    "params": {n: p.detach().cpu() for n, p in self.named_parameters()},
                },
                record_dir / f"rank{self.trainer.global_rank}.pt",
            )

    return Recording


if __name__ == "__main__":
    record, argv = Path(sys.argv[1]), sys.argv[2:]
    record.mkdir(parents=True, exist_ok=True)
    module, name = TASKS[argv[0]]
    setattr(module, name, recording_task(getattr(module, name), record))
    record_sampler()
    sys.exit(main(argv))
