"""rules/spotting.smk: sweeps, NMS + evaluation and ensembles from saved raw scores.

The workflow files are copied into ``tmp_path`` with a Snakefile that includes rules/common.smk,
rules/data.smk (for the games table) and rules/spotting.smk. Raw scores and labels are written
directly (no inference): Snakemake must treat them as sources and rerun nothing upstream.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from spotting_synth import write_tree

from comedian.config import apply_overrides
from comedian.spotting.scores import read_raw_game, write_raw_game
from comedian.stages import games as games_stage

REPO = Path(__file__).resolve().parents[2]
SNAKEFILE = """\
configfile: "config/config.yaml"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/spotting.smk"
"""
SYNTH = {"seed": 0, "train": 1, "valid": 2, "test": 1, "challenge": 0, "half_duration_s": 60.0}


def snakemake(root: Path, *args: str) -> subprocess.CompletedProcess:
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run(
        [str(bin_dir / "snakemake"), "--cores", "1", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if proc.returncode != 0:
        raise AssertionError(
            f"snakemake {args} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return proc


@pytest.fixture(scope="module")
def workflow(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("wf")
    for name in ("rules", "schemas", "config"):
        shutil.copytree(REPO / name, root / name)
    shutil.copy2(REPO / "environment.yml", root / "environment.yml")
    (root / "Snakefile").write_text(SNAKEFILE)
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["dataset"] = {"source": "synthetic", "root": "data/synthetic", "splits": ["valid"]}
    config["synth"] = SYNTH
    config["spotting"] = {
        "nms": {"kind": "soft", "window": 20, "threshold": 0.001, "min_weight": 0.0},
        "metric": "all",
        "sweep": {"kinds": ["soft", "hard"], "windows": [10, 20], "thresholds": [0.01]},
        "ensembles": {"duo": ["a", "b"]},
    }
    (root / "config" / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    games_cfg = apply_overrides(
        games_stage.Config(), {"source": "synthetic", "splits": ["valid"], "synth": SYNTH}
    )
    paths = games_stage.build_table(games_cfg)["path"].tolist()
    raw_a = root / "results" / "predict" / "a" / "valid" / "raw"
    raw_b = root / "results" / "predict" / "b" / "valid" / "raw"
    written = write_tree(
        root / "scratch", root / "scratch_raw", np.random.default_rng(0), len(paths)
    )
    # Move the synthetic games to the games table's paths; run b = a second model (same lengths).
    for src, dst in zip(written, paths, strict=True):
        scores = read_raw_game(root / "scratch_raw", src)
        write_raw_game(raw_a, dst, scores)
        write_raw_game(raw_b, dst, {h: np.sqrt(s) for h, s in scores.items()})
        target = root / "data" / "synthetic" / dst
        target.mkdir(parents=True, exist_ok=True)
        (root / "scratch" / src / "Labels-v2.json").rename(target / "Labels-v2.json")
    shutil.rmtree(root / "scratch_raw")
    shutil.rmtree(root / "scratch")
    return root


@pytest.mark.slow
def test_sweep_target_from_raw_scores(workflow: Path) -> None:
    snakemake(workflow, "results/sweep/a/valid/sweep.tsv")
    table = pd.read_csv(workflow / "results/sweep/a/valid/sweep.tsv", sep="\t")
    assert list(table["setting"]) == [
        "soft_w10_t0.01_m0",
        "soft_w20_t0.01_m0",
        "hard_w10_t0.01_m0",
        "hard_w20_t0.01_m0",
    ]
    assert (workflow / "results/sweep/a/valid/heatmap.png").stat().st_size > 0
    assert (workflow / "logs/sweep/a/valid.log").is_file()


@pytest.mark.slow
def test_nms_evaluate_and_ensemble_targets(workflow: Path) -> None:
    target = "results/evaluate/a/valid/soft_w20_t0.01_m0/metrics.json"
    snakemake(workflow, target)
    metrics = yaml.safe_load((workflow / target).read_text())
    assert set(metrics) >= {"tight", "loose"}
    # Same number as the sweep computed in memory for that setting (if that test ran first).
    sweep = workflow / "results/sweep/a/valid/sweep.tsv"
    if sweep.exists():
        row = pd.read_csv(sweep, sep="\t").set_index("setting").loc["soft_w20_t0.01_m0"]
        assert row["tight"] == pytest.approx(metrics["tight"]["a_mAP"], abs=1e-6)
    dry = snakemake(workflow, "-n", target)
    assert "Nothing to be done" in dry.stdout + dry.stderr
    # Any setting is a target; only NMS + evaluate run (nothing upstream of the raw scores).
    other = "results/evaluate/a/valid/hard_w30_t0.2_m0/metrics.json"
    plan = snakemake(workflow, "-n", other)
    jobs = plan.stdout + plan.stderr
    assert "rule nms:" in jobs and "rule evaluate:" in jobs
    assert "rule synth:" not in jobs and "rule games:" not in jobs
    # An ensemble named in config acts as a run.
    ens = "results/evaluate/duo/valid/soft_w20_t0.001_m0/metrics.json"
    snakemake(workflow, ens)
    assert (workflow / "results/ensemble/duo/valid/raw").is_dir()
    assert (workflow / ens).is_file()


@pytest.mark.slow
def test_per_class_window_slug_is_a_target_and_non_canonical_slugs_fail(workflow: Path) -> None:
    target = "results/evaluate/a/valid/soft_w20_t0.01_m0_goal30/metrics.json"
    plan = snakemake(workflow, "-n", "-p", target)
    jobs = plan.stdout + plan.stderr
    assert "rule nms:" in jobs and "windows_per_class=" in jobs and '"Goal": 30' in jobs
    with pytest.raises(AssertionError, match=r"not canonical, write 'soft_w20_t0.01_m0'"):
        snakemake(workflow, "-n", "results/evaluate/a/valid/soft_w20_t0.010_m0/metrics.json")
