"""The generator's moment term: the rows' second moments, their private release and accounting, and
that the term moves what the generator draws."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

import synthgan.estimator as estimator_module
from synthgan import SynthGAN, SynthGANError
from synthgan.cli import _privacy_line
from synthgan.models.base import Batch
from synthgan.models.moments import MomentTerm, compared, features, moment_sum, released, sensitivity
from synthgan.privacy import DPStrategy
from synthgan.privacy.accounting import composed_epsilon, release_noise
from synthgan.privacy.moments import release_moments
from synthgan.privacy.statistics import zcdp_rho
from synthgan.transform.encoded import EncodedRows

from .test_privacy import SMALL, _OneNetwork, quiet_fit, table


def paired(n: int = 1000, seed: int = 0) -> pd.DataFrame:
    """A table whose number follows its category: 'a' near +3, 'b' near -3."""
    rng = np.random.default_rng(seed)
    group = rng.choice(["a", "b"], size=n)
    return pd.DataFrame({"group": group, "x": np.where(group == "a", 3.0, -3.0) + rng.normal(0, 0.3, n)})


def brute_force(dense: np.ndarray, spans: int) -> np.ndarray:
    z = np.hstack([np.ones((len(dense), 1)), np.clip(dense, -1, 1)]) / math.sqrt(spans + 1)
    return sum(np.outer(row, row) for row in z)


def test_moment_sum_is_the_sum_of_outer_products_of_features_of_norm_at_most_one(monkeypatch):
    model = quiet_fit(SynthGAN(epochs=1, **SMALL), table(300))
    layout = model.transformer_.layout_
    rows = model.transformer_.encode(table(300, seed=1), np.random.default_rng(0))
    values = rows.values.copy()
    values[0] = 5.0  # out of range: clipped, so one row still moves the sum by at most 1
    rows = EncodedRows(layout, values, rows.slots)
    monkeypatch.setattr("synthgan.models.moments.CHUNK_ROWS", 128)  # several chunks
    total = moment_sum(rows).numpy()
    assert total == pytest.approx(brute_force(rows.dense(), len(layout.spans)), rel=1e-9, abs=1e-12)
    z = features(torch.as_tensor(rows.dense(), dtype=torch.float64), layout)
    assert float(z.norm(dim=1).max()) <= 1.0 + 1e-12
    keep = released(layout).numpy()
    each = [np.linalg.norm(moment_sum(EncodedRows(layout, values[k:k + 1], rows.slots[k:k + 1])).numpy()[keep])
            for k in range(len(values))]
    bound = sensitivity(layout)
    assert max(each) <= bound + 1e-12  # the release's L2 sensitivity, reached by the clipped row ...
    assert max(each) == pytest.approx(bound, rel=0.05) and bound < 0.75  # ... near it: about 1/sqrt(2), not 1
    extreme = EncodedRows(layout, np.where(values[:1] >= 0, 1.0, -1.0), rows.slots[:1])  # every value at +-1
    assert np.linalg.norm(moment_sum(extreme).numpy()[keep]) == pytest.approx(bound, rel=1e-9)  # attained


def test_the_sensitivity_bounds_every_row_any_encoding_can_write():
    """Random layouts, random rows (every one-hot span with its 1, values anywhere, clipped): no
    row moves the released entries by more than the bound, and the bound is reached."""
    rng = np.random.default_rng(0)
    from synthgan.layout import Span, TableLayout
    for _ in range(30):
        spans, start = [], 0
        for k in range(int(rng.integers(1, 8))):
            if rng.random() < 0.4:
                spans.append(Span(f"v{k}", "value", "tanh", start, start + 1))
                start += 1
            width = int(rng.integers(1, 5))
            spans.append(Span(f"c{k}", "category", "softmax", start, start + width))
            start += width
        layout = TableLayout(tuple(spans))
        keep = released(layout).numpy()
        worst = 0.0
        for _ in range(200):
            dense = np.zeros(layout.dim)
            for span in layout.spans:
                if span.role == "value":
                    dense[span.start] = rng.normal(0.0, 1.5)
                else:
                    dense[span.start + int(rng.integers(span.width))] = 1.0
            z = features(torch.as_tensor(dense[None]), layout).numpy()[0]
            worst = max(worst, float(np.linalg.norm(np.outer(z, z)[keep])))
        assert worst <= sensitivity(layout) + 1e-12
        assert worst >= sensitivity(layout) - 0.05


def test_release_adds_symmetric_gaussian_noise_of_its_multiplier_times_the_sensitivity():
    from synthgan.layout import Span, TableLayout
    layout = TableLayout(tuple(Span(f"x{k}", "value", "tanh", k, k + 1) for k in range(299)))
    total = torch.full((300, 300), 50.0, dtype=torch.float64)
    out = release_moments(total, 10, 2.0, np.random.default_rng(0), layout).numpy()
    assert np.array_equal(out, out.T)
    keep = released(layout).numpy()
    noise = (out * 10 - 50.0)[keep]
    assert noise.mean() == pytest.approx(0.0, abs=0.02)
    assert noise.std() == pytest.approx(2.0 * sensitivity(layout), rel=0.02)
    assert out[0, 0] == pytest.approx(1 / 300)  # the constant's entry from the row count, not the sum
    again = release_moments(total, 10, 2.0, np.random.default_rng(1), layout).numpy()
    assert not np.allclose(out, again)
    spans = TableLayout((Span("c", "category", "softmax", 0, 3), Span("x", "value", "tanh", 3, 4)))
    small = release_moments(torch.ones(5, 5, dtype=torch.float64), 10, 2.0, np.random.default_rng(0), spans)
    assert torch.equal(small[1:4, 1:4], torch.zeros(3, 3, dtype=torch.float64))  # not compared: not released
    with pytest.raises(ValueError, match="does not belong"):
        release_moments(total, 10, 2.0, np.random.default_rng(0), spans)


def test_the_release_takes_its_share_of_the_composed_budget_and_the_accountant_counts_it():
    sigma = release_noise(2.0, 1e-5, 0.1)
    assert 1.0 / (2.0 * sigma ** 2) == pytest.approx(0.1 * zcdp_rho(2.0, 1e-5))
    plain = DPStrategy(epsilon=2.0, delta=1e-5, max_grad_norm=1.0, sample_rate=0.1, expected_batch_size=2,
                       planned_steps=40)
    plain.setup(_OneNetwork())
    strategy = DPStrategy(epsilon=2.0, delta=1e-5, max_grad_norm=1.0, sample_rate=0.1, expected_batch_size=2,
                          planned_steps=40, releases={"moments": (sigma, 0.1)})
    strategy.setup(_OneNetwork())
    critic = strategy.noise_multiplier
    assert critic > plain.noise_multiplier  # the critic pays for the release
    assert 1.97 < composed_epsilon([(critic, 0.1, 40), (sigma, 1.0, 1)], 1e-5) <= 2.0  # planned + release
    release_alone = composed_epsilon([(sigma, 1.0, 1)], 1e-5)
    assert release_alone > 0 and strategy.spent() == pytest.approx(release_alone)  # spent before any step
    assert composed_epsilon([(critic, 0.1, strategy.allowed + 1), (sigma, 1.0, 1)], 1e-5) > 2.0
    assert strategy.report()["moments_noise_multiplier"] == sigma
    with pytest.raises(ValueError, match="sum below 1"):
        DPStrategy(epsilon=1.0, delta=1e-5, max_grad_norm=1.0, sample_rate=0.1, expected_batch_size=2,
                   planned_steps=4, shares={"target": 0.5}, releases={"moments": (3.0, 0.5)})


def test_a_private_generator_is_held_to_the_noisy_release_never_the_rows_own_moments(monkeypatch):
    computed = []

    def spy(encoded, device=torch.device("cpu")):
        computed.append((moment_sum(encoded, device).clone(), len(encoded)))
        return computed[-1][0].clone()

    monkeypatch.setattr(estimator_module, "moment_sum", spy)
    model = quiet_fit(SynthGAN(epochs=1, epsilon=3.0, **SMALL), table())
    p = model.privacy_
    assert model.model_.config.moment_weight == 4.0  # "auto" with epsilon
    training_budget = p["target_epsilon"] - p["epsilon_statistics"]  # 3.0 less the statistics' share
    assert p["moments_noise_multiplier"] == pytest.approx(release_noise(training_budget, p["delta_training"], 0.1))
    (total, n), = computed
    exact = (total / n).numpy()
    target = model.model_.moment_term.target.double().numpy()
    keep = compared(model.transformer_.layout_).numpy()
    assert np.array_equal(target, target.T) and not np.allclose(target[keep], exact[keep], rtol=0, atol=1e-6)
    noise = (target - exact)[released(model.transformer_.layout_).numpy()] * n
    # a standard deviation estimated from k draws is off by about 1 / sqrt(2k) relative (127 here: 6%);
    # four of those (the float32 target adds ~1e-4 relative)
    assert noise.std() == pytest.approx(p["moments_noise_multiplier"] * sensitivity(model.transformer_.layout_),
                                        rel=4 / math.sqrt(2 * len(noise)))
    # the term reads no real row: the generator's loss is finite on a batch of NaN real rows
    generator = next(phase for phase in model.model_.phases() if phase.name == "generator")
    dim, width = model.model_.layout.dim, model.model_.condition_dim
    condition = torch.zeros(8, width)
    condition[:, 0] = 1.0
    poisoned = Batch(torch.full((8, dim), float("nan")), torch.full((8, width), float("nan")), condition)
    assert torch.isfinite(generator.loss(poisoned))
    assert f"moment release noise multiplier {p['moments_noise_multiplier']:.3f}" in _privacy_line(p)  # the CLI's
    off = quiet_fit(SynthGAN(epochs=1, epsilon=3.0, moment_weight=0, **SMALL), table())
    assert off.model_.moment_term is None and "moments_noise_multiplier" not in off.privacy_


def _moment_error(model: SynthGAN, frame: pd.DataFrame) -> float:
    """The moment term's relative error between ``model``'s sample and ``frame``, both encoded alike."""
    transformer = model.transformer_
    real = moment_sum(transformer.encode(frame, np.random.default_rng(0))) / len(frame)
    fake = transformer.encode(model.sample(len(frame), random_state=0), np.random.default_rng(0)).dense()
    return float(MomentTerm(real, transformer.layout_)(torch.as_tensor(fake)))


def test_the_term_leaves_out_products_within_a_one_hot_span_and_is_zero_at_the_target():
    model = quiet_fit(SynthGAN(epochs=1, **SMALL), table(300))
    layout = model.transformer_.layout_
    keep = compared(layout)
    group = next(span for span in layout.onehot_spans if span.column == "group" and span.width == 3)
    block = keep[group.start + 1:group.stop + 1, group.start + 1:group.stop + 1]
    assert not block.any() and keep[0].all() and keep[:, 0].all()  # the shares stay, via the constant
    assert int((~keep).sum()) == sum(span.width ** 2 for span in layout.onehot_spans)
    rows = torch.as_tensor(model.transformer_.encode(table(300, seed=1), np.random.default_rng(0)).dense())
    z = features(rows.double(), layout)
    term = MomentTerm(z.T @ z / len(z), layout)
    assert float(term(rows)) == pytest.approx(0.0, abs=1e-5)  # float32
    moved = z.T @ z / len(z) + torch.where(keep, 0.0, 0.3).double()  # only within-span products differ
    assert float(MomentTerm(moved, layout)(rows)) == pytest.approx(0.0, abs=1e-5)
    assert float(MomentTerm(moved + 0.3 * keep.double(), layout)(rows)) > 0.1  # the others count


def test_the_moment_term_brings_the_generated_moments_closer_to_the_rows():
    frame = paired()
    common = dict(epochs=10, batch_size=100, embedding_dim=8, generator_dim=(32,), discriminator_dim=(32,),
                  generator_lr=1e-3, discriminator_lr=1e-3, log_frequency=False, marginal_calibration=False,
                  discrete_calibration=False, verbose=False, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        without = SynthGAN(moment_weight=0, **common).fit(frame)
        held = SynthGAN(moment_weight=4.0, **common).fit(frame)
    assert without.model_.moment_term is None and held.model_.moment_term is not None
    assert _moment_error(held, frame) < 0.5 * _moment_error(without, frame)


@pytest.mark.parametrize("kwargs, message", [
    (dict(moment_weight=-1.0), "moment_weight must be"),
    (dict(moment_weight=2.0, model="copula"), "model='copula' has no generator to hold to the table's moments"),
    (dict(moment_weight=2.0), "moment_weight > 0 without epsilon needs log_frequency=False"),
])
def test_bad_moment_weights_are_refused(kwargs, message):
    with pytest.raises(SynthGANError, match=message):
        SynthGAN(**kwargs).fit(table(200))


def test_auto_moment_weight_is_off_for_a_model_without_a_generator():
    model = quiet_fit(SynthGAN(model="copula", verbose=False, random_state=0), table(200))
    assert len(model.sample(10)) == 10
