"""Config overrides, type coercion and the resolved dump."""

import dataclasses
from pathlib import Path
from typing import Literal

import pytest
import yaml

from comedian.config import (
    ConfigError,
    apply_overrides,
    nest,
    parse_set_args,
    to_dict,
    write_resolved,
)


@dataclasses.dataclass(frozen=True)
class Optim:
    lr: float = 5e-4
    betas: tuple[float, float] = (0.9, 0.999)


@dataclasses.dataclass(frozen=True)
class Cfg:
    epochs: int = 100
    fps: float = 2.0
    amp: bool = True
    kind: Literal["soft", "hard"] = "soft"
    size: tuple[int, int] | None = None
    windows: tuple[int, ...] = (20,)
    name: str = "x"
    root: Path = Path("data")
    optim: Optim = Optim()


def test_parse_set_args_reads_yaml_values():
    got = parse_set_args(["a.b=1", "c=[1, 2]", "d=null", "e=true", "f=soft", "g=1e-3", "h="])
    assert got == {"a.b": 1, "c": [1, 2], "d": None, "e": True, "f": "soft", "g": 1e-3, "h": ""}
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        parse_set_args(["novalue"])


def test_nest():
    assert nest({"a.b": 1, "a.c": 2, "d": 3}) == {"a": {"b": 1, "c": 2}, "d": 3}


def test_apply_overrides_coerces_and_copies():
    base = Cfg()
    cfg = apply_overrides(
        base,
        {
            "epochs": 3.0,
            "fps": 4,
            "size": [224, 398],
            "windows": 10,
            "optim.lr": "1e-3",
            "optim": {"betas": [0.8, 0.9]},
            "root": "/x/y",
        },
    )
    assert cfg.epochs == 3 and isinstance(cfg.epochs, int)
    assert cfg.fps == 4.0 and isinstance(cfg.fps, float)
    assert cfg.size == (224, 398)
    assert cfg.windows == (10,)
    assert cfg.optim == Optim(lr=1e-3, betas=(0.8, 0.9))
    assert cfg.root == Path("/x/y")
    assert base == Cfg()  # the original is untouched


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"epoch": 1}, "unknown config key 'epoch'; valid keys here: amp, epochs"),
        ({"optim.momentum": 0.9}, "unknown config key 'optim.momentum'"),
        ({"epochs": 1.5}, "epochs: expected an integer"),
        ({"amp": "yes"}, "amp: expected true/false"),
        ({"kind": "medium"}, "kind: 'medium' is not one of"),
        ({"size": [1, 2, 3]}, "expected 2 values"),
        ({"fps": "fast"}, "fps: expected a number"),
        ({"optim.betas": ["x", 1]}, "optim.betas[0]: expected a number"),
    ],
)
def test_bad_overrides(overrides, message):
    with pytest.raises(ConfigError) as err:
        apply_overrides(Cfg(), overrides)
    assert message in str(err.value)


def test_none_for_optional():
    assert apply_overrides(Cfg(size=(1, 2)), {"size": None}).size is None


def test_write_resolved(tmp_path):
    path = tmp_path / "out" / "config.resolved.yaml"
    write_resolved(path, stage="demo", config=Cfg(), paths={"video": Path("a b/1.mkv")})
    doc = yaml.safe_load(path.read_text())
    assert doc["stage"] == "demo"
    assert doc["config"] == to_dict(Cfg())
    assert doc["config"]["optim"]["betas"] == [0.9, 0.999]
    assert doc["paths"] == {"video": "a b/1.mkv"}
    assert doc["git_revision"]
    assert list(tmp_path.joinpath("out").iterdir()) == [path]  # no temporary left behind
