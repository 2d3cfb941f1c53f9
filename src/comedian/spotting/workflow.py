"""Path conventions and input functions of rules/spotting.smk (kept here so that the rules file
holds rules only).

Usage (in rules/spotting.smk):
    spotting_raw = raw_scores_input(ensembles)      # input function of {run} and {split}
    targets = evaluation_targets(["a"], ["test"], "soft_w20_t0.001_m0")

Raw scores of a run live in ``results/predict/{run}/{split}/raw``, those of an ensemble named
in config in ``results/ensemble/{run}/{split}/raw``; everything downstream is keyed by the NMS
setting slug (:class:`comedian.spotting.settings.NmsSetting`). The paths themselves are defined
once, in :mod:`comedian.paths`.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from comedian import paths
from comedian.data.soccernet import LABELS_NAME
from comedian.spotting.settings import NmsSetting

Wildcards = Any  # snakemake.io.Wildcards: attribute access to the rule's wildcards


def raw_scores_dir(run: str, split: str, ensembles: Mapping[str, Sequence[str]]) -> str:
    """Raw scores folder of a run, or of an ensemble when ``run`` names one."""
    return paths.raw_scores(run, split, ensembles)


def raw_scores_input(ensembles: Mapping[str, Sequence[str]]) -> Callable[[Wildcards], str]:
    """Input function: the raw scores folder of ``{run}`` on ``{split}``."""

    def spotting_raw(wildcards: Wildcards) -> str:
        return raw_scores_dir(wildcards.run, wildcards.split, ensembles)

    return spotting_raw


def ensemble_members_input(
    ensembles: Mapping[str, Sequence[str]],
) -> Callable[[Wildcards], list[str]]:
    """Input function: the raw scores folders of the runs of ensemble ``{run}``."""

    def ensemble_members(wildcards: Wildcards) -> list[str]:
        members = ensembles[wildcards.run]
        return [raw_scores_dir(run, wildcards.split, ensembles) for run in members]

    return ensemble_members


def split_labels_input(
    games: pd.DataFrame, data_root: str | Path
) -> Callable[[Wildcards], list[str]]:
    """Input function: the ``Labels-v2.json`` of every game of ``{split}`` (games table)."""
    by_split = {
        split: [str(Path(data_root) / p / LABELS_NAME) for p in group["path"]]
        for split, group in games.groupby("split")
    }

    def split_labels(wildcards: Wildcards) -> list[str]:
        return by_split.get(wildcards.split, [])

    return split_labels


def nms_args(wildcards: Wildcards) -> str:
    """Params function: the ``comedian nms`` options of the setting in the ``{nms}`` slug.

    Raises:
        ConfigError: (a ValueError) naming the slug, if it is not the canonical slug of a valid
            setting (so a non-canonical target fails when the DAG is built).
    """
    s = NmsSetting.from_slug(wildcards.nms)
    items = [f"kind={s.kind}", f"window={s.window}", f"threshold={s.threshold!r}"]
    items.append(f"min_weight={s.min_weight!r}")
    if s.windows_per_class:
        items.append(f"windows_per_class={json.dumps(s.windows_per_class)}")
    return " ".join(f"--set {shlex.quote(item)}" for item in items)


def evaluation_targets(runs: Iterable[str], splits: Iterable[str], slug: str) -> list[str]:
    """``metrics.json`` targets of ``runs`` x ``splits`` for one NMS setting slug."""
    return [paths.metrics(run, split, slug) for run in runs for split in splits]


def sweep_targets(runs: Iterable[str], splits: Iterable[str]) -> list[str]:
    """NMS sweep table and heatmap targets of ``runs`` x ``splits``."""
    return [target for run in runs for split in splits for target in paths.sweep(run, split)]


# --- report (rules/report.smk) -----------------------------------------------------------------


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
        stages = ("pretrain", "distill") if run in pretrained_runs else ()
        stages += ("finetune_head", "finetune")
        out += [paths.TRAIN_LOG.format(stage=s, run=run) for s in stages]
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


def game_path_input(game_paths: Mapping[str, str]) -> Callable[[Wildcards], str]:
    """Params function: the real game path of ``{game}`` (its folder in the results trees)."""

    def game_path(wildcards: Wildcards) -> str:
        return game_paths[wildcards.game]

    return game_path
