"""Dependence calibration: the numbers' normal-score correlation mapped onto the training one
between the two halves of the marginal calibration."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from synthgan import SynthGAN, persistence
from synthgan.transform.dependence import DependenceState, score_correlation, transport_map
from synthgan.transform.transformer import DataTransformer


def _correlation(seed: int, k: int = 4) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(k, 3 * k))
    covariance = a @ a.T
    scale = np.sqrt(np.diag(covariance))
    return covariance / np.outer(scale, scale)


def test_transport_map_moves_one_correlation_onto_the_other_and_no_further():
    source, target = _correlation(0), _correlation(1)
    t = transport_map(source, target)
    assert np.allclose(t @ source @ t.T, target, atol=1e-8)
    assert np.allclose(t, t.T)  # the optimal-transport map is symmetric (a Cholesky ratio is not)
    assert np.allclose(transport_map(target, target), np.eye(4), atol=1e-8)
    order = np.array([2, 0, 3, 1])  # the columns' order does not matter
    assert np.allclose(transport_map(source[np.ix_(order, order)], target[np.ix_(order, order)]),
                       t[np.ix_(order, order)], atol=1e-8)


def test_score_correlation_uses_the_rows_where_both_columns_are_present():
    rng = np.random.default_rng(0)
    scores = rng.multivariate_normal(np.zeros(3), [[1, 0.8, 0.3], [0.8, 1, 0.5], [0.3, 0.5, 1]], size=40_000).T
    present = rng.random(scores.shape) > 0.3
    probability = stats.norm.cdf(scores)
    probability[~present] = 0.999  # what a missing entry holds must not count
    estimate = score_correlation(probability, present)
    assert np.allclose(estimate, [[1, 0.8, 0.3], [0.8, 1, 0.5], [0.3, 0.5, 1]], atol=0.02)


def test_moved_scores_keep_uniform_marginals_when_the_scores_are_not_jointly_gaussian():
    """``T z`` is not standard normal when ``z`` is not jointly Gaussian (here a column is the
    larger of two others): each column goes back through its own grid, so its probabilities stay
    uniform, and the correlation still reaches the target."""
    rng = np.random.default_rng(0)
    u = rng.random((2, 40_000))
    probability = np.vstack([u, np.maximum(u[0], u[1]) ** 2])  # max of two uniforms, squared: uniform
    target = np.array([[1.0, 0.2, 0.9], [0.2, 1.0, 0.3], [0.9, 0.3, 1.0]])
    state = DependenceState.from_arrays([0, 1, 2], target).fitted(probability, np.ones(probability.shape, bool))
    moved = state.apply(probability)
    for column in moved:
        assert stats.kstest(column, "uniform").statistic < 0.01
    assert np.allclose(score_correlation(moved, np.ones(moved.shape, bool)), target, atol=0.03)
    assert DependenceState.from_json(state.to_json()) == state


def _sizes(n: int, spread: float, seed: int) -> pd.DataFrame:
    """Near-proportional sizes (``width`` = 2 x ``length`` up to ``spread``), a count, a category and
    a column with missing values."""
    rng = np.random.default_rng(seed)
    length = rng.lognormal(0.0, 0.4, n)
    weight = length ** 3 * np.exp(rng.normal(0, spread, n))
    weight[rng.random(n) < 0.2] = np.nan
    return pd.DataFrame({"length": length, "width": 2 * length * np.exp(rng.normal(0, spread / 3, n)),
                         "weight": weight, "rings": rng.poisson(3 + 2 * length),
                         "kind": rng.choice(["a", "b", "c"], n)})


def _calibrated(dependence: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training rows tightly related, 'generated' rows loosely related: the decoded generated rows
    after fitting the calibration on them, and the training rows."""
    train, generated = _sizes(4000, 0.05, 0), _sizes(20_000, 0.6, 1)
    rng = np.random.default_rng(0)
    transformer = DataTransformer(calibration=True, dependence=dependence).fit(train, rng)
    transformer.fit_calibration([transformer.encode(generated, rng)], rng)
    return transformer.inverse_transform(transformer.encode(generated, rng), np.random.default_rng(1)), train


def test_decoded_numbers_take_the_training_dependence_and_keep_their_marginals():
    with_map, train = _calibrated(True)
    marginal_only, _ = _calibrated(False)
    real = train[["length", "width", "weight"]].corr("spearman")
    for frame, close in ((with_map, True), (marginal_only, False)):
        gap = (frame[["length", "width", "weight"]].corr("spearman") - real).abs().to_numpy().max()
        assert (gap < 0.03) if close else (gap > 0.2), gap
        for column in ("length", "width", "weight", "rings"):
            assert stats.ks_2samp(frame[column].dropna(), train[column].dropna()).statistic < 0.03, column
    # missing values stay where the generated rows had them; the integer column stays integer
    assert with_map["weight"].isna().mean() == pytest.approx(marginal_only["weight"].isna().mean())
    assert with_map["rings"].dtype == train["rings"].dtype
    ratio = np.log(with_map["width"] / with_map["length"])
    assert ratio.std() < 0.5 * np.log(marginal_only["width"] / marginal_only["length"]).std()


def test_estimator_fits_saves_and_loads_the_map(tmp_path):
    df = _sizes(1500, 0.05, 2)
    small = dict(epochs=2, batch_size=100, verbose=False, random_state=0)
    assert SynthGAN().dependence_calibration is False
    fitted = SynthGAN(dependence_calibration=True, **small).fit(df)
    state = fitted.transformer_.dependence_
    assert state is not None and state.matrix is not None
    assert [fitted.transformer_.specs_[k].name for k in state.columns] == ["length", "width", "weight", "rings"]
    path = tmp_path / "m.synthgan"
    fitted.save(path)
    loaded = SynthGAN.load(path)
    pd.testing.assert_frame_equal(loaded.sample(500, random_state=4), fitted.sample(500, random_state=4))
    # the map changes what is sampled, and only the numbers it covers (the same weights and draws)
    with_map = fitted.sample(2000, random_state=4)
    fitted.transformer_.dependence_ = dataclasses.replace(state, matrix=None)
    without = fitted.sample(2000, random_state=4)
    fitted.transformer_.dependence_ = state
    assert not np.allclose(with_map["width"], without["width"])
    pd.testing.assert_series_equal(with_map["kind"], without["kind"])
    assert SynthGAN(dependence_calibration=False, **small).fit(df).transformer_.dependence_ is None
    # a file from before dependence calibration loads without it
    metadata, weights = persistence.read_model(path)
    metadata["params"].pop("dependence_calibration")
    metadata["transformer"].pop("dependence")
    metadata["transformer"]["params"].pop("dependence")
    old = tmp_path / "old.synthgan"
    persistence.write_model(old, metadata, weights)
    before = SynthGAN.load(old)
    assert before.dependence_calibration is False and before.transformer_.dependence_ is None
    assert len(before.sample(100, random_state=0)) == 100
    # no map where the marginal calibration is off (nor under epsilon: tests/test_privacy.py)
    off = SynthGAN(dependence_calibration=True, marginal_calibration=False, **small).fit(df)
    assert off.transformer_.dependence_ is None
