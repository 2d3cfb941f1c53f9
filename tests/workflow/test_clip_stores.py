"""Which frame stores each stage reads (config decode.size and decode.clip_size), by dry run.

The paper config decodes the stores of every stage but pretraining at the models' 224x224 input
(``clip_size``), while pretraining's 2 fps stores of the train split keep the 398x224 frame for
its random resized crop. The demo (``clip_size: null``) has one store a rate and half, as before.
"""

from __future__ import annotations

import re

import pytest

from comedian.synth import SynthConfig

#: The flag that names each stage's frame stores (a folder, or one half's store).
STORE_FLAGS = ("--frames", "--frames4")


def planned(stdout: str) -> list[tuple[str, str]]:
    """``(rule, shell command)`` of every job a dry run with -p prints."""
    jobs, rule = [], ""
    for line in stdout.splitlines():
        if m := re.match(r"^(?:local)?rule (\w+):$", line):
            rule = m.group(1)
        elif line.startswith("Shell command: ") and rule:
            jobs.append((rule, line[len("Shell command: ") :]))
            rule = ""
    return jobs


def stores_read(jobs: list[tuple[str, str]]) -> dict[str, set[str]]:
    """rule -> the store folders (results/decode/<name>) its jobs pass with --frames/--frames4."""
    read: dict[str, set[str]] = {}
    for rule, shell in jobs:
        for flag in STORE_FLAGS:
            for m in re.finditer(rf" {flag} '?results/decode/([^/ ']+)", shell):
                read.setdefault(rule, set()).add(f"{flag} {m.group(1)}")
    return read


def decode_jobs(jobs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(store folder, --set size=...) of every decode job."""
    out = []
    for rule, shell in jobs:
        if rule == "decode":
            folder = re.search(r" --out '?results/decode/([^/ ']+)/", shell).group(1)
            size = re.search(r"--set (?:'size=([^']*)'|size=(\S+))", shell)
            out.append((folder, (size.group(1) or size.group(2)) if size else None))
    return out


def test_paper_clip_stages_read_224_stores_and_pretraining_398(workflow):
    synth = SynthConfig()
    n_games, n_train = synth.train + synth.valid + synth.test, synth.train
    workflow.write_config(
        "synthetic.yaml",
        {"dataset": {"source": "synthetic", "root": "data/synthetic",
                     "splits": ["train", "valid", "test"]}},
    )  # fmt: skip
    proc = workflow.run("-n", "-p", "--configfile", "config/paper.yaml", "config/synthetic.yaml")
    jobs = planned(proc.stdout)
    decodes = decode_jobs(jobs)
    # 2 and 4 fps of every half at 224x224, plus pretraining's 398x224 2 fps of the train halves
    assert sorted(set(decodes)) == [
        ("2fps", "null"),
        ("2fps_224x224", "[224, 224]"),
        ("4fps_224x224", "[224, 224]"),
    ]
    assert len(decodes) == 2 * 2 * n_games + 2 * n_train
    assert sum(folder == "2fps" for folder, _ in decodes) == 2 * n_train
    clip = {"--frames 2fps_224x224"}
    assert stores_read(jobs) == {
        "pretrain": {"--frames 2fps"},
        "teacher": clip | {"--frames4 4fps_224x224"},
        "extract_features": clip | {"--frames4 4fps_224x224"},
        "distill": clip,
        "finetune_head": clip,
        "finetune": clip,
        "predict": clip,
    }


@pytest.mark.parametrize("clip_size", [None, [32, 32]])
def test_demo_reads_one_store_a_rate_as_before(workflow, clip_size):
    # clip_size null, or equal to decode.size: one store a rate and half, read by every stage
    path = workflow.write_config("clip.yaml", {"decode": {"clip_size": clip_size}})
    proc = workflow.run("-n", "-p", "--configfile", "config/config.yaml", str(path))
    jobs = planned(proc.stdout)
    n_games = SynthConfig().train + SynthConfig().valid + SynthConfig().test
    decodes = decode_jobs(jobs)
    assert sorted(set(decodes)) == [("2fps", "[32, 32]"), ("4fps", "[32, 32]")]
    assert len(decodes) == 2 * 2 * n_games
    assert all("clip_size" not in shell for _, shell in jobs)
    assert stores_read(jobs) == {
        "pretrain": {"--frames 2fps"},
        "teacher": {"--frames 2fps", "--frames4 4fps"},
        "extract_features": {"--frames 2fps", "--frames4 4fps"},
        "distill": {"--frames 2fps"},
        "finetune_head": {"--frames 2fps"},
        "finetune": {"--frames 2fps"},
        "predict": {"--frames 2fps"},
    }
