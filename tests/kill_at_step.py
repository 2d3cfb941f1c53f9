"""Run a training stage and kill -9 it (or pause it) at a chosen step, from inside.

Usage (what the resume and lock tests run):
    python tests/kill_at_step.py STEP pretrain --games ... --out .../model.pt ...
    python tests/kill_at_step.py pause:STEP pretrain ...   # print "paused", wait for a line
    python tests/kill_at_step.py hold:STEP:DIR finetune-head ...  # DIR/held.rank<R>, then wait

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
import time
from pathlib import Path
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


class HoldAtStep(KillAtStep):
    """At ``step``: every rank writes ``folder/held-rank<R>`` and then sleeps until it is killed
    (a rank of a SLURM job that a test cancels once every rank is held, without a timer)."""

    def __init__(self, step: int, folder: str) -> None:
        super().__init__(step)
        self.folder = Path(folder)

    def on_train_batch_end(self, trainer: pl.Trainer, *args: Any) -> None:
        if trainer.global_step == self.step:
            rank = trainer.global_rank
            partial = self.folder / f".held-rank{rank}.tmp"
            partial.write_text(str(self.step))
            partial.rename(self.folder / f"held-rank{rank}")
            while True:
                time.sleep(60)


def build_killing_trainer(when: str) -> Any:
    """``STEP`` (kill), ``pause:STEP`` or ``hold:STEP:DIR``: a wrapped ``build_trainer``."""
    build = comedian.training.build_trainer
    mode, _, arg = when.partition(":") if ":" in when else ("kill", "", when)
    step_text, _, folder = arg.partition(":")
    step = int(step_text)

    def killing(*args: Any, **kwargs: Any) -> pl.Trainer:
        callbacks = {"kill": KillAtStep, "pause": PauseAtStep}
        callback = HoldAtStep(step, folder) if mode == "hold" else callbacks[mode](step)
        kwargs["callbacks"] = [*kwargs.get("callbacks", ()), callback]
        return build(*args, **kwargs)

    return killing


if __name__ == "__main__":
    when, argv = sys.argv[1], sys.argv[2:]
    killing = build_killing_trainer(when)
    comedian.training.build_trainer = killing  # fit_and_publish: every training stage
    sys.exit(main(argv))
