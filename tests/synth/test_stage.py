"""The ``synth`` stage through the command line."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from comedian.cli import main
from comedian.stages import synth
from comedian.synth import SynthConfig


def test_command_line_options_reach_the_generator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    def fake_generate(cfg: SynthConfig, out: Path, *, workers: int) -> None:
        calls.append((cfg, out, workers))
        out.mkdir(parents=True)

    monkeypatch.setattr(synth, "generate", fake_generate)
    out = tmp_path / "d"
    assert (
        main(["synth", "--out", str(out), "--seed", "5", "--set", "train=2", "--workers", "3"]) == 0
    )
    assert calls == [(dataclasses.replace(SynthConfig(), seed=5, train=2, workers=3), out, 3)]
    doc = yaml.safe_load((out / "config.resolved.yaml").read_text())
    assert (doc["config"]["seed"], doc["config"]["train"], doc["paths"]) == (
        5,
        2,
        {"out": str(out)},
    )


def test_stage_writes_resolved_config(tiny_root: Path, tiny_cfg: SynthConfig) -> None:
    doc = yaml.safe_load((tiny_root / "config.resolved.yaml").read_text())
    assert doc["stage"] == "synth"
    assert doc["config"] == {k: getattr(tiny_cfg, k) for k in doc["config"]}
    assert set(doc["config"]) == set(SynthConfig.__dataclass_fields__)
    assert doc["paths"] == {"out": str(tiny_root)}


def test_help_lists_settings(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["synth", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ("--out", "--seed", "--half-duration-s", "--not-shown-fraction", "--preset"):
        assert option in text


@pytest.mark.parametrize(
    "args",
    [["--set", "no_such_key=1"], ["--set", "width=397"]],
)
def test_bad_settings_fail_before_writing(tmp_path: Path, args: list[str]) -> None:
    assert main(["synth", "--out", str(tmp_path / "d"), *args]) != 0
    assert not (tmp_path / "d").exists()
