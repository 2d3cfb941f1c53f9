"""Clip augmentations: parameters shared by a clip's frames, eval = resize + normalize."""

from __future__ import annotations

import torch

from comedian.data.transforms import AugmentConfig, ClipAugment


def test_eval_transform_resizes_and_normalizes():
    clips = torch.full((2, 4, 10, 20, 3), 153, dtype=torch.uint8)
    out = ClipAugment(AugmentConfig.evaluation(img_size=8)).eval()(clips)
    assert out.shape == (2, 3, 4, 8, 8) and out.dtype == torch.float32
    torch.testing.assert_close(out, torch.full_like(out, (153 / 255 - 0.45) / 0.225))


def test_training_parameters_are_shared_across_a_clips_frames():
    torch.manual_seed(0)
    frame = torch.randint(0, 256, (1, 1, 24, 24, 3), dtype=torch.uint8)
    clips = frame.expand(16, 6, 24, 24, 3).contiguous()  # 16 clips of 6 identical frames
    cfg = AugmentConfig(img_size=24, jitter=(0.4, 0.4, 0.4, 0.1), p_jitter=1.0, p_gray=0.5,
                        p_blur=0.5, p_solarize=0.5, p_flip=0.5)
    out = ClipAugment(cfg).train()(clips, generator=torch.Generator().manual_seed(1))
    # every frame of a clip got exactly the same operations and factors
    torch.testing.assert_close(out, out[:, :, :1].expand_as(out))
    # ... while different clips got different ones
    assert not torch.allclose(out[0], out[1])


def test_each_operation_matches_its_definition():
    x = torch.tensor([[[[[100, 150, 200]]]]], dtype=torch.uint8).expand(1, 1, 2, 2, 3)
    def run(**kw):
        base = {"p_jitter": 0.0, "p_blur": 0.0, "p_flip": 0.0, "mean": (0, 0, 0), "std": (1, 1, 1)}
        cfg = AugmentConfig(img_size=2, **{**base, **kw})
        return ClipAugment(cfg).train()(x.contiguous())[0, :, 0, 0, 0]
    v = torch.tensor([100, 150, 200]) / 255
    torch.testing.assert_close(run(), v)
    gray = 0.299 * v[0] + 0.587 * v[1] + 0.114 * v[2]
    torch.testing.assert_close(run(p_gray=1.0), gray.expand(3))
    torch.testing.assert_close(run(p_solarize=1.0, solarize_threshold=0.5), torch.where(v >= 0.5, 1 - v, v))
    # brightness only: a factor in [0.6, 1.4] times every channel
    b = run(jitter=(0.4, 0.0, 0.0, 0.0), p_jitter=1.0)
    ratio = b / v
    assert torch.allclose(ratio, ratio[0].expand(3), atol=1e-5) and 0.6 <= ratio[0] <= 1.4
