"""Heads: the SSL projector and predictor MLPs and the per-token linear spotting head.

Usage:
    projector = build_projector(192, out_dim=256)      # step 1 (method.md §2)
    projector = build_projector(192, out_dim=512)      # step 2 distillation (method.md §5)
    predictor = build_predictor(256)                   # step 1, online branch only
    head = LinearHead(192, 17)                         # step 3 spotting head (method.md §6)

Every head keeps its layers in an ``nn.Sequential`` called ``layers`` so that the keys are those
of the reference checkpoints (``projector.layers.0/2/4``, ``predictor.layers.0/2``,
``head_class.layers.0``; checkpoints.md §4.2, §5, §1).
"""

from __future__ import annotations

from torch import Tensor, nn

from comedian.models.layers import init_weights, no_weight_decay_names


class MLPHead(nn.Module):
    """``Linear -> GELU -> ... -> Linear`` without BatchNorm (method.md §2).

    Args:
        in_dim: Input width.
        hidden_dim: Width of every hidden layer.
        out_dim: Output width.
        num_layers: Number of Linear layers (>= 1).
        last_bias: Whether the last Linear has a bias (the predictor's has none).

    Shapes:
        (..., in_dim) -> (..., out_dim)
    """

    def __init__(
        self, in_dim: int, hidden_dim: int, out_dim: int, num_layers: int, last_bias: bool = True
    ) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        dims = [in_dim] + [hidden_dim] * (num_layers - 1) + [out_dim]
        layers: list[nn.Module] = []
        for i in range(num_layers):
            last = i == num_layers - 1
            layers.append(nn.Linear(dims[i], dims[i + 1], bias=last_bias or not last))
            if not last:
                layers.append(nn.GELU())
        self.layers = nn.Sequential(*layers)
        self.apply(init_weights)

    def no_weight_decay(self) -> set[str]:
        """Biases only (no norms, no embeddings in a head)."""
        return no_weight_decay_names(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


def build_projector(in_dim: int = 192, hidden_dim: int = 1024, out_dim: int = 256) -> MLPHead:
    """Projector 192 -> 1024 -> 1024 -> 256 (step 1, §2) or -> 512 (distillation, §5)."""
    return MLPHead(in_dim, hidden_dim, out_dim, num_layers=3)


def build_predictor(in_dim: int = 256, hidden_dim: int = 1024) -> MLPHead:
    """Predictor 256 -> 1024 -> 256, no bias on the last layer (§2)."""
    return MLPHead(in_dim, hidden_dim, in_dim, num_layers=2, last_bias=False)


class LinearHead(nn.Module):
    """Linear classifier applied to every token; init normal std 0.01, zero bias (§6).

    Shapes:
        (..., in_dim) -> (..., num_classes)
    """

    def __init__(self, in_dim: int, num_classes: int, init_std: float = 0.01) -> None:
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(in_dim, num_classes))
        nn.init.normal_(self.layers[0].weight, std=init_std)
        nn.init.zeros_(self.layers[0].bias)

    def no_weight_decay(self) -> set[str]:
        """Biases only (no norms, no embeddings in a head)."""
        return no_weight_decay_names(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)
