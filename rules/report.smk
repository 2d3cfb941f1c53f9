# Report phase: matplotlib PNGs (and the match viewer page of each timeline game) registered
# with report() for `snakemake --report report.html` (captions in report/). The figures are drawn
# by comedian.plots; the scripts in scripts/ only pass the snakemake object's paths to it. The
# sweep heatmap is registered by rule sweep. `rule all` asks for every figure.


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
        metrics=pipeline.summary_metrics(),
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
        logs=pipeline.training_logs(),
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
        labels=pipeline.get_game_labels,
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
        game=pipeline.game_path,
        labels=pipeline.labels_path,
        # linked from the page, not inputs: a page without its video still lists the events
        videos=pipeline.timeline_videos,
    script:
        "../scripts/plot_timeline.py"
