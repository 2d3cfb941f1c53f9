"""Target lists of the workflow: metrics, training logs and report figures.

Usage:
    evaluation_targets(["a"], ["test"], "soft_w20_t0.001_m0")
    # ['results/evaluate/a/test/soft_w20_t0.001_m0/metrics.json']
    training_logs(["x"], ["x"])     # teacher, pretrain, distill, finetune_head, finetune logs

:meth:`comedian.workflow.Pipeline.final_targets` puts them together for `rule all`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd

from comedian import paths

#: The training stages of every trained run, and those of a pretrained run before them.
FINETUNE_STAGES = ("finetune_head", "finetune")
PRETRAIN_STAGES = ("pretrain", "distill")


def run_stages(run: str, pretrained_runs: Sequence[str]) -> tuple[str, ...]:
    """The training stages of ``run`` in order; each starts from the model of the one before
    (the first from runs.<run>.init, or afresh)."""
    return (PRETRAIN_STAGES if run in pretrained_runs else ()) + FINETUNE_STAGES


def evaluation_targets(runs: Iterable[str], splits: Iterable[str], slug: str) -> list[str]:
    """``metrics.json`` targets of ``runs`` x ``splits`` for one NMS setting slug."""
    splits = list(splits)
    return [paths.metrics(run, split, slug) for run in runs for split in splits]


def timeline_games(games: pd.DataFrame, splits: Sequence[str], count: int) -> tuple[str, list[str]]:
    """The split and the game slugs drawn as report timelines: the first ``count`` games of the
    test split when it is evaluated, else of the last evaluated split."""
    splits = list(splits) or ["test"]
    split = "test" if "test" in splits else splits[-1]
    return split, list(games.loc[games["split"] == split, "slug"][:count])


def training_logs(trained_runs: Sequence[str], pretrained_runs: Sequence[str]) -> list[str]:
    """``train_log.csv`` of every training stage of the runs (the shared teacher once)."""
    out = [paths.TEACHER_LOG] if pretrained_runs else []
    for run in trained_runs:
        out += [paths.train_log(stage, run) for stage in run_stages(run, pretrained_runs)]
    return out


def report_targets(
    runs: Sequence[str],
    splits: Sequence[str],
    trained_runs: Sequence[str],
    slug: str,
    timelines: tuple[str, Sequence[str]],
) -> list[str]:
    """Every report figure: summary table and per-class AP (when something is evaluated),
    training curves (when something trains) and ``timelines`` = (split, games) of every run."""
    out = []
    if runs and splits:
        out += [paths.REPORT_SUMMARY, paths.REPORT_CLASS_AP]
    if trained_runs and runs and splits:  # nothing is trained when nothing is scored
        out.append(paths.REPORT_TRAINING)
    split, games = timelines
    out += [
        paths.REPORT_TIMELINE.format(run=run, split=split, nms=slug, game=game)
        for run in runs
        for game in games
    ]
    return out
