# Test-only rule run on the local cluster of tests/slurm: the fine-tuning stage A
# (`comedian finetune-head`) launched as the training rules of rules/finetune.smk launch it
# (comedian.launch), as a 2-task CPU DDP job. Resources come from tests/slurm/profile; the test
# copies this file as Snakefile and passes the stage's data and settings as config["args"];
# config["runner"] (default `-m comedian`) may name tests/kill_at_step.py with its mode instead.

from comedian.launch import srun_prefix, stage_geometry


def launch(wildcards, resources):
    return srun_prefix(resources)


def geometry(wildcards, resources):
    return stage_geometry(resources)


rule finetune_head_ddp:
    output:
        model="results/finetune_head/ddp/model.pt",
        last="results/finetune_head/ddp/last.pt",
        log="results/finetune_head/ddp/train_log.csv",
    log:
        "logs/finetune_head_ddp.log",
    params:
        launch=launch,
        geometry=geometry,
        args=config["args"],
        runner=config.get("runner", "-m comedian"),
    shell:
        "{params.launch} python {params.runner} finetune-head {params.args} --out {output.model:q} "
        "--accelerator cpu {params.geometry} > {log:q} 2>&1"
