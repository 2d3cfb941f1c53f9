"""FIFO queue of key vectors for SCE (method.md §2 and §5), gathered across DDP ranks.

Usage:
    queue = FeatureQueue(size=65536, dim=256)   # random unit vectors, a buffer of the module
    loss = sce_loss(q, k, queue.vectors, ...)   # read the queue BEFORE adding this batch
    queue.enqueue(k)                            # all ranks' keys, oldest slots overwritten

The vectors and the write pointer are registered buffers, so they travel with the module to the
device and are saved in (and restored from) Lightning checkpoints: a resumed run continues with
the same queue instead of refilling one from random vectors. Under torch.distributed every rank
calls :meth:`FeatureQueue.enqueue` with its own keys; the keys of all ranks are gathered in rank
order and every rank writes the same rows, so the replicas stay identical (as in MoCo).
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn


def gather_rows(x: Tensor) -> Tensor:
    """Concatenate the rows of ``x`` from every rank, in rank order (identity without DDP).

    Ranks may hold different numbers of rows (a last, smaller batch): the row counts are
    gathered first and the tensors padded to the largest, because all_gather needs equal shapes.

    Shapes:
        x: (N_r, D) on rank r -> (sum_r N_r, D) on every rank.
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x
    world = dist.get_world_size()
    count = torch.tensor([x.shape[0]], dtype=torch.long, device=x.device)
    counts = [torch.zeros_like(count) for _ in range(world)]
    dist.all_gather(counts, count)
    sizes = [int(c.item()) for c in counts]
    most = max(sizes)
    padded = x.new_zeros((most, *x.shape[1:]))
    padded[: x.shape[0]] = x
    parts = [torch.empty_like(padded) for _ in range(world)]
    dist.all_gather(parts, padded.contiguous())
    return torch.cat([p[:s] for p, s in zip(parts, sizes, strict=True)], dim=0)


class FeatureQueue(nn.Module):
    """A FIFO of ``size`` vectors of width ``dim``, initialized with random unit vectors.

    Args:
        size: Number of slots K (65,536 in §2 and §5).
        dim: Vector width D.
        seed: Seed of the random initial vectors; a private generator, so every rank builds the
            same queue whatever the global random state.

    Attributes:
        vectors: (K, D) float32 buffer; slot order is storage order, not age order.
        ptr: () int64 buffer, the next slot to write (the oldest vector once the queue is full).
    """

    vectors: Tensor
    ptr: Tensor

    def __init__(self, size: int, dim: int, seed: int = 0) -> None:
        super().__init__()
        if size < 1 or dim < 1:
            raise ValueError(f"FeatureQueue: size and dim must be >= 1, got {size} and {dim}")
        gen = torch.Generator().manual_seed(seed)
        # Gaussian rows normalized are uniform on the unit sphere.
        init = F.normalize(torch.randn(size, dim, generator=gen), dim=1)  # (K, D)
        self.register_buffer("vectors", init)
        self.register_buffer("ptr", torch.zeros((), dtype=torch.long))

    @property
    def size(self) -> int:
        """Number of slots K."""
        return self.vectors.shape[0]

    @torch.no_grad()
    def enqueue(self, keys: Tensor) -> None:
        """Write the keys of all ranks into the oldest slots, wrapping around the end.

        A batch larger than the whole queue keeps only its last ``size`` keys (the newest).

        Shapes:
            keys: (N, D) on each rank.
        """
        if keys.ndim != 2 or keys.shape[1] != self.vectors.shape[1]:
            raise ValueError(
                f"FeatureQueue.enqueue: keys must be (N, {self.vectors.shape[1]}), "
                f"got {tuple(keys.shape)}"
            )
        keys = gather_rows(keys.detach()).to(self.vectors)  # (N_all, D)
        n, size = keys.shape[0], self.size
        if n == 0:
            return
        start = int(self.ptr.item())
        if n >= size:
            # Only the newest `size` keys survive; key i of the batch lands where it would have
            # after writing the whole batch from `start`, so FIFO order is kept.
            keys = keys[n - size :]
            start = (start + n - size) % size
            n = size
        slots = (start + torch.arange(n, device=self.vectors.device)) % size  # (n,)
        self.vectors[slots] = keys
        self.ptr.fill_((start + n) % size)

    def extra_repr(self) -> str:
        return f"size={self.size}, dim={self.vectors.shape[1]}"
