# Report phase: matplotlib PNGs (and the match viewer page of each timeline game) registered with report() for `snakemake --report report.html`
# (captions in report/). The figures are drawn by comedian.plots; the scripts in scripts/ only
# pass the snakemake object's paths to it. The sweep heatmap is registered by rule sweep.

from comedian.spotting.workflow import (
    game_path_input,
    report_targets,
    timeline_games,
    training_logs,
)

# Timelines: config report.timeline_games games of the test split (or the last evaluated one).
TIMELINES = timeline_games(
    GAMES, SUMMARY_SPLITS, (config.get("report", {}) or {}).get("timeline_games", 3)
)
# Every figure of the report (rule all asks for them: plots are cheap).
REPORT_TARGETS = report_targets(
    SUMMARY_RUNS, SUMMARY_SPLITS, TRAINED_RUNS, DEFAULT_NMS, TIMELINES
)
TRAINING_LOGS = training_logs(TRAINED_RUNS, PRETRAINED_RUNS)
game_path = game_path_input(GAME_PATHS)


rule plot_summary:
    input:
        table=P.SUMMARY,
    output:
        png=report(
            P.REPORT_SUMMARY,
            caption="../report/summary.rst",
            category="1. Metrics",
        ),
    log:
        "logs/report/summary.log",
    conda:
        "../environment.yml"
    script:
        "../scripts/plot_summary.py"


rule plot_class_ap:
    input:
        metrics=evaluation_targets(SUMMARY_RUNS, SUMMARY_SPLITS, DEFAULT_NMS),
    output:
        png=report(
            P.REPORT_CLASS_AP,
            caption="../report/class_ap.rst",
            category="1. Metrics",
        ),
    log:
        "logs/report/class_ap.log",
    conda:
        "../environment.yml"
    script:
        "../scripts/plot_class_ap.py"


rule plot_training:
    input:
        logs=TRAINING_LOGS,
    output:
        png=report(
            P.REPORT_TRAINING,
            caption="../report/training.rst",
            category="2. Training",
        ),
    log:
        "logs/report/training.log",
    conda:
        "../environment.yml"
    script:
        "../scripts/plot_training.py"


rule plot_timeline:
    input:
        results=P.NMS,
        labels=game_labels,
    output:
        png=report(
            P.REPORT_TIMELINE,
            caption="../report/timeline.rst",
            category="3. Timelines",
            subcategory="{run} {split}",
        ),
        html=report(
            P.REPORT_VIEWER,
            caption="../report/viewer.rst",
            category="3. Timelines",
            subcategory="{run} {split}",
        ),
    log:
        "logs/report/timeline/{run}/{split}/{nms}/{game}.log",
    conda:
        "../environment.yml"
    params:
        game=game_path,
        labels=labels,
        # linked from the page, not inputs: a page without its video still lists the events
        videos=lambda wildcards: [
            str(game_dir(wildcards.game) / VIDEO_NAMES[h]) for h in HALVES
        ],
    script:
        "../scripts/plot_timeline.py"
