"""Simple reference generators for the benchmark: independent columns, Gaussian copula, identity.

Each has ``fit(frame)`` and ``sample(n)`` and returns the training dtypes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats


class IndependentColumns:
    """Each column drawn on its own from its empirical marginal (keeps shapes, breaks every pair)."""

    def __init__(self, random_state: int = 0):
        self.rng = np.random.default_rng(random_state)

    def fit(self, frame: pd.DataFrame) -> IndependentColumns:
        self.frame_ = frame.reset_index(drop=True)
        return self

    def sample(self, n: int) -> pd.DataFrame:
        return pd.DataFrame({c: self.frame_[c].iloc[self.rng.integers(len(self.frame_), size=n)].to_numpy()
                             for c in self.frame_.columns}).astype(self.frame_.dtypes.to_dict())


class GaussianCopula:
    """Gaussian copula over normal scores of every column's empirical CDF.

    Categories (missing included) are ordered by frequency and spread uniformly over their CDF step;
    numbers use mid-ranks. Sampling draws correlated normals and maps them back through each column's
    empirical quantiles, so marginals are the training ones and pairwise rank correlations are kept.
    """

    def __init__(self, random_state: int = 0):
        self.rng = np.random.default_rng(random_state)

    def fit(self, frame: pd.DataFrame) -> GaussianCopula:
        self.frame_ = frame.reset_index(drop=True)
        n = len(frame)
        scores = np.empty((n, frame.shape[1]))
        self.sorted_ = []
        for k, column in enumerate(frame.columns):
            keys = self._keys(frame[column])
            ranks = stats.rankdata(keys, method="average")
            jitter = self.rng.random(n) - 0.5
            scores[:, k] = stats.norm.ppf(np.clip((ranks + jitter) / (n + 1), 1e-6, 1 - 1e-6))
            self.sorted_.append(np.argsort(keys, kind="stable"))
        corr = np.corrcoef(scores, rowvar=False)
        self.corr_ = np.nan_to_num(np.atleast_2d(corr)) + 1e-6 * np.eye(frame.shape[1])
        return self

    @staticmethod
    def _keys(series: pd.Series) -> np.ndarray:
        if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype) or \
                pd.api.types.is_datetime64_any_dtype(series.dtype):
            values = (series.astype("int64") if pd.api.types.is_datetime64_any_dtype(series.dtype) else series)
            values = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
            return np.where(np.isnan(values), np.nanmax(values) + 1, values)  # missing at the top
        labels = series.astype(object).where(series.notna(), "<missing>").astype(str)
        order = labels.value_counts().index
        return pd.Categorical(labels, categories=order).codes.astype(np.float64)

    def sample(self, n: int) -> pd.DataFrame:
        z = self.rng.multivariate_normal(np.zeros(len(self.corr_)), self.corr_, size=n, method="cholesky")
        u = stats.norm.cdf(z)
        m = len(self.frame_)
        out = {}
        for k, column in enumerate(self.frame_.columns):
            rows = self.sorted_[k][np.minimum((u[:, k] * m).astype(np.int64), m - 1)]
            out[column] = self.frame_[column].iloc[rows].to_numpy()
        return pd.DataFrame(out).astype(self.frame_.dtypes.to_dict())


class Identity:
    """The real training rows themselves (an upper bound on fidelity, the worst case for privacy)."""

    def __init__(self, random_state: int = 0):
        self.rng = np.random.default_rng(random_state)

    def fit(self, frame: pd.DataFrame) -> Identity:
        self.frame_ = frame.reset_index(drop=True)
        return self

    def sample(self, n: int) -> pd.DataFrame:
        rows = self.rng.permutation(len(self.frame_))[:n] if n <= len(self.frame_) else \
            self.rng.integers(len(self.frame_), size=n)
        return self.frame_.iloc[rows].reset_index(drop=True)


class PrivateMarginals:
    """Independent columns from differentially private marginals: the whole ``(epsilon, delta)`` is
    spent on synthgan's private column statistics (:mod:`synthgan.privacy.statistics`: noisy
    ranges, histograms and levels), and each column is then drawn on its own from its release. The
    private baseline the DP GAN has to beat on pair trends and utility.
    """

    def __init__(self, epsilon: float, delta: float | None = None, random_state: int = 0):
        self.epsilon = epsilon
        self.delta = delta
        self.rng = np.random.default_rng(random_state)

    def fit(self, frame: pd.DataFrame) -> PrivateMarginals:
        from functools import partial

        from synthgan.privacy import default_delta, release_statistics
        from synthgan.transform.transformer import DataTransformer

        delta = self.delta if self.delta is not None else default_delta(len(frame))
        self.transformer_ = DataTransformer().fit(frame, self.rng, private=partial(
            release_statistics, epsilon=self.epsilon, delta=delta))
        return self

    def sample(self, n: int) -> pd.DataFrame:
        from synthgan.transform.modes import ModeState

        transformer, release = self.transformer_, self.transformer_.release_
        encoded = np.zeros((n, transformer.layout_.dim), dtype=np.float32)
        rows = np.arange(n)
        for spec, state in zip(transformer.specs_, transformer.states_):
            spans = {s.role: s for s in transformer.layout_.spans_of(spec.name)}
            if isinstance(state, ModeState):
                mode = self.rng.choice(state.n_modes, size=n, p=np.asarray(state.weights))
                encoded[:, spans["value"].start] = np.clip(self.rng.normal(0.0, 0.25, n), -0.99, 0.99)
                encoded[rows, spans["mode"].start + mode] = 1.0
                if "missing" in spans:
                    counts = release.missing_counts[spec.name]
                    missing = self.rng.random(n) < counts[1] / counts.sum()
                    encoded[rows, spans["missing"].start + missing.astype(np.int64)] = 1.0
            else:
                counts = release.slot_counts[spec.name].astype(np.float64)
                slot = self.rng.choice(len(counts), size=n, p=counts / counts.sum())
                encoded[rows, spans["category"].start + slot] = 1.0
        return transformer.inverse_transform(encoded, self.rng)
