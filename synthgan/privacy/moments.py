"""The private release of the table's second moments (the generator's moment term).

One query: the sum over rows of ``z z^T`` (:mod:`synthgan.models.moments`; ``|z| <= 1``, so one row
moves the sum's upper triangle by at most 1 in L2 norm) released with the Gaussian mechanism,
independent noise of standard deviation ``noise_multiplier`` on each entry of the upper triangle
and the diagonal, mirrored below it, then divided by the number of rows (public, as everywhere in
private training). The accountant counts it as one step of a Gaussian mechanism with sampling rate
1 (:class:`synthgan.privacy.accounting.DPStrategy`'s ``releases``), composed with DP-SGD.
"""

from __future__ import annotations

import numpy as np
import torch


def release_moments(total: torch.Tensor, n_rows: int, noise_multiplier: float,
                    rng: np.random.Generator) -> torch.Tensor:
    """``(total + N) / n_rows`` with ``N`` symmetric, its upper triangle (diagonal included) drawn
    i.i.d. from ``N(0, noise_multiplier**2)`` by ``rng``; float64, on ``total``'s device."""
    size = total.shape[0]
    upper = np.triu(rng.normal(0.0, noise_multiplier, size=(size, size)))
    noise = upper + np.triu(upper, 1).T
    return (total + torch.as_tensor(noise, dtype=torch.float64, device=total.device)) / max(int(n_rows), 1)
