"""The fine-tuning stages' ``grad_checkpointing`` setting: off by default, reaches the model
when set (command line, --set, config schema), and the blocks then run checkpointed."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml

from comedian.cli import main
from comedian.config import ConfigError, apply_overrides
from comedian.models import layers as layers_module
from comedian.models.factorized import FactorizedEncoder
from comedian.stages import finetune, finetune_head

from .conftest import stage_args

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> dict[str, list]:
    """What the stages ask of the model, and how many blocks ran under checkpoint."""
    seen: dict[str, list] = {"enable": [], "checkpointed": []}
    real_set = FactorizedEncoder.set_grad_checkpointing
    real_checkpoint = layers_module.checkpoint

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        seen["enable"].append(enable)
        real_set(self, enable)

    def checkpoint(*args, **kwargs):
        seen["checkpointed"].append(1)
        return real_checkpoint(*args, **kwargs)

    monkeypatch.setattr(FactorizedEncoder, "set_grad_checkpointing", set_grad_checkpointing)
    monkeypatch.setattr(layers_module, "checkpoint", checkpoint)
    return seen


def test_the_setting_reaches_the_model(tiny_dataset, tmp_path, recorded) -> None:
    head = tmp_path / "finetune_head" / "model.pt"
    args = ("--epochs", "1", "--set", "valid_split=null")
    assert main(["finetune-head", *stage_args(tiny_dataset, head, *args)]) == 0
    assert recorded["enable"] == [False]  # the default
    assert recorded["checkpointed"] == []
    full = tmp_path / "finetune" / "model.pt"
    extra = (*args, "--init", str(head), "--grad-checkpointing", "true")
    assert main(["finetune", *stage_args(tiny_dataset, full, *extra)]) == 0
    assert recorded["enable"] == [False, True]
    # 2 blocks (spatial + temporal) x 3 steps, recomputed in backward: run under checkpoint
    assert len(recorded["checkpointed"]) == 2 * 3
    resolved = yaml.safe_load((full.parent / "config.resolved.yaml").read_text())
    assert resolved["config"]["grad_checkpointing"] is True


def test_the_setting_is_declared_like_the_others() -> None:
    assert finetune.Config().grad_checkpointing is False
    assert finetune_head.Config().grad_checkpointing is False
    cfg = apply_overrides(finetune_head.Config(), {"grad_checkpointing": True})
    assert cfg.grad_checkpointing is True
    with pytest.raises(ConfigError, match="grad_checkpointing"):
        apply_overrides(finetune.Config(), {"grad_checkpointing": "sometimes"})
    schema = yaml.safe_load((ROOT / "schemas/config.schema.yaml").read_text())
    config = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    config["finetune"]["grad_checkpointing"] = True
    jsonschema.validate(config, schema)
    config["finetune"]["grad_checkpointing"] = "sometimes"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(config, schema)


def test_the_paper_checkpoints_the_viswin_only() -> None:
    """The ViSwin-T run recomputes its activations in stage B (the rehearsal inherits it);
    the ViViT-T runs and the demo keep the default."""
    paper = yaml.safe_load((ROOT / "config/paper.yaml").read_text())
    demo = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    assert paper["runs"]["viswin"]["finetune"] == {"grad_checkpointing": True}
    for name, run in paper["runs"].items():
        if name != "viswin":
            assert "grad_checkpointing" not in (run.get("finetune") or {}), name
    for section in ("finetune_head", "finetune"):
        assert "grad_checkpointing" not in paper.get(section, {})
        assert "grad_checkpointing" not in demo.get(section, {})
    rehearsal = yaml.safe_load((ROOT / "config/rehearsal.yaml").read_text())
    # the rehearsal overrides only the released runs' weights: the ViSwin-T run is the paper's
    assert set(rehearsal.get("runs", {})) <= {n for n in paper["runs"] if n.startswith("released")}
    for section in ("finetune_head", "finetune"):
        assert "grad_checkpointing" not in rehearsal.get(section, {})
