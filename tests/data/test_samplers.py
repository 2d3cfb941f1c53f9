"""Every sampler's keys, pinned: a resumed run replays an epoch exactly only if the same
``(seed, epoch, rank)`` gives the same keys in the same order, release after release."""

from __future__ import annotations

import ast
from pathlib import Path

from comedian.data.samplers import (
    DrawnKeys,
    ShuffledKeys,
    TrainWindowSampler,
    distill_draw,
    inference_keys,
    ssl_keys,
    teacher_draw,
)


def test_spotting_train_keys_of_a_seed_epoch_and_rank_are_pinned() -> None:
    # halves of 300 and 200 rows: 2 edges + 1 random clip each = 6 keys, rank 1 of 2 takes 3
    s = TrainWindowSampler([300, 200], random_windows=1, seed=4, rank=1, world_size=2)
    s.set_epoch(2)
    assert list(s) == [(0, 0), (1, 44), (0, 172)] and len(s) == 3


def test_shuffled_keys_of_a_seed_epoch_and_rank_are_pinned() -> None:
    # 3 + 2 seconds, padded to 6 keys over 2 ranks
    s = ShuffledKeys(ssl_keys([6, 5]), seed=1, rank=0, world_size=2)
    s.set_epoch(1)
    assert list(s) == [(0, 1), (0, 0), (0, 2)]


def test_drawn_keys_of_a_seed_and_epoch_are_pinned_and_resume_skips() -> None:
    s = DrawnKeys(teacher_draw([80, 64], num_windows=3, window_frames=16), seed=2)
    s.set_epoch(3)
    assert list(s) == [(1, 29), (1, 56), (0, 72), (0, 8), (0, 55), (1, 8)]
    d = DrawnKeys(distill_draw([40, 30], num_windows=2, window_rows=8), seed=3)
    d.resume_at(1, 2)  # the first 2 keys of epoch 1 were seen before the crash
    assert list(d) == [(1, 18), (0, 12)]
    assert list(d) == [(1, 4), (0, 23), (1, 18), (0, 12)]  # the skip is spent


def test_inference_keys_are_every_window_in_order() -> None:
    assert inference_keys([300, 41]) == [(0, 0), (0, 64), (0, 128), (0, 172), (1, 0)]


def test_no_data_module_imports_a_layer_above_it() -> None:
    # layers point down: stages -> tasks -> data/models/losses/spotting; data never imports up
    above = ("comedian.spotting", "comedian.stages", "comedian.tasks", "comedian.training")
    data = Path(__file__).resolve().parents[2] / "src" / "comedian" / "data"
    found = []
    for path in sorted(data.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            found += [f"{path.name}: {n}" for n in names if n.startswith(above)]
    assert found == []
