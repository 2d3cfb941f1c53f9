# Step 2a-b (method.md §3-4), shared by every pretrained run: the ResNet3D-50 teacher fine-tuned
# on the train split's 4 fps stores (or given as weights: config teacher_init), its features of
# every 0.5 s row of every half, and their PCA fitted on train and applied to every half.

from comedian import paths as P


rule teacher:
    input:
        unpack(teacher_init),
        games=P.GAMES_TABLE,
        stores=split_stores("train"),
        stores4=train_stores4,
        labels=split_labels_of("train"),
    output:
        model=protected(P.TEACHER_MODEL),
        log=P.TEACHER_LOG,
    log:
        "logs/teacher/teacher.log",
    benchmark:
        "benchmarks/teacher/teacher.tsv"
    conda:
        "../environment.yml"
    threads: ALL_CORES
    params:
        frames=clip_frames_dir(2),
        frames4=clip_frames_dir(4),
        root=DATA_ROOT,
        init=teacher_init_arg,
        sets=sets(config.get("teacher", {})),
        launch=launch_prefix,
        geometry=launch_geometry,
    shell:
        "{params.launch} python -m comedian teacher --games {input.games:q} "
        "--frames {params.frames:q} --frames4 {params.frames4:q} --labels {params.root:q} "
        "--out {output.model:q} {params.init} {params.sets} {params.geometry} > {log:q} 2>&1"


rule extract_features:
    input:
        model=P.TEACHER_MODEL,
        frames4=f"{clip_frames_dir(4)}/{P.STORE_IN_DIR}",
        frames=f"{clip_frames_dir(2)}/{P.STORE_IN_DIR}",
    output:
        features=P.FEATURES,
    log:
        "logs/extract_features/{game}/{half}.log",
    benchmark:
        "benchmarks/extract_features/{game}/{half}.tsv"
    conda:
        "../environment.yml"
    threads: 1
    params:
        sets=sets(config.get("extract_features", {})),
    shell:
        "python -m comedian extract-features --model {input.model:q} "
        "--frames4 {input.frames4:q} --frames {input.frames:q} --out {output.features:q} "
        "--set num_threads={threads} {params.sets} > {log:q} 2>&1"


rule pca:
    input:
        games=P.GAMES_TABLE,
        features=expand(P.FEATURES, game=GAMES["slug"], half=HALVES),
    output:
        transform=P.PCA_TRANSFORM,
        features=expand(P.PCA_FEATURES, game=GAMES["slug"], half=HALVES),
    log:
        "logs/pca/pca.log",
    benchmark:
        "benchmarks/pca/pca.tsv"
    conda:
        "../environment.yml"
    params:
        features=bank_folder("features"),
        out=bank_folder("features", output=True),
        sets=sets(config.get("pca", {})),
    shell:
        "python -m comedian pca --games {input.games:q} --features {params.features:q} "
        "--transform {output.transform:q} --out {params.out:q} {params.sets} > {log:q} 2>&1"
