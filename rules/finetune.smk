# Step 3 (method.md §6): classifier init (finetune_head: frozen trunk, head only), then global
# fine-tuning (finetune). Each writes its exported model (protected), the last model, a per-step
# CSV log and its resolved config; the rolling resume checkpoint stays in the hidden .resume/
# folder beside them (not an output), so a rerun after a crash or requeue continues training.

from comedian import paths as P

# Training reads the train split and validates on valid when the dataset has it.
TRAIN_SPLITS = tuple(s for s in ("train", "valid") if s in config["dataset"]["splits"])
NO_VALID = "" if "valid" in TRAIN_SPLITS else "--set valid_split=null"


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
    threads: ALL_CORES
    params:
        frames=clip_frames_dir(2),
        root=DATA_ROOT,
        init=init_arg,
        sets=run_sets("finetune_head"),
        no_valid=NO_VALID,
        launch=launch_prefix,
        geometry=launch_geometry,
    shell:
        "{params.launch} python -m comedian finetune-head --games {input.games:q} --frames {params.frames:q} "
        "--labels {params.root:q} --out {output.model:q} {params.init} {params.sets} "
        "{params.no_valid} {params.geometry} > {log:q} 2>&1"


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
    threads: ALL_CORES
    params:
        frames=clip_frames_dir(2),
        root=DATA_ROOT,
        sets=run_sets("finetune"),
        no_valid=NO_VALID,
        launch=launch_prefix,
        geometry=launch_geometry,
    shell:
        "{params.launch} python -m comedian finetune --init {input.init:q} --games {input.games:q} "
        "--frames {params.frames:q} --labels {params.root:q} --out {output.model:q} "
        "{params.sets} {params.no_valid} {params.geometry} > {log:q} 2>&1"
