"""Swin Transformer stages (window attention, shifted windows, patch merging), written here.

Usage:
    swin = SwinTransformer(grid_size=56, embed_dim=96)   # Swin-T body of the ViSwin (§10)
    out = swin(tokens)                                   # (B, 56*56, 96) -> (B, 7*7, 768)

The parameter and buffer layout is timm 0.6.13's (checkpoints.md §3): ``layers.i.blocks.j``
with ``attn.relative_position_bias_table``, ``attn.relative_position_index`` (buffer),
``attn_mask`` (buffer, shifted blocks only), and ``PatchMerging`` at the *end* of stages 0..2 as
``layers.i.downsample.{norm, reduction}``; a final ``norm``. There is no patch embedding here (the
ViSwin has its own tubelet embedding) and no absolute position embedding.

Like timm 0.6.13, a stage whose grid is not larger than the window uses one window covering it
and no shift. Unlike it, grids that the window does not divide are zero-padded at the bottom and
right, and the attention mask keeps real tokens from attending to padding (this only happens at
test sizes: the paper's 56/28/14/7 grids tile exactly).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from comedian.models.layers import Attention, DropPath, Mlp, init_weights, run_blocks

#: Every LayerNorm of the ViSwin uses eps 1e-6 like the ViT's (method.md §10): the reference
#: hands one eps-1e-6 norm layer to the whole Swin, so timm's default 1e-5 is not what the
#: released weights were trained with (it shifts low-variance activations by ~1e-2).
SWIN_LN_EPS = 1e-6
#: Additive bias between tokens of different regions (the reference value, not -inf).
MASK_VALUE = -100.0


def relative_position_index(window: int) -> Tensor:
    """Index into the (2w-1)^2 bias table for every (query, key) pair of a w x w window.

    Returns:
        int64 (w*w, w*w): ``(dy + w - 1) * (2w - 1) + (dx + w - 1)`` with ``dy, dx`` the
        query-minus-key offsets, tokens in row-major order.
    """
    coords = torch.stack(
        torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")
    ).flatten(1)  # (2, N)
    rel = coords[:, :, None] - coords[:, None, :] + (window - 1)  # (2, N, N)
    return rel[0] * (2 * window - 1) + rel[1]


def window_partition(x: Tensor, window: int) -> Tensor:
    """(B, H, W, C) -> (B, nW, window*window, C), windows in row-major order."""
    b, h, w, c = x.shape
    x = x.view(b, h // window, window, w // window, window, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(b, (h // window) * (w // window), window**2, c)


def window_reverse(windows: Tensor, window: int, h: int, w: int) -> Tensor:
    """Inverse of :func:`window_partition`: (B, nW, window*window, C) -> (B, H, W, C)."""
    b, _, _, c = windows.shape
    x = windows.view(b, h // window, w // window, window, window, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(b, h, w, c)


def shifted_window_mask(height: int, width: int, window: int, shift: int) -> Tensor | None:
    """Additive attention mask of the (shifted) windows of a height x width grid.

    After the cyclic shift, a window can hold tokens from up to 4 regions that are not
    neighbours in the image; tokens attend only within their own region. The grid is padded to
    a multiple of ``window`` first; padded tokens form regions of their own.

    Returns:
        (nW, N, N) with 0 within a region and -100 across regions, N = window**2; ``None`` when
        there is neither a shift nor padding (nothing to mask).
    """
    hp = -(-height // window) * window
    wp = -(-width // window) * window
    if shift == 0 and hp == height and wp == width:
        return None
    region = torch.zeros(hp, wp, dtype=torch.long)
    if shift > 0:
        cuts = (slice(0, -window), slice(-window, -shift), slice(-shift, None))
        rid = 0
        for hs in cuts:
            for ws in cuts:
                region[hs, ws] = rid
                rid += 1
    pad = torch.zeros(hp, wp, dtype=torch.bool)
    pad[height:, :] = True
    pad[:, width:] = True
    region = region + 9 * pad.long()  # padding never shares a region with real tokens
    ids = window_partition(region[None, :, :, None], window)[0, :, :, 0]  # (nW, N)
    same = ids[:, :, None] == ids[:, None, :]  # (nW, N, N)
    return torch.where(same, 0.0, MASK_VALUE)


class WindowAttention(Attention):
    """Multi-head attention inside windows with a learned relative position bias."""

    def __init__(self, dim: int, num_heads: int, window: int) -> None:
        super().__init__(dim, num_heads, qkv_bias=True)
        self.window = window
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * window - 1) ** 2, num_heads)
        )
        self.register_buffer("relative_position_index", relative_position_index(window))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:  # type: ignore[override]
        """Attend within each window.

        Shapes:
            x: (B, nW, N, C) -> (B, nW, N, C); mask: (nW, N, N) or None.
        """
        n = self.window**2
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        bias = bias.view(n, n, -1).permute(2, 0, 1)  # (heads, N, N)
        if mask is not None:
            bias = bias[None] + mask[:, None]  # (nW, heads, N, N)
        return super().forward(x, attn_bias=bias)


class SwinBlock(nn.Module):
    """Swin block: (shifted) window attention and MLP, each pre-norm with a residual."""

    def __init__(
        self,
        dim: int,
        resolution: tuple[int, int],
        num_heads: int,
        window: int,
        shift: int,
        mlp_ratio: float,
        drop_path: float,
    ) -> None:
        super().__init__()
        self.resolution = resolution
        if min(resolution) <= window:
            # One window covers the grid: nothing to shift (timm 0.6.13's rule).
            window, shift = min(resolution), 0
        self.window, self.shift = window, shift
        self.norm1 = nn.LayerNorm(dim, eps=SWIN_LN_EPS)
        self.attn = WindowAttention(dim, num_heads, window)
        self.drop_path = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(dim, eps=SWIN_LN_EPS)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.register_buffer("attn_mask", shifted_window_mask(*resolution, window, shift))

    def forward(self, x: Tensor) -> Tensor:
        """(B, H*W, C) -> (B, H*W, C)."""
        h, w = self.resolution
        b, _, c = x.shape
        ws, s = self.window, self.shift
        y = self.norm1(x).view(b, h, w, c)
        pad_h, pad_w = (-h) % ws, (-w) % ws
        if pad_h or pad_w:
            y = F.pad(y, (0, 0, 0, pad_w, 0, pad_h))  # (B, Hp, Wp, C)
        hp, wp = h + pad_h, w + pad_w
        if s:
            y = torch.roll(y, shifts=(-s, -s), dims=(1, 2))
        y = self.attn(window_partition(y, ws), self.attn_mask)  # (B, nW, N, C)
        y = window_reverse(y, ws, hp, wp)  # (B, Hp, Wp, C)
        if s:
            y = torch.roll(y, shifts=(s, s), dims=(1, 2))
        y = y[:, :h, :w].reshape(b, h * w, c)
        x = x + self.drop_path(y)
        return x + self.drop_path(self.mlp(self.norm2(x)))


class PatchMerging(nn.Module):
    """2x2 neighbourhood concat (4C), LayerNorm, Linear 4C -> 2C without bias."""

    def __init__(self, dim: int, resolution: tuple[int, int]) -> None:
        super().__init__()
        self.resolution = resolution
        self.norm = nn.LayerNorm(4 * dim, eps=SWIN_LN_EPS)
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        """(B, H*W, C) -> (B, ceil(H/2)*ceil(W/2), 2C)."""
        h, w = self.resolution
        b, _, c = x.shape
        x = x.view(b, h, w, c)
        if h % 2 or w % 2:
            x = F.pad(x, (0, 0, 0, w % 2, 0, h % 2))
        # The order (0,0), (1,0), (0,1), (1,1) of timm: the reduction's weights depend on it.
        x = torch.cat(
            [x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], dim=-1
        )  # (B, H/2, W/2, 4C)
        return self.reduction(self.norm(x.flatten(1, 2)))


class SwinStage(nn.Module):
    """``depth`` blocks alternating regular and shifted windows, then an optional merging."""

    def __init__(
        self,
        dim: int,
        resolution: tuple[int, int],
        depth: int,
        num_heads: int,
        window: int,
        mlp_ratio: float,
        drop_paths: list[float],
        downsample: bool,
    ) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            SwinBlock(
                dim,
                resolution,
                num_heads,
                window,
                shift=0 if i % 2 == 0 else window // 2,
                mlp_ratio=mlp_ratio,
                drop_path=drop_paths[i],
            )
            for i in range(depth)
        )
        self.downsample = PatchMerging(dim, resolution) if downsample else None
        #: Recompute each block's activations in the backward pass (``run_blocks``).
        self.grad_checkpointing = False

    def forward(self, x: Tensor) -> Tensor:
        x = run_blocks(self.blocks, x, self.grad_checkpointing)
        return x if self.downsample is None else self.downsample(x)


class SwinTransformer(nn.Module):
    """Swin body on a grid of patch tokens: stages, merging, final LayerNorm.

    Args:
        grid_size: Token grid (rows, columns) of the input (56 for 224 px with patch 4).
        embed_dim: Width of stage 0 (doubles at each merging).
        depths: Blocks per stage.
        num_heads: Heads per stage.
        window: Window size.
        mlp_ratio: MLP hidden width / width.
        drop_path_rate: Stochastic depth of the last block (linear from 0 over all blocks).

    Shapes:
        (B, H*W, C) -> (B, H'*W', C * 2**(stages - 1)), normalized.
    """

    def __init__(
        self,
        grid_size: int | tuple[int, int] = 56,
        embed_dim: int = 96,
        depths: tuple[int, ...] = (2, 2, 6, 2),
        num_heads: tuple[int, ...] = (3, 6, 12, 24),
        window: int = 7,
        mlp_ratio: float = 4.0,
        drop_path_rate: float = 0.1,
    ) -> None:
        super().__init__()
        if len(depths) != len(num_heads):
            raise ValueError(f"depths {depths} and num_heads {num_heads} differ in length")
        h, w = (grid_size, grid_size) if isinstance(grid_size, int) else grid_size
        total = sum(depths)
        rates = [drop_path_rate * i / (total - 1) if total > 1 else 0.0 for i in range(total)]
        self.layers = nn.ModuleList()
        dim = embed_dim
        for i, (depth, heads) in enumerate(zip(depths, num_heads, strict=True)):
            last = i == len(depths) - 1
            start = sum(depths[:i])
            self.layers.append(
                SwinStage(
                    dim,
                    (h, w),
                    depth,
                    heads,
                    window,
                    mlp_ratio,
                    rates[start : start + depth],
                    downsample=not last,
                )
            )
            if not last:
                dim, h, w = dim * 2, -(-h // 2), -(-w // 2)
        self.num_features = dim
        self.out_resolution = (h, w)
        self.norm = nn.LayerNorm(dim, eps=SWIN_LN_EPS)
        self.apply(init_weights)

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = layer(x)
        return self.norm(x)
