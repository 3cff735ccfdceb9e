"""Mode-specific normalization of one numeric column (Xu et al., 2019, section 4.2).

A variational (Dirichlet-process) Gaussian mixture is fitted on a row sample of the standardized
column. Each value is then represented by a one-hot mode, drawn from the mode posterior, and a
scalar ``alpha = (z - mu_k) / (4 sigma_k)`` clipped to (-1, 1). Only the mixture parameters are
kept, so encoding after :func:`fit_modes` needs no scikit-learn object and the state is plain JSON.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import BayesianGaussianMixture

WEIGHT_THRESHOLD = 0.005
ALPHA_LIMIT = 0.99


@dataclass(frozen=True)
class ModeState:
    """Fitted mixture of one column, in standardized units ``z = (x - loc) / scale``."""

    loc: float
    scale: float
    means: tuple[float, ...]
    stds: tuple[float, ...]
    weights: tuple[float, ...]
    minimum: float
    maximum: float

    @property
    def n_modes(self) -> int:
        return len(self.means)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> ModeState:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


def fit_modes(values: np.ndarray, max_modes: int, max_rows: int, rng: np.random.Generator) -> ModeState:
    """Fit the mode mixture of a column's non-missing values.

    Parameters
    ----------
    values : ndarray of float64
        Finite, non-missing values.
    max_modes : int
        Upper bound on mixture components.
    max_rows : int
        The mixture is fitted on at most this many rows drawn without replacement.
    rng : numpy Generator
        Source of the row sample and the mixture's seed.
    """
    loc = float(values.mean())
    scale = float(values.std()) or 1.0
    z = (values - loc) / scale
    if len(z) > max_rows:
        z = rng.choice(z, size=max_rows, replace=False)
    n_unique = len(np.unique(z[: min(len(z), 100_000)]))
    n_components = int(min(max_modes, n_unique))
    if n_components < 2:
        means, stds, weights = np.array([0.0]), np.array([1.0]), np.array([1.0])
    else:
        mixture = BayesianGaussianMixture(
            n_components=n_components,
            weight_concentration_prior_type="dirichlet_process",
            weight_concentration_prior=1e-3,
            max_iter=100,
            n_init=1,
            random_state=int(rng.integers(2**31 - 1)),
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            mixture.fit(z.reshape(-1, 1))
        keep = mixture.weights_ > WEIGHT_THRESHOLD
        means = mixture.means_[keep, 0]
        stds = np.sqrt(mixture.covariances_[keep, 0, 0])
        weights = mixture.weights_[keep] / mixture.weights_[keep].sum()
    return ModeState(loc=loc, scale=scale, means=tuple(map(float, means)), stds=tuple(map(float, stds)),
                     weights=tuple(map(float, weights)), minimum=float(values.min()),
                     maximum=float(values.max()))


def encode_modes(state: ModeState, values: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(alpha, mode)`` for finite values: alpha in (-1, 1) and the drawn mode index."""
    z = ((values - state.loc) / state.scale)[:, None]
    means, stds = np.asarray(state.means), np.asarray(state.stds)
    log_post = np.log(np.asarray(state.weights)) - np.log(stds) - 0.5 * ((z - means) / stds) ** 2
    log_post -= log_post.max(axis=1, keepdims=True)
    post = np.exp(log_post)
    cumulative = np.cumsum(post, axis=1)
    draw = rng.random(len(values))[:, None] * cumulative[:, -1:]
    mode = np.minimum((cumulative < draw).sum(axis=1), state.n_modes - 1)
    alpha = (z[:, 0] - means[mode]) / (4.0 * stds[mode])
    return np.clip(alpha, -ALPHA_LIMIT, ALPHA_LIMIT), mode


def decode_modes(state: ModeState, alpha: np.ndarray, mode: np.ndarray) -> np.ndarray:
    """Invert :func:`encode_modes`; results are clipped to the observed range."""
    means, stds = np.asarray(state.means), np.asarray(state.stds)
    z = np.clip(alpha, -1.0, 1.0) * 4.0 * stds[mode] + means[mode]
    return np.clip(z * state.scale + state.loc, state.minimum, state.maximum)
