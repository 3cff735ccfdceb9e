"""Critic whitening: the critic reads the numbers whitened by the training rows' covariance, and the
gradient penalty bounds its slope in that view."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from synthgan import SynthGAN, estimator
from synthgan.distributed import Context
from synthgan.estimator import _value_covariance
from synthgan.models.base import Batch
from synthgan.models.gan import WHITENING_FLOOR, whitening_map
from tests.conftest import make_mixed

SMALL = dict(epochs=1, batch_size=60, embedding_dim=8, generator_dim=(8,), discriminator_dim=(8, 8),
             verbose=False, random_state=0)


def _covariance(rng: np.random.Generator) -> torch.Tensor:
    """Three numbers, two of them nearly proportional (a tight relation) and one free."""
    x = rng.normal(size=5000)
    rows = np.column_stack([x, 0.9 * x + 0.05 * rng.normal(size=5000), 0.5 * rng.normal(size=5000)])
    return torch.as_tensor(np.cov(rows, rowvar=False))


def test_whitening_map_equalizes_every_direction_and_keeps_the_total_variance():
    covariance = _covariance(np.random.default_rng(0))
    w = whitening_map(covariance).double()
    assert torch.allclose(w, w.T)
    raw = torch.linalg.eigvalsh(covariance)
    mean = raw.mean()
    assert float(raw[0]) < WHITENING_FLOOR * float(mean)  # the tight direction is under the floor
    # w stretches each eigenvector of the covariance by sqrt(mean / variance), the variance raised
    # to the floor's share of the mean: at most sqrt(1 / floor) times (the tight direction, here)
    stretch = torch.linalg.eigvalsh(w)
    expected = torch.sqrt(mean / raw.clamp_min(WHITENING_FLOOR * mean)).sort().values
    assert torch.allclose(stretch, expected, rtol=1e-5)
    assert float(stretch.max()) == pytest.approx(WHITENING_FLOOR ** -0.5, rel=1e-5)
    # without a binding floor every direction ends with the same variance, and the total is kept
    loose = whitening_map(covariance, floor=1e-9).double()
    mapped = loose @ covariance @ loose.T
    assert torch.allclose(torch.linalg.eigvalsh(mapped), mean.expand(3), rtol=1e-5)
    assert torch.isclose(torch.trace(mapped), torch.trace(covariance), rtol=1e-5)


def test_whitening_map_is_the_identity_for_an_isotropic_or_constant_covariance():
    assert torch.allclose(whitening_map(0.3 * torch.eye(4, dtype=torch.float64)), torch.eye(4), atol=1e-6)
    assert torch.equal(whitening_map(torch.zeros(2, 2, dtype=torch.float64)), torch.eye(2))


def test_value_covariance_is_the_sample_covariance_of_the_scalar_columns():
    model = SynthGAN(**SMALL).fit(make_mixed())
    encoded = model.transformer_.encode(make_mixed(), np.random.default_rng(0))
    got = _value_covariance(encoded, Context(), torch.device("cpu"))
    assert torch.allclose(got, torch.as_tensor(np.cov(encoded.values.astype(np.float64), rowvar=False)), atol=1e-9)


def _tight_frame():
    """make_mixed() with a number nearly proportional to another."""
    frame = make_mixed()
    rng = np.random.default_rng(1)
    frame["width"] = 0.8 * frame["count"] + rng.normal(0, 0.05, len(frame))
    return frame


def test_the_critic_reads_whitened_numbers_and_its_penalty_is_taken_in_that_view(monkeypatch):
    frame = _tight_frame()
    plain = SynthGAN(critic_whitening=False, **SMALL).fit(frame)
    assert plain.model_.whitening is None
    seen = []  # the covariance the fit computed from its encoded rows
    measure = estimator._value_covariance
    monkeypatch.setattr(estimator, "_value_covariance", lambda *a: seen.append(measure(*a)) or seen[-1])
    whitened = SynthGAN(critic_whitening=True, **SMALL).fit(frame)
    model = whitened.model_
    assert len(seen) == 1
    assert torch.allclose(model.whitening, whitening_map(seen[0]), atol=1e-6)
    assert not torch.allclose(model.whitening, torch.eye(len(seen[0])), atol=0.05)
    encoded = whitened.transformer_.encode(frame, np.random.default_rng(0))

    index = torch.as_tensor(model.layout.tanh_index)
    rows = torch.as_tensor(encoded.dense()[:8])
    condition = torch.zeros(8, model.condition_dim)
    view = rows.clone()
    view[:, index] = rows[:, index] @ model.whitening
    assert torch.allclose(model._score(rows, condition), model.critic(torch.cat([view, condition], 1)), atol=1e-6)

    # the gradient penalty: the slope of the critic on blends of the whitened rows, not of the raw rows
    real, fake = torch.cat([view, condition], 1), torch.cat([view.flip(0), condition], 1)
    model.penalty_rng.manual_seed(3)
    penalty = model._gradient_penalty(real, fake)
    model.penalty_rng.manual_seed(3)
    mix = torch.rand(8, 1, 1, generator=model.penalty_rng).reshape(8, 1)
    blend = (mix * real + (1 - mix) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(model.critic(blend).sum(), blend)
    assert torch.isclose(penalty, 10.0 * ((grad.norm(dim=1) - 1) ** 2).mean(), rtol=1e-5)


def test_critic_loss_scores_and_penalizes_real_and_generated_rows_in_the_whitened_view():
    whitened = SynthGAN(critic_whitening=True, **SMALL).fit(_tight_frame())
    model = whitened.model_
    real = torch.as_tensor(whitened.transformer_.encode(_tight_frame(), np.random.default_rng(0)).dense()[:10])
    empty = torch.zeros(10, model.condition_dim)
    batch = Batch(real=real, real_condition=empty, condition=empty)
    states = model.noise_rng.get_state(), model.penalty_rng.get_state()

    def replay(whitening):
        model.whitening = whitening
        model.noise_rng.set_state(states[0])
        model.penalty_rng.set_state(states[1])
        return model.critic_loss(batch)

    loss = replay(model.whitening)
    # by hand: the same generated rows, every number through the map, the penalty on those rows
    model.noise_rng.set_state(states[0])
    with torch.no_grad():
        _, fake = model._fake(empty, model.noise_rng)
    index = torch.as_tensor(model.layout.tanh_index)

    def view(rows):
        out = rows.clone()
        out[:, index] = rows[:, index] @ model.whitening
        return torch.cat([out, empty], 1)

    model.penalty_rng.set_state(states[1])
    expected = (model.critic(view(fake)).mean() - model.critic(view(real)).mean()
                + model._gradient_penalty(view(real), view(fake)))
    assert torch.isclose(loss, expected, rtol=1e-5)
    assert not torch.isclose(loss, replay(None), rtol=1e-3)  # the plain view scores differently


def test_private_fits_and_tables_without_numbers_do_not_whiten(monkeypatch):
    monkeypatch.setattr("synthgan.estimator.secrets.randbits", lambda bits: 12345)
    frame = make_mixed()
    private = SynthGAN(critic_whitening=True, epsilon=5.0, **SMALL).fit(frame)
    assert private.model_.whitening is None
    words = frame[["group", "city"]]
    assert SynthGAN(critic_whitening=True, **SMALL).fit(words).model_.whitening is None


def test_critic_whitening_is_the_default_and_older_files_report_it_off():
    assert SynthGAN().critic_whitening is True
    assert estimator._INTRODUCED["critic_whitening"] is False  # files from before it trained without


def test_critic_whitening_is_a_checked_parameter():
    with pytest.raises(Exception, match="critic_whitening"):
        SynthGAN(critic_whitening="yes", **SMALL).fit(make_mixed())


def test_critic_whitening_trains_under_bfloat16_autocast():
    model = SynthGAN(critic_whitening=True, precision="bfloat16", device="cpu", **SMALL).fit(_tight_frame())
    assert model.model_.whitening is not None and model.model_.whitening.dtype == torch.float32
    assert np.isfinite(model.history_["critic_loss"]).all()


def test_whitening_map_leaves_a_number_without_variance_alone():
    # a point-mass mode's value is constant in the training rows and decoding does not read it:
    # stretching it to the floor would make the critic chase a coordinate that means nothing
    covariance = torch.zeros(4, 4, dtype=torch.float64)
    covariance[:3, :3] = _covariance(np.random.default_rng(0))
    w = whitening_map(covariance).double()
    assert torch.equal(w[3], torch.tensor([0.0, 0.0, 0.0, 1.0], dtype=torch.float64))
    assert torch.equal(w[:, 3], torch.tensor([0.0, 0.0, 0.0, 1.0], dtype=torch.float64))
    assert torch.allclose(w[:3, :3], whitening_map(covariance[:3, :3]).double(), atol=1e-6)
