"""Training machinery: AdamW groups, warmup + cosine, mixup, the exported model file."""

from __future__ import annotations

import math

import pytest
import torch

from comedian.losses.spotting import mixup, spotting_loss
from comedian.models import build_model, model_from_checkpoint
from comedian.tasks.spotting import SpottingConfig, SpottingTask
from comedian.training import (
    TrainConfig,
    export_model,
    param_groups,
    read_model_file,
    resume_checkpoint,
    task_losses,
    warmup_cosine,
)

TINY = {
    "img_size": 16,
    "patch_size": 8,
    "num_frames": 8,
    "embed_dim": 16,
    "depth": 1,
    "num_heads": 2,
    "temporal_depth": 1,
    "temporal_num_heads": 2,
    "num_classes": 17,
}


def test_warmup_cosine_endpoints_and_midpoint():
    assert warmup_cosine(0, 100, 10, start=0.01) == pytest.approx(0.01)
    assert warmup_cosine(5, 100, 10, start=0.0) == pytest.approx(0.5)
    assert warmup_cosine(10, 100, 10) == pytest.approx(1.0)
    assert warmup_cosine(55, 100, 10, end=0.0) == pytest.approx(0.5)  # cosine midpoint
    assert warmup_cosine(100, 100, 10, end=0.01) == pytest.approx(0.01)
    assert warmup_cosine(150, 100, 10, end=0.01) == pytest.approx(0.01)
    # no warmup: starts at the peak; 1/4 of the way: (1 + cos(pi/4)) / 2
    assert warmup_cosine(25, 100, 0) == pytest.approx((1 + math.cos(math.pi / 4)) / 2)


def test_peak_lr_scales_with_the_global_batch():
    cfg = TrainConfig(lr=1e-3, batch_size=64, devices=2, num_nodes=2)
    assert cfg.peak_lr == pytest.approx(2.5e-4)  # method.md §6: 2.5e-4 at 64
    assert cfg.device_batch_size == 16
    with pytest.raises(ValueError, match="does not divide"):
        _ = TrainConfig(batch_size=10, devices=3).device_batch_size


def test_param_groups_use_the_models_exclusions():
    model = build_model("vivit_tiny", **TINY)
    task = SpottingTask(model, SpottingConfig())
    groups = param_groups(task, 0.05)
    decay, no_decay = groups
    assert decay["weight_decay"] == 0.05 and no_decay["weight_decay"] == 0.0
    want = {f"model.{n}" for n in model.no_weight_decay()}
    assert set(no_decay["names"]) == want
    assert "model.pos_embed" in want and "model.time_embed" in want
    assert set(decay["names"]) | set(no_decay["names"]) == {n for n, _ in task.named_parameters()}


def test_classifier_init_freezes_exactly_the_trunk_in_eval_mode():
    model = build_model("vivit_tiny", **TINY)
    task = SpottingTask(model, SpottingConfig(), freeze_trunk=True)
    task.train()
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"head.layers.0.weight", "head.layers.0.bias"}
    assert not model.training and all(not m.training for m in model.modules())
    names = {n for g in param_groups(task, 0.05, task.trainable_names()) for n in g["names"]}
    assert names == {"model.head.layers.0.weight", "model.head.layers.0.bias"}
    # the trunk's output does not change between two calls in train mode (no masking/drop path)
    x = torch.randn(2, 3, 8, 16, 16)
    torch.testing.assert_close(model(x), model(x))
    full = SpottingTask(build_model("vivit_tiny", **TINY), SpottingConfig())
    full.train()
    assert full.model.training and full.trainable_names() is None


def test_mixup_mixes_inputs_and_targets_by_each_samples_lambda():
    x = torch.tensor([[1.0, 1.0], [3.0, 3.0], [5.0, 5.0]])
    y = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    lam = torch.tensor([0.25, 1.0, 0.5])
    perm = torch.tensor([1, 2, 0])
    mx, my = mixup(x, y, lam, perm)
    torch.testing.assert_close(mx, torch.tensor([[2.5, 2.5], [3.0, 3.0], [3.0, 3.0]]))
    torch.testing.assert_close(my, torch.tensor([[0.25, 0.75], [0.0, 1.0], [0.5, 0.0]]))


def test_spotting_loss_is_mean_bce():
    logits = torch.zeros(1, 2, 17)
    targets = torch.zeros(1, 2, 17)
    assert spotting_loss(logits, targets).item() == pytest.approx(math.log(2))


def test_exported_model_reloads_weights_only_and_gives_the_same_outputs(tmp_path):
    torch.manual_seed(0)
    model = build_model("vivit_tiny", **TINY).eval()
    path = tmp_path / "model.pt"
    export_model(
        path,
        model,
        arch="vivit_tiny",
        model_kwargs=TINY,
        config=TrainConfig(epochs=3),
        metrics={"valid_tight": 0.5},
    )
    doc = torch.load(path, weights_only=True)
    assert set(doc) == {"arch", "model_kwargs", "state_dict", "config", "metrics"}
    assert doc["config"]["epochs"] == 3 and doc["metrics"] == {"valid_tight": 0.5}
    again = model_from_checkpoint(read_model_file(path)).eval()
    x = torch.randn(2, 3, 8, 16, 16)
    torch.testing.assert_close(again(x), model(x))
    assert not list(tmp_path.glob(".*"))  # no temporary file left


def _resume_files(tmp_path, digest: str | None, payload: bytes | None = None):
    rdir = tmp_path / ".resume"
    rdir.mkdir(parents=True)
    log = rdir / "train_log.csv"
    log.write_text("step,epoch,lr,loss\n1,0,0.1,0.5\n")
    ckpt = rdir / "last.ckpt"
    if payload is not None:
        ckpt.write_bytes(payload)
    elif digest is not None:
        torch.save({"comedian_digest": digest, "state_dict": {"w": torch.ones(3)}}, ckpt)
    return ckpt, log


def test_resume_checkpoint_takes_only_a_checkpoint_of_the_same_settings(tmp_path):
    ckpt, log = _resume_files(tmp_path / "same", "abc")
    assert resume_checkpoint(tmp_path / "same", "abc") == ckpt
    assert ckpt.exists() and log.exists()  # the log continues with the resumed run

    ckpt, log = _resume_files(tmp_path / "other", "abc")
    assert resume_checkpoint(tmp_path / "other", "xyz") is None
    assert not ckpt.exists() and ckpt.with_name("last.ckpt.stale").exists()  # set aside
    assert not log.exists()  # its rows belong to the other settings

    ckpt, log = _resume_files(tmp_path / "bad", None, payload=b"not a checkpoint")
    assert resume_checkpoint(tmp_path / "bad", "abc") is None
    assert ckpt.with_name("last.ckpt.stale").read_bytes() == b"not a checkpoint"

    ckpt, log = _resume_files(tmp_path / "none", None)
    assert resume_checkpoint(tmp_path / "none", "abc") is None
    assert not log.exists()  # a log without its checkpoint cannot be continued


def test_compile_compiles_the_tasks_networks_in_place_keeping_their_keys():
    from comedian.tasks.ssl import SslConfig, SslTask

    def compiled(module: torch.nn.Module) -> bool:
        return getattr(module, "_compiled_call_impl", None) is not None

    eager = SpottingTask(build_model("vivit_tiny", **TINY), SpottingConfig())
    eager.configure_model()
    assert not compiled(eager.model)
    task = SpottingTask(build_model("vivit_tiny", **TINY), SpottingConfig(compile=True))
    keys = list(task.state_dict())
    task.configure_model()
    assert compiled(task.model) and list(task.state_dict()) == keys  # no _orig_mod prefix
    vit = {k: TINY[k] for k in ("img_size", "patch_size", "embed_dim", "depth", "num_heads")}
    ssl = SslTask(build_model("vit_tiny", **vit),
                  SslConfig(compile=True, proj_hidden=8, proj_dim=4, queue_size=8))  # fmt: skip
    ssl.configure_model()
    assert compiled(ssl.trunk) and compiled(ssl.momentum_trunk)
    assert not compiled(ssl.projector)


def test_task_losses_skip_validation_rows_and_tolerate_a_missing_log(tmp_path):
    log = tmp_path / ".resume" / "train_log.csv"
    log.parent.mkdir()
    log.write_text("step,epoch,lr,loss,valid_tight\n1,0,0.1,0.5,\n1,0,,,3.2\n2,0,0.1,0.25,\n")
    assert task_losses(tmp_path) == ("0.5", "0.25")
    log.unlink()  # rank 0 published it already
    assert task_losses(tmp_path) == ("?", "?")
