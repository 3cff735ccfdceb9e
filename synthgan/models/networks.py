"""Generator and critic networks (architecture as described in Xu et al., 2019, appendix)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn


class Residual(nn.Module):
    """``concat(ReLU(BN(Linear(x))), x)``: widens the input by ``width``."""

    def __init__(self, in_features: int, width: int):
        super().__init__()
        self.linear = nn.Linear(in_features, width)
        self.norm = nn.BatchNorm1d(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([torch.relu(self.norm(self.linear(x))), x], dim=1)


class Generator(nn.Module):
    """Noise and conditional vector to raw (pre-activation) encoded rows."""

    def __init__(self, input_dim: int, hidden: Sequence[int], output_dim: int):
        super().__init__()
        layers: list[nn.Module] = []
        width = input_dim
        for size in hidden:
            layers.append(Residual(width, size))
            width += size
        layers.append(nn.Linear(width, output_dim))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class SeededDropout(nn.Module):
    """Dropout that draws its mask from an explicit generator, so training never reads global RNG state."""

    def __init__(self, p: float, generator: torch.Generator):
        super().__init__()
        self.p = p
        self.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        keep = torch.rand(x.shape, generator=self.generator, device=x.device, dtype=x.dtype) >= self.p
        return x * keep / (1.0 - self.p)


class Critic(nn.Module):
    """PacGAN critic: scores groups of ``pac`` rows concatenated side by side."""

    def __init__(self, input_dim: int, hidden: Sequence[int], pac: int, generator: torch.Generator):
        super().__init__()
        self.pac = pac
        layers: list[nn.Module] = []
        width = input_dim * pac
        for size in hidden:
            layers += [nn.Linear(width, size), nn.LeakyReLU(0.2), SeededDropout(0.5, generator)]
            width = size
        layers.append(nn.Linear(width, 1))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x.reshape(-1, x.shape[1] * self.pac))


def init_weights(module: nn.Module, generator: torch.Generator) -> None:
    """Default-style (Kaiming-uniform) initialization drawn from ``generator``."""
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
            bound = 1.0 / math.sqrt(layer.in_features)
            nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
