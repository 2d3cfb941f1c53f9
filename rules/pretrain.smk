# Step 1 (method.md §2): self-supervised pretraining of each pretrained run's spatial ViT
# (config runs.<run>.pretrain: true). Writes the exported ViT (protected), a per-step CSV log and
# the resolved config; the rolling resume checkpoint stays in the hidden .resume/ folder. It reads
# the 2 fps stores at decode.size (its random resized crop needs the whole frame), every later
# stage those at decode.clip_size (rules/common.smk, CLIP_STORE).

from comedian import paths as P


rule pretrain:
    input:
        games=P.GAMES_TABLE,
        stores=split_stores("train", store=""),
    output:
        model=protected(P.MODEL.replace("{stage}", "pretrain")),
        log=P.TRAIN_LOG.replace("{stage}", "pretrain"),
    log:
        "logs/pretrain/{run}.log",
    benchmark:
        "benchmarks/pretrain/{run}.tsv"
    wildcard_constraints:
        run=PRETRAINED_RUN_PATTERN,
    conda:
        "../environment.yml"
    threads: ALL_CORES
    params:
        frames=P.FRAMES_DIR.format(fps=2),
        sets=run_sets("pretrain"),
        launch=launch_prefix,
        geometry=launch_geometry,
    shell:
        "{params.launch} python -m comedian pretrain --games {input.games:q} "
        "--frames {params.frames:q} --out {output.model:q} {params.sets} {params.geometry} "
        "> {log:q} 2>&1"
