"""config/paper.yaml against method.md: every stage's items per epoch, batch, epochs and rates.

The counts are those of the stages' own samplers on the paper's train split (300 games of
2 x 45 min: 600 halves of 5,400 rows at 2 fps, 10,800 frames at 4 fps), with config/config.yaml
overridden by config/paper.yaml the way Snakemake merges config files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from snakemake.utils import update_config

from comedian.config import apply_overrides
from comedian.data.samplers import (
    DrawnKeys,
    ShuffledKeys,
    TrainWindowSampler,
    distill_draw,
    ssl_keys,
    teacher_draw,
)
from comedian.models import build_model
from comedian.stages import distill, finetune, finetune_head, pretrain, teacher

ROOT = Path(__file__).resolve().parent.parent
HALVES, ROWS = 600, 2 * 45 * 60  # 300 train games, 45 min halves at 2 fps


@pytest.fixture(scope="module")
def paper() -> dict[str, Any]:
    config = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    update_config(config, yaml.safe_load((ROOT / "config/paper.yaml").read_text()))
    return config


def test_paper_rates_clip_and_runs(paper: dict[str, Any]) -> None:
    assert paper["decode"]["rates"] == [2, 4] and paper["decode"]["size"] is None  # §0, §3
    # every stage but pretraining squashes frames to 224x224: stores at that size (§3-7)
    assert paper["decode"]["clip_size"] == [224, 224]
    assert paper["pca"]["n_components"] == 512  # §4
    runs = paper["runs"]
    trained = {r: run for r, run in runs.items() if not run.get("weights")}
    assert {r: run["seed"] for r, run in trained.items()} == {
        "vivit": 42, "vivit_seed203": 203, "vivit_seed666": 666, "viswin": 42,
    }  # fmt: skip
    released = {r: run["weights"] for r, run in runs.items() if r not in trained}
    assert released == {f"released_seed{s}": f"comedian-vivit-tiny-seed{s}" for s in (42, 203, 666)}
    vivit = build_model("vivit_tiny", **runs["vivit"]["model"])
    assert int(vivit.num_tubelets) == 64 and int(vivit.img_size) == 224  # 64 s clips, §5
    assert paper["spotting"]["ensembles"]["vivit_ensemble"] == ["vivit", "vivit_seed203",
                                                                "vivit_seed666"]  # fmt: skip


def test_paper_pretrain_epoch(paper: dict[str, Any]) -> None:
    # §2: every second of every train half, B 1024, 100 epochs (10 warmup), queue 65,536
    cfg = apply_overrides(pretrain.Config(), paper["pretrain"])
    assert (cfg.batch_size, cfg.epochs, cfg.warmup_epochs, cfg.queue_size) == (1024, 100, 10, 65536)
    assert cfg.lr * cfg.batch_size / 256 == pytest.approx(2e-3)
    assert len(ShuffledKeys(ssl_keys([ROWS] * HALVES))) == HALVES * 2700  # 1.62 M


def test_paper_teacher_epoch(paper: dict[str, Any]) -> None:
    # §3: 100 non-overlapping 4 s windows at 4 fps a half (~60 k), B 256, 100 epochs, lr 1.0
    cfg = apply_overrides(teacher.Config(), paper["teacher"])
    assert (cfg.batch_size, cfg.epochs, cfg.warmup_epochs, cfg.lr) == (256, 100, 10, 1.0)
    assert (cfg.fps, cfg.window_s, cfg.img_size, cfg.windows_per_half) == (4, 4.0, 224, 100)
    assert cfg.model == {"width": 64, "depths": [3, 4, 6, 3]}
    draw = teacher_draw([2 * ROWS] * HALVES, cfg.windows_per_half, round(cfg.fps * cfg.window_s))
    assert len(DrawnKeys(draw).keys) == 60_000
    assert 60_000 // cfg.batch_size * cfg.epochs == 23_400  # ~23 k SGD steps in all


def test_paper_distill_epoch(paper: dict[str, Any]) -> None:
    # §5: 38 clips of 64 s a half, B 32, 100 epochs (10 warmup), queue 65,536, lr 5e-4 at B 32
    cfg = apply_overrides(distill.Config(), paper["distill"])
    assert (cfg.batch_size, cfg.epochs, cfg.warmup_epochs, cfg.queue_size) == (32, 100, 10, 65536)
    assert cfg.lr * cfg.batch_size / 256 == pytest.approx(5e-4)
    assert len(DrawnKeys(distill_draw([ROWS] * HALVES, cfg.windows_per_half, 128)).keys) == 22_800


@pytest.mark.parametrize("stage, epochs", [(finetune_head, 30), (finetune, 20)])
def test_paper_finetune_epoch(paper: dict[str, Any], stage: Any, epochs: int) -> None:
    # §6: 2 edge + 23 random 64 s windows a half, B 64, lr 2.5e-4 at B 64, no warmup
    name = stage.__name__.rsplit(".", 1)[1]
    cfg = apply_overrides(stage.Config(), paper[name])
    assert (cfg.batch_size, cfg.epochs, cfg.warmup_epochs) == (64, epochs, 0)
    assert cfg.lr * cfg.batch_size / 256 == pytest.approx(2.5e-4)
    assert len(TrainWindowSampler([ROWS] * HALVES, cfg.random_windows)) == 15_000
    assert len(TrainWindowSampler([ROWS] * HALVES, cfg.random_windows, world_size=2, rank=0)) == (
        7_500
    )
