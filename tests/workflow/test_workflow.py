"""The Snakemake workflow: dry runs, lint, the SLURM profile and real runs on synthetic data."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from comedian.data.frames import FrameStore
from comedian.data.games import read_games_table, slugify, soccernet_games
from comedian.synth import SynthConfig, plan_games, write_half

TINY_SYNTH = {
    "seed": 3,
    "train": 1,
    "valid": 0,
    "test": 1,
    "challenge": 0,
    "half_duration_s": 12.0,
}


def job_counts(stdout: str) -> dict[str, int]:
    """Parse the job-stats table that `snakemake -n` prints."""
    counts = {}
    for line in stdout.splitlines():
        m = re.match(r"^(\w+)\s+(\d+)\s*$", line.strip())
        if m and m.group(1) != "total":
            counts[m.group(1)] = int(m.group(2))
    return counts


def test_dry_run_default_config(workflow):
    """The demo: its one pretrained run through every step, evaluated on valid and test."""
    proc = workflow.run("-n")
    counts = job_counts(proc.stdout)
    default = SynthConfig()
    n_games = default.train + default.valid + default.test
    assert counts["all"] == 1 and counts["synth"] == 1
    assert counts["decode"] == 2 * 2 * n_games  # every half at 2 and 4 fps
    assert counts["extract_features"] == 2 * n_games  # the teacher reads every half at 4 fps
    for stage in ("pretrain", "teacher", "pca", "distill", "finetune_head", "finetune"):
        assert counts[stage] == 1, stage
    for rule in ("predict", "nms", "evaluate"):
        assert counts[rule] == 2, rule  # valid and test at the default NMS setting
    assert counts["plot_timeline"] == min(3, default.test)
    assert "download" not in counts and "sweep" not in counts


def planned_jobs(stdout: str) -> list[tuple[str, dict[str, str], str]]:
    """``(rule, resources, shell command)`` of every job a dry run with -p prints."""
    jobs: list[tuple[str, dict[str, str], str]] = []
    rule, resources = "", {}
    for line in stdout.splitlines():
        if m := re.match(r"^(?:local)?rule (\w+):$", line):
            rule, resources = m.group(1), {}
        elif line.startswith("    resources: "):
            pairs = (item.split("=", 1) for item in line[len("    resources: ") :].split(", "))
            resources = {k: v for k, v in pairs}
        elif line.startswith("Shell command: ") and rule:
            jobs.append((rule, resources, line[len("Shell command: ") :]))
            rule = ""
    return jobs


def test_slurm_profile_dry_run_plans_the_paper_with_gpu_resources(workflow, tmp_path):
    """Every GPU job gets its profile resources and the command that matches them: a DDP job
    (``mpi: srun``) starts its tasks with the geometry spelled out, a one-GPU job is left to
    the plugin's own srun, and a training stage gets ``--devices/--num-nodes`` from them.
    (test_rule_conventions.py checks which rules have GPU resources.)"""
    # The profile's configfile is config/paper.yaml; a missing dataset root is fine for -n.
    missing_root = tmp_path / "no SoccerNet here"
    proc = workflow.run(
        "--profile",
        "profiles/slurm",
        "-n",
        "--config",
        f"dataset={{source: soccernet, root: '{missing_root}', splits: [train, valid, test, challenge]}}",
    )
    counts = job_counts(proc.stdout)
    # 550 games x 2 halves x (2 fps + 4 fps) at 224x224, and the 300 train games' halves at
    # 2 fps and 398x224 for pretraining; no synth rule for real data.
    assert counts["decode"] == 550 * 2 * 2 + 300 * 2
    assert counts["extract_features"] == 550 * 2
    assert "synth" not in counts
    jobs = planned_jobs(proc.stdout)
    assert len(jobs) == sum(counts.values())
    launched, single = set(), set()
    for rule, res, shell in jobs:
        if "gpu" not in res:
            assert "mpi" not in res and not shell.startswith("srun"), (rule, res, shell)
            continue
        assert res["slurm_partition"] != "cpu", (rule, res)
        gpus, cpus, command = res["gpu"], res["cpus_per_task"], rule.replace("_", "-")
        if "mpi" in res:  # DDP: one task a GPU, started by the rule itself
            assert res["mpi"] == "srun" and res["tasks_per_node"] == gpus, (rule, res)
            assert shell.startswith(
                f"srun --nodes={res['nodes']} --ntasks-per-node={gpus} --cpus-per-task={cpus} "
                f"--gpus-per-node={gpus} --kill-on-bad-exit=1 python -m comedian {command} "
            ), shell
            assert f" --devices {gpus} --num-nodes {res['nodes']} " in shell, shell
            launched.add(rule)
        else:  # the plugin's own srun -n1 runs it
            assert gpus == "1" and not shell.startswith("srun"), (rule, shell)
            single.add(rule)
            if " --devices " in shell:  # a training stage on one GPU
                assert " --devices 1 --num-nodes 1 " in shell, shell
    assert launched and single  # the paper has both kinds


def test_rules_run_the_interpreter_of_snakemake_whatever_the_path(workflow, tmp_path):
    """`.venv/bin/snakemake` typed as is (environment not activated): the jobs' `python` is
    the interpreter that runs Snakemake, not the first `python` on the PATH."""
    decoy = tmp_path / "decoy bin"
    decoy.mkdir()
    (decoy / "python").write_text("#!/bin/sh\necho 'the PATH python ran' >&2\nexit 3\n")
    (decoy / "python").chmod(0o755)
    workflow.write_config("tiny.yaml", {"synth": TINY_SYNTH})
    snakemake = Path(sys.executable).parent / "snakemake"
    env = {**os.environ, "PATH": f"{decoy}{os.pathsep}/usr/bin{os.pathsep}/bin"}
    proc = subprocess.run(
        [
            str(snakemake),
            "results/games/games.tsv",
            "--cores",
            "1",
            "--configfile",
            "config/tiny.yaml",
        ],
        cwd=workflow.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    logs = "".join(p.read_text() for p in (workflow.root / "logs").rglob("*.log"))
    assert proc.returncode == 0, proc.stderr[-3000:] + logs
    assert "the PATH python ran" not in logs
    assert (workflow.root / "results/games/games.tsv").exists()


#: The released ViViT-T checkpoints' ensemble on test (config/paper.yaml, README).
RELEASED_TARGET = "results/evaluate/released_ensemble/test/soft_w20_t0.001_m0/metrics.json"


def test_released_weights_plan_inference_only(workflow, tmp_path):
    """The published table from the released weights: predict -> ensemble -> soft NMS ->
    evaluate on the test games, nothing trained; the weights come from the Hub at run time."""
    root = tmp_path / "no SoccerNet here"
    proc = workflow.run(
        "--configfile",
        "config/paper.yaml",
        "-n",
        "-p",
        RELEASED_TARGET,
        "--config",
        f"dataset={{source: soccernet, root: '{root}', splits: [train, valid, test, challenge]}}",
    )
    counts = job_counts(proc.stdout)
    assert counts["download"] == 1  # the test split's videos and labels
    assert counts["decode"] == 100 * 2  # 2 fps only: no teacher
    assert [counts[r] for r in ("predict", "ensemble", "nms", "evaluate")] == [3, 1, 1, 1]
    jobs = planned_jobs(proc.stdout)
    # nothing trains: no job runs a stage with a training geometry (--devices)
    assert not [rule for rule, _, shell in jobs if " --devices " in shell]
    predicts = [shell for rule, _, shell in jobs if rule == "predict"]
    for seed in (42, 203, 666):
        assert any(
            f"--model comedian-vivit-tiny-seed{seed} " in s
            and f"/released_seed{seed}/test/raw " in s
            and 'arch="vivit_tiny"' in s
            for s in predicts
        ), predicts


def test_hub_weights_reach_the_stages_and_are_no_dag_files(workflow):
    """`init`, `teacher_init` and `weights` given as Hub files go to the stage as they are (it
    downloads them); local files stay inputs of the DAG."""
    workflow.write_config(
        "hub.yaml",
        {
            "runs": {
                "hub_init": {"pretrain": False, "init": "hf://someone/ssl@v2/vit.pth"},
                "local_init": {"pretrain": False, "init": "weights/vit.pth"},
                "hub_weights": {"weights": "comedian-vivit-tiny-seed203", "arch": "vivit_tiny"},
            },
            "teacher_init": "hf://someone/k400/slow_r50.pyth",
        },
    )
    (workflow.root / "weights").mkdir()
    (workflow.root / "weights/vit.pth").write_bytes(b"")
    proc = workflow.run("-n", "-p", "--configfile", "config/hub.yaml")
    shells = {}
    for rule, _, shell in planned_jobs(proc.stdout):
        shells.setdefault(rule, []).append(shell)
    (teacher,) = shells["teacher"]
    assert " --init hf://someone/k400/slow_r50.pyth " in teacher
    heads = " ".join(shells["finetune_head"])
    assert " --init hf://someone/ssl@v2/vit.pth " in heads and " --init weights/vit.pth " in heads
    assert any(" --model comedian-vivit-tiny-seed203 " in s for s in shells["predict"])
    # the local file is an input of its job, the Hub files are not files of the DAG
    inputs = [line for line in proc.stdout.splitlines() if line.startswith("    input: ")]
    assert any("weights/vit.pth" in line for line in inputs)
    assert not any("hf:" in line or "comedian-vivit" in line for line in inputs)


def test_lint_is_clean(workflow):
    proc = workflow.run("--lint")
    assert "Lints for" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr


def test_invalid_config_is_rejected(workflow):
    proc = workflow.run("-n", "--config", "dataset={source: youtube}", check=False)
    assert proc.returncode != 0
    assert "youtube" in proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ((), "decoed"),  # a misspelt top-level section
        (("decode",), "sise"),
        (("spotting", "nms"), "windw"),
        (("dataset",), "split"),
        (("synth",), "seeed"),
    ],
)
def test_config_typos_fail_the_dry_run_naming_the_key(workflow, section, key):
    doc = yaml.safe_load((workflow.root / "config" / "config.yaml").read_text())
    node = doc
    for name in section:
        node = node[name]
    node[key] = 1
    path = workflow.write_config("typo.yaml", doc)
    proc = workflow.run("-n", "--configfile", str(path), check=False)
    assert proc.returncode != 0
    assert re.search(rf"['.]{key}'", proc.stdout + proc.stderr)  # 'key' or 'synth.key'


#: One epoch of each fine-tuning stage on two clips, a tiny ViViT: the whole DAG in a minute.
TINY_TRAINING = {
    # the default config's run, made tiny and without pretraining (config files merge key by key)
    "runs": {
        "vivit": {
            "arch": "vivit_tiny",
            "model": {
                "img_size": 32,
                "patch_size": 16,
                "embed_dim": 16,
                "depth": 1,
                "num_heads": 2,
                "temporal_depth": 1,
                "temporal_num_heads": 2,
                "drop_path_rate": 0.0,
                "temporal_drop_path_rate": 0.0,
            },
            "seed": 0,
            "pretrain": False,
        }
    },
    "decode": {"rates": [2], "size": [32, 32]},
    "finetune_head": {"epochs": 1, "batch_size": 2, "random_windows": 0, "num_workers": 0},
    "finetune": {"epochs": 1, "batch_size": 2, "random_windows": 0, "num_workers": 0},
    "predict": {"batch_size": 2, "num_workers": 0},
}


@pytest.mark.slow
def test_real_run_from_video_to_metric_with_spaces_and_quotes_in_game_names(workflow):
    """The whole DAG (synth -> decode -> finetune_head -> finetune -> predict -> nms ->
    evaluate -> summary) on 2 games of 12 s halves with a tiny model."""
    workflow.write_config(
        "tiny.yaml",
        {"synth": TINY_SYNTH, "dataset": {"splits": ["train", "test"]}, **TINY_TRAINING},
    )
    plan = plan_games(SynthConfig(**TINY_SYNTH))
    assert any("'" in path for _, path in plan) or all(" " in path for _, path in plan)
    workflow.run("--cores", "2", "--configfile", "config/tiny.yaml")
    table = read_games_table(workflow.root / "results/games/games.tsv")
    assert sorted(table["path"]) == sorted(path for _, path in plan)
    for slug, path in zip(table["slug"], table["path"], strict=True):
        assert slug == slugify(path)
        for half in (1, 2):
            store = FrameStore(workflow.root / f"results/decode/2fps/{slug}/{half}.frames")
            assert store.num_frames == 24  # 12 s at 2 fps
            assert (workflow.root / f"logs/decode/2fps/{slug}/{half}.log").exists()
    summary = pd.read_csv(workflow.root / "results/summary.tsv", sep="\t")
    assert summary[["run", "split", "nms"]].values.tolist() == [
        ["vivit", "test", "soft_w20_t0.001_m0"]
    ]
    assert 0.0 <= summary["tight"].iloc[0] <= 1.0 and 0.0 <= summary["loose"].iloc[0] <= 1.0
    assert len([c for c in summary.columns if c.startswith("tight/")]) == 17
    for stage in ("finetune_head", "finetune"):
        out = workflow.root / "results" / stage / "vivit"
        assert {"model.pt", "last.pt", "train_log.csv", "config.resolved.yaml"} <= {
            p.name for p in out.iterdir()
        }
        assert not (out / ".resume").exists()  # removed once the outputs exist
        log = pd.read_csv(out / "train_log.csv")
        assert len(log) >= 1 and log["loss"].notna().all()
    raw = list((workflow.root / "results/predict/vivit/test/raw").rglob("1.npy"))
    assert len(raw) == 1 and np.load(raw[0]).shape == (24, 17)
    assert "Nothing to be done" in workflow.run("-n", "--configfile", "config/tiny.yaml").stdout
    # the report: its figures were made by the run, the HTML holds them
    report = workflow.root / "results/report"
    figures = {p.relative_to(report).as_posix() for p in report.rglob("*.png")}
    slug = table.loc[table["split"] == "test", "slug"].iloc[0]
    assert figures == {
        "summary.png",
        "class_ap.png",
        "training.png",
        f"timeline/vivit/test/soft_w20_t0.001_m0/{slug}.png",
    }
    pages = {p.relative_to(report).as_posix() for p in report.rglob("*.html")}
    assert pages == {f"timeline/vivit/test/soft_w20_t0.001_m0/{slug}.html"}  # the match viewer
    workflow.run("--cores", "1", "--configfile", "config/tiny.yaml", "--report", "report.html")
    html = (workflow.root / "report.html").read_text(encoding="utf-8", errors="replace")
    assert "class_ap.png" in html and f"{slug}.png" in html


@pytest.mark.slow
def test_corrupt_video_fails_alone_under_keep_going(workflow, tmp_path):
    """Two official SoccerNet games (real names), one with a corrupt video: the other decodes."""
    root = tmp_path / "SoccerNet"
    good, bad = soccernet_games(["test"])["path"].tolist()[:2]
    (root / good).mkdir(parents=True)
    (root / bad).mkdir(parents=True)
    write_half(root / good / "1_224p.mkv", duration_s=4.0, seed=1)
    (root / bad / "1_224p.mkv").write_bytes(b"\x1a\x45\xdf\xa3 not a matroska file" * 50)
    targets = [f"results/decode/2fps/{slugify(g)}/1.frames" for g in (good, bad)]
    proc = workflow.run(
        "--cores",
        "2",
        "--keep-going",
        "--config",
        f"dataset={{source: soccernet, root: '{root}', splits: [test]}}",
        "--",
        *targets,
        check=False,
    )
    assert proc.returncode != 0
    store = FrameStore(workflow.root / targets[0])
    assert store.num_frames == 8
    size = yaml.safe_load((workflow.root / "config/config.yaml").read_text())["decode"]["size"]
    assert np.asarray(store.read(0, 1)).shape[1:] == (*(size or (224, 398)), 3)
    assert not (workflow.root / targets[1]).exists()
    log = (workflow.root / f"logs/decode/2fps/{slugify(bad)}/1.log").read_text()
    assert str(root / bad / "1_224p.mkv") in log
