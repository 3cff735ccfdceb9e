"""A Gaussian copula over the table's columns: a fast baseline, good for small or simple tables.

Each modelled column becomes one latent standard-normal variable through its empirical CDF
(numbers and datetimes by value, with missing values at the top; categories in order of frequency,
each spread over its step of the CDF). The model keeps the correlation matrix of the latent
variables, each number column's quantile function at ``QUANTILES`` points and missing rate, and each
category column's slot frequencies: aggregates only, never the training rows. Sampling draws
correlated normals, maps each back through its column's quantile function (interpolating between
the stored quantiles) or category frequencies, and hands the rows to the transformer as encoded
rows, so dtypes, constant columns, rare levels, conditions and model files work as for the GANs.

It is fitted in one pass (no epochs, no callbacks). Like every Gaussian copula it keeps marginals
and pairwise rank correlations, not interactions beyond pairs or non-monotone relations; a category
column's levels are ordered by frequency, so its relation to other columns is kept only as far as
that order happens to follow it (education and education-num in adult lose their 1:1 map).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy import stats
from torch import nn

from synthgan.layout import TableLayout
from synthgan.models.base import Phase, TabularModel, register_model
from synthgan.streams import RandomStreams, numpy_from_torch
from synthgan.transform.columns import continuous_values
from synthgan.transform.encoded import EncodedRows
from synthgan.transform.modes import ModeState, encode_modes

QUANTILES = 257  # points of each number column's stored quantile function
_EDGE = 1e-6


def _value_spans(layout: TableLayout) -> list:
    return [s for s in layout.spans if s.role == "value"]


def _category_spans(layout: TableLayout) -> list:
    return [s for s in layout.spans if s.role == "category"]


@register_model("copula")
class GaussianCopulaModel(TabularModel):
    """Gaussian copula with empirical marginals, fitted in one pass."""

    description = "Gaussian copula over the columns' empirical distributions (fast baseline, one pass)"
    capabilities = frozenset({"one-pass"})
    parameters: Mapping = {}

    def __init__(self, layout: TableLayout, params: Mapping[str, Any], device: torch.device, transformer=None):
        super().__init__(layout, params, device)
        self.transformer = transformer
        values, categories = _value_spans(layout), _category_spans(layout)
        k = len(values) + len(categories)
        width = sum(s.width for s in categories)
        with torch.device(device):
            self.correlation = torch.eye(k, dtype=torch.float64)
            self.quantiles = torch.zeros(len(values), QUANTILES, dtype=torch.float64)
            self.missing = torch.zeros(len(values), dtype=torch.float64)
            self.slot_probs = torch.zeros(width, dtype=torch.float64)

    # ------------------------------------------------------------------ fitting
    def setup_training(self, streams: RandomStreams) -> None:
        self._rng = streams.numpy("init")

    def fit_table(self, frame: pd.DataFrame, encoded: EncodedRows) -> None:
        """Fit the marginals and the latent correlation from the training rows."""
        layout, transformer, rng = self.layout, self.transformer, self._rng
        n = len(frame)
        specs = {spec.name: spec for spec in transformer.specs_}
        scores, quantiles, missing, probs = [], [], [], []
        for span in _value_spans(layout):
            spec = specs[span.column]
            values = continuous_values(frame[span.column], spec.kind)
            present = ~np.isnan(values)
            missing.append(1.0 - present.mean())
            quantiles.append(np.quantile(values[present], np.linspace(0, 1, QUANTILES)))
            keys = np.where(present, values, np.inf)  # missing at the top of the CDF
            scores.append(self._normal_scores(keys, rng))
        for span in _category_spans(layout):
            slots = encoded.slots_of(span).astype(np.int64)
            counts = np.bincount(slots, minlength=span.width).astype(np.float64)
            probs.append(counts / counts.sum())
            rank_of_slot = np.argsort(np.argsort(-counts, kind="stable"), kind="stable")
            scores.append(self._normal_scores(rank_of_slot[slots].astype(np.float64), rng))
        matrix = np.column_stack(scores) if scores else np.zeros((n, 0))
        correlation = np.atleast_2d(np.nan_to_num(np.corrcoef(matrix, rowvar=False))) if matrix.shape[1] > 1 \
            else np.eye(matrix.shape[1])
        np.fill_diagonal(correlation, 1.0)
        as_tensor = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float64), device=self.device)  # noqa: E731
        self.correlation = as_tensor(_nearest_correlation(correlation))
        self.quantiles = as_tensor(np.reshape(quantiles, (len(quantiles), QUANTILES)))
        self.missing = as_tensor(missing)
        self.slot_probs = as_tensor(np.concatenate(probs) if probs else np.zeros(0))

    @staticmethod
    def _normal_scores(keys: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        ranks = stats.rankdata(keys, method="average")
        jitter = rng.random(len(keys)) - 0.5  # spread ties over their step
        return stats.norm.ppf(np.clip((ranks + jitter) / (len(keys) + 1), _EDGE, 1 - _EDGE))

    # ------------------------------------------------------------------ sampling
    @torch.no_grad()
    def generate(self, condition: torch.Tensor, generator: torch.Generator, asked: bool = False) -> EncodedRows:
        n = len(condition)
        rng = numpy_from_torch(generator)
        correlation = self.correlation.cpu().numpy()
        k = len(correlation)
        z = rng.standard_normal((n, k)) @ np.linalg.cholesky(correlation).T if k else np.zeros((n, 0))
        u = np.clip(stats.norm.cdf(z), _EDGE, 1 - _EDGE)
        layout = self.layout
        encoded = np.zeros((n, len(layout.tanh_index)), dtype=np.float32)
        slots = np.zeros((n, len(layout.onehot_spans)), dtype=np.int64)
        states = dict(zip([s.name for s in self.transformer.specs_], self.transformer.states_))
        quantiles, missing = self.quantiles.cpu().numpy(), self.missing.cpu().numpy()
        grid = np.linspace(0, 1, QUANTILES)
        values = _value_spans(self.layout)
        for j, span in enumerate(values):
            spans = {s.role: s for s in self.layout.spans_of(span.column)}
            state: ModeState = states[span.column]
            absent = u[:, j] > 1.0 - missing[j]
            drawn = np.interp(u[:, j] / max(1.0 - missing[j], _EDGE), grid, quantiles[j])
            alpha, mode = encode_modes(state, drawn, rng)
            encoded[:, layout.value_column[span.start]] = np.where(absent, 0.0, alpha)
            slots[:, layout.slot_column[spans["mode"].start]] = mode
            if "missing" in spans:
                slots[:, layout.slot_column[spans["missing"].start]] = absent
        probs, offset = self.slot_probs.cpu().numpy(), 0
        for i, span in enumerate(_category_spans(self.layout)):
            p = probs[offset:offset + span.width]
            offset += span.width
            order = np.argsort(-p, kind="stable")  # most frequent first, as in fitting
            cumulative = np.cumsum(p[order])
            picked = order[np.minimum(np.searchsorted(cumulative, u[:, len(values) + i]),
                                      span.width - 1)]
            slots[:, layout.slot_column[span.start]] = picked
        return EncodedRows(layout, encoded, slots)

    # ------------------------------------------------------------------ state
    def _tensors(self) -> dict[str, torch.Tensor]:
        return {"copula.correlation": self.correlation, "copula.quantiles": self.quantiles,
                "copula.missing": self.missing, "copula.slot_probs": self.slot_probs}

    def weights(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().cpu().clone() for k, v in self._tensors().items()}

    def load_weights(self, state: Mapping[str, torch.Tensor]) -> None:
        for name, current in self._tensors().items():
            if state[name].shape != current.shape:
                raise RuntimeError(f"{name} has shape {tuple(state[name].shape)}, expected {tuple(current.shape)}")
        self.correlation, self.quantiles, self.missing, self.slot_probs = (
            state[name].to(self.device, torch.float64) for name in self._tensors())

    def weight_shapes(self) -> dict[str, tuple[int, ...]]:
        return {k: tuple(v.shape) for k, v in self._tensors().items()}

    def networks(self) -> dict[str, nn.Module]:
        return {}

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {}

    def phases(self) -> tuple[Phase, ...]:
        return ()


def _nearest_correlation(matrix: np.ndarray) -> np.ndarray:
    """Clip negative eigenvalues so that the Cholesky factor exists, then restore the unit diagonal."""
    if matrix.size == 0:
        return matrix
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    fixed = vectors @ np.diag(np.maximum(values, 1e-6)) @ vectors.T
    scale = np.sqrt(np.diag(fixed))
    return fixed / np.outer(scale, scale)
