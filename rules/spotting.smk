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
# Nothing upstream of the raw scores reruns for these targets. The NMS setting in config
# (spotting.nms) and the sweep grid (spotting.sweep) are checked when the workflow is parsed.

from comedian.config import to_dict


rule predict:
    input:
        unpack(pipeline.get_model),
        games=P.GAMES_TABLE,
        stores=pipeline.get_frames(2, "{split}"),
    output:
        raw=protected(directory(P.PREDICT_RAW)),
    log:
        "logs/predict/{run}/{split}.log",
    benchmark:
        "benchmarks/predict/{run}/{split}.tsv"
    wildcard_constraints:
        run=pipeline.run_pattern,
    conda:
        "../environment.yml"
    threads: ALL_CORES
    params:
        model=pipeline.model_ref,
        frames=pipeline.clip_frames_dir(2),
        sets=pipeline.predict_sets,
    shell:
        "python -m comedian predict --model {params.model:q} --games {input.games:q} "
        "--frames {params.frames:q} --out {output.raw:q} --set split={wildcards.split} "
        "{params.sets} > {log:q} 2>&1"


rule nms:
    input:
        raw=pipeline.get_raw_scores,
    output:
        results=directory(P.NMS),
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
        predictions=P.NMS,
        games=P.GAMES_TABLE,
        labels=pipeline.get_labels("{split}"),
    output:
        metrics=P.METRICS,
    log:
        "logs/evaluate/{run}/{split}/{nms}.log",
    benchmark:
        "benchmarks/evaluate/{run}/{split}/{nms}.tsv"
    conda:
        "../environment.yml"
    params:
        root=pipeline.data_root,
        metric=pipeline.spotting.get("metric", "all"),
    shell:
        "python -m comedian evaluate --labels {params.root:q} "
        "--predictions {input.predictions:q} --games {input.games:q} "
        "--split {wildcards.split} --metric {params.metric} --out {output.metrics:q} "
        "> {log:q} 2>&1"


rule sweep:
    input:
        raw=pipeline.get_raw_scores,
        games=P.GAMES_TABLE,
        labels=pipeline.get_labels("{split}"),
    output:
        table=P.SWEEP_TABLE,
        heatmap=report(
            P.SWEEP_HEATMAP,
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
        root=pipeline.data_root,
        sets=sets(to_dict(pipeline.sweep), skip=("split", "workers")),
    shell:
        "python -m comedian sweep --raw {input.raw:q} --labels {params.root:q} "
        "--games {input.games:q} --split {wildcards.split} --out {output.table:q} "
        "--heatmap {output.heatmap:q} --set workers={threads} {params.sets} > {log:q} 2>&1"


rule ensemble:
    input:
        raw=pipeline.get_ensemble_members,
    output:
        raw=protected(directory(P.ENSEMBLE_RAW)),
    log:
        "logs/ensemble/{run}/{split}.log",
    benchmark:
        "benchmarks/ensemble/{run}/{split}.tsv"
    wildcard_constraints:
        run=pipeline.ensemble_pattern,
    conda:
        "../environment.yml"
    params:
        reduce=pipeline.spotting.get("ensemble_reduce", "mean"),
    shell:
        "python -m comedian ensemble --raw {input.raw:q} --out {output.raw:q} "
        "--reduce {params.reduce} > {log:q} 2>&1"


rule summary:
    input:
        metrics=pipeline.summary_metrics(),
    output:
        table=P.SUMMARY,
    log:
        "logs/summary/summary.log",
    conda:
        "../environment.yml"
    shell:
        "python -m comedian summary --metrics {input.metrics:q} --out {output.table:q} "
        "> {log:q} 2>&1"
