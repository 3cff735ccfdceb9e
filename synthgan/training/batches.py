"""Training batches: training-by-sampling for conditional models, uniform rows otherwise."""

from __future__ import annotations

import numpy as np
import torch

from synthgan.conditional import ConditionSampler
from synthgan.models.base import Batch


class BatchSampler:
    """Draws :class:`Batch` objects from the encoded training matrix on ``device``.

    Parameters
    ----------
    data : ndarray (n_rows, dim)
        Encoded training rows.
    sampler : ConditionSampler or None
        Condition sampler with row codes; ``None`` (or a table without condition spans) draws rows
        uniformly and gives zero-width conditional vectors.
    device : torch.device
    rng : numpy Generator
        The ``batches`` stream.
    """

    def __init__(self, data: np.ndarray, sampler: ConditionSampler | None, device: torch.device,
                 rng: np.random.Generator):
        self.data = torch.as_tensor(data, device=device)
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
