"""Items per second a DataLoader delivers (shared by benchmarks/finetune.py and pretrain.py).

Usage (from a script in benchmarks/, whose folder is on sys.path):
    from loader_rate import loader_rate
    rate = loader_rate(dataset, sampler, workers=2, batch_size=8, batches=20, collate_fn=collate)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from torch.utils.data import DataLoader, Dataset


def loader_rate(
    dataset: Dataset,
    sampler: Any,
    *,
    workers: int,
    batch_size: int,
    batches: int,
    collate_fn: Callable,
    clock: Callable[[], float] = time.perf_counter,
) -> float:
    """Items per second over ``batches`` batches after a warm-up batch; the sampler's next
    epoch starts when one ends (``set_epoch``). With ``clock=time.process_time`` and no workers
    it is items per CPU second of this process: one core's rate, whatever else the machine runs.
    """
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=workers,
        collate_fn=collate_fn,
        persistent_workers=workers > 0,
    )
    it = iter(loader)
    next(it)
    start, n = clock(), 0
    for _ in range(batches):
        try:
            batch = next(it)
        except StopIteration:
            sampler.set_epoch(sampler.epoch + 1)
            it = iter(loader)
            batch = next(it)
        n += len(batch["frames"])
    return n / (clock() - start)
