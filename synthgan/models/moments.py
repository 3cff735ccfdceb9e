"""Second moments of encoded rows: what the generator's moment term matches.

A row's features are its encoded vector with a constant 1 in front, scaled so that their norm is at
most one: ``z = [1, x] / sqrt(S + 1)`` for a layout of ``S`` spans (a one-hot span holds a single 1,
a value span one number, clipped to ``[-1, 1]``). The table's second moment ``M = mean(z z^T)``
holds every column's share of each slot and mean value (the row and column of the constant) and
every pair of slots' and values' joint moment: the pairwise relations a Gaussian copula keeps, on
the encoding the generator writes. One row moves the entries of its sum that are released (the
upper triangle of :func:`compared` entries, :func:`released`) by at most :func:`sensitivity`,
about ``1 / sqrt(2)``, in L2 norm, so under differential privacy it is released once with the Gaussian mechanism
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


def released(layout: TableLayout) -> torch.Tensor:
    """Which entries a private fit releases: the :func:`compared` entries of the upper triangle
    (the lower one mirrors it) but the constant's own, ``1 / (S + 1)`` on every row, which the public
    row count gives (bool, ``(dim + 1, dim + 1)``)."""
    keep = torch.triu(compared(layout))
    keep[0, 0] = False
    return keep


def sensitivity(layout: TableLayout) -> float:
    """L2 sensitivity of the :func:`released` entries of the moment sum: the largest norm of one
    row's ``z z^T`` over those entries.

    With ``a = 1 / (S + 1)``: every entry is ``z_i z_j``, so the squared norm is the sum of
    ``z_i^2 z_j^2`` over the released pairs ``i < j`` and the released diagonal. Over all pairs
    ``i < j`` that sum is ``(|z|^4 - sum_i z_i^4) / 2``; the pairs left out (within one one-hot
    span) are zero for a real row, so it is the released pairs' sum too. The released diagonal is the
    value slots' alone. So the squared norm is ``(|z|^4 + sum_v z_v^4 - z_0^4 - sum_h z_h^4) / 2``
    (``v`` value slots, ``h`` each one-hot span's hot slot, ``z_0 = sqrt(a)`` the constant), at most
    ``(1 + (V - 1 - H) a^2) / 2`` for ``V`` value and ``H`` one-hot spans: largest with every value
    at +-1 (each term grows with ``|z_v|``) and every one-hot span holding its 1 (a hot slot adds
    ``a`` to ``|z|^2``, so at least ``a^2`` to ``|z|^4``, and takes away ``a^2``). About
    ``1 / sqrt(2)``: the upper triangle holds each product of two slots once, not twice."""
    spans = len(layout.spans)
    onehot = len(layout.onehot_spans)
    values = len(layout.tanh_index)  # one column each
    a = 1.0 / (spans + 1)
    return math.sqrt(0.5 * (1.0 + (values - 1 - onehot) * a * a))  # > 0: values - 1 - onehot >= -(S + 1)


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
