"""Run a training stage and kill -9 it, at a chosen step, from inside.

Usage (what the resume tests run):
    python tests/kill_at_step.py STEP pretrain --games ... --out .../model.pt ...

Runs the real command line (``comedian.cli.main``) with one callback added to every trainer the
stage builds: right after step ``STEP`` has been trained and logged, the process sends itself
SIGKILL. A real kill -9 (no cleanup, no exit handler runs), but at a deterministic point, so a
test can compare the rerun's log with an uninterrupted run step by step instead of racing a
timer. The checkpoint the rerun resumes from is the last one written before ``STEP``.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

import pytorch_lightning as pl

import comedian.stages.finetune
import comedian.training
from comedian.cli import main


class KillAtStep(pl.Callback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer: pl.Trainer, *args: Any) -> None:
        # after the step log row (StepLog runs first) and after any checkpoint of an earlier
        # step; a checkpoint of this very step is written after this hook, so it never is
        if trainer.global_step >= self.step:
            os.kill(os.getpid(), signal.SIGKILL)


def build_killing_trainer(step: int) -> Any:
    build = comedian.training.build_trainer

    def killing(*args: Any, **kwargs: Any) -> pl.Trainer:
        kwargs["callbacks"] = [*kwargs.get("callbacks", ()), KillAtStep(step)]
        return build(*args, **kwargs)

    return killing


if __name__ == "__main__":
    step, argv = int(sys.argv[1]), sys.argv[2:]
    killing = build_killing_trainer(step)
    comedian.training.build_trainer = killing  # fit_and_publish: pretrain, teacher, distill
    comedian.stages.finetune.build_trainer = killing  # finetune_head, finetune
    sys.exit(main(argv))
