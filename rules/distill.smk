# Step 2c (method.md §5): each pretrained run's ViViT, initialized from its step-1 ViT, learns
# the PCA-reduced teacher features of the train split with temporal masking. finetune_head then
# starts from results/distill/{run}/model.pt (rules/finetune.smk).


rule distill:
    input:
        unpack(pipeline.get_init("distill")),  # the run's step-1 ViT
        games=P.GAMES_TABLE,
        stores=pipeline.get_frames(2, "train"),
        features=pipeline.halves(P.PCA_FEATURES, ["train"]),
    output:
        model=protected(P.model("distill")),
        log=P.train_log("distill"),
    log:
        "logs/distill/{run}.log",
    benchmark:
        "benchmarks/distill/{run}.tsv"
    wildcard_constraints:
        run=pipeline.pretrained_run_pattern,
    conda:
        "../environment.yml"
    threads: ALL_CORES
    params:
        frames=pipeline.clip_frames_dir(2),
        features=input_folder("features"),
        sets=pipeline.run_sets("distill"),
        launch=launch_prefix,
        geometry=launch_geometry,
    shell:
        "{params.launch} python -m comedian distill --init {input.init:q} "
        "--games {input.games:q} --frames {params.frames:q} --features {params.features:q} "
        "--out {output.model:q} {params.sets} {params.geometry} > {log:q} 2>&1"
