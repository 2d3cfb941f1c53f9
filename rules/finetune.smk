# Step 3 (method.md §6): classifier init (finetune_head: frozen trunk, head only), then global
# fine-tuning (finetune). Each writes its exported model (protected), the last model, a per-step
# CSV log and its resolved config; the rolling resume checkpoint stays in the hidden .resume/
# folder beside them (not an output), so a rerun after a crash or requeue continues training.

from comedian import paths as P

TRAIN_SPLITS = ("train", "valid")


def finetune_head_init(wildcards):
    """Input function: the trunk init of {run}: its distilled ViViT when it is pretrained,
    else config runs.<run>.init, if any."""
    if wildcards.run in PRETRAINED_RUNS:
        return {"init": P.MODEL.format(stage="distill", run=wildcards.run)}
    init = RUNS[wildcards.run].get("init")
    return {"init": init} if init else {}


def init_arg(wildcards, input):
    return f"--init {shlex.quote(input.init)}" if "init" in input.keys() else ""


rule finetune_head:
    input:
        unpack(finetune_head_init),
        games=P.GAMES_TABLE,
        stores=split_stores(*TRAIN_SPLITS),
        labels=split_labels_of(*TRAIN_SPLITS),
    output:
        model=protected(P.MODEL.replace("{stage}", "finetune_head")),
        last=protected(P.LAST_MODEL.replace("{stage}", "finetune_head")),
        log=P.TRAIN_LOG.replace("{stage}", "finetune_head"),
    log:
        "logs/finetune_head/{run}.log",
    benchmark:
        "benchmarks/finetune_head/{run}.tsv"
    wildcard_constraints:
        run=TRAINED_RUN_PATTERN,
    conda:
        "../environment.yml"
    threads: workflow.cores
    params:
        frames=P.FRAMES_DIR.format(fps=2),
        root=DATA_ROOT,
        init=init_arg,
        sets=run_sets("finetune_head"),
    shell:
        "python -m comedian finetune-head --games {input.games:q} --frames {params.frames:q} "
        "--labels {params.root:q} --out {output.model:q} {params.init} {params.sets} "
        "> {log:q} 2>&1"


rule finetune:
    input:
        init=rules.finetune_head.output.model,
        games=P.GAMES_TABLE,
        stores=split_stores(*TRAIN_SPLITS),
        labels=split_labels_of(*TRAIN_SPLITS),
    output:
        model=protected(P.MODEL.replace("{stage}", "finetune")),
        last=protected(P.LAST_MODEL.replace("{stage}", "finetune")),
        log=P.TRAIN_LOG.replace("{stage}", "finetune"),
    log:
        "logs/finetune/{run}.log",
    benchmark:
        "benchmarks/finetune/{run}.tsv"
    wildcard_constraints:
        run=TRAINED_RUN_PATTERN,
    conda:
        "../environment.yml"
    threads: workflow.cores
    params:
        frames=P.FRAMES_DIR.format(fps=2),
        root=DATA_ROOT,
        sets=run_sets("finetune"),
    shell:
        "python -m comedian finetune --init {input.init:q} --games {input.games:q} "
        "--frames {params.frames:q} --labels {params.root:q} --out {output.model:q} "
        "{params.sets} > {log:q} 2>&1"
