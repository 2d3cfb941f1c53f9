# Test-only rules run on the local cluster of tests/slurm: a single-GPU rule and a 2-task DDP
# rule, both launched the way the training rules are (comedian.launch). Resources come from
# tests/slurm/profile (set-resources), as they do from profiles/slurm on a real cluster.
# The test copies this file as Snakefile next to ddp_probe.py.

from comedian.launch import srun_prefix, stage_geometry


def launch(wildcards, resources):
    return srun_prefix(resources)


def geometry(wildcards, resources):
    return stage_geometry(resources)


rule all:
    input:
        "probe/gpu.txt",
        "probe/ddp/rank0.txt",
        "probe/ddp/rank1.txt",


rule gpu_probe:
    output:
        "probe/gpu.txt",
    log:
        "logs/gpu_probe.log",
    resources:
        gpu=1,
    shell:
        "echo job=$SLURM_JOB_ID gpus=$CUDA_VISIBLE_DEVICES > {output:q} 2> {log:q}"


rule ddp_probe:
    output:
        rank0="probe/ddp/rank0.txt",
        rank1="probe/ddp/rank1.txt",
    log:
        "logs/ddp_probe.log",
    resources:
        gpu=1,
        nodes=1,
    params:
        launch=launch,
        geometry=geometry,
    shell:
        "{params.launch} python ddp_probe.py {params.geometry} --out probe/ddp > {log:q} 2>&1"
