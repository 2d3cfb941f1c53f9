# Data phase: the embedded synthetic dataset or the SoccerNet-v2 download, the games table and
# frame decoding.


if pipeline.source == "synthetic":

    rule synth:
        output:
            videos=pipeline.dataset_videos(),
            labels=pipeline.dataset_labels(),
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
            root=pipeline.data_root,
            sets=sets(config.get("synth", {})),
        shell:
            "python -m comedian synth --out {params.root:q} {params.sets} "
            "--set workers={threads} > {log:q} 2>&1"


if pipeline.source == "soccernet":

    # Runs on the submitting machine (cluster nodes often have no internet access).
    localrules:
        download,

    rule download:
        output:
            manifest=P.download_manifest(),
        log:
            "logs/download/{split}.log",
        conda:
            "../environment.yml"
        params:
            root=pipeline.data_root,
            sets=sets(config.get("download", {})),
        shell:
            "python -m comedian download --root {params.root:q} --manifest {output.manifest:q} "
            "--set splits=[{wildcards.split}] {params.sets} > {log:q} 2>&1"


rule games:
    output:
        table=P.GAMES_TABLE,
    log:
        "logs/games/games.log",
    conda:
        "../environment.yml"
    params:
        sets=sets(pipeline.games_section),
    shell:
        "python -m comedian games --out {output.table:q} {params.sets} > {log:q} 2>&1"


rule decode:
    input:
        video=pipeline.get_video,
    output:
        store=P.DECODED,
    log:
        "logs/decode/{fps}fps{size}/{game}/{half}.log",
    benchmark:
        "benchmarks/decode/{fps}fps{size}/{game}/{half}.tsv"
    conda:
        "../environment.yml"
    threads: 1
    params:
        video=pipeline.video_path,
        sets=pipeline.decode_sets,
    shell:
        "python -m comedian decode --video {params.video:q} --out {output.store:q} "
        "--fps {wildcards.fps} --set num_threads={threads} {params.sets} > {log:q} 2>&1"
