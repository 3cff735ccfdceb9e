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


def sort_keys(reference: pd.Series, values: pd.Series) -> np.ndarray:
    """Float keys that sort ``values`` on an order only ``reference`` defines: numbers and datetimes
    by value with missing on top; other columns by their levels' frequency in ``reference``
    (missing a level of its own), levels ``reference`` lacks on top."""
    if pd.api.types.is_numeric_dtype(reference.dtype) and not pd.api.types.is_bool_dtype(reference.dtype) or \
            pd.api.types.is_datetime64_any_dtype(reference.dtype):
        if pd.api.types.is_datetime64_any_dtype(values.dtype):
            stamps = values.to_numpy(dtype="datetime64[ns]")
            numbers = np.where(np.isnat(stamps), np.nan, stamps.view(np.int64).astype(np.float64))
        else:
            numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        return np.where(np.isnan(numbers), np.inf, numbers)

    def labels(series: pd.Series) -> pd.Series:
        return series.astype(object).where(series.notna(), "<missing>").astype(str)

    code = {label: k for k, label in enumerate(labels(reference).value_counts().index)}
    return labels(values).map(code).fillna(len(code)).to_numpy(dtype=np.float64)


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
        return sort_keys(series, series)

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


class PrivateGaussianCopula:
    """A differentially private Gaussian copula: private marginals joined by a private correlation.

    - Marginals: ``PrivateMarginals`` with ``1 - correlation_share`` of epsilon and half of delta. A
      reference sample of ``reference_rows`` rows drawn from it (a function of the private release
      only) stands for each column's distribution.
    - Correlation: each training row's modelled columns are mapped to normal scores through the
      reference columns' CDFs (ties spread uniformly over their step; values the reference never
      holds sit at its top), clipped to [-4, 4], and the row vector to L2 norm ``C = 1.5 sqrt(d)``.
      Adding or removing one row changes ``S = sum_i z_i z_i^T`` by at most ``C^2`` in Frobenius
      norm, so Gaussian noise of standard deviation ``sigma C^2`` on every entry of S's upper
      triangle is the Gaussian mechanism; ``sigma`` is opacus' RDP noise multiplier for one full-batch
      step at the remaining ``(correlation_share * epsilon, delta / 2)``. The correlation is S scaled by
      its diagonal, projected to the nearest positive-definite matrix with unit diagonal.
    - Sampling: correlated normals mapped through each reference column's quantiles. Columns the
      release sets aside (constants, identifiers) are drawn independently from the reference.

    Basic composition: the two parts together spend ``(epsilon, delta)``.
    """

    def __init__(self, epsilon: float, delta: float | None = None, correlation_share: float = 0.5,
                 reference_rows: int = 20_000, random_state: int = 0):
        self.epsilon = epsilon
        self.delta = delta
        self.correlation_share = correlation_share
        self.reference_rows = reference_rows
        self.random_state = random_state
        self.rng = np.random.default_rng(random_state)

    def fit(self, frame: pd.DataFrame) -> PrivateGaussianCopula:
        from opacus.accountants.utils import get_noise_multiplier

        from synthgan.privacy import default_delta

        delta = self.delta if self.delta is not None else default_delta(len(frame))
        marginals = PrivateMarginals((1 - self.correlation_share) * self.epsilon, delta / 2,
                                     random_state=self.random_state).fit(frame)
        self.reference_ = marginals.sample(self.reference_rows).reset_index(drop=True)
        self.columns_ = [spec.name for spec in marginals.transformer_.specs_]
        self.sorted_, scores = {}, []
        for column in self.columns_:
            reference_keys, real_keys = sort_keys(self.reference_[column], self.reference_[column]), \
                sort_keys(self.reference_[column], frame[column])
            order = np.argsort(reference_keys, kind="stable")
            self.sorted_[column] = order
            ranked = reference_keys[order]
            low = np.searchsorted(ranked, real_keys, side="left")
            high = np.searchsorted(ranked, real_keys, side="right")
            u = (low + self.rng.random(len(frame)) * (high - low)) / len(ranked)
            scores.append(stats.norm.ppf(np.clip(u, 0.5 / len(ranked), 1 - 0.5 / len(ranked))))
        z = np.clip(np.column_stack(scores), -4.0, 4.0)
        d = z.shape[1]
        bound = 1.5 * np.sqrt(d)
        z *= np.minimum(1.0, bound / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12))
        self.noise_multiplier_ = get_noise_multiplier(target_epsilon=self.correlation_share * self.epsilon,
                                                      target_delta=delta / 2, sample_rate=1.0, steps=1)
        noise = self.rng.normal(0.0, self.noise_multiplier_ * bound**2, (d, d))
        noise = np.triu(noise) + np.triu(noise, 1).T  # one draw per upper-triangle entry, mirrored
        total = z.T @ z + noise
        scale = np.sqrt(np.maximum(np.diag(total), 1.0))
        corr = total / scale[:, None] / scale[None, :]
        values, vectors = np.linalg.eigh((corr + corr.T) / 2)
        corr = vectors @ np.diag(np.maximum(values, 1e-3)) @ vectors.T
        unit = np.sqrt(np.diag(corr))
        self.corr_ = corr / unit[:, None] / unit[None, :]
        self.dtypes_ = frame.dtypes.to_dict()
        self.order_ = list(frame.columns)
        return self

    def sample(self, n: int) -> pd.DataFrame:
        z = self.rng.multivariate_normal(np.zeros(len(self.corr_)), self.corr_, size=n, method="cholesky")
        u = stats.norm.cdf(z)
        m = len(self.reference_)
        out = {}
        for k, column in enumerate(self.columns_):
            rows = self.sorted_[column][np.minimum((u[:, k] * m).astype(np.int64), m - 1)]
            out[column] = self.reference_[column].iloc[rows].to_numpy()
        for column in self.order_:
            if column not in out:  # set aside by the release: independent draws from the reference
                out[column] = self.reference_[column].iloc[self.rng.integers(m, size=n)].to_numpy()
        return pd.DataFrame({c: out[c] for c in self.order_}).astype(self.dtypes_)
