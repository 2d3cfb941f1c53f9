# Step 3 (method.md §6): classifier init (finetune_head: frozen trunk, head only), then global
# fine-tuning (finetune). Each writes its exported model (protected), the last model, a per-step
# CSV log and its resolved config; the rolling resume checkpoint stays in the hidden .resume/
# folder beside them (not an output), so a rerun after a crash or requeue continues training.
# Both read the train split and validate on valid when the dataset has it.


rule finetune_head:
    input:
        unpack(pipeline.get_init("finetune_head")),
        games=P.GAMES_TABLE,
        stores=pipeline.get_frames(2, *pipeline.train_splits),
        labels=pipeline.get_labels(*pipeline.train_splits),
    output:
        model=protected(P.model("finetune_head")),
        last=protected(P.last_model("finetune_head")),
        log=P.train_log("finetune_head"),
    log:
        "logs/finetune_head/{run}.log",
    benchmark:
        "benchmarks/finetune_head/{run}.tsv"
    wildcard_constraints:
        run=pipeline.trained_run_pattern,
    conda:
        "../environment.yml"
    threads: ALL_CORES
    params:
        frames=pipeline.clip_frames_dir(2),
        root=pipeline.data_root,
        init=pipeline.init_arg("finetune_head"),
        sets=pipeline.run_sets("finetune_head"),
        no_valid=pipeline.no_valid,
        launch=launch_prefix,
        geometry=launch_geometry,
    shell:
        "{params.launch} python -m comedian finetune-head --games {input.games:q} --frames {params.frames:q} "
        "--labels {params.root:q} --out {output.model:q} {params.init} {params.sets} "
        "{params.no_valid} {params.geometry} > {log:q} 2>&1"


rule finetune:
    input:
        unpack(pipeline.get_init("finetune")),  # the run's finetune_head model
        games=P.GAMES_TABLE,
        stores=pipeline.get_frames(2, *pipeline.train_splits),
        labels=pipeline.get_labels(*pipeline.train_splits),
    output:
        model=protected(P.model("finetune")),
        last=protected(P.last_model("finetune")),
        log=P.train_log("finetune"),
    log:
        "logs/finetune/{run}.log",
    benchmark:
        "benchmarks/finetune/{run}.tsv"
    wildcard_constraints:
        run=pipeline.trained_run_pattern,
    conda:
        "../environment.yml"
    threads: ALL_CORES
    params:
        frames=pipeline.clip_frames_dir(2),
        root=pipeline.data_root,
        sets=pipeline.run_sets("finetune"),
        no_valid=pipeline.no_valid,
        launch=launch_prefix,
        geometry=launch_geometry,
    shell:
        "{params.launch} python -m comedian finetune --init {input.init:q} --games {input.games:q} "
        "--frames {params.frames:q} --labels {params.root:q} --out {output.model:q} "
        "{params.sets} {params.no_valid} {params.geometry} > {log:q} 2>&1"
