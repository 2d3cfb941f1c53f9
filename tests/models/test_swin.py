"""Swin pieces: relative position index, shifted-window mask, locality, merging, padding."""

from __future__ import annotations

import torch
from torch import nn

from comedian.models.swin import (
    PatchMerging,
    SwinBlock,
    SwinTransformer,
    relative_position_index,
    shifted_window_mask,
    window_partition,
    window_reverse,
)

M = -100.0


def test_relative_position_index_window_2() -> None:
    # Tokens (0,0), (0,1), (1,0), (1,1); index = (dy + 1) * 3 + (dx + 1), d = query - key.
    expected = torch.tensor([[4, 3, 1, 0], [5, 4, 2, 1], [7, 6, 4, 3], [8, 7, 5, 4]])
    assert torch.equal(relative_position_index(2), expected)
    assert relative_position_index(7).shape == (49, 49)
    assert relative_position_index(7).max() == 168


def test_shifted_window_mask_4x4_window_2_shift_1() -> None:
    # Regions after the cyclic shift (slices (0,-2), (-2,-1), (-1,None) on both axes):
    #   0 0 1 2
    #   0 0 1 2
    #   3 3 4 5
    #   6 6 7 8
    # Windows in row-major order hold ids [0,0,0,0], [1,2,1,2], [3,3,6,6], [4,5,7,8].
    expected = torch.tensor(
        [
            [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]],
            [[0, M, 0, M], [M, 0, M, 0], [0, M, 0, M], [M, 0, M, 0]],
            [[0, 0, M, M], [0, 0, M, M], [M, M, 0, 0], [M, M, 0, 0]],
            [[0, M, M, M], [M, 0, M, M], [M, M, 0, M], [M, M, M, 0]],
        ]
    )
    assert torch.equal(shifted_window_mask(4, 4, window=2, shift=1), expected)
    assert shifted_window_mask(4, 4, window=2, shift=0) is None


def test_mask_with_padding_isolates_padded_tokens() -> None:
    # 3x3 grid, window 2, no shift: padded to 4x4; real tokens never see padding.
    mask = shifted_window_mask(3, 3, window=2, shift=0)
    assert mask is not None and mask.shape == (4, 4, 4)
    # Window 0 = tokens (0,0),(0,1),(1,0),(1,1): all real.
    assert torch.equal(mask[0], torch.zeros(4, 4))
    # Window 3 = (2,2) real, (2,3), (3,2), (3,3) padding.
    assert torch.equal(mask[3][0], torch.tensor([0, M, M, M]))
    assert torch.equal(mask[3][1:, 1:], torch.zeros(3, 3))


def test_paper_geometry_masks() -> None:
    # Shifted blocks of stages 0-2 carry masks with 64, 16, 4 windows (checkpoints.md §3).
    swin = SwinTransformer(grid_size=56)
    shapes = {
        name: tuple(buf.shape) for name, buf in swin.named_buffers() if name.endswith("attn_mask")
    }
    assert shapes == {
        "layers.0.blocks.1.attn_mask": (64, 49, 49),
        "layers.1.blocks.1.attn_mask": (16, 49, 49),
        "layers.2.blocks.1.attn_mask": (4, 49, 49),
        "layers.2.blocks.3.attn_mask": (4, 49, 49),
        "layers.2.blocks.5.attn_mask": (4, 49, 49),
    }
    assert swin.layers[3].blocks[1].shift == 0  # 7x7 grid = one window: no shift


def test_window_partition_round_trip() -> None:
    x = torch.arange(2 * 4 * 6 * 3, dtype=torch.float32).view(2, 4, 6, 3)
    windows = window_partition(x, 2)
    assert windows.shape == (2, 6, 4, 3)
    assert torch.equal(windows[0, 1, :, 0], x[0, 0:2, 2:4, 0].reshape(-1))
    assert torch.equal(window_reverse(windows, 2, 4, 6), x)


def _block_output(block: SwinBlock, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return block(x)


def test_shifted_block_attends_only_within_its_region() -> None:
    # 8x8 grid, window 4, shift 2. Token (0,0) is rolled to (6,6), in the bottom-right shifted
    # window, whose bottom-right 2x2 region holds the original tokens (0..1, 0..1). The same
    # window also holds the wrapped-around tokens (6..7, 6..7), which the mask must hide.
    torch.manual_seed(0)
    block = SwinBlock(dim=8, resolution=(8, 8), num_heads=2, window=4, shift=2,
                      mlp_ratio=2.0, drop_path=0.0).eval()  # fmt: skip
    x = torch.randn(1, 64, 8)
    ref = _block_output(block, x)

    def changed(row: int, col: int) -> bool:
        x2 = x.clone()
        x2[0, row * 8 + col] += torch.linspace(-3.0, 3.0, 8)  # not a constant: LayerNorm
        return not torch.allclose(_block_output(block, x2)[0, 0], ref[0, 0], atol=1e-6)

    assert changed(1, 1)  # same region
    assert not changed(7, 7)  # same shifted window, other region (wrapped around)
    assert not changed(2, 2)  # other window
    # Without the mask, the wrapped-around token leaks in.
    block.attn_mask = None
    ref = _block_output(block, x)
    assert changed(7, 7)


def test_padded_block_matches_unpadded_content() -> None:
    # A 5x5 grid with window 4 is padded to 8x8; tokens must not attend to the padding, so
    # the output at real tokens is unchanged if we append garbage where the padding goes.
    torch.manual_seed(0)
    block = SwinBlock(dim=8, resolution=(5, 5), num_heads=2, window=4, shift=0,
                      mlp_ratio=2.0, drop_path=0.0).eval()  # fmt: skip
    assert block.attn_mask is not None
    x = torch.randn(1, 25, 8)
    out = _block_output(block, x)
    # Window 0 covers rows 0-3, cols 0-3: all real. Compare with plain attention over it.
    norm_x = block.norm1(x).view(1, 5, 5, 8)[:, :4, :4].reshape(1, 1, 16, 8)
    with torch.no_grad():
        attn = block.attn(norm_x, None)[0, 0]  # (16, 8)
    y = x.view(5, 5, 8)[:4, :4].reshape(16, 8) + attn
    y = y + block.mlp(block.norm2(y))
    torch.testing.assert_close(out.view(5, 5, 8)[:4, :4].reshape(16, 8), y, atol=1e-5, rtol=1e-5)


def test_patch_merging_order() -> None:
    merge = PatchMerging(dim=1, resolution=(2, 2))
    merge.norm = nn.Identity()
    with torch.no_grad():
        merge.reduction.weight.copy_(torch.tensor([[1.0, 10.0, 100.0, 1000.0], [0, 0, 0, 0]]))
    # Grid a=(0,0)=1, b=(0,1)=2, c=(1,0)=3, d=(1,1)=4 -> concat [a, c, b, d] (timm's order).
    x = torch.tensor([1.0, 2.0, 3.0, 4.0]).view(1, 4, 1)
    out = merge(x)
    assert out.shape == (1, 1, 2)
    assert out[0, 0, 0].item() == 1 + 10 * 3 + 100 * 2 + 1000 * 4


def test_odd_grid_is_padded_for_merging() -> None:
    swin = SwinTransformer(grid_size=9, embed_dim=8, depths=(1, 1), num_heads=(1, 2), window=3)
    out = swin(torch.randn(2, 81, 8))
    assert out.shape == (2, 25, 16)  # 9x9 -> 5x5
