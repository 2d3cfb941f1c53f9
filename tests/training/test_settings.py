"""The training stages' settings, made of the tasks' sections (SCE, mixup, augmentation): the
keys, defaults, options and checks users had; and the best-model export of fit_and_publish."""

from __future__ import annotations

import argparse
from pathlib import Path
from types import SimpleNamespace

import pytest

from comedian.cli import _add_config, _build_config
from comedian.config import ConfigError, apply_overrides, to_dict
from comedian.data.transforms import AugmentConfig
from comedian.stages import distill, finetune, finetune_head, pretrain, teacher
from comedian.training import BestModelExport

COMMON = ["arch", "model", "epochs", "batch_size", "lr", "weight_decay", "betas",
          "warmup_epochs", "warmup_start", "min_lr", "clip_grad", "accelerator", "devices",
          "num_nodes", "precision", "compile", "num_workers", "seed", "checkpoint_every_n_steps",
          "progress_bar", "max_steps"]  # fmt: skip
#: Each stage's own keys (its config section in config/*.yaml and the schema), as before the
#: loss and augmentation settings moved to their sections, and their defaults (the paper's).
OWN = {
    pretrain: {"train_split": "train", "proj_hidden": 1024, "proj_dim": 256,
               "queue_size": 65536, "coeff": 1.0, "temp": 0.1, "temp_m": 0.05,
               "momentum": 0.99, "view1": AugmentConfig.ssl_view(1),
               "view2": AugmentConfig.ssl_view(2)},
    distill: {"train_split": "train", "windows_per_half": 38, "align": "start",
              "proj_hidden": 1024, "queue_size": 65536, "coeff": 0.5, "temp": 0.1,
              "temp_m": 0.05, "augment": AugmentConfig.distill()},
    teacher: {"momentum": 0.9, "mixup_alpha": 0.1, "train_split": "train",
              "windows_per_half": 100, "fps": 4, "window_s": 4.0, "img_size": 224,
              "augment": AugmentConfig.finetune(), "trust_pickle": False},
    finetune_head: {"random_windows": 23, "mixup_alpha": 0.1,
                    "augment": AugmentConfig.finetune(), "train_split": "train",
                    "valid_split": "valid", "val_every_n_epochs": 1, "eval_batch_size": 64,
                    "grad_checkpointing": False},
}  # fmt: skip
OWN[finetune] = OWN[finetune_head]


@pytest.mark.parametrize("stage", list(OWN), ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_stage_sections_keep_their_keys_and_defaults(stage):
    cfg = stage.Config()
    assert sorted(to_dict(cfg)) == sorted(COMMON + list(OWN[stage]))
    assert {k: getattr(cfg, k) for k in OWN[stage]} == OWN[stage]


def parse(stage, argv: list[str]):
    """The stage's settings from command-line options, as ``comedian <stage>`` builds them."""
    parser = argparse.ArgumentParser()
    _add_config(parser, stage.Config)
    return _build_config(stage.Config, parser.parse_args(argv))


def test_section_settings_keep_their_options_set_paths_and_checks():
    cfg = parse(pretrain, ["--queue-size", "8", "--coeff", "0.5", "--temp-m", "0.2",
                           "--momentum", "0.9", "--proj-dim", "4", "--set", "view2.p_blur=0.3"])  # fmt: skip
    assert (cfg.queue_size, cfg.coeff, cfg.temp_m, cfg.momentum, cfg.proj_dim) == (8, 0.5, 0.2,
                                                                                  0.9, 4)  # fmt: skip
    assert cfg.view2.p_blur == 0.3 and cfg.view1 == AugmentConfig.ssl_view(1)
    assert parse(distill, ["--queue-size", "16", "--set", "augment.p_gray=0"]).queue_size == 16
    for stage in (teacher, finetune_head, finetune):
        assert parse(stage, ["--mixup-alpha", "0"]).mixup_alpha == 0.0
    # each section checks its own settings, wherever they come from, naming the option
    with pytest.raises(ConfigError, match=r"^--coeff \(coeff\): must be .* <= 1, got 2"):
        apply_overrides(distill.Config(), {"coeff": 2})
    with pytest.raises(ConfigError, match=r"^--queue-size \(queue_size\): must be an integer"):
        apply_overrides(pretrain.Config(), {"queue_size": 0})
    with pytest.raises(ConfigError, match=r"^--mixup-alpha \(mixup_alpha\): must be"):
        apply_overrides(teacher.Config(), {"mixup_alpha": -1})
    with pytest.raises(ConfigError, match=r"^--momentum \(momentum\): must be .* < 1, got 1"):
        apply_overrides(teacher.Config(), {"momentum": 1})  # SGD's (pretrain's may be 1)
    assert apply_overrides(pretrain.Config(), {"momentum": 1}).momentum == 1
    with pytest.raises(ConfigError, match=r"^--epochs \(epochs\)"):  # the training section too
        apply_overrides(distill.Config(), {"epochs": 0})


def _trainer(epoch: int, value: float | None, rank: int = 0) -> SimpleNamespace:
    metrics = {} if value is None else {"valid_tight": value}
    return SimpleNamespace(callback_metrics=metrics, sanity_checking=False, global_rank=rank,
                           current_epoch=epoch)  # fmt: skip


def test_best_model_export_writes_each_improvement_and_resumes_with_the_best(tmp_path):
    written: list[tuple[Path, dict]] = []
    path = tmp_path / "best.pt"

    def export(p: Path, metrics: dict) -> None:
        written.append((p, dict(metrics)))

    best = BestModelExport(path, "valid_tight", export)
    for epoch, value in enumerate([0.2, 0.1, None, 0.3, 0.3]):
        best.on_validation_end(_trainer(epoch, value), None)
    assert written == [(path, {"valid_tight": 0.2, "epoch": 0}),
                       (path, {"valid_tight": 0.3, "epoch": 3})]  # fmt: skip
    assert (best.best, best.last) == (0.3, 0.3)
    checkpoint: dict = {}
    best.on_save_checkpoint(None, None, checkpoint)
    assert checkpoint == {"best_metric": 0.3}
    # a resumed run: only a value above the killed run's best is written
    written.clear()
    resumed = BestModelExport(path, "valid_tight", export)
    resumed.on_load_checkpoint(None, None, checkpoint)
    resumed.on_validation_end(_trainer(5, 0.25), None)
    assert written == [] and resumed.last == 0.25
    # other ranks follow the best without writing
    other = BestModelExport(path, "valid_tight", export)
    other.on_validation_end(_trainer(6, 0.5, rank=1), None)
    assert written == [] and other.best == 0.5
