# Test-only rule run on the local cluster of tests/slurm: the distillation stage
# (`comedian distill`) launched as rules/distill.smk launches it (comedian.launch), as a 2-task
# CPU DDP job. Resources come from tests/slurm/profile; the test copies this file as Snakefile
# and passes the stage's inputs and settings as config["args"].

from comedian.launch import srun_prefix, stage_geometry


def launch(wildcards, resources):
    return srun_prefix(resources)


def geometry(wildcards, resources):
    return stage_geometry(resources)


rule distill_ddp:
    output:
        model="results/distill/ddp/model.pt",
        log="results/distill/ddp/train_log.csv",
    log:
        "logs/distill_ddp.log",
    params:
        launch=launch,
        geometry=geometry,
        args=config["args"],
    shell:
        "{params.launch} python -m comedian distill {params.args} --out {output.model:q} "
        "--accelerator cpu {params.geometry} > {log:q} 2>&1"
