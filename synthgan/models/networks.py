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

    @torch.no_grad()
    def infer(self, x: torch.Tensor, block_rows: int | None = None,
              columns: torch.Tensor | None = None) -> torch.Tensor:
        """``forward`` in evaluation mode without autograd, for sampling: same function, less work.

        Each batch norm is folded into its linear layer (in evaluation mode it is an affine map),
        and the residual concatenations are replaced by one preallocated buffer per block of rows
        that every layer writes its slice of, so no activations are copied. Rows are processed
        in blocks of ``block_rows`` (default: 4,096 on the CPU, where it keeps the working set in
        cache; all rows at once on an accelerator). ``columns`` (an index of output columns)
        computes only those outputs, in that order: the output layer's rows are picked, so the
        reordering costs nothing per row. Equal to ``eval()`` + ``forward`` (then ``[:, columns]``)
        up to floating-point rounding (tested).
        """
        *residuals, head = self.body
        folded = []
        for layer in residuals:
            norm = layer.norm
            scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
            weight = (layer.linear.weight * scale[:, None]).T
            bias = (layer.linear.bias - norm.running_mean) * scale + norm.bias
            folded.append((weight, bias))
        n, width = x.shape
        if block_rows is None:
            block_rows = 4096 if x.device.type == "cpu" else max(n, 1)
        total = width + sum(w.shape[1] for w, _ in folded)
        head_weight, head_bias = head.weight, head.bias
        if columns is not None:
            head_weight, head_bias = head_weight[columns], head_bias[columns]
        out = x.new_empty((n, len(head_bias)))
        buffer = x.new_empty((min(n, block_rows), total))
        head_weight = head_weight.T
        for first in range(0, n, block_rows):
            rows = min(block_rows, n - first)
            view = buffer[:rows]
            start = total - width
            view[:, start:].copy_(x[first:first + rows])
            for weight, bias in folded:  # layer k reads [h_{k-1}, ..., h_1, x] and writes h_k before it
                size = weight.shape[1]
                torch.relu_(torch.addmm(bias, view[:, start:], weight, out=view[:, start - size:start]))
                start -= size
            torch.addmm(head_bias, view, head_weight, out=out[first:first + rows])
        return out


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
    """PacGAN critic: scores groups of ``pac`` rows concatenated side by side; each hidden layer is
    ``Linear``, ``LeakyReLU(0.2)`` and dropout with probability ``dropout`` (none at 0)."""

    def __init__(self, input_dim: int, hidden: Sequence[int], pac: int, generator: torch.Generator,
                 dropout: float = 0.0):
        super().__init__()
        self.pac = pac
        layers: list[nn.Module] = []
        width = input_dim * pac
        for size in hidden:
            layers += [nn.Linear(width, size), nn.LeakyReLU(0.2)]
            if dropout:
                layers.append(SeededDropout(dropout, generator))
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
