"""The samplers of every stage: keys ``(half index, position)``, sharded over DDP ranks.

Usage:
    sampler = ShuffledKeys(ssl_keys(num_rows), seed=0)                           # §2, a second
    sampler = DrawnKeys(teacher_draw(num_frames4, num_windows=100), seed=0)      # §3, a centre
    sampler = DrawnKeys(distill_draw(num_rows, num_windows=38, window_rows=128)) # §5, a start
    sampler = TrainWindowSampler(num_rows, random_windows=23, seed=0)            # §6, a start
    sampler = KeySampler(inference_keys(num_rows))                               # §7, a start
    loader = DataLoader(dataset, batch_size=64, sampler=sampler)

Four kinds: :class:`ShuffledKeys` (a fixed set of keys, reshuffled each epoch), :class:`DrawnKeys`
(keys redrawn each epoch, then shuffled; :class:`TrainWindowSampler` is the spotting draw) and
:class:`KeySampler` (fixed keys in order, for inference), all sharded like :class:`Sharded`. A
training epoch's keys depend only on ``(seed, epoch)``, so every DDP rank builds the same list and
takes its own strided share, padded so that all ranks run the same number of steps (Lightning
calls ``set_epoch``); a resumed run starts past the keys it has seen (``resume_at``). Where the
keys fall in a half (which windows, which rows) is :mod:`comedian.data.windows`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Sampler

from comedian.data.windows import (
    CLIP_ROWS,
    distill_window_starts,
    ssl_frame_pairs,
    teacher_window_centres,
    train_window_starts,
    window_starts,
)

#: A dataset key: ``(half index, position)``; the position is a second, a row or a centre frame.
Key = tuple[int, int]


def _shard(keys: list[Key], rank: int, world: int, pad: bool) -> list[Key]:
    """Rank ``rank``'s share of ``keys`` (strided); padded by repetition to equal sizes."""
    if world == 1:
        return keys
    if pad and keys:
        per_rank = -(-len(keys) // world)
        keys = keys + keys[: per_rank * world - len(keys)]
    return keys[rank::world]


def _dist_info(rank: int | None, world: int | None) -> tuple[int, int]:
    if rank is not None and world is not None:
        return rank, world
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


class Sharded(Sampler[Key]):
    """Rank and world size of a sampler, read from torch.distributed when first iterated,
    and the position a resumed run starts from.

    A stage builds its samplers before ``trainer.fit`` starts the process group; reading the
    rank at construction would give every DDP rank ``(0, 1)``, i.e. all of the data, so
    explicit values are kept and missing ones are looked up at use.

    Resume: :meth:`resume_at` sets the epoch and a number of this rank's keys to skip; the
    next iteration starts past them (then the skip is spent): a run resumed from a checkpoint
    taken mid-epoch sees the keys the interrupted run would have seen next.
    :meth:`resume_after_step` does the same from a global step, resolved when the sampler is
    next iterated, i.e. inside the process group, where an epoch's length is this rank's share.
    """

    _rank: int | None
    _world_size: int | None
    epoch: int = 0
    _skip: int = 0
    _after_step: tuple[int, int] | None = None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def resume_at(self, epoch: int, skip: int) -> None:
        """Start the next iteration at epoch ``epoch``, past this rank's first ``skip`` keys."""
        if epoch < 0 or skip < 0:
            raise ValueError(f"resume position must be >= 0, got epoch {epoch}, skip {skip}")
        self.epoch = int(epoch)
        self._skip = int(skip)

    def resume_after_step(self, step: int, batch_size: int) -> None:
        """Start the next iteration after ``step`` optimizer steps of ``batch_size`` keys a
        rank (the epoch and the keys to skip follow from this rank's epoch length, known only
        once the process group is up)."""
        if step < 0 or batch_size < 1:
            raise ValueError(f"resume position: step {step} >= 0, batch {batch_size} >= 1")
        self._after_step = (int(step), int(batch_size))

    def _position(self) -> None:
        """Apply a pending :meth:`resume_after_step` (before the epoch's keys are drawn)."""
        if self._after_step is None:
            return
        (step, batch), self._after_step = self._after_step, None
        per_epoch = -(-len(self) // batch)  # the DataLoader keeps a last partial batch
        epoch, done = divmod(step, per_epoch)
        self.resume_at(epoch, done * batch)

    def _resumed(self, keys: list[Key]) -> Iterator[Key]:
        skip, self._skip = self._skip, 0
        return iter(keys[skip:])

    @property
    def rank(self) -> int:
        return _dist_info(self._rank, self._world_size)[0]

    @property
    def world_size(self) -> int:
        return _dist_info(self._rank, self._world_size)[1]


class ShuffledKeys(Sharded):
    """A fixed set of keys, reshuffled every epoch from ``(seed, epoch)``, sharded over ranks.

    Args:
        keys: All keys of an epoch.
        seed: Base seed.
        rank: This process's rank (default: from torch.distributed when iterated, else 0).
        world_size: Number of processes (default: from torch.distributed when iterated,
            else 1).
    """

    def __init__(
        self,
        keys: Sequence[Key],
        seed: int = 0,
        rank: int | None = None,
        world_size: int | None = None,
    ) -> None:
        self.keys = list(keys)
        if not self.keys:
            raise ValueError("a sampler needs at least one key")
        self.seed = seed
        self._rank, self._world_size = rank, world_size
        self.epoch = 0

    def epoch_keys(self) -> list[Key]:
        """Every rank's keys of the current epoch, shuffled (before sharding)."""
        order = np.random.default_rng([self.seed, self.epoch]).permutation(len(self.keys))
        return [self.keys[j] for j in order]

    def __iter__(self) -> Iterator[Key]:
        self._position()
        return self._resumed(_shard(self.epoch_keys(), self.rank, self.world_size, pad=True))

    def __len__(self) -> int:
        return -(-len(self.keys) // self.world_size)


class DrawnKeys(ShuffledKeys):
    """Keys redrawn every epoch by ``draw(rng)`` (a fixed count), shuffled and sharded.

    The epoch's generator is seeded with ``(seed, epoch)``; it draws the keys, then their order.
    ``keys`` holds epoch 0's draw (its length is every epoch's).
    """

    def __init__(
        self,
        draw: Callable[[np.random.Generator], list[Key]],
        seed: int = 0,
        rank: int | None = None,
        world_size: int | None = None,
    ) -> None:
        self.draw = draw
        super().__init__(draw(np.random.default_rng([seed, 0])), seed, rank, world_size)

    def epoch_keys(self) -> list[Key]:
        rng = np.random.default_rng([self.seed, self.epoch])
        keys = self.draw(rng)
        return [keys[j] for j in rng.permutation(len(keys))]


class TrainWindowSampler(DrawnKeys):
    """Method.md §6's training clips of every half, redrawn and reshuffled every epoch
    (:func:`spotting_draw`).

    Args:
        num_rows: Rows of each half.
        random_windows: Random windows per half (23 in the paper).
        seed: Base seed.
        rank: This process's rank (default: from torch.distributed when iterated, else 0).
        world_size: Number of processes (default: from torch.distributed when iterated,
            else 1).
        clip_rows: Rows per clip (128).
    """

    def __init__(
        self,
        num_rows: Sequence[int],
        random_windows: int = 23,
        seed: int = 0,
        rank: int | None = None,
        world_size: int | None = None,
        clip_rows: int = CLIP_ROWS,
    ) -> None:
        super().__init__(spotting_draw(num_rows, random_windows, clip_rows), seed, rank, world_size)


class KeySampler(Sharded):
    """A fixed list of keys in order; under DDP each rank takes a strided share, unpadded
    (inference results are gathered by key, so no rank may see a key twice)."""

    def __init__(
        self,
        keys: Sequence[Key],
        rank: int | None = None,
        world_size: int | None = None,
    ) -> None:
        self.keys = list(keys)
        self._rank, self._world_size = rank, world_size

    def __iter__(self) -> Iterator[Key]:
        return iter(_shard(self.keys, self.rank, self.world_size, pad=False))

    def __len__(self) -> int:
        return len(self.keys[self.rank :: self.world_size])


# --- the keys of each stage -------------------------------------------------------------------


def ssl_keys(num_frames: Sequence[int]) -> list[Key]:
    """§2: every second of every half, ``(half index, second)``."""
    return [(i, s) for i, n in enumerate(num_frames) for s in range(len(ssl_frame_pairs(int(n))))]


def _per_half(
    sizes: Sequence[int], positions: Callable[[int, np.random.Generator], np.ndarray]
) -> Callable[[np.random.Generator], list[Key]]:
    """A draw: ``positions(size, rng)`` of each half in turn, as ``(half index, position)``."""
    sizes = [int(n) for n in sizes]

    def draw(rng: np.random.Generator) -> list[Key]:
        return [(i, int(p)) for i, n in enumerate(sizes) for p in positions(n, rng)]

    return draw


def teacher_draw(
    num_frames: Sequence[int], num_windows: int = 100, window_frames: int = 16
) -> Callable[[np.random.Generator], list[Key]]:
    """§3 fine-tuning windows: per half ``num_windows`` non-overlapping 4 s windows (the two
    edges and random ones, as many as fit), redrawn each epoch; keys are
    ``(half index, centre frame of the 4 fps store)``
    (:func:`comedian.data.windows.teacher_window_centres`)."""
    if num_windows < 1:
        raise ValueError(f"teacher windows per half must be >= 1, got {num_windows}")
    return _per_half(
        num_frames,
        lambda n, rng: teacher_window_centres(
            n, rng, num_windows=num_windows, window_frames=window_frames
        ),
    )


def distill_draw(
    num_rows: Sequence[int], num_windows: int, window_rows: int
) -> Callable[[np.random.Generator], list[Key]]:
    """§5: ``num_windows`` jittered non-overlapping windows per half, redrawn each epoch
    (:func:`comedian.data.windows.distill_window_starts`); keys are ``(half index, start row)``."""
    return _per_half(
        num_rows,
        lambda n, rng: distill_window_starts(
            n, rng, num_windows=num_windows, window_rows=window_rows
        ),
    )


def spotting_draw(
    num_rows: Sequence[int], random_windows: int = 23, clip_rows: int = CLIP_ROWS
) -> Callable[[np.random.Generator], list[Key]]:
    """§6: per half the two edge clips and ``random_windows`` random ones, redrawn each epoch
    (:func:`comedian.data.windows.train_window_starts`); keys are ``(half index, start row)``."""
    return _per_half(
        num_rows, lambda n, rng: train_window_starts(n, rng, random_windows, clip_rows)
    )


def inference_keys(num_rows: Sequence[int]) -> list[Key]:
    """§7: ``(half index, start row)`` of every sliding inference window."""
    return [(i, int(s)) for i, n in enumerate(num_rows) for s in window_starts(int(n))]
