# COMEDIAN action spotting on SoccerNet-v2: the whole pipeline as one DAG.
#
#   snakemake --cores all                      # the embedded synthetic dataset (config/config.yaml)
#   snakemake --profile profiles/slurm         # the paper on SoccerNet-v2 (config/paper.yaml)
#   snakemake -n                               # show what would run
#   snakemake --report report.html             # after a run: metrics, curves, timelines
#
# This file only holds the config, the includes and the target rule; each phase lives in
# rules/<phase>.smk and every rule calls `python -m comedian <stage>`. Input functions, targets
# and paths come from the package (comedian.workflow, comedian.paths; see rules/common.smk).


configfile: "config/config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/pretrain.smk"
include: "rules/teacher.smk"
include: "rules/distill.smk"
include: "rules/finetune.smk"
include: "rules/spotting.smk"
include: "rules/report.smk"


rule all:
    default_target: True
    input:
        # the games table, every frame store, the summary table (unless nothing is scored, e.g.
        # a dataset of train games only) and every report figure (comedian.workflow)
        pipeline.final_targets(),
