"""FeatureQueue: FIFO order with wrap-around, checkpoint round trip, gather across 2 gloo ranks."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from comedian.losses import FeatureQueue, gather_rows


def _keys(*ids: int) -> torch.Tensor:
    """Row i is (id, -id): rows tell where they came from."""
    x = torch.tensor(ids, dtype=torch.float32)
    return torch.stack([x, -x], dim=1)


def _ids(queue: FeatureQueue) -> list[int]:
    return [int(v) for v in queue.vectors[:, 0].tolist()]


def test_queue_init_is_seeded_unit_vectors() -> None:
    a, b, c = FeatureQueue(16, 8, seed=0), FeatureQueue(16, 8, seed=0), FeatureQueue(16, 8, seed=1)
    norms = a.vectors.norm(dim=1)
    assert torch.allclose(norms, torch.ones(16), atol=1e-6)
    assert torch.equal(a.vectors, b.vectors) and not torch.equal(a.vectors, c.vectors)
    assert a.vectors.dtype == torch.float32 and int(a.ptr) == 0 and a.size == 16


def test_queue_fifo_with_wrap_around() -> None:
    queue = FeatureQueue(5, 2)
    queue.enqueue(_keys(1, 2, 3))
    assert _ids(queue)[:3] == [1, 2, 3] and int(queue.ptr) == 3
    # 4 keys, 2 slots left before the end: 4, 5 at the end, 6, 7 overwrite the oldest (1, 2).
    queue.enqueue(_keys(4, 5, 6, 7))
    assert _ids(queue) == [6, 7, 3, 4, 5] and int(queue.ptr) == 2
    # A batch larger than the queue: written one by one from slot 2, 8 .. 14 leave 11 12 13 14 10.
    queue.enqueue(_keys(8, 9, 10, 11, 12, 13, 14))
    assert _ids(queue) == [11, 12, 13, 14, 10] and int(queue.ptr) == 4
    queue.enqueue(_keys(15, 16, 17, 18, 19))  # exactly the size: one full turn
    assert _ids(queue) == [16, 17, 18, 19, 15] and int(queue.ptr) == 4
    queue.enqueue(_keys())  # nothing
    assert int(queue.ptr) == 4


def test_queue_casts_detaches_and_checks_width() -> None:
    queue = FeatureQueue(4, 2)
    keys = _keys(1, 2).bfloat16().requires_grad_()
    queue.enqueue(keys)
    assert queue.vectors.dtype == torch.float32 and not queue.vectors.requires_grad
    with pytest.raises(ValueError, match=r"keys must be \(N, 2\)"):
        queue.enqueue(torch.zeros(3, 5))


def test_queue_state_dict_round_trip() -> None:
    queue = FeatureQueue(5, 2)
    queue.enqueue(_keys(1, 2, 3, 4, 5, 6, 7))
    resumed = FeatureQueue(5, 2, seed=99)
    resumed.load_state_dict(queue.state_dict())
    assert torch.equal(resumed.vectors, queue.vectors) and int(resumed.ptr) == int(queue.ptr)
    resumed.enqueue(_keys(8))
    queue.enqueue(_keys(8))
    assert torch.equal(resumed.vectors, queue.vectors)


def test_gather_rows_is_identity_without_ddp() -> None:
    x = torch.randn(3, 4)
    assert gather_rows(x) is x


def _ddp_worker(rank: int, world: int, init_file: str, out_dir: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        queue = FeatureQueue(6, 2)
        # Unequal batches: rank 0 has 2 keys, rank 1 has 3.
        keys = _keys(1, 2) if rank == 0 else _keys(3, 4, 5)
        queue.enqueue(keys)
        queue.enqueue(_keys(10 * (rank + 1)))  # wraps: 5 + 2 = 7 keys into 6 slots
        torch.save(queue.state_dict(), Path(out_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_queue_gathers_keys_across_two_gloo_ranks(tmp_path: Path) -> None:
    mp.spawn(
        _ddp_worker, args=(2, str(tmp_path / "rendezvous"), str(tmp_path)), nprocs=2, join=True
    )
    states = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]
    assert torch.equal(states[0]["vectors"], states[1]["vectors"])
    # Rank order 1 2 | 3 4 5, then 10 | 20: 20 wraps onto the oldest slot.
    assert [int(v) for v in states[0]["vectors"][:, 0]] == [20, 2, 3, 4, 5, 10]
    assert int(states[0]["ptr"]) == 1 and int(states[1]["ptr"]) == 1
