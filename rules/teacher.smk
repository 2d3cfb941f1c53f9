# Step 2a-b (method.md §3-4), shared by every pretrained run: the ResNet3D-50 teacher fine-tuned
# on the train split's 4 fps stores (or given as weights: config teacher_init), its features of
# every 0.5 s row of every half, and their PCA fitted on train and applied to every half.


rule teacher:
    input:
        unpack(pipeline.get_init("teacher")),
        games=P.GAMES_TABLE,
        stores=pipeline.get_frames(2, "train"),
        stores4=pipeline.get_frames(4, "train"),
        labels=pipeline.get_labels("train"),
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
        frames=pipeline.clip_frames_dir(2),
        frames4=pipeline.clip_frames_dir(4),
        root=pipeline.data_root,
        init=pipeline.init_arg("teacher"),
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
        frames4=P.frames(4, size=pipeline.clip_store),
        frames=P.frames(2, size=pipeline.clip_store),
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
        features=pipeline.halves(P.FEATURES),
    output:
        transform=P.PCA_TRANSFORM,
        features=pipeline.halves(P.PCA_FEATURES),
    log:
        "logs/pca/pca.log",
    benchmark:
        "benchmarks/pca/pca.tsv"
    conda:
        "../environment.yml"
    params:
        features=input_folder("features"),
        out=output_folder("features"),
        sets=sets(config.get("pca", {})),
    shell:
        "python -m comedian pca --games {input.games:q} --features {params.features:q} "
        "--transform {output.transform:q} --out {params.out:q} {params.sets} > {log:q} 2>&1"
