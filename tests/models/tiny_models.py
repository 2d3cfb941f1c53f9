"""CPU-sized settings of every builder, shared by the model tests.

Usage:
    model = build_model("vivit_tiny", **TINY["vivit_tiny"])
    clip = tiny_input("vivit_tiny", batch=2)
"""

from __future__ import annotations

import torch

#: Tiny overrides per builder; drop path off so that gradient checks are deterministic.
TINY: dict[str, dict] = {
    "vit_tiny": {"img_size": 32, "depth": 2, "drop_path_rate": 0.0},
    "vivit_tiny": {
        "img_size": 32,
        "num_frames": 8,
        "depth": 2,
        "temporal_depth": 2,
        "drop_path_rate": 0.0,
        "temporal_drop_path_rate": 0.0,
    },
    # 64 px -> grids 16, 8, 4, 2: window 7 with padding in stages 0-1, clamped windows after.
    "viswin_tiny": {
        "img_size": 64,
        "num_frames": 8,
        "embed_dim": 12,
        "depths": (2, 2, 2, 2),
        "num_heads": (1, 2, 2, 3),
        "temporal_depth": 2,
        "drop_path_rate": 0.0,
        "temporal_drop_path_rate": 0.0,
    },
    "resnet3d_50": {"depths": (1, 2, 1, 1), "width": 4},
}


def tiny_input(name: str, batch: int = 2, seed: int = 0) -> torch.Tensor:
    """A random clip of the right shape for ``TINY[name]``: (B, 3, T, H, W)."""
    g = torch.Generator().manual_seed(seed)
    frames, size = {
        "vit_tiny": (2, 32),
        "vivit_tiny": (8, 32),
        "viswin_tiny": (8, 64),
        "resnet3d_50": (4, 32),
    }[name]
    return torch.randn(batch, 3, frames, size, size, generator=g)
