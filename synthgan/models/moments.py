"""Second moments of encoded rows: what the generator's moment term matches.

A row's features are its encoded vector with a constant 1 in front, scaled so that their norm is at
most one: ``z = [1, x] / sqrt(S + 1)`` for a layout of ``S`` spans (a one-hot span holds a single 1,
a value span one number, clipped to ``[-1, 1]``). The table's second moment ``M = mean(z z^T)``
holds every column's share of each slot and mean value (the row and column of the constant) and
every pair of slots' and values' joint moment: the pairwise relations a Gaussian copula keeps, on
the encoding the generator writes. Its sum over rows has L2 sensitivity at most ``|z|^2 <= 1`` per
row, so under differential privacy it is released once with the Gaussian mechanism
(:func:`synthgan.privacy.moments.release_moments`) and the generator matches the release as
post-processing, for as many steps as it trains.

The generator's term is ``|M_generated - M| / |M|`` (Frobenius norms over :func:`compared`
entries) on each generator batch: a relative error, whose gradient has the same size however close
the two are.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from synthgan.layout import TableLayout
from synthgan.transform.encoded import EncodedRows

CHUNK_ROWS = 16_384  # encoded rows expanded to dense (float64) at a time when summing


def features(rows: torch.Tensor, layout: TableLayout) -> torch.Tensor:
    """``[1, x] / sqrt(S + 1)`` of dense encoded ``rows`` (values clipped to ``[-1, 1]``): norm <= 1."""
    ones = torch.ones(len(rows), 1, dtype=rows.dtype, device=rows.device)
    return torch.cat([ones, rows.clamp(-1.0, 1.0)], dim=1) / math.sqrt(len(layout.spans) + 1)


def moment_sum(encoded: EncodedRows, device: torch.device = torch.device("cpu")) -> torch.Tensor:
    """``sum over rows of z z^T`` (float64, ``(dim + 1, dim + 1)``), in chunks of dense rows."""
    layout = encoded.layout
    total = torch.zeros(layout.dim + 1, layout.dim + 1, dtype=torch.float64, device=device)
    for first in range(0, len(encoded), CHUNK_ROWS):
        dense = torch.as_tensor(encoded.dense(np.arange(first, min(first + CHUNK_ROWS, len(encoded)))),
                                dtype=torch.float64, device=device)
        z = features(dense, layout)
        total += z.T @ z
    return total


def compared(layout: TableLayout) -> torch.Tensor:
    """Which entries of a second moment the term compares: all but the products of two slots of the
    same one-hot span. Those hold nothing the row of the constant does not (a one-hot row has
    ``x_i x_j = 0`` and ``x_i x_i = x_i`` there), and on the generator's relaxed one-hots (Gumbel-
    softmax) they would reward making each draw harder, not the table's shares (bool,
    ``(dim + 1, dim + 1)``)."""
    keep = torch.ones(layout.dim + 1, layout.dim + 1, dtype=torch.bool)
    for span in layout.onehot_spans:
        keep[span.start + 1:span.stop + 1, span.start + 1:span.stop + 1] = False
    return keep


class MomentTerm:
    """The generator's moment term towards a second moment ``target`` (``(dim + 1, dim + 1)``),
    over the :func:`compared` entries."""

    def __init__(self, target: torch.Tensor, layout: TableLayout):
        self.layout = layout
        self.keep = compared(layout).to(target.device)
        self.target = torch.where(self.keep, target.float(), torch.zeros((), device=target.device))
        self.scale = float(torch.linalg.norm(self.target).clamp_min(1e-12))

    def __call__(self, fake: torch.Tensor) -> torch.Tensor:
        """``|mean(z z^T) - target| / |target|`` of the generated rows ``fake`` (dense, activated),
        over the compared entries."""
        z = features(fake, self.layout)
        moments = torch.where(self.keep.to(fake.device), z.T @ z / len(z), torch.zeros((), device=fake.device))
        return torch.linalg.norm(moments - self.target.to(fake.device)) / self.scale
