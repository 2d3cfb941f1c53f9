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


def test_loader_scripts_compare_full_and_clip_size_stores(tmp_path):
    """benchmarks/pretrain.py and finetune.py measure each loader on the full-size stores and
    on the same halves' clip-size stores side by side (run by hand at the paper's size)."""
    synth = ["--set", "train=1", "--set", "valid=0", "--set", "test=0", "--set", "seed=1",
             "--set", "half_duration_s=66.0", "--set", "width=64", "--set", "height=36",
             "--set", "workers=1"]  # fmt: skip
    data, games = tmp_path / "data", tmp_path / "games.tsv"
    subprocess.run([sys.executable, "-m", "comedian", "synth", "--out", str(data), *synth],
                   check=True, capture_output=True)  # fmt: skip
    subprocess.run([sys.executable, "-m", "comedian", "games", "--out", str(games),
                    "--source", "synthetic", *[a if a == "--set" else f"synth.{a}" for a in synth],
                    "--set", "splits=[train]"], check=True, capture_output=True)  # fmt: skip
    from comedian.data.decode import decode_video
    from comedian.data.games import read_games_table

    table = read_games_table(games)
    folders = {}
    for fps in (2, 4):
        for name, size in (("full", None), ("clip", (16, 16))):
            folders[fps, name] = folder = tmp_path / f"{fps}fps_{name}"
            for slug, path in zip(table["slug"], table["path"], strict=True):
                for half in (1, 2):
                    video = data / path / f"{half}_224p.mkv"
                    out = folder / slug / f"{half}.frames"
                    decode_video(video, out, fps=fps, size=size, num_threads=1)
    common = ["--games", str(games), "--batch-size", "2", "--batches", "1", "--workers", "0",
              "--no-step", "--cpu-time"]  # fmt: skip
    pretrain = subprocess.run(
        [sys.executable, str(SCRIPT.parent / "pretrain.py"), *common,
         "--frames", str(folders[2, "full"]), "--frames4", str(folders[4, "full"]),
         "--clip-frames", str(folders[2, "clip"]), "--clip-frames4", str(folders[4, "clip"]),
         "--stages", "teacher", "extract", "distill"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    out = pretrain.stdout
    for stage in ("teacher", "extract", "distill"):
        block = out.split(f"{stage}:", 1)[1]
        assert re.search(r"\[full \(36, 64\)\]: [\d.]+ items per CPU second", block), out
        assert re.search(
            r"\[clip \(16, 16\)\]: [\d.]+ items per CPU second; [\d.]+x the ful", block
        )
    finetune = subprocess.run(
        [sys.executable, str(SCRIPT.parent / "finetune.py"), *common, "--labels", str(data),
         "--frames", str(folders[2, "full"]), "--clip-frames", str(folders[2, "clip"]),
         "--decode-options"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    out = finetune.stdout
    assert re.search(r"loader clip, 0 workers: [\d.]+ clips per CPU second = [\d.]+x the full", out)
    assert re.search(r"JPEG decode clip \(16, 16\), fastdct\+fastupsample: \d+ frames/s", out), out
