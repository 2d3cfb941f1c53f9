"""The CLI builds Paths and Config from the stage's dataclasses and calls run()."""

import dataclasses
import sys
import types
from pathlib import Path
from typing import Literal

import pytest

from comedian import cli


@dataclasses.dataclass(frozen=True)
class Paths:
    video: Path = dataclasses.field(metadata={"help": "input video"})
    out: Path = dataclasses.field(metadata={"help": "output"})
    extra: tuple[Path, ...] = ()


@dataclasses.dataclass(frozen=True)
class Inner:
    depth: int = 12


@dataclasses.dataclass(frozen=True)
class Config:
    fps: float = 2.0
    kind: Literal["soft", "hard"] = "soft"
    size: tuple[int, int] | None = None
    inner: Inner = Inner()


@pytest.fixture
def fake_stage(monkeypatch):
    calls = []
    module = types.ModuleType("comedian.stages.fake_stage")
    module.__doc__ = "A fake stage."
    module.Paths = Paths
    module.Config = Config
    module.run = lambda cfg, *, paths: calls.append((cfg, paths))
    monkeypatch.setitem(sys.modules, "comedian.stages.fake_stage", module)
    monkeypatch.setitem(cli.STAGES, "fake_stage", "a fake stage")
    return calls


def test_cli_builds_paths_and_config(fake_stage):
    rc = cli.main(
        [
            "fake-stage",
            "--video",
            "a b/1_224p.mkv",
            "--out",
            "o",
            "--extra",
            "x",
            "y",
            "--fps",
            "4",
            "--kind",
            "hard",
            "--set",
            "inner.depth=2",
            "--set",
            "size=[224, 398]",
        ]
    )
    assert rc == 0
    ((cfg, paths),) = fake_stage
    assert paths == Paths(video=Path("a b/1_224p.mkv"), out=Path("o"), extra=(Path("x"), Path("y")))
    assert cfg == Config(fps=4.0, kind="hard", size=(224, 398), inner=Inner(depth=2))


def test_cli_defaults(fake_stage):
    cli.main(["fake-stage", "--video", "v", "--out", "o"])
    ((cfg, paths),) = fake_stage
    assert cfg == Config() and paths.extra == ()


def test_cli_rejects_unknown_key_and_missing_path(fake_stage, capsys):
    assert cli.main(["fake-stage", "--video", "v", "--out", "o", "--set", "inner.width=3"]) == 2
    err = capsys.readouterr().err
    assert "unknown config key 'inner.width'" in err and err.count("\n") == 1
    with pytest.raises(SystemExit):
        cli.main(["fake-stage", "--video", "v"])
    assert "--out" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["fake-stage", "--video", "v", "--out", "o", "--kind", "medium"])
    assert not fake_stage


def test_top_level_help_lists_stages(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    for name in ("synth", "decode", "nms", "evaluate", "import-weights"):
        assert name in out


def test_cli_errors_are_one_line_and_debug_shows_traceback(fake_stage, monkeypatch, capsys):
    def fail(cfg, *, paths):
        raise FileNotFoundError(2, "No such file or directory", str(paths.video))

    monkeypatch.setattr(sys.modules["comedian.stages.fake_stage"], "run", fail)
    assert cli.main(["fake-stage", "--video", "missing.mkv", "--out", "o"]) == 1
    assert capsys.readouterr().err == (
        "comedian fake-stage: missing.mkv: No such file or directory\n"
    )
    with pytest.raises(FileNotFoundError):
        cli.main(["fake-stage", "--debug", "--video", "missing.mkv", "--out", "o"])
    monkeypatch.setenv(cli.DEBUG_ENV, "1")
    with pytest.raises(FileNotFoundError):
        cli.main(["fake-stage", "--video", "missing.mkv", "--out", "o"])


def test_cli_bad_yaml_in_set_names_the_item(fake_stage, capsys):
    assert cli.main(["fake-stage", "--video", "v", "--out", "o", "--set", "size=[1, 2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("comedian fake-stage: --set 'size=[1, 2': the value is not valid YAML")
    assert err.count("\n") == 1


def test_cli_usage_error_is_one_line(fake_stage, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["fake-stage", "--video", "v"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--out" in err and err.startswith("comedian fake-stage: ")


def test_every_stage_module_is_a_command_with_its_summary(tmp_path, monkeypatch):
    import comedian.stages as stages

    modules = {p.stem for p in Path(stages.__file__).parent.glob("*.py")} - {"__init__"}
    assert set(stages.summaries()) == modules == {m for m in cli.STAGES if m != "fake_stage"}
    assert (
        cli.STAGES["finetune_head"] == "step 3 stage A: train the spotting head on the frozen trunk"
    )
    # a module here without a SUMMARY string is refused, naming its file
    (tmp_path / "good.py").write_text('SUMMARY = "a good stage"\n')
    (tmp_path / "bad.py").write_text('"""No summary."""\nSUMMARY = 3\n')
    monkeypatch.setattr(stages, "_HERE", tmp_path)
    with pytest.raises(ValueError, match=r"bad\.py: a stage module needs a SUMMARY string"):
        stages.summaries()
    (tmp_path / "bad.py").unlink()
    assert stages.summaries() == {"good": "a good stage"}
