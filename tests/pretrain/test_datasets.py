"""Pretraining datasets and samplers on tiny stores, and the random resized crop."""

from __future__ import annotations

import numpy as np
import torch

from comedian.data.frames import FrameStore
from comedian.data.pretrain import DistillClips, SslPairs, TeacherWindows
from comedian.data.samplers import DrawnKeys, ShuffledKeys, distill_draw, ssl_keys, teacher_draw
from comedian.data.transforms import AugmentConfig, ClipAugment
from comedian.data.windows import teacher_targets, teacher_window_frames


def test_teacher_windows_carry_the_label_of_their_middle_time(tiny_data):
    slug = tiny_data.slugs[0]
    s2 = FrameStore(tiny_data.frames2 / slug / "1.frames")
    s4 = FrameStore(tiny_data.frames4 / slug / "1.frames")
    # Goal at 5.0 s, Corner at 12.0 s (class 2 and 13): rows within 0.5 s are positive
    y = teacher_targets(np.array([5000, 12000]), np.array([2, 13]), s2.num_frames)
    ds = TeacherWindows([s4], [s2.num_frames], [y])
    for row, goal, corner in ((8, 0, 0), (9, 1, 0), (10, 1, 0), (11, 1, 0), (12, 0, 0), (24, 0, 1)):
        item = ds[(0, row)]
        assert item["targets"][2] == goal and item["targets"][13] == corner, row
    # window of row 10 (t = 5 s): 4 fps frames 12 .. 27, i.e. [3 s, 7 s)
    np.testing.assert_array_equal(ds[(0, 10)]["frames"].numpy(), s4.read(12, 28))
    # the first row's window replicates frame 0 for [-2 s, 0 s)
    first = ds[(0, 0)]["frames"].numpy()
    np.testing.assert_array_equal(first[:8], np.repeat(s4.read(0, 1), 8, axis=0))


def test_ssl_pairs_are_the_two_frames_of_every_second(tiny_data):
    stores = [FrameStore(tiny_data.frames2 / s / "1.frames") for s in tiny_data.slugs[:2]]
    keys = ssl_keys([s.num_frames for s in stores])
    assert len(keys) == sum(s.num_frames // 2 for s in stores)
    np.testing.assert_array_equal(SslPairs(stores)[(1, 3)]["frames"].numpy(), stores[1].read(6, 8))


def test_samplers_shard_the_same_epoch_and_reshuffle_per_epoch():
    keys = [(0, i) for i in range(10)]
    ranks = [ShuffledKeys(keys, seed=3, rank=r, world_size=2) for r in range(2)]
    seen = [list(s) for s in ranks]
    assert sorted(seen[0] + seen[1]) == keys and len(seen[0]) == len(seen[1]) == 5
    ranks[0].set_epoch(1)
    assert list(ranks[0]) != seen[0]
    draw = distill_draw([1000, 600], num_windows=3, window_rows=128)
    s = DrawnKeys(draw, seed=0)
    a = sorted(s.epoch_keys())
    s.set_epoch(1)
    b = sorted(s.epoch_keys())
    assert len(a) == len(b) == 6 and a != b  # jittered windows redrawn each epoch


def test_distill_clips_pair_frames_with_aligned_teacher_rows(tiny_data):
    store = FrameStore(tiny_data.frames2 / tiny_data.slugs[0] / "1.frames")
    bank = np.arange(store.num_frames, dtype=np.float32)[:, None] * np.ones((1, 3), np.float32)
    item = DistillClips([store], [bank], clip_rows=8)[(0, 5)]
    np.testing.assert_array_equal(item["frames"].numpy(), store.read(5, 13))
    # token j of a clip at row 5 <-> teacher row 5 + 2j
    np.testing.assert_array_equal(item["teacher"][:, 0].numpy(), [5, 7, 9, 11])
    mean = DistillClips([store], [bank], clip_rows=8, align="mean")[(0, 5)]
    np.testing.assert_array_equal(mean["teacher"][:, 0].numpy(), [5.5, 7.5, 9.5, 11.5])


def test_full_frame_crop_is_the_identity_and_crops_are_shared_by_a_clips_frames():
    base = {"p_jitter": 0.0, "p_blur": 0.0, "p_flip": 0.0, "mean": (0, 0, 0), "std": (1, 1, 1)}
    clip = torch.randint(0, 256, (2, 3, 8, 8, 3), dtype=torch.uint8)
    whole = AugmentConfig(img_size=8, crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), **base)
    out = ClipAugment(whole).train()(clip)
    torch.testing.assert_close(out, clip.permute(0, 4, 1, 2, 3).float() / 255)
    # a half-width crop of a horizontal ramp: its values span half the ramp
    ramp = torch.arange(64).repeat(64, 1)[None, None, :, :, None].expand(1, 1, 64, 64, 3) * 4
    half = AugmentConfig(img_size=32, crop_scale=(0.25, 0.25), crop_ratio=(1.0, 1.0), **base)
    got = ClipAugment(half).train()(ramp.to(torch.uint8).contiguous())[0, 0, 0] * 255 / 4
    steps = got[0, 1:] - got[0, :-1]
    torch.testing.assert_close(steps, torch.full_like(steps, 1.0), atol=1e-3, rtol=0)
    # every frame of a clip gets the same box (the §2 view presets crop)
    frame = torch.randint(0, 256, (1, 1, 24, 40, 3), dtype=torch.uint8)
    clips = frame.expand(8, 2, 24, 40, 3).contiguous()
    for view in (1, 2):
        out = ClipAugment(AugmentConfig.ssl_view(view, img_size=16)).train()(clips)
        torch.testing.assert_close(out, out[:, :, :1].expand_as(out))
        assert not torch.allclose(out[0], out[1])


def test_a_teacher_epoch_of_the_paper_is_60k_windows_sharded_and_redrawn():
    # 300 train games of 2 x 45 min: 600 halves of 10,800 frames at 4 fps, 100 windows each.
    draw = teacher_draw([10_800] * 600, num_windows=100, window_frames=16)
    whole = DrawnKeys(draw, seed=5)
    keys = whole.epoch_keys()
    assert len(keys) == len(whole) == 60_000
    arr = np.array(keys)  # (60000, 2) (half, centre)
    assert (np.bincount(arr[:, 0]) == 100).all()
    c = arr[np.lexsort((arr[:, 1], arr[:, 0])), 1].reshape(600, 100)  # each half's, sorted
    # every half: both edges, 100 disjoint windows on the 4 fps grid
    assert (c[:, 0] == 8).all() and (c[:, -1] == 10_792).all() and (np.diff(c) >= 16).all()
    ranks = [DrawnKeys(draw, seed=5, rank=r, world_size=2) for r in range(2)]
    shards = [list(r) for r in ranks]
    assert [len(r) for r in ranks] == [30_000, 30_000] == [len(x) for x in shards]
    assert not set(shards[0]) & set(shards[1])  # disjoint
    assert sorted(shards[0] + shards[1]) == sorted(keys)  # and together the whole epoch
    whole.set_epoch(1)
    redrawn = whole.epoch_keys()
    assert len(redrawn) == 60_000 and sorted(redrawn) != sorted(keys)


def test_teacher_train_windows_are_centred_on_the_4fps_grid(tiny_data):
    s4 = FrameStore(tiny_data.frames4 / tiny_data.slugs[0] / "1.frames")
    # a Goal at 5.0 s (class 2): centres 18 .. 22 on the 4 fps grid are positive
    y = teacher_targets(np.array([5000]), np.array([2]), s4.num_frames, grid_fps=4)
    ds = TeacherWindows([s4], [s4.num_frames], [y], grid_fps=4)
    assert [int(ds[(0, c)]["targets"][2]) for c in range(16, 25)] == [0, 0, 1, 1, 1, 1, 1, 0, 0]
    # centre 21 (t = 5.25 s): the window [3.25 s, 7.25 s) is frames 13 .. 28
    np.testing.assert_array_equal(ds[(0, 21)]["frames"].numpy(), s4.read(13, 29))
    keys = DrawnKeys(teacher_draw([s4.num_frames], 100), seed=0).keys
    assert len(keys) == s4.num_frames // 16  # a 20 s half holds 5 disjoint 4 s windows
    frames = teacher_window_frames([c for _, c in keys], s4.num_frames, grid_fps=4)
    assert sorted(frames.ravel().tolist()) == list(range(80))  # together: the whole half
