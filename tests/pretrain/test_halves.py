"""The halves of a split (comedian.data.halves) on the tiny stores: order, labels, teacher
stores and features, and the errors that name the file."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from comedian.data.halves import split_halves
from comedian.data.pca import PcaError
from comedian.data.soccernet import CLASS_INDEX


def test_halves_in_games_table_order_with_the_stores_only(tiny_data):
    halves = split_halves(tiny_data.games, "train", tiny_data.frames2)
    assert [(h.slug, h.half) for h in halves] == [
        (tiny_data.slugs[0], 1), (tiny_data.slugs[0], 2), (tiny_data.slugs[1], 1),
        (tiny_data.slugs[1], 2),
    ]  # fmt: skip
    assert [h.game for h in halves[::2]] == ["league/2020/g one", "league/2020/g 'two'"]
    assert halves[3].store.path == tiny_data.frames2 / tiny_data.slugs[1] / "2.frames"
    assert all(h.num_rows == 40 for h in halves)  # 20 s at 2 fps
    assert all(h.targets is h.events is h.store4 is h.features is None for h in halves)


def test_labels_give_each_half_its_events_and_frame_targets(tiny_data):
    first, second = split_halves(tiny_data.games, "valid", tiny_data.frames2, tiny_data.labels)
    assert first.events["position_ms"].tolist() == [5000, 12000]  # Goal, Corner of half 1
    assert second.events["position_ms"].tolist() == [8000]  # Foul of half 2
    # a row k (time k / 2 s) is positive within 0.5 s of an event: Goal at 5 s -> rows 9, 10, 11
    assert first.targets.shape == (40, 17) and first.targets.dtype == np.uint8
    assert np.flatnonzero(first.targets[:, CLASS_INDEX["Goal"]]).tolist() == [9, 10, 11]
    assert np.flatnonzero(first.targets[:, CLASS_INDEX["Corner"]]).tolist() == [23, 24, 25]
    assert np.flatnonzero(second.targets[:, CLASS_INDEX["Foul"]]).tolist() == [15, 16, 17]
    assert first.targets.sum() == second.targets.sum() + 3 == 6


def test_missing_labels_are_an_error_for_training_and_zeros_for_inference(tiny_data, tmp_path):
    root = tmp_path / "labels"
    shutil.copytree(tiny_data.labels / "league/2020/g one", root / "league/2020/g one")
    with pytest.raises(FileNotFoundError, match=r"g 'two'/Labels-v2.json: no labels for game"):
        split_halves(tiny_data.games, "train", tiny_data.frames2, root)
    halves = split_halves(tiny_data.games, "train", tiny_data.frames2, root, require_labels=False)
    assert halves[0].targets.sum() == 6 and halves[0].events is not None
    assert halves[2].targets.shape == (40, 17) and halves[2].targets.sum() == 0
    assert halves[2].events is None


def test_teacher_stores_are_opened_and_their_rate_checked(tiny_data):
    halves = split_halves(tiny_data.games, "valid", tiny_data.frames2, frames4=tiny_data.frames4)
    assert [h.store4.num_frames for h in halves] == [80, 80]  # 20 s at 4 fps
    assert halves[1].store4.path == tiny_data.frames4 / tiny_data.slugs[2] / "2.frames"
    with pytest.raises(ValueError, match=r"1\.frames: expected a 4 fps store, this one is 2 fps"):
        split_halves(tiny_data.games, "valid", tiny_data.frames2, frames4=tiny_data.frames2)
    with pytest.raises(ValueError, match=r"1\.frames: expected a 2 fps store, this one is 4 fps"):
        split_halves(tiny_data.games, "valid", tiny_data.frames4)


def test_features_are_checked_against_the_rows_and_the_first_halfs_width(tiny_data, tmp_path):
    slug = tiny_data.slugs[2]
    (tmp_path / slug).mkdir()
    np.save(tmp_path / slug / "1.npy", np.ones((40, 3), np.float32))
    np.save(tmp_path / slug / "2.npy", np.ones((40, 5), np.float32))
    with pytest.raises(PcaError, match=r"2\.npy: features of half 2 of .* have 5 dims, the first"):
        split_halves(tiny_data.games, "valid", tiny_data.frames2, features=tmp_path)
    np.save(tmp_path / slug / "2.npy", np.ones((39, 3), np.float32))
    with pytest.raises(PcaError, match=r"2\.npy: features of half 2 of .* have 39 rows, its frame"):
        split_halves(tiny_data.games, "valid", tiny_data.frames2, features=tmp_path)
    np.save(tmp_path / slug / "2.npy", np.full((40, 3), 2, np.float32))
    halves = split_halves(tiny_data.games, "valid", tiny_data.frames2, features=tmp_path)
    assert [h.features_path for h in halves] == [
        tmp_path / slug / "1.npy",
        tmp_path / slug / "2.npy",
    ]
    assert halves[1].features.shape == (40, 3) and halves[1].features[0, 0] == 2


def test_a_split_without_games_is_an_error(tiny_data):
    with pytest.raises(ValueError, match="games.tsv: no game in split 'test'"):
        split_halves(tiny_data.games, "test", tiny_data.frames2)
