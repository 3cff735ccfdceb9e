"""Mode-specific normalization of numeric columns (Xu et al., 2019, section 4.2).

A variational (Dirichlet-process) Gaussian mixture is fitted on a row sample of each standardized
column; all columns' mixtures are fitted together by one vectorized update loop. Each value is then
represented by a one-hot mode, drawn from the mode posterior, and a scalar
``alpha = (z - mu_k) / (4 sigma_k)`` clipped to (-1, 1). Only the mixture parameters are kept, so
encoding after :func:`fit_modes` needs no fitted estimator object and the state is plain JSON.

With ``quantile=True`` a column is first mapped to standard-normal scores through its own
empirical distribution (a probability-integral transform, as TabDDPM does for its inputs) and the
mixture is fitted on those scores. Heavy tails, skew and spikes then cost the generator nothing:
it learns a near-Gaussian column, and decoding maps back through the stored quantiles, so the
marginal is the training one up to the grid's resolution. The grid has one point per ten
training values (at most :data:`QUANTILES`), so no stored point stands for fewer than ten rows
except the minimum and maximum, which the state keeps in either case. Values tied at one point
(a spike) are spread uniformly over the scores of their share of the distribution (randomized
transform), and come back as exactly that value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from scipy.special import digamma, ndtr, ndtri

if TYPE_CHECKING:
    from synthgan.transform.dependence import DependenceState

WEIGHT_THRESHOLD = 0.005
ALPHA_LIMIT = 0.99
WINDOW = 4.0  # a mode encodes the values within WINDOW of its standard deviations of its mean, alpha = +-1
MAX_ITER = 100
TOL = 1e-4
COLUMNS_PER_BATCH = 64  # bounds the (components, values) arrays to ~26 MB each at 5000 rows
PRIOR_CONCENTRATION = 1e-3  # stick-breaking Beta(1, gamma): small gamma prunes unneeded modes
PRIOR_BETA = 1.0  # mean precision relative to the component precision
MIN_STD = 1e-4  # floor of a mode's standard deviation, in column standard deviations
PRIOR_A, PRIOR_B = 0.5, 0.5  # Gamma prior of the precision: one pseudo-observation of unit variance
QUANTILES = 1000  # most points of a quantile grid
ROWS_PER_QUANTILE = 10  # fewest training values per grid point
EDGE = 1e-6  # probabilities are kept in [EDGE, 1 - EDGE] before the normal quantile function


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
    quantiles: tuple[float, ...] | None = None  # grid of the normal-score transform (None: values as they are)
    target: tuple[float, ...] | None = None  # the training values' quantile grid, for marginal calibration
    generated: tuple[float, ...] | None = None  # the generator's decoded values' grid (calibration is on when set)

    @property
    def n_modes(self) -> int:
        return len(self.means)

    @property
    def center(self) -> float:
        """A value at the centre of the column (what missing values are encoded as, besides their flag)."""
        return self.loc if self.quantiles is None else float(self.from_scores(np.array([self.loc]))[0])

    def to_scores(self, values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The values the mixture is fitted on: ``values`` themselves, or their normal scores."""
        return values if self.quantiles is None else normal_scores(np.asarray(self.quantiles), values, rng)

    def from_scores(self, scores: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`to_scores`."""
        if self.quantiles is None:
            return scores
        grid = np.asarray(self.quantiles)
        return np.interp(np.clip(ndtr(scores), EDGE, 1 - EDGE), np.linspace(0, 1, len(grid)), grid)

    def calibrate(self, values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Map decoded values through the generator's distribution onto the training one: the
        monotone map ``Q_train(F_generated(x))`` (quantile mapping). It keeps the order of values
        within the column, so every dependence between columns the generator learned stays, while
        the column's marginal becomes the training marginal up to the grids' resolution. Identity
        until :meth:`synthgan.transform.transformer.DataTransformer.fit_calibration` has set the
        generated grid."""
        if self.generated is None or self.target is None:
            return values
        return self.calibrate_with(values, rng.random(len(values)))

    def calibrate_with(self, values: np.ndarray, uniform: np.ndarray) -> np.ndarray:
        """:meth:`calibrate` with the uniform draws that spread spikes given (one per value), for
        callers that draw them for several columns at once (:class:`ModeTable`)."""
        source = np.asarray(self.generated, dtype=np.float64)[None]
        target = np.asarray(self.target, dtype=np.float64)
        if source.shape[1] == len(target):
            values, uniform = np.asarray(values, dtype=np.float64)[None], np.asarray(uniform)[None]
            return quantile_map_rows(source, target[None], run_ends(source), values, uniform)[0]
        # grids of unequal lengths (fit_calibration makes them equal): through the probability levels
        return self.target_at(self.probability_with(values, uniform))

    def probability_with(self, values: np.ndarray, uniform: np.ndarray) -> np.ndarray:
        """``F_generated(values)``, the first half of :meth:`calibrate_with`."""
        source = np.asarray(self.generated, dtype=np.float64)[None]
        levels = np.linspace(0, 1, source.shape[1])[None]
        values, uniform = np.asarray(values, dtype=np.float64)[None], np.asarray(uniform)[None]
        return quantile_map_rows(source, levels, run_ends(source), values, uniform)[0]

    def target_at(self, probability: np.ndarray) -> np.ndarray:
        """``Q_train(probability)``, the second half of :meth:`calibrate_with`."""
        return np.interp(probability, np.linspace(0, 1, len(self.target)), self.target)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> ModeState:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


def quantile_points(n_values: int) -> int:
    """Points of the quantile grid of ``n_values`` values: one per ten values, 2 at least,
    :data:`QUANTILES` at most."""
    return int(min(QUANTILES, max(2, n_values // ROWS_PER_QUANTILE)))


def quantile_grid(values: np.ndarray) -> np.ndarray:
    """Quantiles of ``values`` at :func:`quantile_points` evenly spaced probabilities; the first and
    last points are the minimum and maximum."""
    return np.quantile(values, np.linspace(0, 1, quantile_points(len(values))))


def normal_scores(grid: np.ndarray, values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Standard-normal scores of ``values`` under the piecewise-linear distribution of ``grid``
    (see :func:`grid_probability`)."""
    return ndtri(np.clip(grid_probability(grid, values, rng), EDGE, 1 - EDGE))


def grid_probability(grid: np.ndarray, values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Probabilities of ``values`` under the piecewise-linear distribution of ``grid`` (0 below it,
    1 above it).

    A value strictly inside a grid cell gets its interpolated probability; a value equal to a run
    of two or more grid points (a spike) gets a probability drawn uniformly over that run, the only
    part of the distribution the inverse maps back to it. This is :func:`quantile_map` onto the
    grid's own evenly spaced probability levels.
    """
    return quantile_map(grid, np.linspace(0, 1, len(grid)), values, rng)


def quantile_map(source: np.ndarray, target: np.ndarray, values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``Q_target(F_source(values))`` for two grids of equal length, in one binary search.

    Both grids sit at the same evenly spaced probabilities, so the map is piecewise linear with
    knots ``source[i] -> target[i]``: the same as :func:`grid_probability` followed by linear
    interpolation of ``target`` at those probabilities, without searching twice. A value equal to
    a run of two or more ``source`` points (a spike) is spread uniformly over the run's stretch of
    ``target`` (one uniform draw per value, whether or not it is in a spike); values below or
    above ``source`` map to ``target``'s ends, and NaN stays NaN.
    """
    source = np.asarray(source, dtype=np.float64)[None]
    return quantile_map_rows(source, np.asarray(target, dtype=np.float64)[None], run_ends(source),
                             np.asarray(values, dtype=np.float64)[None], rng.random((1, len(values))))[0]


def run_ends(source: np.ndarray) -> np.ndarray:
    """For each point of each sorted grid (a row of ``source``), the index of the last point of
    the run of equal points it belongs to (itself when its neighbours differ)."""
    points = source.shape[1]
    last_of_run = np.concatenate([source[:, 1:] != source[:, :-1], np.ones((len(source), 1), dtype=bool)], axis=1)
    ends = np.where(last_of_run, np.arange(points), points)
    return np.minimum.accumulate(ends[:, ::-1], axis=1)[:, ::-1].copy()


def quantile_map_rows(source: np.ndarray, target: np.ndarray, ends: np.ndarray, values: np.ndarray,
                      uniform: np.ndarray) -> np.ndarray:
    """:func:`quantile_map` for several columns at once: row ``c`` of ``values`` (columns, rows) is
    mapped from grid ``source[c]`` onto ``target[c]`` (grids of one length), with ``ends`` from
    :func:`run_ends` of ``source`` and ``uniform`` the draws in ``[0, 1)`` that spread spikes
    (one per value). One batched binary search for all columns; the arithmetic runs on torch's
    threads (float64, as numpy would compute it)."""
    return at_positions(target, grid_positions(source, ends, values, uniform))


def grid_positions(source: np.ndarray, ends: np.ndarray, values: np.ndarray, uniform: np.ndarray) -> torch.Tensor:
    """The first half of :func:`quantile_map_rows`: each value's fractional index into its row of
    ``source`` (``position / (points - 1)`` is its probability under the grid)."""
    source_t, ends_t = (torch.from_numpy(np.ascontiguousarray(a)) for a in (source, ends))
    values_t = torch.from_numpy(np.ascontiguousarray(values, dtype=np.float64))
    points = source.shape[1]
    first = torch.searchsorted(source_t, values_t)  # the first grid point at or above each value
    cell = (first - 1).clamp_(0, points - 2)  # the cell [source[cell], source[cell + 1]] around a value
    low = source_t.gather(1, cell)
    width = source_t.gather(1, cell + 1) - low
    position = ((values_t - low) / torch.where(width > 0, width, 1.0)).clamp_(0.0, 1.0).add_(cell)
    point = first.clamp_(max=points - 1)
    end = ends_t.gather(1, point)
    spike = (end > point) & (source_t.gather(1, point) == values_t)
    spread = torch.from_numpy(np.ascontiguousarray(uniform)) * (end - point) + point
    return torch.where(spike, spread, position)


def at_positions(target: np.ndarray, position: torch.Tensor) -> np.ndarray:
    """The second half of :func:`quantile_map_rows`: ``target`` (columns, points) interpolated
    at fractional indices ``position`` (columns, rows)."""
    target_t = torch.from_numpy(np.ascontiguousarray(target, dtype=np.float64))
    index = torch.nan_to_num(position).long().clamp_(max=target.shape[1] - 2)  # a NaN value stays NaN
    low = target_t.gather(1, index)
    return ((target_t.gather(1, index + 1) - low).mul_(position - index).add_(low)).numpy()


def fit_modes(columns: Sequence[np.ndarray], max_modes: int, max_rows: int,
              rng: np.random.Generator, quantile: bool = False,
              separation: float | None = None, widening: float | None = None,
              given_grids: Sequence[np.ndarray | None] | None = None) -> list[ModeState]:
    """Fit the mode mixtures of several columns at once, one mixture per column.

    Parameters
    ----------
    columns : sequence of ndarray of float64
        Each column's finite, non-missing values (at least one value each).
    max_modes : int
        Upper bound on mixture components.
    max_rows : int
        Each mixture is fitted on at most this many rows drawn without replacement.
    rng : numpy Generator
        Source of the row samples (and of the spread of tied values' normal scores).
    quantile : bool, default=False
        Fit each mixture on the column's normal scores (see the module docstring); columns with a
        single distinct value are kept as they are.
    separation : float, optional
        Merge neighbouring components whose Ashman's D is at most this (see :func:`merge_modes`);
        None keeps every component the mixture weights above :data:`WEIGHT_THRESHOLD`.
    widening : float, optional
        With ``separation``: the most a merge may widen a mode over its members (see
        :func:`merge_modes`); None: no bound.
    given_grids : sequence of (ndarray or None), optional
        Each column's quantile grid, given instead of read from its values (a private release's,
        :func:`synthgan.privacy.statistics.histogram_quantiles`): the quantile encoding with that
        grid, whatever ``quantile`` says; None for a column keeps its values as they are.

    Returns
    -------
    list of ModeState
        One per column, in order.
    """
    uniques, counts, locs, scales, n_components, grids = [], [], [], [], [], []
    for k, raw in enumerate(columns):
        if given_grids is not None:
            grid = None if given_grids[k] is None else np.asarray(given_grids[k], dtype=np.float64)
        else:
            grid = quantile_grid(raw) if quantile and raw.min() < raw.max() else None
        grids.append(grid)
        values = raw if grid is None else normal_scores(grid, raw, rng)
        loc = float(values.mean())
        scale = float(values.std()) or 1.0
        z = (values - loc) / scale
        if len(z) > max_rows:
            z = rng.choice(z, size=max_rows, replace=False)
        unique, count = np.unique(z, return_counts=True)  # repeated values become weights
        uniques.append(unique)
        counts.append(count)
        locs.append(loc)
        scales.append(scale)
        n_components.append(int(min(max_modes, len(unique))))
    fitted: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for first in range(0, len(columns), COLUMNS_PER_BATCH):
        batch = slice(first, first + COLUMNS_PER_BATCH)
        weights, means, stds = _fit_mixtures(uniques[batch], counts[batch], np.array(n_components[batch]), max_modes)
        fitted += zip(weights.T, means.T, stds.T)
    states = []
    for k, values in enumerate(columns):
        weights, means, stds = fitted[k]
        keep = weights > WEIGHT_THRESHOLD
        if n_components[k] < 2 or not keep.any():
            means, stds, weights = np.array([0.0]), np.array([1.0]), np.array([1.0])
        else:
            means, stds, weights = means[keep], stds[keep], weights[keep] / weights[keep].sum()
            if separation is not None:
                means, stds, weights = merge_modes(means, stds, weights, separation, widening)
        grid = None if grids[k] is None else tuple(map(float, grids[k]))
        states.append(ModeState(loc=locs[k], scale=scales[k], means=tuple(map(float, means)),
                                stds=tuple(map(float, stds)), weights=tuple(map(float, weights)),
                                minimum=float(values.min()), maximum=float(values.max()), quantiles=grid))
    return states


def merge_modes(means: np.ndarray, stds: np.ndarray, weights: np.ndarray, separation: float,
                widening: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge neighbouring mixture components that are not separate modes of the column.

    A variational mixture fitted to a skewed or flat-topped but single-peaked column spends all its
    components tiling it; each value's representation then hinges on a one-hot choice among
    overlapping components, which two correlated columns must make in step. Here two neighbouring
    components (in the order of their means) count as one mode when Ashman's
    ``D = sqrt(2) |mu_1 - mu_2| / sqrt(s_1^2 + s_2^2)`` is at most ``separation`` (D > 2 is what a
    clean separation of two Gaussians needs; Ashman, Bird & Zeitler, 1994). The least separated
    mergeable pair is merged first, until none is left. The merged component has the pair's total
    weight and mean (moment matching) and the pair's standard deviation, widened where needed so
    that the values either member encoded within its window (:data:`WINDOW` standard deviations)
    are still inside the merged one's: no value is clipped that was not clipped before. A point
    mass (a component with the spread floor :data:`MIN_STD`, one distinct value) is set aside: it
    is never merged, so it still decodes to exactly its value, and it does not stand between two
    components it lies among.

    With ``widening`` (:func:`merge_widening` of the separation: what merging two equal components
    at ``D = separation`` costs anyway) a pair is merged only when the merged standard deviation is
    at most ``widening`` times the members' (their weighted mean). A value's ``alpha`` resolves its
    member's spread in ``s_member / s_merged`` of the window, so without this bound a light, wide
    tail (2% of a skewed column's rows, far out) merged into the body would widen the one mode to
    cover the tail's window, squeezing the body's values, where most rows and most of the column's
    relations lie, into a small part of ``alpha``'s range (bank marketing's call duration without
    the bound: one mode 2.0 to 3.3 column standard deviations wide in 9 of 10 exact fits and 5 of
    10 private ones). None: no bound (merged by separation alone).

    Returns the kept components' means, standard deviations and weights, in increasing mean.
    """
    means, stds, weights = (np.asarray(a, dtype=np.float64) for a in (means, stds, weights))
    point = stds <= MIN_STD * (1 + 1e-9)
    order = np.argsort(means[~point], kind="stable")
    m, s, w = means[~point][order], stds[~point][order], weights[~point][order]
    while len(m) > 1:
        d = np.sqrt(2.0) * np.diff(m) / np.sqrt(s[1:] ** 2 + s[:-1] ** 2)
        weight = w[1:] + w[:-1]
        mean = (w[1:] * m[1:] + w[:-1] * m[:-1]) / weight
        variance = (w[1:] * (s[1:] ** 2 + (m[1:] - mean) ** 2) + w[:-1] * (s[:-1] ** 2 + (m[:-1] - mean) ** 2)) / weight
        std = np.maximum.reduce([np.sqrt(variance), np.abs(m[1:] - mean) / WINDOW + s[1:],
                                 np.abs(m[:-1] - mean) / WINDOW + s[:-1]])
        members = (w[1:] * s[1:] + w[:-1] * s[:-1]) / weight
        mergeable = d <= separation
        if widening is not None:
            mergeable &= std <= widening * members * (1 + 1e-9)
        if not mergeable.any():
            break
        i = int(np.argmin(np.where(mergeable, d, np.inf)))
        m, s, w = (np.concatenate([a[:i], [v[i]], a[i + 2:]]) for a, v in ((m, mean), (s, std), (w, weight)))
    means, stds, weights = (np.concatenate([a, b[point]]) for a, b in ((m, means), (s, stds), (w, weights)))
    order = np.argsort(means, kind="stable")
    return means[order], stds[order], weights[order]


def merge_widening(separation: float) -> float:
    """The most :func:`merge_modes` lets a merge widen a mode: the merged standard deviation over
    the members' of two equal-weight components of standard deviation ``s`` whose Ashman's D is
    ``separation``. Their means lie ``separation * s / 2`` either side of the merged mean, so moment
    matching gives ``s * sqrt(1 + separation**2 / 4)`` and holding both windows ``s * (1 +
    separation / (2 * WINDOW))``; the larger of the two over ``s`` (sqrt 2 at separation 2): the
    widening a merge at the separation threshold needs, so no merge the threshold alone would
    allow between equal components is refused."""
    return max(float(np.sqrt(1.0 + separation**2 / 4.0)), 1.0 + separation / (2.0 * WINDOW))


def _fit_mixtures(values: Sequence[np.ndarray], counts: Sequence[np.ndarray], n_components: np.ndarray,
                  max_modes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean-field variational inference for a batch of 1-D Gaussian mixtures.

    Model (Bishop, PRML section 10.2, with the stick-breaking weights of Blei & Jordan, 2006):
    ``v_k ~ Beta(1, gamma)``, ``pi_k = v_k prod_{j<k} (1 - v_j)``, ``lambda_k ~ Gamma(a0, b0)``,
    ``mu_k | lambda_k ~ N(0, 1 / (beta0 lambda_k))`` on standardized values. Each column comes as its
    sorted distinct values with their counts; the columns are laid end to end (segments), so every
    update is one array operation of shape (components, values) and per-column sums are
    ``np.add.reduceat`` over the segments. Responsibilities start from equal-frequency bins.

    Returns the expected weights and each component's weighted mean and standard deviation, each
    (max_modes, columns); components beyond a column's ``n_components`` get weight 0.
    """
    lengths = np.array([len(v) for v in values])
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    segment = np.repeat(np.arange(len(values)), lengths)
    z = np.concatenate(values)
    weight = np.concatenate(counts).astype(np.float64)
    total = np.add.reduceat(weight, starts)
    components = np.maximum(n_components, 1)
    valid = np.arange(max_modes)[:, None] < components[None, :]
    cumulative = np.cumsum(weight)
    position = (cumulative - 0.5 * weight - (cumulative - weight)[starts][segment]) / total[segment]
    bins = np.minimum((position * components[segment]).astype(int), components[segment] - 1)
    resp = (np.arange(max_modes)[:, None] == bins[None, :]) * weight
    previous = None
    for _ in range(MAX_ITER):
        mass, means, a, b, beta, xbar, spread = _posterior(z, resp, starts, segment)
        if previous is not None and np.max(np.abs(mass - previous) / total) < TOL:
            break
        previous = mass
        offset = _expected_log_weights(mass) + 0.5 * (digamma(a) - np.log(b)) - 0.5 / beta
        offset = np.where(valid, offset, -np.inf)
        log_rho = offset[:, segment] - 0.5 * (a / b)[:, segment] * (z - means[:, segment]) ** 2
        log_rho -= log_rho.max(axis=0)
        resp = np.exp(log_rho)
        resp *= weight / resp.sum(axis=0)
    alpha1, alpha2 = _stick_parameters(mass)
    expected_v = alpha1 / (alpha1 + alpha2)
    remaining = np.concatenate([np.ones((1, len(values))), np.cumprod(1 - expected_v, axis=0)[:-1]], axis=0)
    weights = np.where(valid, expected_v * remaining, 0.0)
    # the modes kept are the components' own weighted mean and spread, not the prior-shrunk posterior:
    # a point mass (say 92% zeros) then decodes to exactly its value instead of a blur of width
    # ~1/sqrt(count) std that the prior would add
    return weights, xbar, np.sqrt(np.maximum(spread, MIN_STD**2))


def _posterior(z: np.ndarray, resp: np.ndarray, starts: np.ndarray, segment: np.ndarray) -> tuple[np.ndarray, ...]:
    """Normal-Gamma posterior of each (component, column) given responsibilities (components, values)."""
    mass = np.add.reduceat(resp, starts, axis=1) + 1e-10
    xbar = np.add.reduceat(resp * z, starts, axis=1) / mass
    spread = np.add.reduceat(resp * (z - xbar[:, segment]) ** 2, starts, axis=1) / mass
    beta = PRIOR_BETA + mass
    means = mass * xbar / beta
    a = PRIOR_A + 0.5 * mass
    b = PRIOR_B + 0.5 * (mass * spread + PRIOR_BETA * mass * xbar**2 / beta)
    return mass, means, a, b, beta, xbar, spread


def _stick_parameters(mass: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Beta posterior of each stick fraction; components on axis 0."""
    later = np.cumsum(mass[::-1], axis=0)[::-1] - mass
    return 1.0 + mass, PRIOR_CONCENTRATION + later


def _expected_log_weights(mass: np.ndarray) -> np.ndarray:
    alpha1, alpha2 = _stick_parameters(mass)
    total = digamma(alpha1 + alpha2)
    log_v, log_rest = digamma(alpha1) - total, digamma(alpha2) - total
    before = np.concatenate([np.zeros((1, mass.shape[1])), np.cumsum(log_rest, axis=0)[:-1]], axis=0)
    return log_v + before


def encode_modes(state: ModeState, values: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(alpha, mode)`` for finite values: alpha in (-1, 1) and the drawn mode index."""
    z = ((state.to_scores(values, rng) - state.loc) / state.scale)[:, None]
    means, stds = np.asarray(state.means), np.asarray(state.stds)
    log_post = np.log(np.asarray(state.weights)) - np.log(stds) - 0.5 * ((z - means) / stds) ** 2
    log_post -= log_post.max(axis=1, keepdims=True)
    post = np.exp(log_post)
    cumulative = np.cumsum(post, axis=1)
    draw = rng.random(len(values))[:, None] * cumulative[:, -1:]
    mode = np.minimum((cumulative < draw).sum(axis=1), state.n_modes - 1)
    alpha = (z[:, 0] - means[mode]) / (WINDOW * stds[mode])
    return np.clip(alpha, -ALPHA_LIMIT, ALPHA_LIMIT), mode


def decode_modes(state: ModeState, alpha: np.ndarray, mode: np.ndarray,
                 rng: np.random.Generator | None = None) -> np.ndarray:
    """Invert :func:`encode_modes`; results are clipped to the observed range, then calibrated
    (:meth:`ModeState.calibrate`, which needs ``rng``) when the state has a calibration."""
    means, stds = np.asarray(state.means), np.asarray(state.stds)
    z = np.clip(alpha, -1.0, 1.0) * WINDOW * stds[mode] + means[mode]
    values = np.clip(state.from_scores(z * state.scale + state.loc), state.minimum, state.maximum)
    if state.generated is None:
        return values
    if rng is None:
        raise ValueError("decoding a calibrated column needs a random generator")
    return state.calibrate(values, rng)


class ModeTable:
    """Several continuous columns' states as arrays, to decode them all in one vectorized pass
    (:meth:`decode`), with the same results as :func:`decode_modes` column by column, unless a
    fitted dependence calibration moves the calibrated columns together (``dependence``)."""

    def __init__(self, states: Sequence[ModeState], dependence: tuple[Sequence[int], DependenceState] | None = None):
        self.states = tuple(states)
        self.dependence = dependence  # (positions in ``states``, the fitted state) of the dependence calibration
        width = max((s.n_modes for s in self.states), default=1)
        means = np.zeros((len(self.states), width))
        spreads = np.ones((len(self.states), width))  # a mode's half window: WINDOW standard deviations
        for c, state in enumerate(self.states):
            means[c, :state.n_modes] = state.means
            spreads[c, :state.n_modes] = np.asarray(state.stds) * WINDOW

        def column(field: str) -> np.ndarray:
            return np.array([getattr(s, field) for s in self.states], dtype=np.float64)[:, None]

        self.minimum, self.maximum = column("minimum"), column("maximum")  # (columns, 1)
        self._means, self._spreads, self._loc, self._scale, self._minimum, self._maximum = (
            torch.from_numpy(a) for a in (means, spreads, column("loc"), column("scale"), self.minimum, self.maximum))
        self.scored = [c for c, s in enumerate(self.states) if s.quantiles is not None]
        # calibrated columns whose two grids have one length: one batched map per length
        self.calibrated_order = [c for c, s in enumerate(self.states)
                                 if s.generated is not None and s.target is not None]
        row_of = {c: row for row, c in enumerate(self.calibrated_order)}
        lengths = {c: len(self.states[c].generated) for c in self.calibrated_order
                   if len(self.states[c].generated) == len(self.states[c].target)}
        self.mapped: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        for length in sorted(set(lengths.values())):
            members = np.array([c for c in self.calibrated_order if lengths.get(c) == length])
            source = np.array([self.states[c].generated for c in members], dtype=np.float64)
            target = np.array([self.states[c].target for c in members], dtype=np.float64)
            self.mapped.append((members, source, target, run_ends(source), np.array([row_of[c] for c in members])))
        # grids of unequal lengths (fit_calibration makes them equal): ModeState.calibrate_with one by one
        self.unmapped = [(c, row_of[c]) for c in self.calibrated_order if c not in lengths]
        self._dependence_rows: np.ndarray | None = None  # rows of ``uniform`` in decode that T moves
        if dependence is not None and dependence[1].matrix is not None and all(c in row_of for c in dependence[0]):
            self._dependence_rows = np.array([row_of[c] for c in dependence[0]])

    @property
    def calibrated(self) -> bool:
        return bool(self.calibrated_order)

    def decode(self, alpha: np.ndarray, mode: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """Decoded values ``(columns, rows)`` from ``alpha`` and ``mode``, both ``(columns, rows)``.

        Row ``c`` equals ``decode_modes(states[c], alpha[c], mode[c], rng)``, and the random draws
        are the same as those calls made in column order (all the calibrated columns' spike
        draws are taken in one block, which is the same stream).
        """
        mode_t = torch.from_numpy(np.ascontiguousarray(mode, dtype=np.int64))
        z = torch.from_numpy(np.ascontiguousarray(alpha, dtype=np.float64)).clamp(-1.0, 1.0)
        z = z.mul_(self._spreads.gather(1, mode_t)).add_(self._means.gather(1, mode_t))
        values = z.mul_(self._scale).add_(self._loc).numpy()
        for c in self.scored:
            values[c] = self.states[c].from_scores(values[c])
        values = torch.from_numpy(values).clamp_(self._minimum, self._maximum).numpy()
        if not self.calibrated:
            return values
        if rng is None:
            raise ValueError("decoding a calibrated column needs a random generator")
        uniform = rng.random((len(self.calibrated_order), values.shape[1]))  # one row per column, in column order
        if self._dependence_rows is not None:
            return self._calibrate_jointly(values, uniform)
        for members, source, target, ends, rows in self.mapped:
            values[members] = quantile_map_rows(source, target, ends, values[members], uniform[rows])
        for c, row in self.unmapped:
            values[c] = self.states[c].calibrate_with(values[c], uniform[row])
        return values

    def _calibrate_jointly(self, values: np.ndarray, uniform: np.ndarray) -> np.ndarray:
        """The marginal calibration in its two halves, ``F_generated`` then ``Q_train``, with the
        dependence calibration's map between them (:mod:`synthgan.transform.dependence`)."""
        probability = np.empty(uniform.shape)
        for members, source, _, ends, rows in self.mapped:
            probability[rows] = grid_positions(source, ends, values[members], uniform[rows]).numpy() / (
                source.shape[1] - 1)
        for c, row in self.unmapped:
            probability[row] = self.states[c].probability_with(values[c], uniform[row])
        rows_moved = self._dependence_rows
        probability[rows_moved] = self.dependence[1].apply(probability[rows_moved])
        for members, _, target, _, rows in self.mapped:
            values[members] = at_positions(target, torch.from_numpy(probability[rows] * (target.shape[1] - 1)))
        for c, row in self.unmapped:
            values[c] = self.states[c].target_at(probability[row])
        return values
