"""The README's commands, typed as written, on a tiny demo result.

Every fenced ``bash`` block of README.md right after a ``<!-- tested -->`` comment runs here, in
a copy of the workflow whose ``config/config.yaml`` is the demo's made tiny, after the stand-in
of ``make demo`` (``.venv/bin/snakemake --cores 2``, nothing on the PATH). Each block runs in a
fresh ``bash -e`` after the README's own PATH set-up block (``<!-- tested: the setup ...``), so
the README cannot drift from what works.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SETUP_MARK = "<!-- tested: the setup"
MARK = "<!-- tested -->"
#: A PATH without the environment's tools, like a new shell after `make demo`.
BARE_PATH = os.pathsep.join(("/usr/local/bin", "/usr/bin", "/bin"))
#: One game of each split, 12 s halves; the sweep and the report need valid and test games.
TINY_SYNTH = {"seed": 3, "train": 1, "valid": 1, "test": 1, "challenge": 0, "half_duration_s": 12}
#: The demo's run made tiny, without pretraining (as in test_workflow.py's real run).
TINY_TRAINING = {
    "runs": {
        "vivit": {
            "model": {"embed_dim": 16, "depth": 1, "temporal_depth": 1},
            "pretrain": False,
        }
    },
    "decode": {"rates": [2], "size": [32, 32]},
    "finetune_head": {"epochs": 1, "batch_size": 2, "random_windows": 0, "num_workers": 0},
    "finetune": {"epochs": 1, "batch_size": 2, "random_windows": 0, "num_workers": 0},
    "predict": {"batch_size": 2, "num_workers": 0},
}


def readme_blocks(text: str) -> tuple[str, list[str]]:
    """The set-up block and the tested blocks of the README, in order."""
    lines = text.splitlines()
    setup, blocks = None, []
    for i, line in enumerate(lines):
        if line.startswith((MARK, SETUP_MARK)):
            assert lines[i + 1] == "```bash", f"README line {i + 2}: a tested block is ```bash"
            body = "\n".join(lines[i + 2 : lines.index("```", i + 2)])
            if line.startswith(SETUP_MARK):
                setup = body
            else:
                blocks.append(body)
    assert setup is not None, "README: no set-up block"
    return setup, blocks


def merged(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        both = isinstance(value, dict) and isinstance(base.get(key), dict)
        out[key] = merged(base[key], value) if both else value
    return out


def test_readme_blocks_are_found() -> None:
    setup, blocks = readme_blocks((REPO / "README.md").read_text(encoding="utf-8"))
    assert "source .venv/bin/activate" in setup
    commands = "\n".join(blocks)
    for command in ("snakemake -n", "--report report.html", "results/sweep/vivit/valid/sweep.tsv"):
        assert command in commands


@pytest.mark.slow
def test_readme_commands_run_as_typed_after_the_demo(workflow) -> None:
    root = workflow.root
    config = yaml.safe_load((root / "config/config.yaml").read_text())
    tiny = merged(config, {"synth": TINY_SYNTH, **TINY_TRAINING})
    (root / "config/config.yaml").write_text(yaml.safe_dump(tiny, sort_keys=False))
    (root / ".venv").symlink_to(sys.prefix, target_is_directory=True)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = BARE_PATH

    def bash(script: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["bash", "-e", "-c", script],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )

    demo = bash(".venv/bin/snakemake --cores 2")  # what make demo runs
    assert demo.returncode == 0, demo.stderr[-4000:]
    setup, blocks = readme_blocks((REPO / "README.md").read_text(encoding="utf-8"))
    for block in blocks:
        proc = bash(f"{setup}\n{block}")
        assert proc.returncode == 0, f"README block failed:\n{block}\n{proc.stderr[-4000:]}"
    for path in (
        "results/evaluate/vivit/test/hard_w10_t0.05_m0/metrics.json",
        "results/by_hand/metrics.json",
    ):
        metrics = json.loads((root / path).read_text())
        assert 0.0 <= metrics["tight"]["a_mAP"] <= 1.0, path
    assert (root / "results/sweep/vivit/valid/sweep.tsv").exists()
    assert "<html" in (root / "report.html").read_text(encoding="utf-8", errors="replace")[:2000]
