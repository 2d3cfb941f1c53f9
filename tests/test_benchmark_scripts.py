"""The GPU throughput script runs every stage's step on a CPU at tiny size (it is run by hand
on a GPU for the paper's numbers, so the suite keeps its code path working)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks/throughput.py"


def test_throughput_script_measures_every_stage_and_sums_the_recipe():
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "--tiny", "--steps", "1", "--warmup", "1",
         "--precision", "32-true", "--half-s", "100"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    rows = dict(re.findall(r"^(\w+): ([\d.]+) items/s", run.stdout, re.M))
    assert set(rows) == {"pretrain", "teacher", "extract_features", "distill", "finetune_head",
                         "finetune", "viswin_finetune_head", "viswin_finetune"}  # fmt: skip
    assert all(float(v) > 0 for v in rows.values())
    # the recipe's item counts with 100 s halves: 600 train halves, 1,100 for extraction
    assert "recipe 6,000,000 items" in run.stdout  # pretrain: 600 x 100 s x 100 epochs
    assert "recipe 6,000,000 items x 3 runs" in run.stdout  # pretrain, once a ViViT-T seed
    assert "recipe 6,000,000 items =" in run.stdout  # teacher: 600 x 100 windows x 100 epochs
    assert "recipe 220,000 items" in run.stdout  # extraction: 1,100 x 200 rows
    assert "recipe 2,280,000 items" in run.stdout  # distill: 600 x 38 x 100
    # steps a run at the global batch (2 x the per-GPU one): teacher 60,000 / 256 x 100 epochs
    assert re.search(r"^teacher: per-GPU batch 128, 60,000 items an epoch x 100 epochs, "
                     r"23,500 steps a run; [\d.e+-]+ GFLOPs an item", run.stdout, re.M)  # fmt: skip
    derived = [float(h) for h in re.findall(r"derived ([\d.e+-]+) GPU-hours", run.stdout)]
    assert len(derived) == 8 and all(h > 0 for h in derived)
    hours = [float(h) for h in re.findall(r"= ([\d.]+) device-hours", run.stdout)]
    total = float(re.search(r"^total: ([\d.]+) hours", run.stdout, re.M).group(1))
    assert abs(total - sum(hours)) <= 0.05 * len(hours) + 1e-9


def test_spot_script_times_each_phase_and_compares_the_codes():
    script = SCRIPT.parent / "spot.py"
    run = subprocess.run(
        [sys.executable, str(script), "--tiny", "--minutes", "0.5"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    for phase in ("decode", "inference baseline", "inference current", "nms"):
        assert re.search(rf"^{phase}.*: [\d.]+ s", run.stdout, re.M), phase
    # a 45-minute half: 84 windows of 64 s, 2,700 seconds encoded once each
    assert "84 windows, 2700 encoded seconds" in run.stdout
    diff = float(re.search(r"max \|score difference\| (\S+)", run.stdout).group(1))
    assert diff < 1e-5
