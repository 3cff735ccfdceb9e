"""The private release of the table's second moments (the generator's moment term).

One query: the sum over rows of ``z z^T`` (:mod:`synthgan.models.moments`), its
:func:`~synthgan.models.moments.released` entries (the upper triangle of the compared entries, so
each product of two slots once) released with the Gaussian mechanism: one row moves them by at most
:func:`~synthgan.models.moments.sensitivity` (about ``1 / sqrt(2)``) in L2 norm, and each gets
independent noise of standard deviation ``noise_multiplier`` times that, mirrored below the
diagonal. The constant's own entry is the row count over ``S + 1``; the entries the term does not
compare are left at zero. All is then divided by the number of rows (public, as everywhere in
private training). The accountant counts it as one step of a Gaussian mechanism with sampling rate
1 and that noise multiplier (:class:`synthgan.privacy.accounting.DPStrategy`'s ``releases``),
composed with DP-SGD.
"""

from __future__ import annotations

import numpy as np
import torch

from synthgan.layout import TableLayout
from synthgan.models.moments import released, sensitivity


def release_moments(total: torch.Tensor, n_rows: int, noise_multiplier: float, rng: np.random.Generator,
                    layout: TableLayout) -> torch.Tensor:
    """``(total + N) / n_rows`` on the :func:`released` entries of ``layout``'s moment sum ``total``,
    mirrored, with ``N`` drawn i.i.d. from ``N(0, (noise_multiplier * sensitivity(layout))**2)`` by
    ``rng``; the constant's entry ``1 / (S + 1)`` (from the row count alone) and zero on the entries
    not compared; float64, on ``total``'s device. Depends on nothing of ``total`` but the released
    entries."""
    size = total.shape[0]
    keep = released(layout).to(total.device)
    if keep.shape != total.shape:
        raise ValueError(f"a moment sum of shape {tuple(total.shape)} does not belong to a layout of "
                         f"{layout.dim} encoded columns")
    noise = torch.as_tensor(rng.normal(0.0, noise_multiplier * sensitivity(layout), size=(size, size)),
                            dtype=torch.float64, device=total.device)
    upper = torch.where(keep, total + noise, torch.zeros((), dtype=torch.float64, device=total.device))
    out = upper + torch.triu(upper, 1).T
    out[0, 0] = n_rows / (len(layout.spans) + 1)
    return out / max(int(n_rows), 1)
