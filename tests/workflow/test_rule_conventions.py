"""The conventions every rule follows, checked on every rule the workflow defines (so a new rule
is checked without editing this file): one name everywhere (rule = stage = results/<rule>/ =
logs/<rule>/ = benchmarks/<rule>/), a log for every job, paths from comedian.paths, and SLURM
resources for every rule whose stage runs on a GPU.

The rules are read by parsing the workflow (``snakemake --list-rules`` of a Snakefile that
includes the real one and writes each rule's declarations), for the synthetic dataset (the
default config) and for SoccerNet (config/paper.yaml): the rules synth and download exist for
one source each.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import re
from pathlib import Path

import pytest
import yaml

from comedian.cli import STAGES

REPO = Path(__file__).resolve().parents[2]

PROBE = """\
include: "Snakefile"

import json
import os

with open(os.environ["COMEDIAN_RULES_JSON"], "w") as _out:
    json.dump(
        {
            r.name: {
                "output": [str(f) for f in r.output],
                "log": [str(f) for f in r.log],
                "benchmark": str(r.benchmark) if r.benchmark else None,
                "shell": r.shellcmd,
                "script": r.script,
            }
            for r in workflow.rules
        },
        _out,
    )
"""

#: The target rule (inputs only).
TARGET_RULES = {"all"}
#: The rule synth writes the synthetic dataset where config dataset.root says, not in results/.
DATASET_RULES = {"synth"}


def folder(rule: str) -> str:
    """The folder name of a rule under results/, logs/ and benchmarks/: its own name, except
    the report figures (rules plot_*), which share results/report/ and logs/report/."""
    return "report" if rule.startswith("plot_") else rule


@pytest.fixture(scope="module")
def rules(module_workflow) -> dict[str, dict]:
    """Every rule of the workflow, for either dataset source: name -> declarations."""
    wf = module_workflow
    (wf.root / "probe.smk").write_text(PROBE)
    found: dict[str, dict] = {}
    for name, configs in (("synthetic", ()), ("soccernet", ("--configfile", "config/paper.yaml"))):
        out = wf.root / f"{name}.json"
        wf.run("-s", "probe.smk", "--list-rules", *configs, env={"COMEDIAN_RULES_JSON": str(out)})
        found.update(json.loads(out.read_text()))
    assert {"synth", "download"} <= set(found)
    return found


def stage_of(rule: dict) -> str | None:
    """The comedian stage (module name) a rule's shell command runs, if any."""
    m = re.search(r"python -m comedian ([a-z-]+) ", rule["shell"] or "")
    return m.group(1).replace("-", "_") if m else None


def stage_fields(stage: str) -> set[str]:
    config = importlib.import_module(f"comedian.stages.{stage}").Config
    return {f.name for f in dataclasses.fields(config)}


def gpu_rules(rules: dict[str, dict]) -> dict[str, bool]:
    """Rules whose stage runs a network on a device -> whether it trains (Lightning ``devices``,
    so DDP-capable) rather than infers (a single ``device``)."""
    out = {}
    for name, rule in rules.items():
        stage = stage_of(rule)
        fields = stage_fields(stage) if stage else set()
        if "devices" in fields or "device" in fields:
            out[name] = "devices" in fields
    return out


def test_every_rule_runs_its_own_stage_or_script(rules):
    for name, rule in rules.items():
        if name in TARGET_RULES:
            continue
        if rule["script"]:
            assert Path(rule["script"]).name == f"{name}.py", (name, rule["script"])
            assert (REPO / "scripts" / f"{name}.py").is_file(), name
        else:
            assert stage_of(rule) == name, (name, rule["shell"])  # one name everywhere
            assert name in STAGES, name
            # the stage's whole output goes to the job's log
            assert rule["shell"].rstrip().endswith("> {log:q} 2>&1"), (name, rule["shell"])


def test_every_rule_writes_under_its_own_results_folder(rules):
    for name, rule in rules.items():
        if name in TARGET_RULES | DATASET_RULES:
            continue
        assert rule["output"], name
        own = f"results/{folder(name)}"
        for path in rule["output"]:
            # results/<rule>/... or a single file results/<rule>.<ext> (e.g. summary.tsv)
            assert path.startswith((f"{own}/", f"{own}.")), (name, path)


def test_every_job_has_a_log_and_benchmark_in_its_own_folder(rules):
    for name, rule in rules.items():
        if name in TARGET_RULES:
            continue
        assert len(rule["log"]) == 1, name
        assert rule["log"][0].startswith(f"logs/{folder(name)}/"), (name, rule["log"])
        if rule["benchmark"]:
            assert rule["benchmark"].startswith(f"benchmarks/{folder(name)}/"), name


def test_the_rules_write_results_paths_with_comedian_paths():
    """No literal results/ path in the code of the Snakefile and rules (comments aside)."""
    for path in [REPO / "Snakefile", *sorted((REPO / "rules").glob("*.smk"))]:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            assert not re.search(r"""["']results/""", code), f"{path.name}:{number}: {line}"


def test_slurm_profile_names_rules_of_the_workflow(rules):
    profile = yaml.safe_load((REPO / "profiles/slurm/config.yaml").read_text())
    assert set(profile["set-resources"]) <= set(rules)
    assert set(profile.get("set-threads", {})) <= set(rules)


def test_every_gpu_rule_has_gpu_resources_and_no_other_rule_has(rules):
    profile = yaml.safe_load((REPO / "profiles/slurm/config.yaml").read_text())
    resources = profile["set-resources"]
    default_partition = profile["default-resources"]["slurm_partition"]
    gpus = gpu_rules(rules)
    assert gpus, "no rule runs a stage with a device setting"
    for name in rules:
        res = resources.get(name, {})
        if name not in gpus:
            assert not {"gpu", "gres", "mpi"} & set(res), (name, res)
            continue
        assert res.get("gpu", 0) >= 1, (name, res)
        assert res.get("slurm_partition", default_partition) != default_partition, name
        assert {"runtime", "mem_mb", "cpus_per_task"} <= set(res), (name, res)
        shell = rules[name]["shell"]
        if not gpus[name]:  # inference: one device, the plugin's own srun -n1 runs it
            assert res["gpu"] == 1 and "mpi" not in res, (name, res)
            continue
        # training: the rule launches its DDP tasks and passes the geometry to the stage
        assert shell.startswith("{params.launch} python -m comedian "), (name, shell)
        assert "{params.geometry}" in shell, (name, shell)
        if res["gpu"] > 1:
            assert res["mpi"] == "srun" and res["tasks_per_node"] == res["gpu"], (name, res)
