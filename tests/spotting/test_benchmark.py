"""benchmarks/spotting.py runs at a tiny size and finds every output identical to its baseline
(it is run by hand at full size for benchmarks/README.md)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks/spotting.py"


def test_spotting_benchmark_compares_with_its_baselines() -> None:
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "--halves", "2", "--seq-halves", "1", "--games", "2",
         "--official-games", "1", "--densities", "1000", "--repeats", "1", "--workers", "2",
         "--settings", "3"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout
    # NMS: soft and hard, each the same as before and as the sequential definition.
    assert out.count("same rows: True") == 4 and "same rows: False" not in out, out
    assert all(float(x) < 1e-12 for x in re.findall(r"max \|diff\| (\S+) \|", out)), out
    # The metric: identical to the official evaluator, tight and loose.
    assert len(re.findall(r"\| 1000 \| (tight|loose) \|.*\| 0\.0e\+00 \|", out)) == 2, out
    # The sweep with 2 workers: the same table as the serial one at the baseline.
    assert "max abs diff of tight and loose 0.0e+00" in out, out
