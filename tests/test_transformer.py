"""Data transformer: round trip, caps, missing values, layout."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from synthgan.transform.transformer import DataTransformer


def fit_transform(frame, **params):
    rng = np.random.default_rng(0)
    transformer = DataTransformer(**params).fit(frame, rng)
    return transformer, transformer.transform(frame, rng), rng


def test_round_trip_reproduces_table(mixed):
    transformer, encoded, rng = fit_transform(mixed)
    back = transformer.inverse_transform(encoded, rng)
    assert back.dtypes.to_dict() == mixed.dtypes.to_dict()
    for column in ["count", "flag", "group", "city", "size", "when"]:
        pd.testing.assert_series_equal(back[column], mixed[column])
    close = np.isclose(back["amount"], mixed["amount"], rtol=1e-5, atol=1e-6, equal_nan=True)
    assert close.mean() >= 0.99  # values beyond 4 sigma of their mode are clipped, as in the paper


def test_round_trip_on_adult(datasets):
    real = pd.read_parquet(datasets / "adult.parquet")
    transformer, encoded, rng = fit_transform(real)
    back = transformer.inverse_transform(encoded, rng)
    for column in real.columns:
        if real[column].dtype == object:
            pd.testing.assert_series_equal(back[column], real[column])
        else:
            assert (np.abs(back[column] - real[column]) <= 1).mean() > 0.99, column


def test_layout_covers_matrix_and_encodes_one_hots(mixed):
    transformer, encoded, _ = fit_transform(mixed)
    layout = transformer.layout_
    assert encoded.shape == (len(mixed), layout.dim) and encoded.dtype == np.float32
    for span in layout.spans:
        block = encoded[:, span.start:span.stop]
        if span.activation == "softmax":
            assert (block.sum(axis=1) == 1).all(), span
        else:
            assert (np.abs(block) < 1).all(), span
    roles = {(s.column, s.role) for s in layout.spans}
    assert ("amount", "missing") in roles and ("count", "missing") not in roles
    assert [(s.column, s.role) for s in layout.condition_spans] == [
        ("amount", "missing"), ("flag", "category"), ("group", "category"), ("city", "category"),
        ("size", "category")]


def test_mode_count_is_capped_and_finds_two_modes(mixed):
    transformer, _, _ = fit_transform(mixed, max_modes=10)
    state = transformer.states_[0]
    assert 2 <= state.n_modes <= 10
    centers = sorted(np.asarray(state.means) * state.scale + state.loc)
    assert any(abs(c - 10) < 3 for c in centers) and any(abs(c - 50) < 8 for c in centers)


def test_high_cardinality_column_is_capped():
    rng = np.random.default_rng(0)
    # 20,000 levels, each on 5 rows (a unique column would be set aside as an identifier)
    frame = pd.DataFrame({"user": [f"user{i % 20_000}" for i in range(100_000)], "x": rng.normal(size=100_000)})
    transformer, encoded, rng = fit_transform(frame, max_categories=50)
    span = transformer.layout_.spans_of("user")[0]
    assert span.width == 50
    assert encoded.shape[1] < 80
    back = transformer.inverse_transform(encoded, rng)
    assert back["user"].isin(set(frame["user"])).all()


def test_missing_rate_is_kept_exactly_by_encoding(mixed):
    transformer, encoded, rng = fit_transform(mixed)
    back = transformer.inverse_transform(encoded, rng)
    assert back["amount"].isna().sum() == mixed["amount"].isna().sum()
    assert back["city"].isna().sum() == mixed["city"].isna().sum()


def test_nullable_and_tz_aware_dtypes_survive():
    frame = pd.DataFrame({
        "n": pd.array([1, None, 3, 4, 2] * 10, dtype="Int64"),
        "b": pd.array([True, None, False, True, True] * 10, dtype="boolean"),
        "t": pd.date_range("2024-01-01 10:00", periods=50, freq="h", tz="Europe/Paris"),
        "s": pd.array(["p", "q", None, "p", "q"] * 10, dtype="string"),
    })
    transformer, encoded, rng = fit_transform(frame)
    back = transformer.inverse_transform(encoded, rng)
    assert back.dtypes.to_dict() == frame.dtypes.to_dict()
    pd.testing.assert_frame_equal(back, frame)


def test_decoded_values_are_clipped_to_observed_range(mixed):
    transformer, encoded, rng = fit_transform(mixed)
    wild = encoded.copy()
    value = transformer.layout_.spans_of("count")[0]
    wild[:, value.start] = 1.0  # far end of every mode
    back = transformer.inverse_transform(wild, rng)
    assert back["count"].max() <= mixed["count"].max() and back["count"].min() >= mixed["count"].min()


def test_json_round_trip(mixed):
    transformer, encoded, _ = fit_transform(mixed)
    copy = DataTransformer.from_json(transformer.to_json())
    assert copy.layout_ == transformer.layout_
    pd.testing.assert_frame_equal(copy.inverse_transform(encoded, np.random.default_rng(1)),
                                  transformer.inverse_transform(encoded, np.random.default_rng(1)))


def test_mixture_is_fitted_on_a_row_sample(monkeypatch):
    import synthgan.transform.modes as modes

    seen = []
    original = modes._fit_mixtures

    def spy(values, counts, n_components, max_modes):
        seen.append([int(c.sum()) for c in counts])
        return original(values, counts, n_components, max_modes)

    monkeypatch.setattr(modes, "_fit_mixtures", spy)
    frame = pd.DataFrame({"x": np.random.default_rng(0).normal(size=30_000), "y": np.arange(30_000) % 7})
    fit_transform(frame, gmm_max_rows=1000)
    assert seen == [[1000, 1000]]


def test_mixtures_fitted_together_equal_mixtures_fitted_alone():
    from synthgan.transform.modes import fit_modes

    rng = np.random.default_rng(3)
    columns = [np.r_[rng.normal(0, 1, 700), rng.normal(8, 0.5, 300)], rng.integers(0, 5, 400).astype(float),
               rng.exponential(2.0, 2000), np.full(50, 4.0)]
    together = fit_modes(columns, 10, 5000, np.random.default_rng(0))
    alone = [fit_modes([c], 10, 5000, np.random.default_rng(0))[0] for c in columns]
    for a, b in zip(together, alone):
        # the batch iterates until every column has converged, so a column may get a few more steps
        np.testing.assert_allclose(a.means, b.means, atol=1e-3)
        np.testing.assert_allclose(a.weights, b.weights, atol=1e-3)
    assert together[3].n_modes == 1  # a single distinct value gets one mode
    assert together[1].n_modes <= 5  # never more modes than distinct values
    centers = sorted(np.asarray(together[0].means) * together[0].scale + together[0].loc)
    assert abs(centers[0]) < 0.5 and abs(centers[-1] - 8) < 0.5


def test_point_mass_decodes_to_its_value_despite_alpha_noise():
    from synthgan.transform.modes import decode_modes, encode_modes, fit_modes

    rng = np.random.default_rng(0)
    values = np.where(rng.random(5000) < 0.9, 0.0, 1000 + rng.exponential(5000.0, 5000))  # 90% zeros
    state = fit_modes([values], 10, 5000, rng)[0]
    alpha, mode = encode_modes(state, values, rng)
    noisy = alpha + rng.uniform(-0.2, 0.2, len(alpha))  # a generator never hits alpha exactly
    decoded = decode_modes(state, noisy, mode)
    zeros = values == 0
    # zeros drawn into the point-mass mode come back within half a unit (rounding to 0 for integers);
    # a few are drawn into a neighbouring broad mode, as the mode posterior allows
    assert np.mean(np.abs(decoded[zeros]) < 0.5) > 0.95
    assert np.abs(decoded[~zeros] - values[~zeros]).mean() > 1.0  # the noise does move the other values


def test_date_objects_and_csv_date_columns_are_modelled_as_dates(tmp_path):
    import datetime

    from click.testing import CliRunner

    from synthgan import SynthGAN
    from synthgan.cli import main

    rng = np.random.default_rng(0)
    days = [datetime.date(2024, 1, 1) + datetime.timedelta(days=int(k)) for k in rng.integers(0, 300, 200)]
    frame = pd.DataFrame({"visit_date": pd.Series(days, dtype=object), "x": rng.normal(size=200)})
    frame.loc[::17, "visit_date"] = None
    est = SynthGAN(epochs=2, batch_size=60, pac=4, verbose=False, random_state=0).fit(frame)
    assert [s.kind for s in est.transformer_.specs_ if s.name == "visit_date"] == ["datetime"]
    out = est.sample(300)
    dates = out["visit_date"].dropna()
    assert out["visit_date"].dtype == object and all(type(d) is datetime.date for d in dates)
    assert min(days) <= dates.min() and dates.max() <= max(days) and out["visit_date"].isna().any()
    chosen = est.sample(3, conditions={"visit_date": days[0]})
    assert (chosen["visit_date"] == days[0]).all()
    csv = tmp_path / "visits.csv"
    frame.to_csv(csv, index=False)
    result = CliRunner().invoke(main, ["fit", str(csv), "-o", str(tmp_path / "m.synthgan"), "--epochs", "1",
                                       "--quiet"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    info = CliRunner().invoke(main, ["info", str(tmp_path / "m.synthgan")], catch_exceptions=False)
    assert "visit_date: datetime (object)" in info.output


def test_compact_rows_expand_to_the_dense_rows_in_training_batches(mixed):
    """Training keeps the encoded table compact (a float per scalar span, a slot per one-hot span)
    and expands each batch on the device: the batches are the dense matrix's rows, the table takes
    a fraction of the dense bytes, and the checkpoint hash is the dense matrix's."""
    import hashlib

    import torch

    from synthgan.conditional import ConditionSampler
    from synthgan.training.batches import BatchSampler

    rng = np.random.default_rng(0)
    transformer = DataTransformer().fit(mixed, rng)
    compact = transformer.encode(mixed, np.random.default_rng(1))
    dense = transformer.transform(mixed, np.random.default_rng(1))
    layout = transformer.layout_
    assert dense.shape == compact.shape == (len(mixed), layout.dim)
    # an independent check of the dense matrix: the scalar columns and one 1 per one-hot span
    assert np.array_equal(dense[:, layout.tanh_index], compact.values)
    for span in layout.spans:
        if span.activation == "softmax":
            block = dense[:, span.start:span.stop]
            assert np.array_equal(block.sum(axis=1), np.ones(len(mixed)))
            assert np.array_equal(block.argmax(axis=1), compact.slots_of(span))
    assert compact.nbytes < dense.nbytes / 3
    assert compact.sha256() == hashlib.sha256(dense.tobytes()).hexdigest()
    codes = transformer.category_codes(compact)
    assert np.array_equal(codes, transformer.category_codes(dense))

    counts = [np.bincount(codes[:, k], minlength=s.width) for k, s in enumerate(layout.condition_spans)]
    draws = []
    for data in (compact, dense):
        sampler = BatchSampler(data, ConditionSampler(counts, codes, True), torch.device("cpu"),
                               np.random.default_rng(5))
        draws.append(sampler.draw(64))
    assert torch.equal(draws[0].real, draws[1].real)
    assert torch.equal(draws[0].condition, draws[1].condition)


def _heavy_tailed(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    price = np.round(np.exp(rng.normal(12.5, 0.6, n)), -2)  # skewed, long right tail, many ties
    balance = np.where(rng.random(n) < 0.3, 0.0, rng.standard_t(2, n) * 1000)  # a spike at 0, heavy tails
    return pd.DataFrame({"price": price, "balance": balance, "group": rng.choice(["a", "b"], n)})


def test_quantile_encoding_gives_the_generator_normal_scores_and_decodes_to_the_marginal():
    """numeric_encoding="quantile": the mixture sees near-normal scores, and an ideal generator of
    those scores (standard-normal draws) decodes to the training marginal, spike included."""
    from scipy import stats

    from synthgan.transform.modes import ModeState

    frame = _heavy_tailed()
    rng = np.random.default_rng(0)
    plain = DataTransformer().fit(frame, rng)
    quantile = DataTransformer(numeric_encoding="quantile").fit(frame, rng)
    for name in ("price", "balance"):
        state = quantile.states_[[s.name for s in quantile.specs_].index(name)]
        assert isinstance(state, ModeState) and state.quantiles is not None
        assert 2 <= len(state.quantiles) <= len(frame) // 10
        scores = state.to_scores(frame[name].to_numpy(), np.random.default_rng(1))
        assert abs(stats.skew(scores)) < 0.1 and abs(stats.kurtosis(scores)) < 0.3  # near-normal
        decoded = state.from_scores(np.random.default_rng(2).standard_normal(20000))
        assert stats.ks_2samp(decoded, frame[name]).statistic < 0.03
        if name == "balance":
            assert abs((decoded == 0).mean() - (frame[name] == 0).mean()) < 0.02  # the spike, exactly 0
    assert all(s.quantiles is None for s in plain.states_ if isinstance(s, ModeState))
    # the round trip through the full encoding gives the values back
    encoded = quantile.transform(frame, np.random.default_rng(3))
    back = quantile.inverse_transform(encoded, np.random.default_rng(4))
    assert np.isclose(back["price"], frame["price"], rtol=0.02).mean() > 0.98
    assert ((back["balance"] == 0) == (frame["balance"] == 0)).mean() > 0.99
    # and the state survives the model file's JSON
    again = DataTransformer.from_json(quantile.to_json())
    assert again.numeric_encoding == "quantile" and again.states_ == quantile.states_


def test_synthgan_numeric_encoding_is_checked_fits_and_survives_the_model_file(tmp_path):
    import pytest

    from synthgan import SynthGAN, SynthGANError

    frame = _heavy_tailed(600)
    small = dict(epochs=1, batch_size=100, embedding_dim=8, generator_dim=(16,), discriminator_dim=(16,),
                 verbose=False, random_state=0)
    with pytest.raises(SynthGANError, match="numeric_encoding"):
        SynthGAN(numeric_encoding="log", **small).fit(frame)
    model = SynthGAN(numeric_encoding="quantile", **small).fit(frame)
    assert model.transformer_.numeric_encoding == "quantile"
    out = model.sample(300, random_state=1)
    assert out.dtypes.to_dict() == frame.dtypes.to_dict()
    assert out["price"].between(frame["price"].min(), frame["price"].max()).all()
    model.save(tmp_path / "m.synthgan")
    again = SynthGAN.load(tmp_path / "m.synthgan")
    assert again.get_params()["numeric_encoding"] == "quantile"
    pd.testing.assert_frame_equal(again.sample(300, random_state=1), out)


def test_calibration_maps_a_wrong_marginal_onto_the_training_one_and_keeps_the_order():
    from scipy import stats

    from synthgan.transform.modes import ModeState, quantile_grid

    rng = np.random.default_rng(0)
    real = np.exp(rng.normal(0, 1, 5000))  # the training marginal: log-normal
    generated = rng.normal(3, 2, 20000)  # what a poor generator decodes to
    state = ModeState(loc=0.0, scale=1.0, means=(0.0,), stds=(1.0,), weights=(1.0,), minimum=float(real.min()),
                      maximum=float(real.max()), target=tuple(quantile_grid(real)))
    assert np.array_equal(state.calibrate(generated, rng), generated)  # no generated grid yet: identity
    calibrated_state = ModeState(**{**vars(state), "generated": tuple(np.quantile(generated, np.linspace(0, 1, 500)))})
    fresh = rng.normal(3, 2, 20000)
    out = calibrated_state.calibrate(fresh, rng)
    assert stats.ks_2samp(out, real).statistic < 0.03
    assert stats.ks_2samp(fresh, real).statistic > 0.4
    assert stats.spearmanr(fresh, out).statistic > 0.999  # monotone: the order within the column stays


def _quantile_map_by_definition(source, target, values, draws):
    """Q_target(F_source(v)) value by value, from the definition (the test's oracle)."""
    out = []
    for v, u in zip(values, draws):
        if np.isnan(v):
            out.append(np.nan)
            continue
        equal = np.flatnonzero(source == v)
        if len(equal) >= 2:  # a spike: spread over its run of grid points
            position = equal[0] + u * (equal[-1] - equal[0])
        elif len(equal) == 1:
            position = float(equal[0])
        elif v < source[0] or v > source[-1]:
            position = 0.0 if v < source[0] else len(source) - 1.0
        else:
            i = np.flatnonzero(source < v)[-1]
            position = i + (v - source[i]) / (source[i + 1] - source[i])
        k = min(int(position), len(source) - 2)
        out.append(target[k] + (position - k) * (target[k + 1] - target[k]))
    return np.array(out)


def test_one_search_quantile_map_matches_its_definition_spikes_and_nan_included():
    """quantile_map (calibration and the normal-score transform) against a value-by-value oracle."""
    from synthgan.transform.modes import grid_probability, quantile_map

    rng = np.random.default_rng(3)
    raw = np.concatenate([rng.normal(size=3000), np.zeros(1500), np.full(500, 2.5)])  # two spikes
    for points in (2, 7, 200):
        source = np.quantile(raw, np.linspace(0, 1, points))
        target = np.sort(rng.gamma(2.0, size=points))
        values = np.concatenate([rng.choice(raw, 2000), source, [source[0] - 1.0, source[-1] + 1.0, np.nan]])
        mapped_rng = np.random.default_rng(points)
        mapped = quantile_map(source, target, values, mapped_rng)
        draws_rng = np.random.default_rng(points)
        expected = _quantile_map_by_definition(source, target, values, draws_rng.random(len(values)))
        np.testing.assert_allclose(mapped, expected, rtol=0, atol=1e-12)  # NaN where the oracle has NaN
        assert mapped_rng.random() == draws_rng.random()  # one draw per value was consumed
        levels = np.linspace(0, 1, points)  # grid_probability is the map onto the probability levels
        np.testing.assert_allclose(grid_probability(source, values, np.random.default_rng(points)),
                                   _quantile_map_by_definition(source, levels, values,
                                                               np.random.default_rng(points).random(len(values))),
                                   rtol=0, atol=1e-12)
    spread = quantile_map(source, target, np.zeros(4000), np.random.default_rng(0))
    assert len(np.unique(spread)) > 1000  # the spike at 0 is spread over its stretch of the target


def test_marginal_calibration_of_a_fitted_model(tmp_path):
    """One epoch leaves the generator's marginals far off; calibrated, they match the training
    table while the columns keep their order (a monotone map per column)."""
    import pytest
    from scipy import stats

    from synthgan import SynthGAN, SynthGANError

    frame = _heavy_tailed(2000)
    small = dict(epochs=1, batch_size=100, embedding_dim=8, generator_dim=(16,), discriminator_dim=(16,),
                 verbose=False, random_state=0)
    with pytest.raises(SynthGANError, match="marginal_calibration"):
        SynthGAN(marginal_calibration="yes", **small).fit(frame)
    plain = SynthGAN(marginal_calibration=False, **small).fit(frame)
    calibrated = SynthGAN(**small).fit(frame)  # the default
    assert calibrated.marginal_calibration == "auto" and calibrated._effective("marginal_calibration") is True
    raw, out = plain.sample(4000, random_state=1), calibrated.sample(4000, random_state=1)
    for column in ("price", "balance"):
        assert stats.ks_2samp(out[column], frame[column]).statistic < 0.05, column
        assert stats.ks_2samp(raw[column], frame[column]).statistic > 2 * stats.ks_2samp(
            out[column], frame[column]).statistic, column
    # the same weights and draws: calibration only moved each value along its own column's order
    assert stats.spearmanr(raw["price"], out["price"]).statistic > 0.99
    # with privacy="strict" no quantile grid is kept (the model file would hold one value per ten rows)
    strict = SynthGAN(marginal_calibration=True, privacy="strict", **small).fit(frame)
    assert all(getattr(state, "target", None) is None for state in strict.transformer_.states_)
    assert any(getattr(state, "generated", None) is not None for state in calibrated.transformer_.states_)
    calibrated.save(tmp_path / "c.synthgan")
    again = SynthGAN.load(tmp_path / "c.synthgan")
    pd.testing.assert_frame_equal(again.sample(500, random_state=2), calibrated.sample(500, random_state=2))


def test_calibrated_integer_column_keeps_every_frequent_count():
    """An integer column is calibrated on its decoded values before rounding, so the sampled counts
    keep their training shares (a generated grid of rounded values has spikes at the integers,
    which map whole counts onto their neighbours)."""
    from synthgan import SynthGAN

    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"visits": rng.poisson(3.0, 2000), "spend": rng.gamma(2.0, 10.0, 2000)})
    model = SynthGAN(epochs=1, batch_size=100, embedding_dim=8, generator_dim=(16,), discriminator_dim=(16,),
                     verbose=False, random_state=0).fit(frame)
    out = model.sample(4000, random_state=1)
    shares = pd.concat([frame["visits"].value_counts(normalize=True), out["visits"].value_counts(normalize=True)],
                       axis=1).fillna(0.0)
    assert (shares.iloc[:, 0] - shares.iloc[:, 1]).abs().sum() / 2 < 0.05  # total variation distance


def test_span_argmax_reads_every_one_hot_span_as_numpy_does_ties_included():
    from synthgan.transform.encoded import span_argmax
    from tests.conftest import make_mixed

    transformer = DataTransformer().fit(make_mixed(), np.random.default_rng(0))
    layout = transformer.layout_
    rng = np.random.default_rng(1)
    # few distinct values, so that many rows tie within a span
    encoded = rng.integers(0, 3, size=(500, layout.dim)).astype(np.float32)
    slots = span_argmax(layout, encoded[:, :])
    assert slots.shape == (500, len(layout.onehot_spans))
    assert len({s.width for s in layout.onehot_spans}) > 1  # spans of several widths are read together
    for k, span in enumerate(layout.onehot_spans):
        np.testing.assert_array_equal(slots[:, k], encoded[:, span.start:span.stop].argmax(axis=1))
    # a non-contiguous view (every other row) reads the same as its copy
    np.testing.assert_array_equal(span_argmax(layout, encoded[::2]), slots[::2])


def test_inverse_transform_reads_compact_rows_as_their_dense_matrix():
    """Models hand compact rows (values and slots) to the decoder; decoding them gives the frame
    their dense matrix gives, with the same random draws."""
    from synthgan.transform.encoded import EncodedRows
    from tests.conftest import make_mixed

    frame = make_mixed()
    transformer = DataTransformer().fit(frame, np.random.default_rng(0))
    compact = transformer.encode(frame, np.random.default_rng(1))
    assert isinstance(compact, EncodedRows)
    from_compact = transformer.inverse_transform(compact, np.random.default_rng(2))
    from_dense = transformer.inverse_transform(compact.dense(), np.random.default_rng(2))
    pd.testing.assert_frame_equal(from_compact, from_dense)
    np.testing.assert_array_equal(EncodedRows.from_dense(transformer.layout_, compact.dense()).slots, compact.slots)


def test_merge_modes_joins_overlapping_components_by_their_moments_and_keeps_separated_ones_and_points():
    from synthgan.transform.modes import MIN_STD, WINDOW, merge_modes

    # 0 and 0.5 overlap (D = 0.71); 3.0 is far from both (D > 3.5); the point mass sits inside the
    # first component (D = 0.28 to it) but is one distinct value and stays a mode of its own
    means, stds, weights = np.array([3.0, 0.0, 0.5, 0.1]), np.array([0.5, 0.5, 0.5, MIN_STD]), np.array([.3, .3, .3, .1])
    merged_means, merged_stds, merged_weights = merge_modes(means, stds, weights, separation=2.0)
    # oracle: the mixture of the two merged components, from its definition (a large sample of it)
    rng = np.random.default_rng(0)
    draws = np.concatenate([rng.normal(0.0, 0.5, 400_000), rng.normal(0.5, 0.5, 400_000)])
    assert np.allclose(merged_means, [0.1, draws.mean(), 3.0], atol=2e-3)
    assert np.allclose(merged_stds[[0, 2]], [MIN_STD, 0.5])
    # the merged spread is the pair's own, widened just enough that its window of WINDOW standard
    # deviations holds both members' windows (-2 .. 2.5), so merging clips no value
    assert draws.std() - 2e-3 <= merged_stds[1] <= draws.std() + 0.01
    low, high = merged_means[1] - WINDOW * merged_stds[1], merged_means[1] + WINDOW * merged_stds[1]
    assert low <= -2.0 + 1e-9 and high >= 2.5 - 1e-9
    assert np.allclose(merged_weights, [0.1, 0.6, 0.3])
    # a smaller separation keeps the overlapping pair apart: 4 modes, only sorted by mean
    kept = merge_modes(means, stds, weights, separation=0.5)
    assert np.allclose(kept[0], [0.0, 0.1, 0.5, 3.0])


def test_mode_separation_gives_a_single_peak_one_mode_and_keeps_two_real_ones_and_a_bounded_merge_keeps_the_tail():
    from synthgan.transform.modes import fit_modes, merge_widening

    rng = np.random.default_rng(0)
    normal = rng.normal(0.0, 1.0, 5000)  # one symmetric peak
    skewed = rng.gamma(2.0, 1.0, 5000)  # one peak, a long right tail: the mixture tiles it
    bimodal = np.concatenate([rng.normal(0, 1, 2500), rng.normal(10, 1, 2500)])
    columns = [normal, skewed, bimodal]
    tiled = fit_modes(columns, 10, 5000, np.random.default_rng(1))
    assert min(s.n_modes for s in tiled[:2]) >= 6  # what the mixture alone gives
    merged = fit_modes(columns, 10, 5000, np.random.default_rng(1), separation=2.0)
    assert [s.n_modes for s in merged] == [1, 1, 2]
    centers = np.sort(np.asarray(merged[2].means) * merged[2].scale + merged[2].loc)
    assert np.allclose(centers, [0, 10], atol=0.3)
    # bounded: the skewed column keeps its tail apart from its body, the others are as merged
    bounded = fit_modes(columns, 10, 5000, np.random.default_rng(1), separation=2.0, widening=merge_widening(2.0))
    assert [s.n_modes for s in bounded[::2]] == [1, 2] and 2 <= bounded[1].n_modes <= 3
    # the mode most values fall in resolves them over a window under half as wide as the one merged mode's
    assert bounded[1].stds[int(np.argmax(bounded[1].weights))] < merged[1].stds[0] / 2
    # the merged columns still round-trip through their modes, with and without the bound
    frame = pd.DataFrame({"x": normal, "s": skewed})
    for widening, modes in ((None, [1, 1]), (merge_widening(2.0), [1, bounded[1].n_modes])):
        transformer, encoded, rng = fit_transform(frame, mode_separation=2.0, mode_widening=widening)
        assert [s.n_modes for s in transformer.states_] == modes
        # no value is clipped by a merged mode's window (float32 encoding)
        pd.testing.assert_frame_equal(transformer.inverse_transform(encoded, rng), frame, check_exact=False,
                                      rtol=0, atol=1e-5)


def test_merge_modes_keeps_a_light_wide_tail_apart_when_merging_it_would_squeeze_the_body():
    """A light, wide tail near the body (Ashman's D 1.76: one mode by separation alone) stays apart:
    covering its window would widen the one mode to twice the body's spread. Equal components at
    D = separation merge, to the bound exactly (it is what that merge needs)."""
    from synthgan.transform.modes import WINDOW, merge_modes, merge_widening

    means, stds, weights = np.array([-0.09, 2.6]), np.array([1.19, 1.81]), np.array([0.98, 0.02])
    assert np.sqrt(2) * (means[1] - means[0]) / np.hypot(*stds) <= 2.0  # separation alone would merge them
    center = (weights * means).sum()
    needed = max(np.sqrt((weights * (stds**2 + (means - center) ** 2)).sum()),
                 *(np.abs(means - center) / WINDOW + stds))  # the spread the merged mode would need
    assert needed > 2.0 * (weights * stds).sum()
    assert len(merge_modes(means, stds, weights, 2.0)[0]) == 1  # without the bound: one mode
    kept = merge_modes(means, stds, weights, 2.0, merge_widening(2.0))
    for got, want in zip(kept, (means, stds, weights)):
        np.testing.assert_allclose(got, want)  # two modes, unchanged
    merged = merge_modes(np.array([-1.0, 1.0]), np.ones(2), np.array([0.5, 0.5]), 2.0, merge_widening(2.0))
    assert np.allclose(merged[0], [0.0]) and np.allclose(merged[1], [merge_widening(2.0)])
    assert np.isclose(merge_widening(2.0), np.sqrt(2))


def test_synthgan_mode_separation_reaches_both_transformer_paths_and_the_model_file(tmp_path, monkeypatch):
    import pytest

    from synthgan import SynthGAN, SynthGANError

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.gamma(2.0, 1.0, 600), "y": rng.gamma(3.0, 2.0, 600),
                          "c": rng.choice(["a", "b"], 600)})
    small = dict(epochs=1, batch_size=100, embedding_dim=8, generator_dim=(16,), discriminator_dim=(16,),
                 verbose=False, random_state=0)
    with pytest.raises(SynthGANError, match="mode_separation"):
        SynthGAN(mode_separation=0, **small).fit(frame)
    every = SynthGAN(mode_separation=None, **small).fit(frame)
    merged = SynthGAN(mode_separation=2.0, **small).fit(frame)
    assert [s.n_modes for s in merged.transformer_.states_[:2]] == [1, 1]
    assert min(s.n_modes for s in every.transformer_.states_[:2]) >= 2
    assert merged.transformer_.mode_widening is None  # "auto": no bound without epsilon
    bounded = SynthGAN(mode_separation=2.0, bounded_mode_merging=True, **small).fit(frame)
    assert bounded.transformer_.mode_widening == pytest.approx(np.sqrt(2))
    assert min(s.n_modes for s in bounded.transformer_.states_[:2]) >= 2  # each tail kept apart
    for k, fitted in enumerate((merged, bounded)):
        fitted.save(tmp_path / f"m{k}.synthgan")
        again = SynthGAN.load(tmp_path / f"m{k}.synthgan")
        assert again.get_params()["mode_separation"] == 2.0
        assert again.transformer_.mode_widening == fitted.transformer_.mode_widening
        pd.testing.assert_frame_equal(again.sample(200, random_state=1), fitted.sample(200, random_state=1))
    # the private path merges the modes of its released mixtures too, bounded by default. A private
    # fit draws its noise from fresh secret entropy; fixed here so that every fit releases the same
    # noisy histograms (with two different releases the unmerged one may hold fewer modes by chance)
    monkeypatch.setattr("synthgan.estimator.secrets.randbits", lambda bits: 12345)
    bounds = {"x": (0.0, 20.0), "y": (0.0, 10.0)}
    private = [SynthGAN(epsilon=5.0, public_bounds=bounds, mode_separation=separation, bounded_mode_merging=bound,
                        **small).fit(frame)
               for separation, bound in ((None, "auto"), (2.0, False), (2.0, "auto"))]
    assert private[2].transformer_.mode_widening == pytest.approx(np.sqrt(2))
    modes = [[s.n_modes for s in fitted.transformer_.states_[:2]] for fitted in private]
    assert all(unbounded < kept <= every for every, unbounded, kept in zip(*modes))


def test_mode_table_decodes_every_column_as_decode_modes_does_with_the_same_random_stream():
    """ModeTable.decode (all continuous columns in one pass) against decode_modes column by column:
    plain, normal-score and calibrated columns, calibration grids of two lengths and a grid pair
    of unequal lengths, spikes included; the random draws are the column-order stream."""
    from synthgan.transform.modes import ModeState, ModeTable, decode_modes, fit_modes

    rng = np.random.default_rng(11)
    columns = [rng.normal(size=4000), np.where(rng.random(4000) < 0.6, 0.0, rng.exponential(50, 4000)),
               np.concatenate([rng.normal(-5, 1, 2000), rng.normal(5, 1, 2000)]), rng.gamma(2.0, size=4000),
               rng.integers(0, 4, 4000).astype(float)]
    plain = fit_modes(columns[:3], 10, 4000, rng)
    scored = fit_modes(columns[3:], 10, 4000, rng, quantile=True)
    states = []
    for k, state in enumerate(plain + scored):
        # column 1's generated grid has a spike at its minimum, 0, where decoded values clip, and its
        # target has none, so the values there take their draws
        target = np.quantile(rng.exponential(30, 4000) if k == 1 else columns[k],
                             np.linspace(0, 1, 50 if k == 1 else 300))
        generated = np.quantile(columns[k] * (1.0 if k == 1 else 1.3) + (0.0 if k == 1 else 0.5),
                                np.linspace(0, 1, len(target) if k != 4 else 80))
        calibrated = k != 2  # one column without calibration, between calibrated ones
        states.append(ModeState(**{**vars(state), "target": tuple(target) if calibrated else None,
                                   "generated": tuple(generated) if calibrated else None}))
    table = ModeTable(states)
    assert len(table.mapped) == 2 and [c for c, _ in table.unmapped] == [4]  # lengths 50 and 300; 80 vs 300
    rows = 3000
    alpha = rng.uniform(-1.3, 1.3, (len(states), rows))
    mode = np.array([rng.integers(0, s.n_modes, rows) for s in states])
    decoded = table.decode(alpha, mode, np.random.default_rng(5))
    one_by_one_rng = np.random.default_rng(5)
    expected = np.array([decode_modes(s, alpha[c], mode[c], one_by_one_rng if s.generated else None)
                         for c, s in enumerate(states)])
    np.testing.assert_allclose(decoded, expected, rtol=0, atol=1e-9)
    assert not np.array_equal(decoded[1], decode_modes(plain[1], alpha[1], mode[1]))  # calibrated
    assert np.mean(decode_modes(plain[1], alpha[1], mode[1]) == 0) > 0.05  # values in the spike take draws
    later = np.random.default_rng(5)
    table.decode(alpha, mode, later)
    assert later.random() == one_by_one_rng.random()  # the same number of draws was consumed
    uncalibrated = ModeTable([dataclasses.replace(s, generated=None) for s in states])
    np.testing.assert_allclose(uncalibrated.decode(alpha, mode),
                               [decode_modes(dataclasses.replace(s, generated=None), alpha[c], mode[c])
                                for c, s in enumerate(states)], rtol=0, atol=1e-9)


def test_recorded_step_reads_the_grid_values_lie_on():
    from synthgan.transform.columns import recorded_step, step_decimals

    rng = np.random.default_rng(0)
    assert recorded_step(np.array([0.455, 0.35, 0.53, 0.44, 0.33, 0.425])) == 0.005  # abalone's lengths
    assert recorded_step(np.array([0.75, 1.5, 2.25, 1.0, 3.0])) == 0.25
    assert recorded_step(np.round(rng.uniform(0, 100, 500), 2)) == 0.01
    assert recorded_step(np.array([1180.0, 2570.0, 770.0, 1960.0])) == 10.0
    assert recorded_step(np.array([3.0, 7.0, 12.0])) == 1.0
    assert recorded_step(rng.normal(size=500)) == 0.0  # measured floats: no grid
    assert recorded_step(np.array([0.455, 0.35, 0.4551])) == 0.0001  # one finer value refines it
    assert recorded_step(np.array([1e17, 3e17])) == 0.0  # beyond exact integers: not read
    assert [step_decimals(s) for s in (0.005, 0.25, 0.01, 10.0, 1.0)] == [3, 2, 2, 0, 0]


def test_outputs_keep_the_grid_a_float_column_was_recorded_on():
    """A column recorded in steps of 0.005 decodes to exact multiples of 0.005 (the floats their
    decimals read as); with learn_rounding=False, or under privacy, no decimal grid is read."""
    from synthgan.transform.columns import detect_columns

    rng = np.random.default_rng(0)
    length = np.round(rng.normal(0.5, 0.1, 400) / 0.005) * 0.005
    frame = pd.DataFrame({"length": np.round(length, 3), "weight": rng.gamma(2.0, 1.0, 400)})
    transformer, encoded, rng = fit_transform(frame)
    assert [spec.step for spec in transformer.specs_] == [0.005, 0.0]
    noisy = encoded + np.random.default_rng(1).normal(0, 0.05, encoded.shape).astype(np.float32)
    back = transformer.inverse_transform(noisy, rng)["length"]
    grid = np.round(np.arange(0, 2, 0.005), 3)
    assert back.isin(grid).all() and back.nunique() > 20
    plain, encoded, rng = fit_transform(frame, learn_rounding=False)
    assert [spec.step for spec in plain.specs_] == [0.0, 0.0]
    assert not plain.inverse_transform(noisy, rng)["length"].isin(grid).all()
    assert [spec.step for spec in detect_columns(frame, exact=False)] == [0.0, 0.0]
