# Step 1 (method.md §2): self-supervised pretraining of each pretrained run's spatial ViT
# (config runs.<run>.pretrain: true). Writes the exported ViT (protected), a per-step CSV log and
# the resolved config; the rolling resume checkpoint stays in the hidden .resume/ folder. It reads
# the 2 fps stores at decode.size (its random resized crop needs the whole frame), every later
# stage those at decode.clip_size (comedian.workflow.Pipeline.clip_store).


rule pretrain:
    input:
        games=P.GAMES_TABLE,
        stores=pipeline.get_frames(2, "train", clip=False),
    output:
        model=protected(P.model("pretrain")),
        log=P.train_log("pretrain"),
    log:
        "logs/pretrain/{run}.log",
    benchmark:
        "benchmarks/pretrain/{run}.tsv"
    wildcard_constraints:
        run=pipeline.pretrained_run_pattern,
    conda:
        "../environment.yml"
    threads: ALL_CORES
    params:
        frames=P.frames_dir(2),
        sets=pipeline.run_sets("pretrain"),
        launch=launch_prefix,
        geometry=launch_geometry,
    shell:
        "{params.launch} python -m comedian pretrain --games {input.games:q} "
        "--frames {params.frames:q} --out {output.model:q} {params.sets} {params.geometry} "
        "> {log:q} 2>&1"
