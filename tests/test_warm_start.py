"""A private fit's warm start: the private copula's release and accounting, the rows it draws, and
the fit that starts from them."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from opacus.accountants import RDPAccountant
from scipy import stats

import synthgan.estimator as estimator_module
from synthgan import SynthGAN, SynthGANError
from synthgan.privacy import warm_start
from synthgan.privacy.accounting import PrivacyBudget

SMALL = dict(batch_size=100, embedding_dim=8, generator_dim=(32,), discriminator_dim=(32,), verbose=False,
             random_state=0)


def correlated(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    """Two numbers with rank correlation about 0.9 and a category that follows them."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    y = 0.9 * x + np.sqrt(1 - 0.81) * rng.normal(size=n)
    return pd.DataFrame({"x": 50 + 10 * x, "y": np.exp(y), "band": np.where(x + 0.3 * rng.normal(size=n) > 0,
                                                                            "high", "low")})


def quiet_fit(model: SynthGAN, frame: pd.DataFrame) -> SynthGAN:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(frame)


def test_budget_is_split_three_ways_and_the_warm_start_costs_one_gaussian_mechanism(monkeypatch):
    monkeypatch.setattr(estimator_module.secrets, "randbits", lambda bits: 7)
    model = quiet_fit(SynthGAN(epochs=1, epsilon=3.0, warm_start_share=0.3, **SMALL), correlated(2000))
    p = model.privacy_
    assert p["delta_statistics"] == p["delta_warm_start"] == p["delta_training"] == pytest.approx(1e-5 / 3)
    accountant = RDPAccountant()
    accountant.step(noise_multiplier=p["warm_start_noise_multiplier"], sample_rate=1.0)
    assert p["epsilon_warm_start"] == pytest.approx(
        accountant.get_epsilon(p["delta_warm_start"], alphas=warm_start.ALPHAS), rel=1e-9)
    assert 0.3 * 3.0 * 0.99 <= p["epsilon_warm_start"] <= 0.3 * 3.0
    assert p["epsilon"] == pytest.approx(p["epsilon_statistics"] + p["epsilon_warm_start"] + p["epsilon_training"])
    assert 2.9 < p["epsilon"] <= 3.0 and p["delta"] <= 1e-5 * (1 + 1e-9)
    assert p["epsilon_training"] <= 3.0 * (1 - 0.2 - 0.3) + 1e-9
    budget = PrivacyBudget(3.0, 1e-5, 0.2)  # no warm start: halves, as before it existed
    assert (budget.statistics_delta, budget.warm_start_delta, budget.training_delta) == (5e-6, 0.0, 5e-6)
    assert budget.training_epsilon == pytest.approx(3.0 * 0.8)


def test_the_release_clips_each_row_and_recovers_the_correlation_at_a_loose_budget():
    rng = np.random.default_rng(0)
    z = rng.multivariate_normal([0, 0, 0], [[1, 0.8, 0], [0.8, 1, -0.5], [0, -0.5, 1]], size=20_000)
    loose = warm_start.private_correlation(z, warm_start.correlation_noise_multiplier(50.0, 1e-6), rng)
    np.testing.assert_allclose(loose, np.corrcoef(z, rowvar=False), atol=0.05)  # the norm clip biases a little
    assert np.allclose(np.diag(loose), 1.0) and np.all(np.linalg.eigvalsh(loose) > 0)
    # each row's scores are clipped to norm C = 1.5 sqrt(d), so one row moves the sum by at most C^2
    clipped, bound = warm_start.clip_scores(np.vstack([z[:100], [[1e6, -1e6, 1e6], [3.9, 3.9, 3.9]]]))
    assert bound == pytest.approx(1.5 * np.sqrt(3))
    assert np.all(np.linalg.norm(clipped, axis=1) <= bound + 1e-12)
    inside = np.linalg.norm(z[:100], axis=1) <= bound
    np.testing.assert_array_equal(clipped[:100][inside], z[:100][inside])  # rows within the bound stay as they are
    for epsilon in (0.05, 0.5, 5.0):  # small ones need RDP orders beyond opacus' default 63
        sigma = warm_start.correlation_noise_multiplier(epsilon, 1e-6)
        assert 0.99 * epsilon <= warm_start.correlation_epsilon(sigma, 1e-6) <= epsilon
    tight = warm_start.private_correlation(z[:500], warm_start.correlation_noise_multiplier(0.1, 1e-6), rng)
    assert np.abs(tight - np.corrcoef(z[:500], rowvar=False)).max() > 0.05  # the noise is there


def test_released_marginals_give_uniform_scores_and_invert_to_quantiles():
    rng = np.random.default_rng(1)
    lows = np.array([0.0, 0.0, 1.0, 2.0])  # an exact-value bin at 0, then three ranges
    highs = np.array([0.0, 1.0, 2.0, 4.0])
    weights = np.array([300.0, 200.0, 400.0, 100.0])
    histogram = (lows, highs, weights)
    bin_of = rng.choice(4, size=20_000, p=weights / weights.sum())
    values = rng.uniform(lows[bin_of], highs[bin_of])
    u = warm_start.marginal_scores(values, histogram, 0.0, rng)
    assert stats.kstest(u, "uniform").pvalue > 0.01  # ties at the exact bin are spread over its mass
    quantiles = warm_start.histogram_quantiles(histogram, 257)
    assert quantiles[0] == 0.0 and quantiles[-1] == 4.0 and np.all(np.diff(quantiles) >= 0)
    assert np.quantile(values, 0.6) == pytest.approx(np.interp(0.6, np.linspace(0, 1, 257), quantiles), abs=0.02)
    with_missing = warm_start.marginal_scores(np.append(values[:1000], [np.nan] * 250), histogram, 0.2, rng)
    assert np.all(with_missing[1000:] >= 0.8) and np.all(with_missing[:1000] <= 0.8)
    categories = warm_start.category_scores(np.array([0, 1, 1, 2] * 2500), np.array([0.25, 0.5, 0.25]), rng)
    assert stats.kstest(categories, "uniform").pvalue > 0.01


def test_copula_rows_keep_the_dependence_and_read_the_rows_only_through_the_release(monkeypatch):
    monkeypatch.setattr(estimator_module.secrets, "randbits", lambda bits: 11)
    frame = correlated()
    fitted = quiet_fit(SynthGAN(epochs=1, epsilon=5.0, **SMALL), frame)
    transformer = fitted.transformer_
    encoded = transformer.encode(frame, np.random.default_rng(0))
    sigma = warm_start.correlation_noise_multiplier(1.0, 1e-6)
    rows = warm_start.warm_start_rows(frame, encoded, transformer, sigma, 4000, np.random.default_rng(2),
                                      fitted.device_)
    decoded = transformer.inverse_transform(rows.dense(), np.random.default_rng(3))
    assert stats.spearmanr(decoded["x"], decoded["y"]).statistic > 0.75
    assert (decoded.groupby("band")["x"].mean()["high"] - decoded.groupby("band")["x"].mean()["low"]) > 5
    assert stats.ks_2samp(decoded["x"], frame["x"]).statistic < 0.1
    shuffled = frame.assign(y=np.random.default_rng(4).permutation(frame["y"].to_numpy()))
    independent = warm_start.warm_start_rows(shuffled, encoded, transformer, sigma, 4000, np.random.default_rng(2),
                                             fitted.device_)
    out = transformer.inverse_transform(independent.dense(), np.random.default_rng(3))
    assert abs(stats.spearmanr(out["x"], out["y"]).statistic) < 0.15  # the correlation is the rows', not made up


def test_a_warm_started_private_fit_keeps_a_correlation_that_few_private_steps_do_not(monkeypatch):
    monkeypatch.setattr(estimator_module.secrets, "randbits", lambda bits: 5)
    frame = correlated()
    params = dict(epochs=10, epsilon=3.0, **SMALL)  # 300 critic steps: too few to learn the pair privately
    cold = quiet_fit(SynthGAN(**params), frame).sample(3000, random_state=0)
    warm_model = quiet_fit(SynthGAN(warm_start_share=0.3, **params), frame)
    warm = warm_model.sample(3000, random_state=0)
    warm_rho = stats.spearmanr(warm["x"], warm["y"]).statistic
    cold_rho = stats.spearmanr(cold["x"], cold["y"]).statistic
    assert warm_rho > 0.6 and warm_rho > cold_rho + 0.3  # measured: 0.80 against 0.14
    assert warm_model.privacy_["warm_start_epochs"] == 10


def test_warm_start_options_are_checked():
    with pytest.raises(SynthGANError, match="warm_start_share only apply to private training"):
        SynthGAN(warm_start_share=0.2).fit(correlated(200))
    with pytest.raises(SynthGANError, match="leave nothing of epsilon for DP-SGD"):
        SynthGAN(epsilon=1.0, statistics_share=0.5, warm_start_share=0.5).fit(correlated(200))
    with pytest.raises(SynthGANError, match="warm_start_share must be a number from 0 up to"):
        SynthGAN(epsilon=1.0, warm_start_share=1.5).fit(correlated(200))
