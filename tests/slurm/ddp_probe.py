"""A 2-rank CPU DDP fit (gloo) under Lightning's SLURM environment: the geometry of a DDP rule.

Usage (what tests/slurm/probe.smk runs inside a SLURM job):
    srun --nodes=1 --ntasks-per-node=2 ... python ddp_probe.py --devices 2 --num-nodes 1 --out DIR

Each rank writes DIR/rank<global rank>.txt with what Lightning saw (world size, its SLURM
environment) and the all-reduced sum of the ranks, 0 + 1 = 1 for two ranks.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.plugins.environments import SLURMEnvironment

from comedian.training import teardown_distributed


class Probe(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(4, 1)

    def training_step(self, batch: tuple[torch.Tensor], batch_idx: int) -> torch.Tensor:
        (x,) = batch
        return self.layer(x).pow(2).mean()  # (B, 1) -> scalar

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, required=True)
    parser.add_argument("--num-nodes", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    env = SLURMEnvironment(auto_requeue=False)
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=args.devices,
        num_nodes=args.num_nodes,
        strategy="ddp",
        plugins=[env],
        max_steps=2,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    data = torch.utils.data.TensorDataset(torch.randn(16, 4))
    trainer.fit(Probe(), torch.utils.data.DataLoader(data, batch_size=4))
    rank = torch.tensor([float(trainer.global_rank)])
    total = trainer.strategy.reduce(rank, reduce_op="sum")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"rank{trainer.global_rank}.txt").write_text(
        f"world_size={trainer.world_size} global_rank={trainer.global_rank} "
        f"local_rank={trainer.local_rank} slurm={SLURMEnvironment.detect()} "
        f"backend={torch.distributed.get_backend()} rank_sum={total.item():g}\n"
    )
    print(f"rank {trainer.global_rank} of {trainer.world_size} done", flush=True)


if __name__ == "__main__":
    try:
        main()
    finally:
        # as every training stage does (comedian.training.fit_resumable): a rank that exits
        # with its gloo threads alive can abort ("terminate called without an active
        # exception") after its work is done, and SLURM then marks the job FAILED
        teardown_distributed()
