"""Differentially private training: the accountant's epsilon, the budget stop, per-row clipping, the
private statistics path and the option checks."""

from __future__ import annotations

import math
import warnings
import zipfile

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner
from opacus.accountants import RDPAccountant
from torch import nn

import synthgan.estimator as estimator_module
import synthgan.transform.columns as columns_module
import synthgan.transform.modes as modes_module
import synthgan.transform.transformer as transformer_module
from synthgan import SynthGAN, SynthGANError
from synthgan.cli import _privacy_line, main
from synthgan.conditional import ConditionSampler
from synthgan.errors import DataError
from synthgan.models.base import Batch, Phase
from synthgan.privacy import DPStrategy, release_statistics, training_epsilon
from synthgan.privacy.accounting import composed_epsilon
from synthgan.training.batches import PoissonBatchSampler
from synthgan.transform.columns import detect_columns

from .conftest import make_mixed

SMALL = dict(batch_size=100, embedding_dim=8, generator_dim=(16,), discriminator_dim=(16,), verbose=False,
             random_state=0)


def table(n: int = 2000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    group = rng.choice(["a", "b", "c"], size=n, p=[0.5, 0.3, 0.2])
    return pd.DataFrame({
        "amount": np.where(group == "a", rng.normal(10, 1, n), rng.normal(50, 5, n)),
        "count": rng.poisson(4, n).astype(np.int64),
        "group": group,
        "flag": rng.random(n) < 0.3,
    })


def quiet_fit(model: SynthGAN, frame: pd.DataFrame) -> SynthGAN:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(frame)


def test_reported_epsilon_is_opacus_accountant_for_the_steps_and_noise_used():
    model = quiet_fit(SynthGAN(epochs=2, epsilon=3.0, **SMALL), table())
    p = model.privacy_
    assert p["steps"] == 2 * (2000 // 100)  # epochs x steps per epoch, one critic step each
    assert p["sample_rate"] == pytest.approx(100 / 2000)
    accountant = RDPAccountant()
    for _ in range(p["steps"]):
        accountant.step(noise_multiplier=p["noise_multiplier"], sample_rate=p["sample_rate"])
    accountant.step(noise_multiplier=p["moments_noise_multiplier"], sample_rate=1.0)  # the moment release
    assert p["epsilon_training"] == pytest.approx(accountant.get_epsilon(p["delta_training"]), rel=1e-9)
    assert p["epsilon"] == pytest.approx(p["epsilon_statistics"] + p["epsilon_training"])
    assert p["epsilon_statistics"] == pytest.approx(0.2 * 3.0)
    assert p["epsilon"] <= 3.0 + 1e-9 and p["epsilon"] > 2.9  # the noise is set to spend the budget
    assert p["delta"] == pytest.approx(1e-5) and p["unit"] == "row"
    assert (p["pac"], p["loss"]) == (1, "bce") and model.model_.config.pac == 1
    assert "critic_loss" not in model.history_  # measured on real rows without noise: not kept


def test_a_private_target_predictor_is_trained_by_dp_sgd_and_composed_in_the_accountant():
    model = quiet_fit(SynthGAN(epochs=2, epsilon=3.0, target="group", **SMALL), table())
    p = model.privacy_
    assert p["target_steps"] == p["steps"] == 2 * (2000 // 100)  # one private predictor update per step
    accountant = RDPAccountant()
    accountant.history = [(p["noise_multiplier"], p["sample_rate"], p["steps"]),
                          (p["target_noise_multiplier"], p["sample_rate"], p["target_steps"]),
                          (p["moments_noise_multiplier"], 1.0, 1)]
    assert p["epsilon_training"] == pytest.approx(accountant.get_epsilon(p["delta_training"]), rel=1e-9)
    assert 2.9 < p["epsilon"] <= 3.0 + 1e-9  # both noises are set so that the two compose to the budget
    assert p["target_noise_multiplier"] > p["noise_multiplier"]  # a quarter of the budget: more noise
    assert "target_loss" not in model.history_  # measured on real rows without noise: not kept
    assert f"{p['target_steps']} target predictor steps" in _privacy_line(p)  # what the CLI prints
    generator = next(phase for phase in model.model_.phases() if phase.name == "generator")
    dim, width = model.model_.layout.dim, model.model_.condition_dim
    condition = torch.zeros(8, width)
    condition[:, 0] = 1.0
    poisoned = Batch(torch.full((8, dim), float("nan")), torch.full((8, width), float("nan")), condition)
    assert torch.isfinite(generator.loss(poisoned))  # the generator's target term reads no real row


AUTO = ("epochs", "discriminator_dim", "generator_lr", "discriminator_lr", "mode_separation", "moment_weight",
        "bounded_mode_merging")


def test_auto_defaults_take_private_values_only_with_epsilon_and_never_replace_given_ones():
    assert [SynthGAN()._model_params()[k] for k in AUTO] == [300, (256, 256), 2e-4, 2e-4, 2.0, 0.0, False]
    assert [SynthGAN(epsilon=3.0)._model_params()[k] for k in AUTO] == [20, (64, 64), 1e-3, 1e-3, 2.0, 4.0, True]
    given = SynthGAN(epsilon=3.0, epochs=5, discriminator_dim=(32,), generator_lr=1e-4, discriminator_lr=3e-4,
                     mode_separation=1.5, moment_weight=1.0, bounded_mode_merging=False)
    assert [given._model_params()[k] for k in AUTO] == [5, (32,), 1e-4, 3e-4, 1.5, 1.0, False]
    assert [SynthGAN(epsilon=3.0).get_params()[k] for k in AUTO] == ["auto"] * 7  # stored as given
    with pytest.raises(SynthGANError, match="epochs must be an integer >= 1 or 'auto'"):
        SynthGAN(epochs="many").fit(make_mixed())
    fitted = quiet_fit(SynthGAN(epsilon=3.0, epochs=1, batch_size=100, verbose=False, random_state=0), table(1000))
    widths = [layer.out_features for layer in fitted.model_.critic.modules() if isinstance(layer, nn.Linear)]
    assert widths == [64, 64, 1] and fitted.model_.config.discriminator_lr == 1e-3
    assert fitted.transformer_.mode_separation == 2.0  # merging the released mixtures is post-processing
    plain = quiet_fit(SynthGAN(epochs=1, batch_size=100, verbose=False, random_state=0), table(1000))
    assert plain.transformer_.mode_separation == 2.0


def test_training_stops_when_the_budget_is_spent_whatever_epochs_says():
    model = quiet_fit(SynthGAN(epochs=40, epsilon=1.0, noise_multiplier=2.5, **SMALL), table())
    p = model.privacy_
    assert 20 < p["steps"] < 40 * 20 and len(model.history_) < 40  # stopped inside an epoch, well before 40
    assert p["epsilon"] <= 1.0
    # one more step, composed with the moment release, would have gone past the training share
    assert composed_epsilon([(p["noise_multiplier"], p["sample_rate"], p["steps"] + 1),
                             (p["moments_noise_multiplier"], 1.0, 1)], p["delta_training"]) > 0.8 * 1.0


class _Linear(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(3, 1, bias=False)

    def forward(self, x):
        return self.layer(x)


class _OneNetwork:
    """A model with one trained network whose loss is the sum of its outputs over the real rows."""

    def __init__(self):
        self.net = _Linear()
        nn.init.zeros_(self.net.layer.weight)

    def networks(self):
        return {"critic": self.net}

    def configure_optimizers(self):
        return {"critic": torch.optim.SGD(self.net.parameters(), lr=1.0)}

    def phases(self):
        return (Phase("critic", lambda batch: self.net(batch.real).sum()),)


def _update(rows: np.ndarray, clip: float) -> torch.Tensor:
    model = _OneNetwork()
    strategy = DPStrategy(epsilon=1e6, delta=1e-5, max_grad_norm=clip, sample_rate=0.5, expected_batch_size=4,
                          planned_steps=1, noise_multiplier=1e-12)
    strategy.setup(model)
    strategy.allowed = 1  # (almost) no noise has no finite epsilon; this test is about clipping alone
    real = torch.as_tensor(rows, dtype=torch.float32)
    empty = torch.zeros(len(rows), 0)
    strategy.run(model.phases()[0], Batch(real, empty, empty))
    return model.net.layer.weight.detach().clone()


def test_each_row_moves_the_update_by_at_most_the_clip_over_the_expected_batch():
    rows = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.5, 0.5, 0.0]])
    outlier = np.vstack([rows, [[1000.0, -1000.0, 1000.0]]])
    without, with_outlier = _update(rows, clip=1.0), _update(outlier, clip=1.0)
    # SGD with lr 1: the update is minus the noisy mean of clipped per-row gradients (sum / 4)
    assert (with_outlier - without).norm().item() <= 1.0 / 4 + 1e-5
    assert (with_outlier - without).norm().item() > 0.2  # the outlier did count, clipped to norm 1
    # rows already inside the bound are not changed by clipping: the update is their plain sum / 4
    assert torch.allclose(without, -torch.as_tensor(rows.sum(axis=0), dtype=torch.float32)[None] / 4, atol=1e-5)


class _PublicTerm(_OneNetwork):
    """A loss with a public part: the sum of outputs over ``batch.condition`` (rows that are not real)."""

    def phases(self):
        return (Phase("critic", lambda batch: self.net(batch.real).sum(),
                      public_loss=lambda batch: self.net(batch.condition).sum()),)


def test_the_public_part_of_a_loss_is_added_as_is_outside_clipping_and_noise():
    model = _PublicTerm()
    strategy = DPStrategy(epsilon=1e6, delta=1e-5, max_grad_norm=1.0, sample_rate=0.5, expected_batch_size=4,
                          planned_steps=1, noise_multiplier=1e-12)
    strategy.setup(model)
    strategy.allowed = 1
    real = torch.tensor([[3.0, 4.0, 0.0]])  # norm 5: clipped to norm 1
    generated = torch.tensor([[0.0, 0.0, 100.0], [0.0, 0.0, 20.0]])  # norm 120 in all: kept whole
    strategy.run(model.phases()[0], Batch(real, torch.zeros(1, 0), generated))
    expected = -(torch.tensor([[0.6, 0.8, 0.0]]) + torch.tensor([[0.0, 0.0, 120.0]])) / 4
    assert torch.allclose(model.net.layer.weight.detach(), expected, atol=1e-4)
    assert strategy.steps == 1  # one private step for the accountant, whatever the public part


def test_private_gan_scores_generated_rows_apart_from_real_ones():
    frame = make_mixed(200, seed=5)
    model = SynthGAN(epsilon=5.0, epochs=1, batch_size=50, random_state=0, verbose=False).fit(frame).model_
    critic = model.phases()[0]
    assert critic.name == "critic" and critic.public_loss is not None
    dim = model.layout.dim
    width = model.condition_dim
    condition = torch.zeros(8, width)
    condition[:, 0] = 1.0
    poisoned = Batch(torch.full((8, dim), float("nan")), torch.full((8, width), float("nan")), condition)
    assert torch.isfinite(critic.public_loss(poisoned))  # reads no real row
    assert torch.isnan(critic.loss(poisoned))  # the private part is the one that reads them


def test_strategy_refuses_an_update_past_the_budget():
    model = _OneNetwork()
    strategy = DPStrategy(epsilon=0.5, delta=1e-5, max_grad_norm=1.0, sample_rate=0.5, expected_batch_size=2,
                          planned_steps=1, noise_multiplier=0.7)
    strategy.setup(model)
    assert strategy.allowed >= 0 and training_epsilon(0.7, 0.5, strategy.allowed + 1, 1e-5) > 0.5
    real = torch.ones(2, 3)
    empty = torch.zeros(2, 0)
    for _ in range(strategy.allowed):
        strategy.run(model.phases()[0], Batch(real, empty, empty))
    assert strategy.finished
    with pytest.raises(RuntimeError, match="past the budget"):
        strategy.run(model.phases()[0], Batch(real, empty, empty))


class _TwoNetworks(_OneNetwork):
    """``critic`` and ``target``, each with the loss of _OneNetwork, the critic updated twice a step."""

    def __init__(self):
        super().__init__()
        self.other = _Linear()

    def networks(self):
        return {"critic": self.net, "target": self.other}

    def configure_optimizers(self):
        return {"critic": torch.optim.SGD(self.net.parameters(), lr=1.0),
                "target": torch.optim.SGD(self.other.parameters(), lr=1.0)}

    def phases(self):
        return (Phase("critic", lambda batch: self.net(batch.real).sum(), repeats=2),
                Phase("target", lambda batch: self.other(batch.real).sum()))


def test_two_private_networks_compose_to_the_budget_and_stop_together():
    model = _TwoNetworks()
    strategy = DPStrategy(epsilon=1.0, delta=1e-5, max_grad_norm=1.0, sample_rate=0.1, expected_batch_size=2,
                          planned_steps=40, shares={"target": 0.25})
    strategy.setup(model)
    critic, target = strategy.private["critic"], strategy.private["target"]
    planned = [(critic.noise_multiplier, 0.1, 40), (target.noise_multiplier, 0.1, 20)]
    assert 0.99 < composed_epsilon(planned, 1e-5) <= 1.0  # the planned steps spend the budget
    assert target.noise_multiplier > critic.noise_multiplier
    rounds = critic.allowed // 2
    assert (critic.allowed, target.allowed) == (2 * rounds, rounds) and rounds >= 20
    assert composed_epsilon([(critic.noise_multiplier, 0.1, 2 * rounds + 2),
                             (target.noise_multiplier, 0.1, rounds + 1)], 1e-5) > 1.0  # one more round: over
    real, empty = torch.ones(2, 3), torch.zeros(2, 0)
    for _ in range(rounds):
        for phase in model.phases():
            for _ in range(phase.repeats):
                strategy.run(phase, Batch(real, empty, empty))
    assert strategy.finished and strategy.report()["target_steps"] == rounds
    assert strategy.spent() == pytest.approx(composed_epsilon([(critic.noise_multiplier, 0.1, 2 * rounds),
                                                               (target.noise_multiplier, 0.1, rounds)], 1e-5))
    with pytest.raises(RuntimeError, match="'target' past the budget"):
        strategy.run(model.phases()[1], Batch(real, empty, empty))


def test_poisson_batches_include_each_row_independently_with_its_own_category():
    codes = np.repeat(np.arange(4), 250)[:, None]  # one condition span of 4 categories
    data = np.zeros((1000, 4), dtype=np.float32)
    data[np.arange(1000), codes[:, 0]] = 1.0
    sampler = PoissonBatchSampler(data, codes, ConditionSampler([np.array([1, 1, 1, 1])]), 0.1,
                                  torch.device("cpu"), np.random.default_rng(0))
    sizes = []
    for _ in range(200):
        batch = sampler.draw(100)
        sizes.append(len(batch.real))
        assert torch.equal(batch.real_condition, batch.real)  # each row conditioned on its own category
        assert len(batch.condition) == 100
    assert np.mean(sizes) == pytest.approx(100, rel=0.03) and np.std(sizes) > 5  # Binomial(1000, 0.1)


def test_the_private_path_never_reads_the_exact_statistics(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("an exact statistic was read on the private path")

    monkeypatch.setattr(transformer_module, "exact_states", forbidden)
    monkeypatch.setattr(columns_module, "_generation_plan", forbidden)
    monkeypatch.setattr(estimator_module, "exact_condition_counts", forbidden)
    monkeypatch.setattr(estimator_module.cond, "observed_pairs", forbidden)
    monkeypatch.setattr(ConditionSampler, "rows_for", forbidden)
    frame = table().assign(customer_id=np.arange(5000, 7000))
    model = quiet_fit(SynthGAN(epochs=1, epsilon=10.0, **SMALL), frame)
    assert model.privacy_["epsilon"] <= 10.0
    # the quantile encoding reads its grids from the release (see the test below), not exact quantiles
    model = quiet_fit(SynthGAN(epochs=1, epsilon=10.0, numeric_encoding="quantile", **SMALL), frame)
    assert any(getattr(state, "quantiles", None) is not None for state in model.transformer_.states_)
    with pytest.raises(AssertionError, match="exact statistic"):  # the guard works on the exact path
        quiet_fit(SynthGAN(epochs=1, **SMALL), frame)


def test_a_level_held_by_few_rows_and_an_outlier_never_leave_the_model(tmp_path, monkeypatch):
    monkeypatch.setattr(estimator_module.secrets, "randbits", lambda bits: 12345)  # fixed "secret" noise
    frame = table()
    frame.loc[:29, "group"] = "SECRET-LEVEL"  # 30 rows: well below the release threshold (~60 rows here)
    frame.loc[5, "amount"] = 987654321.0  # one row far out
    model = quiet_fit(SynthGAN(epochs=1, epsilon=5.0, **SMALL), frame)
    state = dict(zip([s.name for s in model.transformer_.specs_], model.transformer_.states_))
    assert "SECRET-LEVEL" not in state["group"].all_levels
    assert state["amount"].maximum < 1e6
    path = tmp_path / "m.synthgan"
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        blob = b"".join(archive.read(name) for name in archive.namelist())
    assert b"SECRET-LEVEL" not in blob and b"987654321" not in blob
    out = model.sample(2000)
    assert not (out["group"] == "SECRET-LEVEL").any() and out["amount"].max() < 1e6
    assert list(out.dtypes) == list(frame.dtypes)


def test_unknown_levels_need_enough_rows_and_public_categories_lift_that():
    frame = table(300)
    specs = detect_columns(frame, exact=False)
    with pytest.warns(UserWarning, match="'group'.*public_categories.*generated as missing"):
        hidden = release_statistics(frame, specs, np.random.default_rng(0), epsilon=0.05, delta=1e-6)
    assert hidden.states["group"].all_levels == (None,)
    codes = frame.assign(group=frame["group"].astype(np.int64 if False else object))
    with pytest.raises(DataError, match="'count'.*public_categories"):  # integers cannot be generated as missing
        release_statistics(codes, detect_columns(codes, ["count"], exact=False), np.random.default_rng(0),
                           epsilon=0.05, delta=1e-6)
    release = release_statistics(frame, specs, np.random.default_rng(0), epsilon=0.05, delta=1e-6,
                                 public_categories={"group": ["a", "b", "c", "d"]})
    assert set(release.states["group"].all_levels) <= {"a", "b", "c", "d"}
    bounded = release_statistics(frame, specs, np.random.default_rng(0), epsilon=1.0, delta=1e-6,
                                 public_bounds={"amount": (0, 80)}, public_categories={"group": ["a", "b", "c"]})
    assert 0 <= bounded.states["amount"].minimum and bounded.states["amount"].maximum <= 80
    assert bounded.queries == release.queries - 1  # a public range costs no query


@pytest.mark.parametrize("kwargs, message", [
    (dict(model="copula"), "cannot be trained with differential privacy"),
    (dict(model="wgan-gp"), "cannot be trained with differential privacy"),
    (dict(validation_size=0.2), "validation_size cannot be used with epsilon"),
])
def test_incompatible_options_are_refused(kwargs, message):
    with pytest.raises(SynthGANError, match=message):
        SynthGAN(epsilon=1.0, **kwargs).fit(make_mixed())


def test_privacy_options_without_epsilon_and_resume_are_refused(tmp_path):
    with pytest.raises(SynthGANError, match="delta only apply to private training"):
        SynthGAN(delta=1e-6).fit(make_mixed())
    with pytest.raises(SynthGANError, match="resume_from cannot be used with epsilon"):
        SynthGAN(epsilon=1.0, **SMALL).fit(make_mixed(), resume_from=tmp_path)


def test_private_fit_by_the_cli_reports_and_keeps_its_guarantee(tmp_path, monkeypatch):
    monkeypatch.setattr(estimator_module, "MIN_PRIVATE_STEPS", 60)  # the step floor, small enough for a test
    data, path = tmp_path / "t.parquet", tmp_path / "m.synthgan"
    table(1000).to_parquet(data)
    result = CliRunner().invoke(main, ["fit", str(data), "-o", str(path), "--epsilon", "4", "--quiet", "--seed", "0"])
    assert result.exit_code == 0, result.output
    assert "differential privacy: epsilon" in result.output
    loaded = SynthGAN.load(path)
    # no --epochs: 1000 rows make 2 batches of 500 an epoch, so 30 epochs reach the step floor (not 20)
    assert loaded.privacy_["steps"] == 60 and len(loaded.history_) == 30
    assert loaded.get_params()["epochs"] == "auto" and loaded.get_params()["discriminator_dim"] == "auto"
    assert loaded.privacy_["target_epsilon"] == 4 and 3.5 < loaded.privacy_["epsilon"] <= 4
    info = CliRunner().invoke(main, ["info", str(path)])
    assert "differential privacy: epsilon" in info.output and "spent of 4" in info.output


def test_private_statistics_keep_the_shape_of_large_columns():
    rng = np.random.default_rng(1)
    n = 20_000
    frame = pd.DataFrame({"income": np.where(rng.random(n) < 0.6, 0.0, rng.lognormal(8, 0.5, n)),
                          "age": rng.integers(18, 80, n).astype(np.int64),
                          "group": rng.choice(["a", "b", "c", "d"], n, p=[0.4, 0.3, 0.2, 0.1])})
    release = release_statistics(frame, detect_columns(frame, exact=False), np.random.default_rng(0),
                                 epsilon=1.0, delta=1e-6)

    def mixture_mean(state):
        return state.loc + state.scale * float(np.dot(state.weights, state.means))

    for column in ("income", "age"):
        state = release.states[column]
        assert mixture_mean(state) == pytest.approx(frame[column].mean(), rel=0.1)
        assert state.minimum <= frame[column].quantile(0.01) and state.maximum >= frame[column].quantile(0.99)
    assert release.states["age"].minimum >= 16 and release.states["age"].maximum <= 128  # powers of two
    shares = release.slot_counts["group"] / release.slot_counts["group"].sum()
    assert release.states["group"].levels == ("a", "b", "c", "d")
    assert np.allclose(shares, [0.4, 0.3, 0.2, 0.1], atol=0.02)


def test_private_grid_of_a_wide_integer_region_is_cut_into_parts_not_listed_value_by_value():
    # german_credit found it: a whole-number column whose noisy magnitudes reach 2**52 made the grid
    # list every integer of the region before counting them (a 32 PiB array)
    from synthgan.privacy.statistics import _grid

    lows, highs = _grid([(0.0, 0.0), (2.0**40, 2.0**52)], 1.0)
    assert 2 <= len(lows) <= 65 and lows[0] == 0.0 and highs[-1] == 2.0**52
    exact_lows, exact_highs = _grid([(4.0, 8.0), (8.0, 16.0)], 1.0)
    assert list(exact_lows) == list(range(4, 17)) and list(exact_highs) == list(range(4, 17))


def test_private_exact_grid_holds_every_value_its_regions_can_hold():
    from synthgan.privacy.statistics import _grid

    # declared bounds include both ends: ratings 1..5 keep their 5s
    assert list(_grid([(1.0, 5.0)], 1.0)[0]) == [1.0, 2.0, 3.0, 4.0, 5.0]
    # a negative magnitude region (-2, -1] holds -1 (not -2 alone); positive [1, 2) and [2, 4) hold 1..3
    lows = list(_grid([(-2.0, -1.0), (0.0, 0.0), (1.0, 2.0), (2.0, 4.0)], 1.0)[0])
    assert {-1.0, 0.0, 1.0, 2.0, 3.0} <= set(lows)
    # a decimal step: 1.0 / 0.1 is a hair above 10, and 1.0 is still on the grid
    assert 1.0 in _grid([(1.0, 2.0)], 0.1)[0]
    # a private fit of a column of ratings with declared bounds generates the top rating
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"rating": rng.choice([1, 2, 3, 4, 5], 3000, p=[0.1, 0.1, 0.2, 0.3, 0.3]).astype(np.int64),
                          "group": rng.choice(["a", "b"], 3000)})
    model = quiet_fit(SynthGAN(epochs=1, epsilon=5.0, public_bounds={"rating": (1, 5)}, **SMALL), frame)
    assert (model.sample(2000, random_state=0)["rating"] == 5).any()


def test_a_column_with_no_level_released_trains_and_is_generated_as_missing():
    # every level of 'rare' is held by few rows: none clears the release threshold, so the column is
    # generated as missing; encoding it used to fail on the empty list of non-missing levels
    frame = table(400)
    frame["rare"] = pd.Series([f"v{i % 80}" for i in range(len(frame))], dtype=object)
    with pytest.warns(UserWarning, match="'rare': no level is frequent enough"):
        model = SynthGAN(epsilon=1.0, epochs=1, **SMALL).fit(frame)
    out = model.sample(50)
    assert out["rare"].isna().all() and out.columns.tolist() == frame.columns.tolist()


def test_generator_steps_are_free_under_differential_privacy():
    from synthgan.training import Callback

    class Updates(Callback):
        def __init__(self):
            self.phases = []

        def on_after_backward(self, state):
            self.phases.append(state.phase)

    runs = {}
    for steps in (1, 3):
        seen = Updates()
        runs[steps] = quiet_fit(SynthGAN(epochs=2, epsilon=3.0, generator_steps=steps, callbacks=[seen], **SMALL),
                                table()), seen.phases
    (one, phases_one), (three, phases_three) = runs[1], runs[3]
    assert phases_three.count("generator") == 3 * phases_three.count("critic") == 3 * 2 * (2000 // 100)
    assert phases_one.count("generator") == phases_one.count("critic")
    for key in ("steps", "epsilon", "noise_multiplier", "sample_rate"):  # the budget reads critic steps only
        assert three.privacy_[key] == one.privacy_[key], key


def test_histogram_quantiles_follow_the_noisy_histogram_and_nothing_else():
    from synthgan.privacy.statistics import histogram_quantiles

    rng = np.random.default_rng(0)
    lows, highs = np.array([0.0, 1.0]), np.array([1.0, 2.0])
    grid = np.asarray(histogram_quantiles(lows, highs, np.array([3000.0, 1000.0]), rng))
    assert len(grid) == 400 and grid[0] >= 0.0 and grid[-1] <= 2.0 and np.all(np.diff(grid) >= 0)
    # three quarters of the weight uniform on [0, 1], a quarter on [1, 2]
    assert np.interp([0.375, 0.75, 0.875], np.linspace(0, 1, len(grid)), grid) == pytest.approx([0.5, 1.0, 1.5],
                                                                                                abs=0.02)
    # a point bin is a spike: a run of equal grid points holding its weight
    spiked = np.asarray(histogram_quantiles(np.array([0.0, 1.0]), np.array([0.0, 2.0]), np.array([500.0, 500.0]),
                                            np.random.default_rng(0)))
    assert np.mean(spiked == 0.0) == pytest.approx(0.5, abs=0.02)
    assert histogram_quantiles(np.array([5.0]), np.array([5.0]), np.array([80.0]), rng) is None  # one value
    # bins at or under the floor (the release's noise on empty bins) hold no mass
    values = np.arange(20.0, 130.0)
    noisy = np.where(values < 90, 100.0, 3.0)  # 90..129: empty bins that the noise lifted a little
    grid = histogram_quantiles(values, values, noisy, rng, floor=10.0)
    assert max(grid) == 89.0
    assert max(histogram_quantiles(values, values, noisy, rng)) > 100.0  # no floor: a tail the column lacks


def forbid_exact_grids(monkeypatch, *modules) -> None:
    """Make reading an exact quantile grid (the rows' own) fail the test."""
    def forbidden(*args, **kwargs):
        raise AssertionError("an exact quantile grid was read on the private path")

    monkeypatch.setattr(transformer_module, "_with_target", forbidden)
    for module in modules:
        monkeypatch.setattr(module, "quantile_grid", forbidden)


def incomes(n: int, seed: int) -> pd.DataFrame:
    """A skewed number with a spike of zeros (about 40%), and a category."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"income": np.where(rng.random(n) < 0.4, 0.0, rng.lognormal(8, 0.7, n)),
                         "group": rng.choice(["a", "b"], n)})


def test_private_marginal_calibration_maps_onto_the_release_never_the_rows(monkeypatch):
    forbid_exact_grids(monkeypatch, transformer_module)
    n = 4000
    frame = incomes(n, 3)
    model = quiet_fit(SynthGAN(epochs=1, epsilon=10.0, marginal_calibration=True, dependence_calibration=True,
                               **SMALL), frame)
    state = model.transformer_.states_[0]
    assert model.transformer_.calibration and state.target is not None and state.generated is not None
    assert model.transformer_.dependence_ is None  # its target is the rows' correlation: exact path only
    target = np.asarray(state.target)
    assert len(target) == pytest.approx(n // 10, rel=0.05)  # points for the noisy count of values
    out = model.sample(20_000, random_state=1)["income"]
    # no income is missing; a noisy missing count can still give the column a missing indicator (about
    # one fit in forty), and then the sample holds about the release's share, a few rows in a thousand
    assert out.isna().mean() < 0.01
    out = out.dropna().to_numpy()
    levels = np.linspace(0.55, 0.95, 9)  # above the spike of zeros (about 40%)
    calibrated = np.quantile(out, levels)
    expected = np.interp(levels, np.linspace(0, 1, len(target)), target)
    assert calibrated == pytest.approx(expected, rel=0.05)  # the sample follows the release's marginal
    assert np.mean(out == 0.0) == pytest.approx(np.mean(target == 0.0), abs=0.03)
    # the release is noisy: its grid is not the rows' own
    assert not np.allclose(target, np.quantile(frame["income"], np.linspace(0, 1, len(target))))
    # off by default with epsilon ("auto"), and then no grid is kept
    off = quiet_fit(SynthGAN(epochs=1, epsilon=10.0, **SMALL), frame)
    assert off.transformer_.calibration is False
    assert off.transformer_.states_[0].target is None and off.transformer_.states_[0].generated is None
    uncalibrated = np.quantile(off.sample(20_000, random_state=1)["income"].dropna().to_numpy(), levels)
    assert np.abs(uncalibrated - expected).max() > np.abs(calibrated - expected).max()


def test_private_quantile_encoding_reads_its_grid_from_the_release_never_the_rows(monkeypatch):
    forbid_exact_grids(monkeypatch, modes_module)
    frame = incomes(4000, 5)
    model = quiet_fit(SynthGAN(epochs=1, epsilon=10.0, numeric_encoding="quantile", marginal_calibration=True,
                               **SMALL), frame)
    state = model.transformer_.states_[0]
    grid = np.asarray(state.quantiles)
    assert state.target is not None and np.array_equal(grid, np.asarray(state.target))  # the release's grid
    assert not np.allclose(grid, np.quantile(frame["income"], np.linspace(0, 1, len(grid))))  # noisy, not the rows'
    # the mixture is fitted to normal scores: near-Gaussian, not the lognormal's raw values
    assert abs(state.loc) < 0.5 and 0.5 < state.scale < 1.5
    # without it a private fit encodes the raw values
    modes = quiet_fit(SynthGAN(epochs=1, epsilon=10.0, **SMALL), frame).transformer_.states_[0]
    assert modes.quantiles is None and modes.scale > 1000
    out = model.sample(20_000, random_state=1)["income"].to_numpy()
    assert out.min() >= grid[0] and out.max() <= grid[-1]  # decoded through the released grid


def test_private_auto_epochs_give_a_small_table_enough_steps(monkeypatch):
    # 20 epochs, or as many as MIN_PRIVATE_STEPS batches need, whichever is more; given epochs are kept
    assert SynthGAN(epsilon=1.0)._epochs(36_000, 500) == 20
    assert SynthGAN(epsilon=1.0)._epochs(800, 500) == estimator_module.MIN_PRIVATE_STEPS  # one batch per epoch
    assert SynthGAN(epsilon=1.0)._epochs(3341, 500) == math.ceil(estimator_module.MIN_PRIVATE_STEPS / 6)
    assert SynthGAN(epsilon=1.0, epochs=5)._epochs(800, 500) == 5
    assert SynthGAN()._epochs(800, 500) == 300
    # a fit plans its noise for those steps and takes them
    monkeypatch.setattr(estimator_module, "MIN_PRIVATE_STEPS", 600)
    model = quiet_fit(SynthGAN(epsilon=10.0, **SMALL), table())  # 2,000 rows, batch 100: 20 batches an epoch
    assert len(model.history_) == 30 and model.privacy_["steps"] == 600
    assert model.privacy_["epsilon"] <= 10.0
