"""Bad training settings through the real command line: one line naming the option, the right
exit status, no model written and no input changed (checksums before and after each case).

Every setting is checked where it is parsed (the stage's Config, built from the options,
``--set`` and, under Snakemake, the config file's section), so most cases stop before any data
is read. A loss that becomes NaN stops the stage naming the step and the input it came from.
The cases run ``comedian.cli.main`` in this process, as tests/test_bad_inputs.py does.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import numpy as np
import pytest
import yaml

from comedian.cli import main
from comedian.models import build_model
from comedian.paths import BANK_IN_DIR
from comedian.training import export_model

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("pretrain_data", HERE / "pretrain" / "conftest.py")
assert _spec is not None and _spec.loader is not None
pretrain_data = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = pretrain_data  # its dataclass looks its module up
_spec.loader.exec_module(pretrain_data)

VIVIT = {"img_size": 16, "patch_size": 8, "num_frames": 8, "embed_dim": 16, "depth": 1,
         "num_heads": 2, "temporal_depth": 1, "temporal_num_heads": 2}  # fmt: skip
COMMON = ["--accelerator", "cpu", "--num-workers", "0", "--epochs", "1"]


@dataclass
class World:
    root: Path
    data: object  # pretrain_data.TinyData
    features: Path  # all-NaN teacher features of every half
    head: Path  # a finetune_head model (vivit_tiny, VIVIT for 64-token clips, 17 classes)


def _checksums(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("bad settings")
    d = pretrain_data.write_tiny_data(root)
    features = root / "features"
    for slug in d.slugs:
        for half in (1, 2):
            path = features / BANK_IN_DIR.format(game=slug, half=half)
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(path, np.full((pretrain_data.HALF_S * 2, 8), np.nan, dtype=np.float32))
    head = root / "head" / "model.pt"
    kwargs = {**VIVIT, "num_frames": 128, "num_classes": 17}  # 64 tokens: a spotting model
    export_model(head, build_model("vivit_tiny", **kwargs), arch="vivit_tiny",
                 model_kwargs=kwargs, config={})  # fmt: skip
    return World(root, d, features, head)


def sets(**kw: object) -> list[str]:
    return [a for k, v in kw.items() for a in ("--set", f"{k}={json.dumps(v)}")]


def _stage(stage: str, w: World, out: Path, *extra: str) -> list[str]:
    d = w.data
    io = {
        "pretrain": ["--games", d.games, "--frames", d.frames2],
        "teacher": ["--games", d.games, "--frames", d.frames2, "--frames4", d.frames4,
                    "--labels", d.labels],
        "distill": ["--games", d.games, "--frames", d.frames2, "--features", w.features],
        "finetune-head": ["--games", d.games, "--frames", d.frames2, "--labels", d.labels],
        "finetune": ["--games", d.games, "--frames", d.frames2, "--labels", d.labels, "--init",
                     w.head],
    }[stage]  # fmt: skip
    return [stage, *map(str, io), "--out", str(out / "model.pt"), *COMMON, *extra]


@dataclass(frozen=True)
class Case:
    id: str
    argv: Callable[[World, Path], list[str]]
    status: int
    expect: str | Callable[[World, Path], str]


def _cases() -> list[Case]:
    c: list[Case] = []

    def add(stage: str, what: str, extra: list[str], status: int, expect) -> None:  # noqa: ANN001
        c.append(Case(f"{stage}-{what}", lambda w, o: _stage(stage, w, o, *extra), status, expect))

    for stage in ("pretrain", "teacher", "distill", "finetune-head"):
        add(stage, "negative-epochs", ["--epochs", "-3"], 2, "--epochs (epochs): must be")
        add(stage, "nan-lr", ["--lr", "nan"], 2, "--lr (lr): must be a finite number > 0")
        add(stage, "inf-lr", ["--lr", "inf"], 2, "--lr (lr)")
        add(stage, "negative-lr", ["--lr", "-0.1"], 2, "--lr (lr)")
        add(stage, "negative-clip-grad", ["--clip-grad", "-1"], 2, "--clip-grad (clip_grad)")
        add(stage, "negative-warmup", ["--warmup-epochs", "-2"], 2, "--warmup-epochs")
        add(stage, "zero-devices", ["--devices", "0"], 2, "--devices (devices): must be")
        add(stage, "zero-batch", ["--batch-size", "0"], 2, "--batch-size (batch_size)")
        add(stage, "bad-betas", sets(betas=[0.9, 1.5]), 2, "betas[1]")
    for stage in ("pretrain", "distill", "finetune-head"):
        add(
            stage, "zero-epochs", ["--epochs", "0"], 2, "--epochs (epochs): must be an integer >= 1"
        )
        add(stage, "negative-embed-dim", sets(**{"model.embed_dim": -4}), 2, "model.embed_dim")
        add(stage, "zero-depth", sets(**{"model.depth": 0}), 2, "model.depth")
        add(stage, "misspelt-model-key", sets(**{"model.embed_dm": 3}), 2, "model.embed_dm")
        add(stage, "drop-path-1", sets(**{"model.drop_path_rate": 1.0}), 2, "model.drop_path_rate")
    add("teacher", "negative-mixup", ["--mixup-alpha", "-0.1"], 2, "--mixup-alpha")
    add("teacher", "zero-windows", ["--windows-per-half", "0"], 2, "--windows-per-half")
    add("teacher", "negative-width", sets(**{"model.width": -8}), 2, "model.width")
    add("teacher", "zero-depths", sets(**{"model.depths": [1, 0, 1, 1]}), 2, "model.depths[1]")
    add("pretrain", "zero-queue", ["--queue-size", "0"], 2, "--queue-size")
    add("pretrain", "zero-temperature", ["--temp", "0"], 2, "--temp (temp)")
    add("distill", "bad-align", ["--align", "middle"], 2, "--align (align)")
    add("distill", "zero-windows", ["--windows-per-half", "0"], 2, "--windows-per-half")
    add("finetune-head", "negative-random-windows", ["--random-windows", "-1"], 2,
        "--random-windows")  # fmt: skip
    add("finetune-head", "nan-mixup", ["--mixup-alpha", "nan"], 2, "--mixup-alpha")
    add("finetune-head", "val-every-0", ["--val-every-n-epochs", "0"], 2, "--val-every-n-epochs")
    add("finetune-head", "negative-seed", ["--seed", "-1"], 2, "--seed (seed)")
    # the model of finetune comes whole from --init: settings that disagree are refused
    add(
        "finetune",
        "embed-dim-beside-init",
        sets(**{"model.embed_dim": 3}),
        2,
        lambda w, o: f"model.embed_dim: 3, but --init {w.head} holds a model with embed_dim 16",
    )
    add(
        "finetune",
        "arch-beside-init",
        ["--arch", "viswin_tiny"],
        2,
        lambda w, o: f"--arch (arch): 'viswin_tiny', but --init {w.head} holds a 'vivit_tiny'",
    )
    add(
        "finetune",
        "misspelt-key-beside-init",
        sets(**{"model.embed_dm": 16}),
        2,
        "model.embed_dm: 16, but --init",
    )
    # a loss that becomes NaN: the step and the features file it came from, no model
    add("distill", "nan-teacher-features", sets(model=VIVIT, batch_size=2, windows_per_half=1,
        queue_size=32, proj_hidden=32), 1,
        lambda w, o: "the training loss is nan at step 1 (epoch 0): the batch's teacher hold "
                     f"NaN or infinite values (from {w.features}/")  # fmt: skip
    return c


CASES = _cases()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_setting(case: Case, world: World, tmp_path: Path, capsys) -> None:
    before = _checksums(world.root)
    out = tmp_path / "run"
    try:
        status = main(case.argv(world, out))
    except SystemExit as exc:  # argparse's own usage errors
        status = exc.code
    err = capsys.readouterr().err
    assert _checksums(world.root) == before, "an input changed"
    assert status == case.status, err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("comedian")]
    assert len(errors) == 1 and errors[0] == lines[-1], err
    expect = case.expect if isinstance(case.expect, str) else case.expect(world, out)
    assert expect in errors[0], err
    assert not (out / "model.pt").exists() and not (out / "last.pt").exists()


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ("pretrain", "epochs", 0),
        ("distill", "lr", -0.1),
        ("teacher", "epochs", -1),
        ("teacher", "model", {"width": 0}),
        ("finetune", "clip_grad", -1),
        ("finetune_head", "val_every_n_epochs", 0),
        ("finetune_head", "model", {"embed_dim": -4}),
        ("finetune", "devices", 0),
        ("finetune", "mixup_alpha", -0.5),
    ],
)
def test_the_config_schema_refuses_what_the_stages_refuse(section, key, value) -> None:
    """``snakemake -n`` validates config/config.yaml with schemas/config.schema.yaml."""
    schema = yaml.safe_load((HERE.parent / "schemas/config.schema.yaml").read_text())
    config = yaml.safe_load((HERE.parent / "config/config.yaml").read_text())
    jsonschema.validate(config, schema)
    config.setdefault(section, {})[key] = value
    with pytest.raises(jsonschema.ValidationError) as err:
        jsonschema.validate(config, schema)
    assert list(err.value.absolute_path)[:2] == [section, key]
    # teacher epochs 0 is a feature: the teacher_init weights exported as they are
    config[section].pop(key)
    config["teacher"] = {**config.get("teacher", {}), "epochs": 0}
    jsonschema.validate(config, schema)
