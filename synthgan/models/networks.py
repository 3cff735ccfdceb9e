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
              columns: torch.Tensor | None = None, hot: torch.Tensor | None = None,
              output_offsets: torch.Tensor | None = None) -> torch.Tensor:
        """``forward`` in evaluation mode without autograd, for sampling: same function, less work.

        Each batch norm is folded into its linear layer (in evaluation mode it is an affine map),
        and the residual concatenations are replaced by one preallocated buffer per block of rows
        that every layer writes its slice of, so no activations are copied. Rows are processed
        in blocks of ``block_rows`` (default: 4,096 on the CPU, where it keeps the working set in
        cache; all rows at once on an accelerator). ``columns`` (an index of output columns)
        computes only those outputs, in that order: the output layer's rows are picked, so the
        reordering costs nothing per row.

        ``hot`` gives the trailing inputs as one-hot indices instead of a dense block: ``x`` then
        holds only the leading ``x.shape[1]`` inputs (the noise), and row ``i``'s trailing inputs
        (the conditional vector) are all zero except a 1 at position ``hot[i]`` (none where
        ``hot[i]`` is -1). A one-hot input contributes one row of each layer's weight, so that row
        is gathered (with the bias) instead of multiplied: every layer reads the conditional
        vector, so this skips its share of every matmul and never builds the vector.

        ``output_offsets`` is added to the output layer's bias at no cost per row: a vector of one
        value per output (in ``columns`` order), or with ``hot`` a table of one such row per
        one-hot position and a last row for rows without one (a row's offsets then depend on its
        position, as the bias tables do; a generator without one-hot inputs reads the last row).

        Equal to ``eval()`` + ``forward`` (then ``[:, columns]``) up to floating-point rounding
        (tested, with and without ``hot``).
        """
        *residuals, head = self.body
        n, width = x.shape
        sparse = head.in_features - sum(layer.linear.out_features for layer in residuals) - width
        if sparse < 0 or (hot is None and sparse):
            raise ValueError(f"the generator reads {width + sparse} inputs, got {width}")
        if not sparse:
            hot = None
        if hot is not None:
            hot = torch.where(hot < 0, sparse, hot)  # the last row of each table is the bias alone
        head_weight, head_bias = head.weight, head.bias
        if columns is not None:
            head_weight, head_bias = head_weight[columns], head_bias[columns]
        layers = []  # (weight (in, out) over the dense inputs, bias or table of biases, whether ReLU)
        for layer in residuals:
            norm = layer.norm
            scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
            weight = (layer.linear.weight * scale[:, None]).T
            bias = (layer.linear.bias - norm.running_mean) * scale + norm.bias
            layers.append((*_split_inputs(weight, bias, sparse), True))
        head_weight, head_table = _split_inputs(head_weight.T, head_bias, sparse)
        if output_offsets is not None and output_offsets.dim() == 2 and not sparse:
            output_offsets = output_offsets[-1]  # no one-hot inputs: every row takes the last row's
        layers.append((head_weight, head_table if output_offsets is None else head_table + output_offsets, False))
        if block_rows is None:
            block_rows = 4096 if x.device.type == "cpu" else max(n, 1)
        total = width + sum(w.shape[1] for w, _, _ in layers[:-1])
        out = x.new_empty((n, len(head_bias)))
        buffer = x.new_empty((min(n, block_rows), total))
        for first in range(0, n, block_rows):
            rows = min(block_rows, n - first)
            view = buffer[:rows]
            start = total - width
            view[:, start:].copy_(x[first:first + rows])
            index = None if hot is None else hot[first:first + rows]
            for weight, bias, relu in layers:  # layer k reads [h_{k-1}, ..., h_1, x] and writes h_k before it
                size = weight.shape[1]
                target = view[:, start - size:start] if relu else out[first:first + rows]
                if index is not None:
                    bias = bias.index_select(0, index)
                torch.addmm(bias, view[:, start:], weight, out=target)
                if relu:
                    torch.relu_(target)
                    start -= size
        return out


def one_hot_index(vectors: torch.Tensor) -> torch.Tensor | None:
    """Where each row of ``vectors`` holds its single 1 (-1 for an all-zero row), or None when
    some row is not one-hot or zero (then it must be read densely; see :meth:`Generator.infer`)."""
    if not vectors.shape[1]:
        return torch.full((len(vectors),), -1, dtype=torch.int64, device=vectors.device)
    peak, index = vectors.max(dim=1)
    exact = ((peak == 1) | (peak == 0)) & (vectors.abs().sum(dim=1) == peak)
    if not bool(exact.all()):
        return None
    return torch.where(peak > 0, index, -1)


def _split_inputs(weight: torch.Tensor, bias: torch.Tensor, sparse: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A layer's ``(in, out)`` weight without its last ``sparse`` input rows, and its bias; with
    ``sparse`` inputs, the bias becomes a ``(sparse + 1, out)`` table: the bias plus each
    one-hot input's weight row, and the bias alone last (:meth:`Generator.infer`'s ``hot``)."""
    if not sparse:
        return weight, bias
    dense = weight.shape[0] - sparse
    return weight[:dense], torch.cat([weight[dense:] + bias, bias[None]])


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
