# Spotting phase: NMS, evaluation, NMS sweeps and ensembles, all from saved raw scores.
#
# Raw scores of a run: results/predict/{run}/{split}/raw/ (written by inference); of an ensemble
# named in config spotting.ensembles: results/ensemble/{run}/{split}/raw/. An ensemble acts as
# a run everywhere below. The NMS setting is part of the path as a slug
# <soft|hard>_w<window>_t<threshold>_m<min_weight>[_<class><window>...] (per-class windows, e.g.
# _goal30), one spelling per setting (comedian.spotting.settings.NmsSetting), so any setting can
# be asked for as a target without editing the config, and a sweep never overwrites anything:
#   snakemake results/evaluate/{run}/test/soft_w20_t0.001_m0/metrics.json
#   snakemake results/sweep/{run}/valid/sweep.tsv          (+ heatmap.png; grid in config)
# Nothing upstream of the raw scores reruns for these targets.

import re

from comedian import paths as P
from comedian.config import apply_overrides, to_dict
from comedian.spotting.settings import SLUG_PATTERN
from comedian.spotting.workflow import (
    ensemble_members_input,
    evaluation_targets,
    nms_args,
    raw_scores_input,
    split_labels_input,
    sweep_targets,
)
from comedian.stages import nms as nms_stage
from comedian.stages import sweep as sweep_stage

SPOTTING = config.get("spotting", {})
# The stage dataclasses hold the paper's defaults; config overrides them (unknown keys and bad
# values fail here, when the workflow is parsed: the NMS setting and the sweep grid are checked).
SPOTTING_NMS = apply_overrides(nms_stage.Config(), SPOTTING.get("nms", {}))
SPOTTING_SWEEP = apply_overrides(sweep_stage.Config(), SPOTTING.get("sweep", {}))
SPOTTING_ENSEMBLES = SPOTTING.get("ensembles", {}) or {}
# The rule ensemble only matches ensemble names (a pattern that matches nothing when none).
ENSEMBLE_PATTERN = "|".join(re.escape(name) for name in SPOTTING_ENSEMBLES) or "(?!x)x"
# The slug of the NMS setting in config, e.g. soft_w20_t0.001_m0 (for target lists).
DEFAULT_NMS = SPOTTING_NMS.slug
# Runs and ensembles in results/summary.tsv, on the evaluated splits (config spotting.splits).
SUMMARY_RUNS = list(RUNS) + list(SPOTTING_ENSEMBLES)
SUMMARY_SPLITS = [
    s for s in SPOTTING.get("splits", ["test"]) if s in config["dataset"]["splits"]
]
# Input functions (comedian.spotting.workflow): raw scores of {run} (a run or an ensemble),
# the runs of ensemble {run}, the labels of the games of {split}.
spotting_raw = raw_scores_input(SPOTTING_ENSEMBLES)
ensemble_members = ensemble_members_input(SPOTTING_ENSEMBLES)


rule predict:
    input:
        unpack(predict_model),
        games=P.GAMES_TABLE,
        stores=predict_stores,
    output:
        raw=protected(directory(P.PREDICT_RAW)),
    log:
        "logs/predict/{run}/{split}.log",
    benchmark:
        "benchmarks/predict/{run}/{split}.tsv"
    wildcard_constraints:
        run=RUN_PATTERN,
    conda:
        "../environment.yml"
    threads: ALL_CORES
    params:
        model=predict_weights,
        frames=clip_frames_dir(2),
        sets=predict_sets,
    shell:
        "python -m comedian predict --model {params.model:q} --games {input.games:q} "
        "--frames {params.frames:q} --out {output.raw:q} --set split={wildcards.split} "
        "{params.sets} > {log:q} 2>&1"


rule nms:
    input:
        raw=spotting_raw,
    output:
        results=directory("results/nms/{run}/{split}/{nms}"),
    log:
        "logs/nms/{run}/{split}/{nms}.log",
    benchmark:
        "benchmarks/nms/{run}/{split}/{nms}.tsv"
    conda:
        "../environment.yml"
    params:
        setting=nms_args,
    shell:
        "python -m comedian nms --raw {input.raw:q} --out {output.results:q} "
        "{params.setting} > {log:q} 2>&1"


rule evaluate:
    input:
        predictions="results/nms/{run}/{split}/{nms}",
        games="results/games/games.tsv",
        labels=split_labels,
    output:
        metrics="results/evaluate/{run}/{split}/{nms}/metrics.json",
    log:
        "logs/evaluate/{run}/{split}/{nms}.log",
    benchmark:
        "benchmarks/evaluate/{run}/{split}/{nms}.tsv"
    conda:
        "../environment.yml"
    params:
        root=DATA_ROOT,
        metric=SPOTTING.get("metric", "all"),
    shell:
        "python -m comedian evaluate --labels {params.root:q} "
        "--predictions {input.predictions:q} --games {input.games:q} "
        "--split {wildcards.split} --metric {params.metric} --out {output.metrics:q} "
        "> {log:q} 2>&1"


rule sweep:
    input:
        raw=spotting_raw,
        games="results/games/games.tsv",
        labels=split_labels,
    output:
        table="results/sweep/{run}/{split}/sweep.tsv",
        heatmap=report(
            "results/sweep/{run}/{split}/heatmap.png",
            caption="../report/sweep.rst",
            category="4. NMS sweep",
            subcategory="{run} {split}",
        ),
    log:
        "logs/sweep/{run}/{split}.log",
    benchmark:
        "benchmarks/sweep/{run}/{split}.tsv"
    conda:
        "../environment.yml"
    # Settings run side by side, one process a thread (scaled down to --cores locally).
    threads: ALL_CORES
    params:
        root=DATA_ROOT,
        sets=sets(to_dict(SPOTTING_SWEEP), skip=("split", "workers")),
    shell:
        "python -m comedian sweep --raw {input.raw:q} --labels {params.root:q} "
        "--games {input.games:q} --split {wildcards.split} --out {output.table:q} "
        "--heatmap {output.heatmap:q} --set workers={threads} {params.sets} > {log:q} 2>&1"


rule ensemble:
    input:
        raw=ensemble_members,
    output:
        raw=protected(directory("results/ensemble/{run}/{split}/raw")),
    log:
        "logs/ensemble/{run}/{split}.log",
    benchmark:
        "benchmarks/ensemble/{run}/{split}.tsv"
    wildcard_constraints:
        run=ENSEMBLE_PATTERN,
    conda:
        "../environment.yml"
    params:
        reduce=SPOTTING.get("ensemble_reduce", "mean"),
    shell:
        "python -m comedian ensemble --raw {input.raw:q} --out {output.raw:q} "
        "--reduce {params.reduce} > {log:q} 2>&1"


rule summary:
    input:
        metrics=evaluation_targets(SUMMARY_RUNS, SUMMARY_SPLITS, DEFAULT_NMS),
    output:
        table=P.SUMMARY,
    log:
        "logs/summary/summary.log",
    conda:
        "../environment.yml"
    shell:
        "python -m comedian summary --metrics {input.metrics:q} --out {output.table:q} "
        "> {log:q} 2>&1"
