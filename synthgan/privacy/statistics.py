"""Differentially private versions of every statistic the transformer reads from the real rows.

The exact transformer (:func:`synthgan.transform.transformer.exact_states`) reads, per column, the
mode mixture, minimum and maximum, category levels and counts, missing rates, and for identifier
and personal-data columns the largest id and the text lengths. In private mode none of these is
read; each is replaced by the output of a noisy query on the rows. Every query is a histogram (one
row moves one count by one: L2 sensitivity 1) released with Gaussian noise of the same standard
deviation ``sigma``; the k queries together are ``rho``-zero-concentrated DP with
``rho = k / (2 sigma**2)`` (Bun & Steinke, 2016), and ``rho`` is the largest whose conversion
``epsilon = rho + 2 sqrt(rho ln(1 / delta_c))`` fits the statistics share of epsilon, with
``delta_c`` half the statistics share of delta:

* **Magnitudes** of a number or date column without public bounds: a histogram over a fixed,
  data-independent grid of signed powers of two (``±2**e`` for ``e`` in ``[-16, 64]``, and a zero
  bin); the bins whose noisy count clears a threshold (set for a 1% chance of any false bin; the
  bin with the largest noisy count when none does) are the regions the column lives in.
* **Distribution** of a number or date column: a histogram on a grid derived from those regions
  alone (one bin per value for integer-like columns with at most 128 values in the regions,
  otherwise each region cut into equal parts, 64 in all, and an exact-zero bin), with one more
  bin for missing values. The mode mixture is then fitted to points drawn from the noisy
  histogram (post-processing), and when asked the quantiles of that histogram are the marginal
  calibration's target (:func:`histogram_quantiles`; post-processing too); generated values are clipped to the
  regions' span. With public bounds the regions are the bounds.
* **Levels** of a discrete column. When the levels are public (declared in ``public_categories``, a
  pandas ``category`` dtype's categories, or booleans) every declared level is a bin; otherwise only
  observed levels are candidates and a level is released only when its noisy count exceeds
  ``1 + sigma * z(1 - delta_q)``, so a level held by one row is released with probability at most
  ``delta_q`` (the stability-based histogram); the ``delta_q`` of all such columns add up to the
  other half of the statistics' delta. Rows whose level is not released are given a released level
  at random before encoding.
* **Identifiers**: new integer ids start above the private range of the training ids; personal-data
  columns get a noisy missing rate; free text uses a fixed length, not the training lengths.

Treated as public (not protected): column names and order, dtypes, the kind each column is detected
as (number, category, date, identifier, personal data), whether a number column holds whole
numbers or dates whole days, the letter/digit shape of text ids, and the number of rows (which
sets the sampling rate and the default delta).
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from scipy.special import ndtri

from synthgan.errors import DataError
from synthgan.transform import identifiers
from synthgan.transform.categories import CategoryState, _native
from synthgan.transform.columns import ColumnSpec, continuous_values
from synthgan.transform.modes import ModeState, fit_modes, quantile_points

EXPONENTS = np.arange(-16, 65)  # magnitude grid of the range query: 2**e
_GRID_BINS = 64
_EXACT_GRID_MAX = 128
_FALSE_BIN_CHANCE = 0.01
_TEXT_LENGTHS = (12.0, 4.0)
_TARGET_DRAWS = 100_000  # draws of a noisy histogram whose quantiles are the calibration's target


@dataclass
class Release:
    """What a private fit may use: specs, column states and noisy slot counts, plus the budget spent."""

    specs: list[ColumnSpec]
    states: dict[str, ModeState | CategoryState] = field(default_factory=dict)
    slot_counts: dict[str, np.ndarray] = field(default_factory=dict)  # category slots
    missing_counts: dict[str, np.ndarray] = field(default_factory=dict)  # (present, missing) of numbers
    epsilon: float = 0.0
    delta: float = 0.0
    queries: int = 0
    sigma: float = 0.0


def _can_hold_missing(dtype: str) -> bool:
    resolved = pd.api.types.pandas_dtype(dtype)
    return not (isinstance(resolved, np.dtype) and resolved.kind in "iub")


def _noisy(counts: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Counts plus Gaussian noise of standard deviation ``sigma``."""
    return counts.astype(np.float64) + rng.normal(0.0, sigma, size=counts.shape)


def zcdp_rho(epsilon: float, delta: float) -> float:
    """The largest rho whose zCDP-to-(epsilon, delta) conversion ``rho + 2 sqrt(rho ln(1/delta))`` is
    at most ``epsilon``."""
    log_term = math.log(1.0 / delta)
    return (math.sqrt(log_term + epsilon) - math.sqrt(log_term)) ** 2


def _tail(probability: float) -> float:
    """z such that P(N(0, 1) > z) = probability."""
    return float(-ndtri(probability))


def _magnitude_bins(values: np.ndarray) -> np.ndarray:
    """Bin of each finite value on the signed power-of-two grid: 0..E-1 negative (largest magnitude
    first), E zero, E+1..2E positive."""
    n = len(EXPONENTS)
    magnitude = np.abs(values)
    small = magnitude < 2.0 ** EXPONENTS[0]
    exponent = np.floor(np.log2(np.where(small, 1.0, magnitude)))
    index = np.clip(exponent - EXPONENTS[0], 0, n - 1).astype(np.int64)
    return np.where(small, n, np.where(values > 0, n + 1 + index, n - 1 - index))


def _magnitude_edges(bin_index: int) -> tuple[float, float]:
    n = len(EXPONENTS)
    if bin_index == n:
        return -(2.0 ** EXPONENTS[0]), 2.0 ** EXPONENTS[0]
    if bin_index > n:
        e = EXPONENTS[bin_index - n - 1]
        return 2.0**e, 2.0 ** (e + 1)
    e = EXPONENTS[n - 1 - bin_index]
    return -(2.0 ** (e + 1)), -(2.0**e)


def private_magnitudes(values: np.ndarray, sigma: float, rng: np.random.Generator) -> list[tuple[float, float]]:
    """The signed power-of-two bins (as ``(low, high)``, ``(0, 0)`` for the zero bin) holding the bulk
    of ``values`` (finite, non-missing), from one noisy histogram over a fixed grid."""
    size = 2 * len(EXPONENTS) + 1
    noisy = _noisy(np.bincount(_magnitude_bins(values), minlength=size), sigma, rng)
    chosen = np.flatnonzero(noisy > sigma * _tail(_FALSE_BIN_CHANCE / size))
    if len(chosen) == 0:
        chosen = np.array([int(np.argmax(noisy))])
    return [(0.0, 0.0) if b == len(EXPONENTS) else _magnitude_edges(int(b)) for b in sorted(chosen)]


def private_range(values: np.ndarray, sigma: float, rng: np.random.Generator) -> tuple[float, float]:
    """A range covering the bulk of ``values`` (see :func:`private_magnitudes`)."""
    bins = private_magnitudes(values, sigma, rng)
    return min(low for low, _ in bins), max(high for _, high in bins)


def _grid(regions: list[tuple[float, float]], step: float) -> tuple[np.ndarray, np.ndarray]:
    """Histogram bins ``(lows, highs)`` over the regions (``low == high``: an exact value); they
    depend on the regions alone. Integer-like columns get one bin per value when the regions hold
    at most 128 values; otherwise each region is cut into equal parts, 64 in all."""
    points = [low for low, high in regions if low == high]
    spans = [(low, high) for low, high in regions if low < high]
    if step > 0:
        # every multiple of the step in each region, both ends included: a positive magnitude region
        # [2**e, 2**(e+1)) holds its lower end, a negative one its upper end, declared bounds both
        # (the tolerance keeps an end that division by a decimal step puts a hair off a multiple)
        ranges = [(math.ceil(low / step - 1e-9), math.floor(high / step + 1e-9) + 1) for low, high in spans]
        # count before building: a region up to 2**64 wide holds far too many values to list
        if 0 < sum(end - start for start, end in ranges) + len(points) <= _EXACT_GRID_MAX:
            values = [np.arange(start, end) * step for start, end in ranges]
            exact = np.unique(np.concatenate(values + [np.asarray(points, dtype=np.float64)]))
            return exact, exact
    parts = max(4, _GRID_BINS // max(len(spans), 1))
    lows, highs = [np.asarray(points, dtype=np.float64)], [np.asarray(points, dtype=np.float64)]
    for low, high in spans:
        edges = np.linspace(low, high, parts + 1)
        lows.append(edges[:-1])
        highs.append(edges[1:])
    lows_all, highs_all = np.concatenate(lows), np.concatenate(highs)
    order = np.lexsort((highs_all, lows_all))
    return lows_all[order], highs_all[order]


def _assign(values: np.ndarray, lows: np.ndarray, highs: np.ndarray) -> np.ndarray:
    """Index of the bin holding each value (exact-value bins first), or of the nearest bin."""
    index = np.clip(np.searchsorted(lows, values, side="right") - 1, 0, len(lows) - 1)
    point = lows == highs
    if point.any():  # a value equal to an exact-value bin goes there even when a range also holds it
        at = np.flatnonzero(point)
        hit = np.searchsorted(lows[at], values).clip(0, len(at) - 1)
        index = np.where(lows[at][hit] == values, at[hit], index)
    beyond = values > highs[index]
    following = np.minimum(index + 1, len(lows) - 1)
    closer = beyond & (np.abs(lows[following] - values) < values - highs[index])
    return np.where(closer, following, index)


def _fit_number(series: pd.Series, spec: ColumnSpec, bounds: tuple[float, float] | None,
                sigma: float, rng: np.random.Generator, max_modes: int, max_rows: int,
                separation: float | None = None, target: bool = False,
                quantile: bool = False, widening: float | None = None) -> tuple[ColumnSpec, ModeState, np.ndarray]:
    values = continuous_values(series, spec.kind)
    null = np.isnan(values)
    present = values[~null]
    if bounds is None:
        regions = private_magnitudes(present, sigma, rng)
    else:
        regions = [bounds] + ([(0.0, 0.0)] if bounds[0] < 0 < bounds[1] and spec.kind != "datetime" else [])
    lows, highs = _grid(regions, spec.step)
    counts = np.bincount(_assign(present, lows, highs), minlength=len(lows))
    noisy = np.maximum(_noisy(np.append(counts, null.sum()), sigma, rng), 0.0)
    missing = noisy[-1] if _can_hold_missing(spec.dtype) else 0.0
    weights = noisy[:-1]
    if weights.sum() <= 0:
        weights = np.ones_like(weights)
    floor = 2.0 * sigma
    grid = histogram_quantiles(lows, highs, weights, rng, floor=floor) if target or quantile else None
    scored = quantile and grid is not None  # the mixture is fitted to the normal scores of the grid's histogram
    histogram = _above_floor(lows, highs, weights, floor) if scored else (lows, highs, weights)
    points = _histogram_draws(*histogram, max(max_rows, 1000), rng)
    state = fit_modes([points], max_modes, max_rows, rng, separation=separation, widening=widening,
                      given_grids=[np.asarray(grid)] if scored else None)[0]
    state = dataclasses.replace(state, minimum=float(lows.min()), maximum=float(highs.max()),
                                target=grid if target else None)
    spec = dataclasses.replace(spec, has_nulls=bool(missing > 2.0 * sigma), constant=False, value=None)
    return spec, state, np.array([max(float(weights.sum()), 1.0), missing])


def _histogram_draws(lows: np.ndarray, highs: np.ndarray, weights: np.ndarray, n: int,
                     rng: np.random.Generator) -> np.ndarray:
    """``n`` draws of the distribution a histogram describes: a bin by its weight, then a value
    uniform in it (its value where ``lows == highs``)."""
    bins = rng.choice(len(weights), size=n, p=weights / weights.sum())
    return rng.uniform(lows[bins], highs[bins])


def _above_floor(lows: np.ndarray, highs: np.ndarray, weights: np.ndarray,
                 floor: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The bins of a histogram whose weight is above ``floor`` (all of them when none is)."""
    kept = weights > floor
    return (lows[kept], highs[kept], weights[kept]) if kept.any() else (lows, highs, weights)


def histogram_quantiles(lows: np.ndarray, highs: np.ndarray, weights: np.ndarray, rng: np.random.Generator,
                        floor: float = 0.0) -> tuple[float, ...] | None:
    """The quantile grid of the distribution a noisy histogram describes (bin ``i`` uniform on
    ``[lows[i], highs[i]]``, a point where they are equal, with weight ``weights[i]``): the
    marginal calibration's target in private mode, in place of the training rows' own quantiles.

    Estimated from :data:`_TARGET_DRAWS` draws of that distribution, at
    :func:`synthgan.transform.modes.quantile_points` evenly spaced probabilities for that many values
    (the histogram's total, itself a noisy count). Bins whose weight is at most ``floor`` are left
    out (unless all are): the release's noise gives empty bins small positive counts, which would
    spread mass over values the column never takes, far into a grid's empty tail (two noise standard
    deviations keep out all but about 2% of the empty bins). It reads nothing but the release:
    post-processing. None when the histogram holds a single value (nothing to calibrate).
    """
    lows, highs, weights = _above_floor(lows, highs, weights, floor)
    total = float(weights.sum())
    if total <= 0 or lows.min() == highs.max():
        return None
    draws = _histogram_draws(lows, highs, weights, _TARGET_DRAWS, rng)
    return tuple(map(float, np.quantile(draws, np.linspace(0, 1, quantile_points(int(total))))))


def _fit_levels(series: pd.Series, spec: ColumnSpec, declared: Sequence | None, sigma: float,
                delta: float, rng: np.random.Generator, max_categories: int) -> tuple[ColumnSpec, CategoryState,
                                                                                         np.ndarray]:
    counts = series.value_counts(dropna=False)
    observed = {_native(k): int(v) for k, v in counts.items()}
    nullable = _can_hold_missing(spec.dtype)
    if declared is not None:
        domain = [_native(v) for v in declared] + ([None] if nullable else [])
        true = np.array([observed.get(v, 0) for v in domain], dtype=np.int64)
        noisy = _noisy(true, sigma, rng)
        threshold = 2.0 * sigma
        keep = noisy > threshold
        if not keep.any():  # the declared level with the largest noisy count
            declared_only = np.where([v is not None for v in domain], noisy, -np.inf)
            keep = np.arange(len(domain)) == int(np.argmax(declared_only))
    else:
        domain = list(observed)
        noisy = _noisy(np.array(list(observed.values()), dtype=np.int64), sigma, rng)
        threshold = 1.0 + sigma * _tail(delta)
        keep = noisy > threshold
        if not keep.any():
            message = (f"column {spec.name!r}: no level is frequent enough to be released privately (each needs a "
                       f"noisy count above {threshold:.0f} rows at this epsilon); declare its levels in "
                       "public_categories, raise epsilon, or drop the column")
            if not nullable:
                raise DataError(message)
            warnings.warn(message + "; until then it is generated as missing", UserWarning, stacklevel=4)
            state = CategoryState((None,))
            spec = dataclasses.replace(spec, has_nulls=True, constant=False, value=None)
            return spec, state, np.array([max(int(round(noisy.sum())), 1)], dtype=np.int64)
    order = np.argsort(-noisy[keep], kind="stable")
    levels = [domain[i] for i in np.flatnonzero(keep)[order]]
    weights = noisy[keep][order]
    if len(levels) <= max_categories:
        state = CategoryState(tuple(levels))
        slots = weights
    else:
        cut = max_categories - 1
        rare = weights[cut:]
        state = CategoryState(tuple(levels[:cut]), tuple(levels[cut:]), tuple((rare / rare.sum()).tolist()))
        slots = np.append(weights[:cut], rare.sum())
    spec = dataclasses.replace(spec, has_nulls=None in levels, constant=False, value=None)
    return spec, state, np.maximum(np.rint(slots), 1).astype(np.int64)


def _number_bound(values: Sequence, sigma: float, rng: np.random.Generator) -> int:
    numbers = np.asarray([v for v in values if v is not None], dtype=np.float64)
    if len(numbers) == 0:
        return 0
    high = private_range(numbers, sigma, rng)[1]
    return int(max(high, 0.0)) + 1


def _fit_generated(series: pd.Series, spec: ColumnSpec, sigma: float, rng: np.random.Generator) -> ColumnSpec:
    plan = {"kind": spec.generated["kind"], "null_rate": 0.0}
    null = series.isna().to_numpy()
    values = series[~null]
    kind = plan["kind"]
    if kind == "id-integer":
        plan["start"] = _number_bound(values.to_numpy(dtype=np.float64), sigma, rng)
    elif kind == "id-text":
        plan["shape"] = spec.generated["shape"]
        plan["start"] = _number_bound([identifiers.id_number(plan["shape"], v) for v in values.astype(str)],
                                      sigma, rng)
    else:
        if kind == "text":
            plan["lengths"] = list(_TEXT_LENGTHS)
        if _can_hold_missing(spec.dtype):
            noisy = np.maximum(_noisy(np.array([(~null).sum(), null.sum()]), sigma, rng), 0.0)
            plan["null_rate"] = float(noisy[1] / max(noisy.sum(), 1.0)) if noisy[1] > 2.0 * sigma else 0.0
    return dataclasses.replace(spec, generated=plan, has_nulls=plan["null_rate"] > 0)


def _bounds_in_model_units(value: Sequence, spec: ColumnSpec) -> tuple[float, float]:
    low, high = value
    if spec.kind == "datetime":
        low, high = (float(pd.Timestamp(v).tz_localize(None).value) if pd.Timestamp(v).tzinfo is None
                     else float(pd.Timestamp(v).tz_convert("UTC").tz_localize(None).value) for v in (low, high))
    low, high = float(low), float(high)
    if not (math.isfinite(low) and math.isfinite(high)) or low >= high:
        raise DataError(f"public_bounds[{spec.name!r}] must be two finite values low < high, got {value!r}")
    return low, high


def release_statistics(df: pd.DataFrame, specs: Sequence[ColumnSpec], rng: np.random.Generator, *,
                       epsilon: float, delta: float, public_bounds: Mapping | None = None,
                       public_categories: Mapping | None = None, max_modes: int = 10, max_categories: int = 100,
                       max_rows: int = 5000, mode_separation: float | None = None,
                       calibration_targets: bool = False, quantile: bool = False,
                       mode_widening: float | None = None) -> Release:
    """Private specs and column states for ``df`` at a total cost of ``(epsilon, delta)``.

    See the module docstring for the queries. ``public_bounds`` maps number/date columns to
    ``(low, high)`` and ``public_categories`` maps discrete columns to their list of levels; both
    are taken as public knowledge (they cost nothing and are not checked against the data).
    ``mode_separation`` merges the modes of the mixtures fitted on the released histograms, no
    merge widening a mode more than ``mode_widening`` times (post-processing;
    :func:`synthgan.transform.modes.merge_modes`). ``calibration_targets`` gives
    every number's state the quantile grid of its histogram as ``target`` (:func:`histogram_quantiles`,
    post-processing), for the marginal calibration. ``quantile`` encodes every number by its normal
    scores through that same grid (``numeric_encoding="quantile"``; post-processing too): the
    mixture is fitted to the scores of the histogram's draws.
    """
    public_bounds = dict(public_bounds or {})
    public_categories = dict(public_categories or {})
    known = {spec.name for spec in specs}
    for given, label in ((public_bounds, "public_bounds"), (public_categories, "public_categories")):
        unknown = [k for k in given if k not in known]
        if unknown:
            raise DataError(f"{label} names columns not in the table: {unknown}")
    plans = []
    for spec in specs:
        if spec.generated is not None:
            costly = spec.generated["kind"].startswith("id") or _can_hold_missing(spec.dtype)
            plans.append(("generated", 1 if costly else 0, False))
        elif spec.continuous:
            if spec.name in public_categories:
                raise DataError(f"public_categories names {spec.name!r}, a {spec.kind} column; give it "
                                "public_bounds, or list it in discrete_columns to model it as categories")
            plans.append(("number", 1 if spec.name in public_bounds else 2, False))
        else:
            if spec.name in public_bounds:
                raise DataError(f"public_bounds names {spec.name!r}, a discrete column; give its levels in "
                                "public_categories instead")
            unknown_domain = spec.name not in public_categories and spec.categories is None \
                and spec.kind != "boolean"
            plans.append(("levels", 1, unknown_domain))
    queries = sum(cost for _, cost, _ in plans)
    thresholded = sum(1 for _, _, unknown_domain in plans if unknown_domain)
    conversion_delta = delta / 2 if thresholded else delta
    sigma = math.sqrt(max(queries, 1) / (2.0 * zcdp_rho(epsilon, conversion_delta)))
    per_delta = (delta - conversion_delta) / max(thresholded, 1)
    release = Release(specs=[], epsilon=epsilon if queries else 0.0, delta=delta if queries else 0.0,
                      queries=queries, sigma=sigma)
    for spec, (what, cost, _) in zip(specs, plans):
        series = df[spec.name]
        if what == "generated":
            spec = _fit_generated(series, spec, sigma, rng) if cost else spec
        elif what == "number":
            bounds = _bounds_in_model_units(public_bounds[spec.name], spec) if spec.name in public_bounds else None
            spec, state, missing = _fit_number(series, spec, bounds, sigma, rng, max_modes, max_rows,
                                               mode_separation, calibration_targets, quantile, mode_widening)
            release.states[spec.name] = state
            release.missing_counts[spec.name] = missing
        else:
            declared = public_categories.get(spec.name)
            if declared is None and spec.categories is not None:
                declared = spec.categories
            if declared is None and spec.kind == "boolean":
                declared = (False, True)
            spec, state, slots = _fit_levels(series, spec, declared, sigma, per_delta, rng,
                                             max_categories)
            release.states[spec.name] = state
            release.slot_counts[spec.name] = slots
        release.specs.append(spec)
    return release


def conform(df: pd.DataFrame, specs: Sequence[ColumnSpec], states: Sequence, rng: np.random.Generator) -> pd.DataFrame:
    """A copy of ``df`` whose discrete values all are released levels: a row holding a level that was
    not released gets a released level drawn at random (``df`` itself is not changed)."""
    out = df.copy()
    for spec, state in zip(specs, states):
        if not isinstance(state, CategoryState):
            continue
        column = out[spec.name]
        released = [v for v in state.all_levels if v is not None]
        known = column.astype(object).isin(released).to_numpy()
        if None in state.all_levels:
            known |= column.isna().to_numpy()
        if known.all():
            continue
        choices = np.empty(len(state.all_levels), dtype=object)
        choices[:] = state.all_levels
        drawn = choices[rng.integers(len(choices), size=int((~known).sum()))]
        values = column.astype(object).to_numpy(copy=True)
        values[~known] = drawn
        if isinstance(column.dtype, pd.CategoricalDtype):
            out[spec.name] = pd.Categorical(values, categories=column.cat.categories, ordered=column.cat.ordered)
        else:
            out[spec.name] = pd.Series(values, index=column.index).astype(column.dtype)
    return out


def private_condition_counts(transformer) -> list[np.ndarray]:
    """Training-by-sampling counts of each condition span from a private transformer's release
    (noisy category counts; (present, missing) counts of numbers with missing values)."""
    release = transformer.release_
    counts = []
    for span in transformer.layout_.condition_spans:
        if span.role == "category":
            counts.append(np.asarray(release.slot_counts[span.column], dtype=np.int64))
        else:
            counts.append(np.maximum(np.rint(release.missing_counts[span.column]), 1).astype(np.int64))
    return counts
