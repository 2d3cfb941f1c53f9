"""Sliding-window inference: encoding each second once gives the scores of the whole model run on
every window (fp32, CPU), for halves shorter than a window, of odd length, and of many windows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from comedian.data.frames import FrameStore, write_store
from comedian.data.halves import Half
from comedian.data.windows import window_starts
from comedian.models import build_model
from comedian.spotting.inference import score_halves

#: Tiny models: 16 px frames, one block a stage (random weights: every second counts).
TINY = {"img_size": 16, "patch_size": 8, "embed_dim": 24, "depth": 1, "num_heads": 3}
TEMPORAL = {"temporal_depth": 1, "temporal_num_heads": 3, "num_classes": 17}


def _half(path: Path, rows: int, seed: int, half: int) -> Half:
    frames = np.random.default_rng(seed).integers(0, 256, (rows, 16, 16, 3), dtype=np.uint8)
    write_store(path, [frames], fps=2.0, num_frames=rows, frame_size=(16, 16), duration_s=rows / 2)
    return Half(FrameStore(path), np.zeros((rows, 17), np.uint8), half=half)


def test_shared_seconds_equal_the_windows(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = build_model("vivit_tiny", **TINY, **TEMPORAL)
    # 40 rows: one padded window; 301: odd, 4 windows, the last one snapped up and padded
    rows = (40, 301, 128)
    halves = [_half(tmp_path / f"{i}.frames", n, i, 1 + i % 2) for i, n in enumerate(rows)]
    assert window_starts(301).tolist() == [0, 64, 128, 174]  # 174 + 128 > 301
    ref = score_halves(model, halves, batch_size=2, device="cpu", shared_seconds=False)
    for batch_size in (1, 3):
        got = score_halves(model, halves, batch_size=batch_size, device="cpu")
        for r, g, n in zip(ref, got, rows, strict=True):
            assert g.shape == (n, 17) and g.dtype == np.float32
            np.testing.assert_allclose(g, r, rtol=0, atol=2e-6)
    for h in halves:
        h.store.close()
