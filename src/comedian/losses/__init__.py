"""Losses: SCE for self-supervised and distillation pretraining, the FIFO key queue."""

from comedian.losses.queue import FeatureQueue, gather_rows
from comedian.losses.sce import momentum_schedule, sce_loss, sce_token_loss

__all__ = ["FeatureQueue", "gather_rows", "momentum_schedule", "sce_loss", "sce_token_loss"]
