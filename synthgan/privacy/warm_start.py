"""A private Gaussian copula that warm-starts private GAN training.

DP-SGD gives the critic a few hundred noisy updates, too few to teach the generator how columns
depend on each other, while one noisy correlation matrix of the columns' normal scores captures
the pairwise dependences at a small cost (the private Gaussian copula baseline of
``benchmarks/baselines.py`` reaches near non-private utility at epsilon = 3 on the benchmark
tables). So a private fit with ``warm_start_share > 0`` first releases such a matrix and trains
the GAN, without DP-SGD, on rows drawn from the resulting copula, then continues with DP-SGD on the
real rows from those weights. Training on the copula's rows reads no real row: they are drawn from
released quantities only, so that phase is post-processing and costs no budget beyond the release.

The release (the Gaussian mechanism, as in the baseline):

- every modelled column is mapped to a uniform score through its *released* marginal: a number
  through the noisy histogram of the statistics release (values spread uniformly within their bin,
  ties at an exact-value bin spread over its mass; missing values at the top, over the released
  missing share), a category through its released slot frequencies (levels in order of frequency,
  each row spread uniformly over its level's step), then to a normal score, clipped to [-4, 4];
- each row's vector of ``d`` scores is clipped to L2 norm ``C = 1.5 sqrt(d)``, so adding or removing
  one row moves ``S = sum_i z_i z_i^T`` by at most ``C^2`` in Frobenius norm (and the upper triangle
  of S, the part released, by at most as much in L2 norm);
- Gaussian noise of standard deviation ``sigma C^2`` is added to every upper-triangle entry, with
  ``sigma`` opacus' RDP noise multiplier for one full-batch step at the warm start's share
  ``(epsilon_w, delta_w)``; the correlation is S scaled by its diagonal and projected to the nearest
  positive-definite matrix with unit diagonal (post-processing).

The copula itself is :class:`synthgan.models.copula.GaussianCopulaModel` with its tensors set from
the release; its rows go through the private transformer's encoding, so the GAN sees them exactly
as it sees encoded real rows.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import torch
from scipy.special import ndtri

from synthgan.models.copula import QUANTILES, GaussianCopulaModel, _category_spans, _nearest_correlation, _value_spans
from synthgan.privacy.statistics import _assign
from synthgan.transform.columns import continuous_values
from synthgan.transform.encoded import EncodedRows, slot_dtype

SCORE_LIMIT = 4.0  # normal scores are clipped to [-4, 4] before the row's norm is
NORM_FACTOR = 1.5  # each row's score vector is clipped to NORM_FACTOR * sqrt(d)
_EDGE = 1e-6


# RDP orders for the one-step mechanism: opacus' defaults stop at 63, where a single full-batch
# step at a small epsilon (below about 0.25 at delta = 1e-6) has its best order; larger ones added
ALPHAS = [1 + x / 10.0 for x in range(1, 100)] + list(range(12, 64)) + [64 * 2**k for k in range(9)]


def correlation_noise_multiplier(epsilon: float, delta: float) -> float:
    """opacus' RDP noise multiplier of one full-batch Gaussian-mechanism step at ``(epsilon, delta)``."""
    from opacus.accountants.utils import get_noise_multiplier

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Optimal order", category=UserWarning)
        return float(get_noise_multiplier(target_epsilon=epsilon, target_delta=delta, sample_rate=1.0, steps=1,
                                          accountant="rdp", epsilon_tolerance=0.002 * epsilon, alphas=ALPHAS))


def correlation_epsilon(noise_multiplier: float, delta: float) -> float:
    """Epsilon of that one step by opacus' RDP accountant (over :data:`ALPHAS`)."""
    from opacus.accountants import RDPAccountant

    accountant = RDPAccountant()
    accountant.history = [(noise_multiplier, 1.0, 1)]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Optimal order", category=UserWarning)
        return float(accountant.get_epsilon(delta, alphas=ALPHAS))


def clip_scores(scores: np.ndarray) -> tuple[np.ndarray, float]:
    """Scores clipped to [-4, 4], then each row to L2 norm ``C = 1.5 sqrt(d)``; returns them and C."""
    z = np.clip(np.asarray(scores, dtype=np.float64), -SCORE_LIMIT, SCORE_LIMIT)
    bound = NORM_FACTOR * np.sqrt(z.shape[1])
    return z * np.minimum(1.0, bound / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)), bound


def private_correlation(scores: np.ndarray, noise_multiplier: float, rng: np.random.Generator) -> np.ndarray:
    """The Gaussian mechanism on the rows' clipped score outer products (see the module docstring)."""
    z, bound = clip_scores(scores)
    d = z.shape[1]
    if d == 0:
        return np.zeros((0, 0))
    noise = rng.normal(0.0, noise_multiplier * bound**2, (d, d))
    noise = np.triu(noise) + np.triu(noise, 1).T  # one draw per upper-triangle entry, mirrored
    total = z.T @ z + noise
    scale = np.sqrt(np.maximum(np.diag(total), 1.0))
    return _nearest_correlation(total / np.outer(scale, scale))


def _histogram_cdf(histogram: tuple[np.ndarray, np.ndarray, np.ndarray]) -> tuple[np.ndarray, ...]:
    lows, highs, weights = (np.asarray(a, dtype=np.float64) for a in histogram)
    weights = np.maximum(weights, 0.0)
    if weights.sum() <= 0:
        weights = np.ones_like(weights)
    after = np.cumsum(weights) / weights.sum()
    return lows, highs, after - weights / weights.sum(), after


def marginal_scores(values: np.ndarray, histogram: tuple, missing_rate: float,
                    rng: np.random.Generator) -> np.ndarray:
    """Uniform scores of a number column's values (NaN: missing) under its released histogram."""
    lows, highs, before, after = _histogram_cdf(histogram)
    present = ~np.isnan(values)
    x = np.clip(np.where(present, values, lows.min()), lows.min(), highs.max())
    b = _assign(x, lows, highs)
    width = highs[b] - lows[b]
    fraction = np.where(width > 0, np.clip((x - lows[b]) / np.where(width > 0, width, 1.0), 0.0, 1.0),
                        rng.random(len(x)))
    u = before[b] + fraction * (after[b] - before[b])
    return np.where(present, (1.0 - missing_rate) * u, 1.0 - missing_rate * rng.random(len(x)))


def histogram_quantiles(histogram: tuple, points: int = QUANTILES) -> np.ndarray:
    """The released histogram's quantile function at ``points`` evenly spaced probabilities."""
    lows, highs, before, after = _histogram_cdf(histogram)
    p = np.linspace(0.0, 1.0, points)
    b = np.minimum(np.searchsorted(after, p, side="left"), len(after) - 1)
    mass = after[b] - before[b]
    fraction = np.clip((p - before[b]) / np.where(mass > 0, mass, 1.0), 0.0, 1.0)
    return np.maximum.accumulate(lows[b] + fraction * (highs[b] - lows[b]))


def category_scores(slots: np.ndarray, probabilities: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Uniform scores of a category column's slots: levels in order of released frequency (as
    :class:`GaussianCopulaModel` samples them), each row spread over its level's step."""
    order = np.argsort(-probabilities, kind="stable")
    start = np.empty_like(probabilities)
    start[order] = np.cumsum(probabilities[order]) - probabilities[order]
    return start[slots] + rng.random(len(slots)) * probabilities[slots]


def warm_start_rows(frame: pd.DataFrame, encoded: EncodedRows, transformer, noise_multiplier: float,
                    n_rows: int, rng: np.random.Generator, device: torch.device) -> EncodedRows:
    """Release the private correlation of ``frame``'s rows (its only read of them) and return
    ``n_rows`` encoded rows drawn from the private copula it defines."""
    layout, release = transformer.layout_, transformer.release_
    specs = {spec.name: spec for spec in transformer.specs_}
    copula = GaussianCopulaModel(layout, {}, device, transformer)
    scores, quantiles, missing, probabilities = [], [], [], []
    for span in _value_spans(layout):
        present, absent = np.asarray(release.missing_counts[span.column], dtype=np.float64)
        rate = float(absent / max(present + absent, 1.0)) if "missing" in {
            s.role for s in layout.spans_of(span.column)} else 0.0
        histogram = release.histograms[span.column]
        values = continuous_values(frame[span.column], specs[span.column].kind)
        scores.append(marginal_scores(values, histogram, rate, rng))
        quantiles.append(histogram_quantiles(histogram))
        missing.append(rate)
    for span in _category_spans(layout):
        counts = np.maximum(np.asarray(release.slot_counts[span.column], dtype=np.float64), 0.0) + 1e-9
        p = counts / counts.sum()
        probabilities.append(p)
        scores.append(category_scores(encoded.slots_of(span).astype(np.int64), p, rng))
    u = np.column_stack(scores) if scores else np.zeros((len(frame), 0))
    z = ndtri(np.clip(u, _EDGE, 1 - _EDGE))
    as_tensor = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float64), device=device)  # noqa: E731
    copula.correlation = as_tensor(private_correlation(z, noise_multiplier, rng))
    copula.quantiles = as_tensor(np.reshape(quantiles, (len(quantiles), QUANTILES)))
    copula.missing = as_tensor(missing)
    copula.slot_probs = as_tensor(np.concatenate(probabilities) if probabilities else np.zeros(0))
    generator = torch.Generator(device=device).manual_seed(int(rng.integers(2**62)))
    dense = copula.generate(torch.zeros(n_rows, 0, device=device), generator).cpu().numpy()
    slots = np.column_stack([dense[:, s.start:s.stop].argmax(axis=1) for s in layout.onehot_spans]) \
        if layout.onehot_spans else np.zeros((n_rows, 0))
    return EncodedRows(layout, dense[:, layout.tanh_index].astype(np.float32),
                       slots.astype(slot_dtype(layout)))
