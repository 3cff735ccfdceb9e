"""The one training loop every registered model goes through."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from synthgan.conditional import ConditionSampler
from synthgan.models.base import Batch, TabularGAN

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingPlan:
    """How long and in what steps to train.

    Attributes
    ----------
    epochs : int
        Passes over the data (one pass = ``n_rows // batch_size`` generator steps).
    batch_size : int
        Rows per step, a multiple of the model's ``pac``.
    critic_steps : int
        Critic updates per generator update.
    max_seconds : float or None
        Stop after the first epoch that ends past this wall-clock budget.
    verbose : bool
        Show a progress bar on stderr.
    """

    epochs: int
    batch_size: int
    critic_steps: int = 1
    max_seconds: float | None = None
    verbose: bool = True


class Trainer:
    """Draws batches (training-by-sampling for conditional models, uniform rows otherwise) and
    alternates critic and generator steps."""

    def __init__(self, model: TabularGAN, data: np.ndarray, sampler: ConditionSampler | None,
                 device: torch.device, rng: np.random.Generator):
        self.model = model
        self.data = torch.as_tensor(data, device=device)
        self.sampler = sampler if model.conditional and sampler is not None and sampler.n_spans else None
        self.device = device
        self.rng = rng
        self._empty = torch.zeros(0, device=device)

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

    def fit(self, plan: TrainingPlan) -> list[dict]:
        """Train; returns one history record per epoch."""
        steps = max(1, len(self.data) // plan.batch_size)
        history: list[dict] = []
        start = time.perf_counter()
        bar = tqdm(range(plan.epochs), desc="fit", unit="epoch", disable=not plan.verbose, leave=False)
        for epoch in bar:
            epoch_start = time.perf_counter()
            critic_total = torch.zeros((), device=self.device)
            generator_total = torch.zeros((), device=self.device)
            for _ in range(steps):
                for _ in range(plan.critic_steps):
                    critic_total += self.model.critic_step(self.draw(plan.batch_size))
                generator_total += self.model.generator_step(self.draw(plan.batch_size))
            record = {"epoch": epoch + 1,
                      "generator_loss": float(generator_total) / steps,
                      "critic_loss": float(critic_total) / (steps * plan.critic_steps),
                      "seconds": time.perf_counter() - epoch_start}
            history.append(record)
            bar.set_postfix(g=f"{record['generator_loss']:.3f}", c=f"{record['critic_loss']:.3f}")
            logger.debug("epoch %(epoch)d: generator %(generator_loss).4f critic %(critic_loss).4f", record)
            if plan.max_seconds is not None and time.perf_counter() - start > plan.max_seconds:
                logger.info("stopping after epoch %d: time budget of %.0fs spent", epoch + 1, plan.max_seconds)
                break
        bar.close()
        return history
