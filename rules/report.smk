# Report phase: matplotlib PNGs registered with report() for `snakemake --report report.html`
# (captions in report/). The figures are drawn by comedian.plots; the scripts in scripts/ only
# pass the snakemake object's paths to it. The sweep heatmap is registered by rule sweep.

REPORT = config.get("report", {}) or {}
# The split whose games are drawn as timelines: test when it is evaluated, else the last one.
TIMELINE_SPLIT = "test" if "test" in SUMMARY_SPLITS else (SUMMARY_SPLITS or ["test"])[-1]
TIMELINE_GAMES = list(
    GAMES.loc[GAMES["split"] == TIMELINE_SPLIT, "slug"][: REPORT.get("timeline_games", 3)]
)


def training_logs():
    """train_log.csv of every training stage of the configured runs (the teacher once)."""
    out = [P.TEACHER_LOG] if PRETRAINED_RUNS else []
    for run in TRAINED_RUNS:
        stages = ("pretrain", "distill") if run in PRETRAINED_RUNS else ()
        out += [P.TRAIN_LOG.format(stage=s, run=run) for s in (*stages, "finetune_head", "finetune")]
    return out


def report_targets():
    """Every report figure of the configured runs (rule all asks for them: they are cheap)."""
    out = []
    if SUMMARY_RUNS and SUMMARY_SPLITS:
        out += ["results/report/summary.png", "results/report/class_ap.png"]
    if TRAINED_RUNS:
        out.append("results/report/training.png")
    out += [
        f"results/report/timeline/{run}/{TIMELINE_SPLIT}/{DEFAULT_NMS}/{game}.png"
        for run in SUMMARY_RUNS
        for game in TIMELINE_GAMES
    ]
    return out


def game_path(wildcards):
    """Params function: the real game path of {game} (folder names inside the results tree)."""
    return GAME_PATHS[wildcards.game]


rule plot_summary:
    input:
        table=P.SUMMARY,
    output:
        png=report(
            "results/report/summary.png",
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
            "results/report/class_ap.png",
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
        logs=training_logs(),
    output:
        png=report(
            "results/report/training.png",
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
        labels=labels,
    output:
        png=report(
            "results/report/timeline/{run}/{split}/{nms}/{game}.png",
            caption="../report/timeline.rst",
            category="3. Timelines",
            subcategory="{run} {split}",
        ),
    log:
        "logs/report/timeline/{run}/{split}/{nms}/{game}.log",
    conda:
        "../environment.yml"
    params:
        game=game_path,
    script:
        "../scripts/plot_timeline.py"
