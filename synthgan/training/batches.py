"""Training batches: training-by-sampling for conditional models, uniform rows otherwise."""

from __future__ import annotations

import numpy as np
import torch

from synthgan.conditional import ConditionSampler
from synthgan.models.base import Batch
from synthgan.transform.encoded import EncodedRows


class BatchSampler:
    """Draws :class:`Batch` objects from the encoded training matrix on ``device``.

    Parameters
    ----------
    data : EncodedRows or ndarray (n_rows, dim)
        Encoded training rows: compact (kept compact on ``device``, each batch expanded to dense
        rows) or a dense matrix.
    sampler : ConditionSampler or None
        Condition sampler with row codes; ``None`` (or a table without condition spans) draws rows
        uniformly and gives zero-width conditional vectors.
    device : torch.device
    rng : numpy Generator
        The ``batches`` stream.
    """

    def __init__(self, data: EncodedRows | np.ndarray, sampler: ConditionSampler | None, device: torch.device,
                 rng: np.random.Generator):
        self.data = data.to(device) if isinstance(data, EncodedRows) else torch.as_tensor(data, device=device)
        self.sampler = sampler if sampler is not None and sampler.n_spans else None
        self.device = device
        self.rng = rng
        self._empty = torch.zeros(0, device=device)

    def __len__(self) -> int:
        return len(self.data)

    def _condition(self, entry: np.ndarray) -> torch.Tensor:
        index = torch.as_tensor(entry, device=self.device)
        vectors = torch.zeros(len(entry), self.sampler.dim, device=self.device)
        return vectors.index_put_((torch.arange(len(entry), device=self.device), index),
                                  torch.ones((), device=self.device))

    def draw(self, n: int) -> Batch:
        """A training batch of ``n`` rows."""
        if self.sampler is None:
            rows = torch.as_tensor(self.rng.integers(len(self.data), size=n), device=self.device)
            empty = self._empty.expand(n, 0)
            return Batch(self.data[rows], empty, empty)
        span, category = self.sampler.draw_training(n, self.rng)
        entry = self.sampler.entry(span, category)
        perm = self.rng.permutation(n)
        rows = self.sampler.rows_for(span[perm], category[perm], self.rng)
        condition = self._condition(entry)
        return Batch(real=self.data[torch.as_tensor(rows, device=self.device)],
                     real_condition=condition[torch.as_tensor(perm, device=self.device)],
                     condition=condition)

    def state_dict(self) -> dict:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]


class PoissonBatchSampler(BatchSampler):
    """Batches for DP-SGD: each training row joins the real part of a draw independently with
    probability ``sample_rate`` (Poisson sampling, as the privacy accountant assumes), so the real
    part's size varies; each real row is paired with its own category in one discrete column chosen
    at random. The generator's conditions (``condition``, ``n`` of them) are drawn from ``sampler``'s
    counts (private, noisy counts), never from the rows.

    Parameters
    ----------
    data : EncodedRows or ndarray (n_rows, dim)
    codes : ndarray (n_rows, n_condition_spans)
        Each row's slot in every condition span.
    sampler : ConditionSampler or None
        Built from noisy counts (no row codes).
    sample_rate : float
    device : torch.device
    rng : numpy Generator
    """

    def __init__(self, data: EncodedRows | np.ndarray, codes: np.ndarray, sampler: ConditionSampler | None,
                 sample_rate: float, device: torch.device, rng: np.random.Generator):
        super().__init__(data, sampler, device, rng)
        self.codes = codes
        self.sample_rate = sample_rate

    def draw(self, n: int) -> Batch:
        take = np.flatnonzero(self.rng.random(len(self.data)) < self.sample_rate)
        real = self.data[torch.as_tensor(take, device=self.device)]
        if self.sampler is None:
            return Batch(real, self._empty.expand(len(take), 0), self._empty.expand(n, 0))
        span = self.rng.integers(self.sampler.n_spans, size=len(take))
        own = self.sampler.offset[span] + self.codes[take, span]
        fake = self.sampler.entry(*self.sampler.draw_empirical(n, self.rng))
        return Batch(real=real, real_condition=self._condition(own), condition=self._condition(fake))
