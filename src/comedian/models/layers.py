"""Transformer building blocks shared by the ViT, ViViT and ViSwin backbones.

Usage:
    block = Block(dim=192, num_heads=3, drop_path=0.1)
    x = block(x)  # (B, N, 192) -> (B, N, 192)

Everything follows method.md §2: pre-norm blocks, LayerNorm eps 1e-6, qkv with bias, MLP ratio 4,
exact GELU, stochastic depth. Parameter names are those of the reference implementation
(``norm1``, ``attn.qkv``, ``attn.proj``, ``norm2``, ``mlp.fc1``, ``mlp.fc2``; checkpoints.md
§2.1), so that reference state dicts load by prefix stripping only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

#: LayerNorm epsilon of the ViT/ViViT trunks (checkpoints.md §2: "eps 1e-6 everywhere").
LN_EPS = 1e-6


def drop_path(x: Tensor, p: float, training: bool) -> Tensor:
    """Stochastic depth: zero the residual branch of whole samples with probability ``p``.

    Surviving samples are scaled by ``1 / (1 - p)`` so that the expectation is unchanged.

    Args:
        x: The residual branch output, batch first.
        p: Drop probability.
        training: Only active in training mode.

    Returns:
        A tensor shaped like ``x``.
    """
    if p == 0.0 or not training:
        return x
    keep = 1.0 - p
    shape = (x.shape[0],) + (1,) * (x.ndim - 1)
    mask = x.new_empty(shape).bernoulli_(keep)
    return x * mask / keep


class DropPath(nn.Module):
    """Module wrapper of :func:`drop_path` (no parameters)."""

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        self.p = float(p)

    def forward(self, x: Tensor) -> Tensor:
        return drop_path(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Mlp(nn.Module):
    """Two-layer feed-forward network ``fc2(GELU(fc1(x)))`` with exact (erf) GELU."""

    def __init__(self, dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Attention(nn.Module):
    """Multi-head self-attention through ``F.scaled_dot_product_attention``.

    ``qkv.weight`` rows are the ``(3, heads, head_dim)`` blocks q, k, v (the timm layout of the
    reference, checkpoints.md §2.1), so reference weights load unchanged.
    """

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim {dim} is not divisible by num_heads {num_heads}")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: Tensor, attn_bias: Tensor | None = None) -> Tensor:
        """Attend over the token axis.

        Args:
            x: Tokens.
            attn_bias: Optional additive bias broadcastable to (..., heads, N, N).

        Shapes:
            x: (*batch, N, D) -> (*batch, N, D); any number of leading batch dims (the Swin
            windows use two: batch and window).
        """
        *batch, n, d = x.shape
        qkv = self.qkv(x).reshape(*batch, n, 3, self.num_heads, self.head_dim)
        q, k, v = qkv.movedim(-3, 0).transpose(-3, -2).unbind(0)  # each (*batch, heads, N, hd)
        if attn_bias is not None:
            attn_bias = attn_bias.to(q.dtype)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_bias)
        out = out.transpose(-3, -2).reshape(*batch, n, d)  # (*batch, N, D)
        return self.proj(out)


class Block(nn.Module):
    """Pre-norm transformer block: ``x + DP(attn(norm1(x)))``, then ``x + DP(mlp(norm2(x)))``."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop_path: float = 0.0,
        eps: float = LN_EPS,
    ) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = Attention(dim, num_heads, qkv_bias=qkv_bias)
        self.drop_path = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x)))  # (B, N, D)
        return x + self.drop_path(self.mlp(self.norm2(x)))


def run_blocks(blocks: Iterable[nn.Module], x: Tensor, grad_checkpointing: bool) -> Tensor:
    """Apply ``blocks`` in order, each under activation checkpointing when asked.

    With checkpointing, a block keeps only its input for the backward pass and recomputes its
    activations there (non-reentrant ``torch.utils.checkpoint``; the RNG state is restored, so
    stochastic depth draws the same samples twice and the gradients are those without it). It
    is skipped where no gradient is recorded (evaluation, ``torch.no_grad``).
    """
    if grad_checkpointing and torch.is_grad_enabled():
        for block in blocks:
            x = checkpoint(block, x, use_reentrant=False)
        return x
    for block in blocks:
        x = block(x)
    return x


def drop_path_rates(rate: float, depth: int) -> list[float]:
    """Stochastic-depth rate of each block: linear from 0 to ``rate`` (timm's schedule)."""
    if depth <= 1:
        return [0.0] * depth
    return [rate * i / (depth - 1) for i in range(depth)]


class Transformer(nn.Module):
    """A stack of :class:`Block` and a final LayerNorm (keys ``blocks.N.*``, ``norm.*``)."""

    def __init__(
        self,
        dim: int,
        depth: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        drop_path_rate: float = 0.0,
        eps: float = LN_EPS,
    ) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            Block(dim, num_heads, mlp_ratio, drop_path=p, eps=eps)
            for p in drop_path_rates(drop_path_rate, depth)
        )
        self.norm = nn.LayerNorm(dim, eps=eps)
        #: Recompute each block's activations in the backward pass (:func:`run_blocks`).
        self.grad_checkpointing = False

    def forward(self, x: Tensor) -> Tensor:
        """(B, N, D) -> (B, N, D), normalized."""
        return self.norm(run_blocks(self.blocks, x, self.grad_checkpointing))


def check_geometry(img_size: int, patch_size: int, num_frames: int = 0, tube_size: int = 1) -> None:
    """Raise a clear error when the clip does not tile into whole tubelets."""
    if num_frames % tube_size:
        raise ValueError(f"num_frames {num_frames} is not divisible by tube_size {tube_size}")
    if img_size % patch_size:
        raise ValueError(f"img_size {img_size} is not divisible by patch_size {patch_size}")


class TubeletEmbed(nn.Module):
    """Tubelet patch embedding: a Conv3d with kernel = stride = (tube, patch, patch).

    A clip of T frames becomes T / tube "tubelet images" of (H / patch) x (W / patch) tokens
    (method.md §2, §5). An optional LayerNorm over channels serves the ViSwin (§10).
    """

    def __init__(
        self,
        in_chans: int,
        embed_dim: int,
        tube_size: int,
        patch_size: int | Sequence[int],
        norm_eps: float | None = None,
    ) -> None:
        super().__init__()
        ph, pw = (patch_size, patch_size) if isinstance(patch_size, int) else patch_size
        self.tube_size = tube_size
        self.patch_size = (ph, pw)
        self.proj = nn.Conv3d(
            in_chans, embed_dim, kernel_size=(tube_size, ph, pw), stride=(tube_size, ph, pw)
        )
        self.norm = nn.LayerNorm(embed_dim, eps=norm_eps) if norm_eps is not None else None

    def grid(self, num_frames: int, height: int, width: int) -> tuple[int, int, int]:
        """Output grid (tubelets, rows, columns); raises if the input does not tile exactly."""
        ph, pw = self.patch_size
        if num_frames % self.tube_size or height % ph or width % pw:
            raise ValueError(
                f"input (T={num_frames}, H={height}, W={width}) is not divisible by the tubelet "
                f"({self.tube_size}, {ph}, {pw})"
            )
        return num_frames // self.tube_size, height // ph, width // pw

    def forward(self, x: Tensor) -> Tensor:
        """Embed a clip.

        Shapes:
            x: (B, C, T, H, W) -> (B, T / tube, h * w, D), tokens in row-major (h, w) order.
        """
        self.grid(*x.shape[2:])
        x = self.proj(x)  # (B, D, Tt, h, w)
        x = x.flatten(3).permute(0, 2, 3, 1)  # (B, Tt, h*w, D)
        if self.norm is not None:
            x = self.norm(x)
        return x


def set_grad_checkpointing(model: nn.Module, enable: bool) -> None:
    """Switch activation checkpointing of every block stack inside ``model`` (the modules with
    a ``grad_checkpointing`` flag: :class:`Transformer`, the Swin stages, the ViT)."""
    for module in model.modules():
        if hasattr(module, "grad_checkpointing"):
            module.grad_checkpointing = bool(enable)


def init_weights(module: nn.Module) -> None:
    """timm-style init: Linear trunc-normal std 0.02 with zero bias, LayerNorm (1, 0)."""
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


#: Module types whose parameters never get weight decay (method.md §2, §5, §6: "except norms").
_NORM_TYPES = (nn.LayerNorm, nn.GroupNorm, nn.modules.batchnorm._BatchNorm)


def no_weight_decay_names(module: nn.Module, extra: Sequence[str] = ()) -> set[str]:
    """Names of the parameters of ``module`` that AdamW must not decay.

    Biases, every parameter of a norm layer, and the ``extra`` names (embeddings, CLS and mask
    tokens, relative position tables). A ``p.dim() >= 2`` rule would be wrong here: the position
    and time embeddings and the tokens are 3-D.

    Args:
        module: The model.
        extra: Parameter names, or suffixes after a dot (``"relative_position_bias_table"``
            matches it in every block), to exclude too.

    Returns:
        A set of names as :meth:`torch.nn.Module.named_parameters` gives them.
    """
    names: set[str] = set()
    for mod_name, mod in module.named_modules():
        for p_name, _ in mod.named_parameters(recurse=False):
            full = f"{mod_name}.{p_name}" if mod_name else p_name
            if p_name == "bias" or isinstance(mod, _NORM_TYPES):
                names.add(full)
            elif any(full == e or full.endswith(f".{e}") for e in extra):
                names.add(full)
    return names
