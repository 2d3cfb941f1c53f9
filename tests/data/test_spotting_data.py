"""Spotting clips: the train sampler (method.md §6), per-clip token targets, clip reading."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from comedian.data.samplers import KeySampler, TrainWindowSampler, inference_keys
from comedian.data.spotting import clip_token_targets
from comedian.data.windows import CLIP_ROWS, random_window_starts, train_window_starts


def test_train_windows_edges_grid_and_no_overlap():
    rng = np.random.default_rng(0)
    num_rows = 5401  # a real half's length at 2 fps (odd)
    for _ in range(50):
        starts = train_window_starts(num_rows, rng)
        assert len(starts) == 25 and starts.dtype == np.int64
        # the two edge windows [0, 64 s) and [d - 64 s, d)
        assert starts[0] == 0 and starts[1] == num_rows - CLIP_ROWS == 5273
        rand = np.sort(starts[2:])
        assert rand.min() >= 0 and rand.max() <= num_rows - CLIP_ROWS
        # non-overlapping among themselves: consecutive starts at least a clip apart
        assert (np.diff(rand) >= CLIP_ROWS).all()


def test_random_windows_cover_the_range_uniformly_enough():
    rng = np.random.default_rng(1)
    starts = np.concatenate([random_window_starts(3000, 5, rng) for _ in range(400)])
    # odd starts occur (0.5 s grid, not 1 s) and both ends of the range are reachable
    assert (starts % 2 == 1).any() and (starts % 2 == 0).any()
    assert starts.min() < 100 and starts.max() > 3000 - CLIP_ROWS - 100


def test_random_windows_fit_exactly_and_fall_back_when_too_short():
    rng = np.random.default_rng(2)
    # exactly 3 disjoint clips fit: the only placement is 0, 128, 256
    np.testing.assert_array_equal(random_window_starts(3 * CLIP_ROWS, 3, rng), [0, 128, 256])
    # a 3-minute half cannot hold 23 disjoint clips: independent draws inside the half
    starts = random_window_starts(360, 23, rng)
    assert len(starts) == 23 and starts.min() >= 0 and starts.max() <= 360 - CLIP_ROWS
    # shorter than a clip: one edge window at 0 and random ones at 0
    np.testing.assert_array_equal(train_window_starts(50, rng, random_windows=2), [0, 0, 0])


def test_sampler_reseeds_per_epoch_and_is_reproducible():
    s = TrainWindowSampler([600, 5401], random_windows=23, seed=7, rank=0, world_size=1)
    s.set_epoch(0)
    a = list(s)
    assert list(s) == a  # same epoch, same keys
    s.set_epoch(1)
    b = list(s)
    assert sorted(a) != sorted(b)  # new random windows
    assert len(a) == len(b) == len(s) == 50
    # both edges of each half are in every epoch
    assert {(0, 0), (0, 600 - 128), (1, 0), (1, 5401 - 128)} <= set(a) & set(b)


def test_sampler_shards_ranks_disjointly_with_equal_lengths():
    kw = {"num_rows": [600, 700, 900], "random_windows": 4, "seed": 3}
    ranks = [TrainWindowSampler(**kw, rank=r, world_size=2) for r in (0, 1)]
    full = TrainWindowSampler(**kw, rank=0, world_size=1)
    for s in (*ranks, full):
        s.set_epoch(5)
    r0, r1 = list(ranks[0]), list(ranks[1])
    assert len(r0) == len(r1) == len(ranks[0]) == 9  # 18 keys / 2 ranks
    assert sorted(r0 + r1) == sorted(full)


def test_clip_token_targets_even_and_odd_starts():
    targets = np.zeros((300, 17), np.uint8)
    targets[10, 2] = 1  # rows 10, 11 -> one token for an even start
    targets[11, 2] = 1
    targets[21, 5] = 1
    even = clip_token_targets(targets, 0)
    assert even.shape == (64, 17) and even.dtype == np.float32
    assert even[5, 2] == 1 and even[:, 2].sum() == 1  # rows 10, 11 = token 5
    assert even[10, 5] == 1  # row 21 = second frame of token 10
    odd = clip_token_targets(targets, 1)
    # start 1: token j covers rows 1 + 2j, 2 + 2j: row 10 -> token 4, row 11 -> token 5
    assert odd[4, 2] == 1 and odd[5, 2] == 1 and odd[:, 2].sum() == 2
    assert odd[10, 5] == 1  # row 21 = first frame of token 10
    # past the half's end: negative
    late = clip_token_targets(targets, 290)
    assert late.shape == (64, 17) and late[5:].sum() == 0


def test_inference_keys_and_key_sampler_shards_without_padding():
    keys = inference_keys([600, 41])
    assert keys[0] == (0, 0) and keys[-1] == (1, 0) and (0, 472) in keys
    shards = [list(KeySampler(keys, rank=r, world_size=3)) for r in range(3)]
    assert sorted(sum(shards, [])) == sorted(keys)
    assert sum(len(s) for s in shards) == len(keys)


@pytest.mark.parametrize("start", [0, 1, 200])
def test_read_clip_pads_with_the_last_frame(tmp_path, start):
    from comedian.data.frames import FrameStore, write_store
    from comedian.data.spotting import read_clip

    n = 201
    frames = np.arange(n, dtype=np.uint8)[:, None, None, None] * np.ones((1, 16, 16, 3), np.uint8)
    path = tmp_path / "h.frames"
    write_store(
        path,
        [frames],
        fps=2.0,
        num_frames=n,
        frame_size=(16, 16),
        duration_s=n / 2,
        jpeg_quality=100,
    )
    clip = read_clip(FrameStore(path), start)
    assert clip.shape == (128, 16, 16, 3)
    got = clip[:, 8, 8, 0].astype(int)
    want = np.minimum(np.arange(start, start + 128), n - 1)
    assert np.abs(got - want).max() <= 2  # JPEG rounding


def test_samplers_built_before_the_process_group_shard_by_its_rank(monkeypatch):
    # Stages build their samplers before trainer.fit starts DDP: the rank is read when the
    # sampler is used, not when it is built (else every rank would train on all clips).
    keys = [(0, s) for s in range(5)]
    train = TrainWindowSampler([600, 700], random_windows=2, seed=3)
    infer = KeySampler(keys)
    full = list(train)
    assert (train.rank, train.world_size, len(infer)) == (0, 1, 5)
    monkeypatch.setattr(torch.distributed, "is_available", lambda: True)
    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.distributed, "get_world_size", lambda: 2)
    monkeypatch.setattr(torch.distributed, "get_rank", lambda: 1)
    # 8 clips (2 edges + 2 random of each half), strided over 2 ranks: rank 1 takes 1, 3, 5, 7.
    assert list(train) == full[1::2] and len(train) == 4
    assert list(infer) == [(0, 1), (0, 3)] and len(infer) == 2
