"""Losses: SCE for self-supervised and distillation pretraining, the FIFO key queue, and the
spotting loss (BCE + mixup, :mod:`comedian.losses.spotting`)."""

from comedian.losses.queue import FeatureQueue, gather_rows
from comedian.losses.sce import SceConfig, momentum_schedule, sce_loss, sce_token_loss

__all__ = [
    "FeatureQueue",
    "SceConfig",
    "gather_rows",
    "momentum_schedule",
    "sce_loss",
    "sce_token_loss",
]
