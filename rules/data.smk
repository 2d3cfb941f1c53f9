# Data phase: the embedded synthetic dataset or the SoccerNet-v2 download, the games table and
# frame decoding.


if config["dataset"]["source"] == "synthetic":

    rule synth:
        output:
            videos=expand(
                "{root}/{path}/{video}",
                root=DATA_ROOT,
                path=GAMES["path"],
                video=VIDEO_NAMES.values(),
            ),
            labels=expand(
                "{root}/{path}/{labels}",
                root=DATA_ROOT,
                path=GAMES.loc[GAMES["split"] != "challenge", "path"],
                labels=LABELS_NAME,
            ),
        log:
            "logs/synth/synth.log",
        benchmark:
            "benchmarks/synth/synth.tsv"
        conda:
            "../environment.yml"
        # A fixed count, not workflow.cores: cluster executors define no total core count.
        # Local runs scale it down to --cores.
        threads: 8
        params:
            root=DATA_ROOT,
            sets=sets(config.get("synth", {})),
        shell:
            "python -m comedian synth --out {params.root:q} {params.sets} "
            "--set workers={threads} > {log:q} 2>&1"


if config["dataset"]["source"] == "soccernet":

    # Runs on the submitting machine (cluster nodes often have no internet access).
    localrules:
        download,

    rule download:
        output:
            manifest="results/download/{split}.tsv",
        log:
            "logs/download/{split}.log",
        conda:
            "../environment.yml"
        params:
            root=DATA_ROOT,
            sets=sets(config.get("download", {})),
        shell:
            "python -m comedian download --root {params.root:q} --manifest {output.manifest:q} "
            "--set splits=[{wildcards.split}] {params.sets} > {log:q} 2>&1"


rule games:
    output:
        table="results/games/games.tsv",
    log:
        "logs/games/games.log",
    conda:
        "../environment.yml"
    params:
        sets=sets(
            {
                "source": config["dataset"]["source"],
                "splits": config["dataset"]["splits"],
                "synth": config.get("synth", {}),
            }
        ),
    shell:
        "python -m comedian games --out {output.table:q} {params.sets} > {log:q} 2>&1"


rule decode:
    input:
        video=video_input,
    output:
        store="results/decode/{fps}fps{size}/{game}/{half}.frames",
    log:
        "logs/decode/{fps}fps{size}/{game}/{half}.log",
    benchmark:
        "benchmarks/decode/{fps}fps{size}/{game}/{half}.tsv"
    conda:
        "../environment.yml"
    threads: 1
    params:
        video=video,
        sets=decode_sets,
    shell:
        "python -m comedian decode --video {params.video:q} --out {output.store:q} "
        "--fps {wildcards.fps} --set num_threads={threads} {params.sets} > {log:q} 2>&1"
