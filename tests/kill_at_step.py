"""Run a training stage and kill -9 it (or pause it) at a chosen step, from inside.

Usage (what the resume and lock tests run):
    python tests/kill_at_step.py STEP pretrain --games ... --out .../model.pt ...
    python tests/kill_at_step.py pause:STEP pretrain ...   # print "paused", wait for a line

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


class PauseAtStep(KillAtStep):
    """At ``step``: print "paused" and wait for a line on stdin (the test holds the run
    there, mid-training, for as long as it needs, without a timer)."""

    def on_train_batch_end(self, trainer: pl.Trainer, *args: Any) -> None:
        if trainer.global_step == self.step:
            print("paused", flush=True)
            sys.stdin.readline()


def build_killing_trainer(when: str) -> Any:
    build = comedian.training.build_trainer
    pause = when.startswith("pause:")
    step = int(when.removeprefix("pause:"))

    def killing(*args: Any, **kwargs: Any) -> pl.Trainer:
        callback = PauseAtStep(step) if pause else KillAtStep(step)
        kwargs["callbacks"] = [*kwargs.get("callbacks", ()), callback]
        return build(*args, **kwargs)

    return killing


if __name__ == "__main__":
    when, argv = sys.argv[1], sys.argv[2:]
    killing = build_killing_trainer(when)
    comedian.training.build_trainer = killing  # fit_and_publish: every training stage
    sys.exit(main(argv))
