# Step 2c (method.md §5): each pretrained run's ViViT, initialized from its step-1 ViT, learns
# the PCA-reduced teacher features of the train split with temporal masking. finetune_head then
# starts from results/distill/{run}/model.pt (rules/finetune.smk).

from comedian import paths as P


rule distill:
    input:
        init=P.MODEL.replace("{stage}", "pretrain"),
        games=P.GAMES_TABLE,
        stores=split_stores("train"),
        features=expand(
            P.PCA_FEATURES,
            game=GAMES.loc[GAMES["split"] == "train", "slug"],
            half=HALVES,
        ),
    output:
        model=protected(P.MODEL.replace("{stage}", "distill")),
        log=P.TRAIN_LOG.replace("{stage}", "distill"),
    log:
        "logs/distill/{run}.log",
    benchmark:
        "benchmarks/distill/{run}.tsv"
    wildcard_constraints:
        run=PRETRAINED_RUN_PATTERN,
    conda:
        "../environment.yml"
    threads: ALL_CORES
    params:
        frames=clip_frames_dir(2),
        features=bank_folder("features"),
        sets=run_sets("distill"),
        launch=launch_prefix,
        geometry=launch_geometry,
    shell:
        "{params.launch} python -m comedian distill --init {input.init:q} "
        "--games {input.games:q} --frames {params.frames:q} --features {params.features:q} "
        "--out {output.model:q} {params.sets} {params.geometry} > {log:q} 2>&1"
