"""A store decoded at the model's input size (decode ``size: [224, 224]``, the paper config's
``decode.clip_size``) holds what the model would see from the 398x224 store: every frame of it
equals, within JPEG tolerance, the 398x224 frame resized the way the models resize (the
evaluation transform of :class:`comedian.data.transforms.ClipAugment`: a squash, no crop)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from comedian.data.decode import decode_video
from comedian.data.frames import FrameStore
from comedian.data.transforms import AugmentConfig, ClipAugment
from comedian.synth.generate import write_half


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> tuple[FrameStore, FrameStore]:
    tmp = tmp_path_factory.mktemp("clip_store")
    video = tmp / "1_224p.mkv"
    write_half(video, 6.0, seed=3)  # the synthetic pitch at SoccerNet's 398x224, 25 fps
    full, clip = tmp / "full.frames", tmp / "clip.frames"
    decode_video(video, full, fps=2.0, num_threads=1)
    decode_video(video, clip, fps=2.0, size=(224, 224), num_threads=1)
    return FrameStore(full), FrameStore(clip)


def as_model_sees(frames: np.ndarray) -> np.ndarray:
    """The models' resize of uint8 frames (B, H, W, 3) to 224x224, back in 0..255 (B, 224, 224, 3).
    Normalization is undone; nothing is rounded."""
    cfg = AugmentConfig.evaluation(224)
    x = ClipAugment(cfg).eval()(torch.from_numpy(frames)[None])[0]  # (3, B, 224, 224)
    mean = torch.tensor(cfg.mean).view(3, 1, 1, 1)
    std = torch.tensor(cfg.std).view(3, 1, 1, 1)
    return ((x * std + mean) * 255).permute(1, 2, 3, 0).numpy()


def test_clip_store_holds_the_squashed_frames_the_model_sees(stores):
    full, clip = stores
    assert full.frame_size == (224, 398) and clip.frame_size == (224, 224)
    assert clip.num_frames == full.num_frames == 12
    assert clip.meta["source_frame_index"] == full.meta["source_frame_index"]
    want = as_model_sees(full.read(0, full.num_frames))  # (12, 224, 224, 3) float
    got = clip.read(0, clip.num_frames).astype(np.float64)
    # The same 224x224 frames whatever the path: the clip store is read as it is (no resize).
    np.testing.assert_allclose(as_model_sees(clip.read(0, 12)), got, atol=1e-3)
    err = got - want
    psnr = 10 * np.log10(255**2 / np.mean(err**2))
    # JPEG tolerance: both stores are JPEG quality 90, 4:2:0, and the decoder's scaler is not the
    # models' bilinear one; on this pitch the 398x224 store itself is ~37 dB from its source
    # frames. A crop instead of a squash, a shift of a few pixels, another frame or a colour swap
    # is far below these bounds.
    assert np.abs(err).mean() < 4.0, np.abs(err).mean()
    assert psnr > 30.0, psnr
