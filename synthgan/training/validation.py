"""Validation during training: the fidelity of generated rows against held-back real rows.

GAN losses say nothing about the generated table; this score measures it. It is logged as
``val_fidelity`` so that :class:`~synthgan.training.callbacks.EarlyStopping` can monitor it. It is
dominated by column shapes, which converge in the first epochs: on adult it peaks early and stopping
on it with a small patience keeps a generator that has not learnt the relations between columns
(benchmarks/README.md, "Ablation").
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from synthgan.training.callbacks import Callback

if TYPE_CHECKING:
    from synthgan.training.loop import TrainState

logger = logging.getLogger(__name__)


class ValidationScore(Callback):
    """Every ``every`` epochs, generate ``rows`` rows and log their fidelity score as ``key``.

    Parameters
    ----------
    validation : DataFrame
        Held-back real rows the model is not trained on.
    generate : callable ``(n, rng) -> DataFrame``
        Draws ``n`` decoded synthetic rows with the numpy Generator ``rng``.
    rng : numpy Generator
        The ``validation`` stream; its state is checkpointed.
    rows : int
        Rows generated per evaluation.
    every : int, default=1
        Epochs between evaluations.
    key : str, default="val_fidelity"
    """

    order = -10

    def __init__(self, validation: pd.DataFrame, generate: Callable[[int, np.random.Generator], pd.DataFrame],
                 rng: np.random.Generator, rows: int, every: int = 1, key: str = "val_fidelity"):
        from synthgan.evaluation.fidelity import FidelityScorer  # the evaluators load only when used

        self.scorer = FidelityScorer(validation)
        self.generate = generate
        self.rng = rng
        self.rows = rows
        self.every = every
        self.key = key

    def on_epoch_end(self, state: TrainState) -> None:
        if state.epoch % self.every:
            return
        started = time.perf_counter()
        state.logs[self.key] = self.scorer.score(self.generate(self.rows, self.rng))
        logger.debug("epoch %d: %s=%.4f in %.2fs", state.epoch, self.key, state.logs[self.key],
                     time.perf_counter() - started)

    def state_dict(self) -> dict:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]

    def __repr__(self) -> str:
        return f"ValidationScore(rows={self.rows}, every={self.every}, key={self.key!r})"
