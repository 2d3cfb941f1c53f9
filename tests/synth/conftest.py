"""A tiny synthetic dataset shared by the synth tests (generated once, through the CLI)."""

from __future__ import annotations

from pathlib import Path

import pytest

from comedian.cli import main
from comedian.synth import SynthConfig

#: 1 game per split plus a challenge game, 30 s halves, an event every ~2.5 s: every class
#: appears (visible) in each labelled split, and generation takes a few seconds.
TINY_SETTINGS: dict[str, object] = {
    "seed": 3,
    "train": 1,
    "valid": 1,
    "test": 1,
    "challenge": 1,
    "half_duration_s": 30.0,
    "event_interval_s": 2.5,
    "min_visible_per_class": 1,
    "workers": 2,
}
TINY = SynthConfig(**TINY_SETTINGS)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def tiny_cfg() -> SynthConfig:
    """Settings of the tiny dataset."""
    return TINY


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Root of the tiny dataset, written by ``comedian synth``."""
    root = tmp_path_factory.mktemp("synth") / "tiny"
    sets = [f"--set={key}={value}" for key, value in TINY_SETTINGS.items()]
    assert main(["synth", "--out", str(root), *sets]) == 0
    return root
