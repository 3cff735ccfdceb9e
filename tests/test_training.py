"""The training seam: strategy, callbacks, history, checkpoints and resume, early stopping, validation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone

from synthgan import SynthGAN, SynthGANError
from synthgan.models import build_model
from synthgan.streams import RandomStreams
from synthgan.training import (BatchSampler, Callback, Checkpoint, EarlyStopping, Strategy, TrainState,
                               read_checkpoint)
from synthgan.transform.transformer import DataTransformer
from tests.conftest import make_mixed

FAST = dict(batch_size=60, pac=4, embedding_dim=16, generator_dim=(32,), discriminator_dim=(32,), verbose=False,
            random_state=0)


class Recorder(Callback):
    """Records every hook call as ``(hook, epoch, phase)``."""

    def __init__(self):
        self.events: list[tuple] = []

    def on_fit_start(self, state):
        self.events.append(("fit_start", state.epoch, None))

    def on_epoch_start(self, state):
        self.events.append(("epoch_start", state.epoch, None))

    def on_after_backward(self, state):
        self.events.append(("after_backward", state.epoch, state.phase))

    def on_epoch_end(self, state):
        self.events.append(("epoch_end", state.epoch, None))
        state.logs["custom"] = 10.0 * state.epoch

    def on_fit_end(self, state):
        self.events.append(("fit_end", state.epoch, None))


class Scripted(Callback):
    """Logs a fixed sequence as ``score`` (one value per epoch) and snapshots the generator weights."""

    def __init__(self, values):
        self.values = values
        self.weights = {}

    def on_epoch_end(self, state):
        state.logs["score"] = self.values[state.epoch - 1]
        self.weights[state.epoch] = state.model.weights()


class StopAt(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, state):
        state.stop = state.epoch >= self.epoch


@pytest.fixture
def mixed_frame():
    return make_mixed()


def _equal_weights(a: SynthGAN, b: SynthGAN) -> bool:
    wa, wb = a.model_.weights(), b.model_.weights()
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


# ---------------------------------------------------------------- hooks, state, history
def test_hooks_run_in_order_with_epochs_counted_from_one(mixed_frame):
    recorder = Recorder()
    est = SynthGAN(epochs=3, callbacks=[recorder], **FAST).fit(mixed_frame)
    hooks = [e[0] for e in recorder.events]
    assert hooks[0] == "fit_start" and hooks[-1] == "fit_end"
    assert [e[1] for e in recorder.events if e[0] == "epoch_start"] == [1, 2, 3]
    assert [e[1] for e in recorder.events if e[0] == "epoch_end"] == [1, 2, 3]
    steps = len(mixed_frame) // 60
    backward = [e for e in recorder.events if e[0] == "after_backward"]
    assert len(backward) == 3 * steps * 2  # one critic and one generator update per step
    assert [e[2] for e in backward[:4]] == ["critic", "generator", "critic", "generator"]
    # whatever a callback logs becomes a history column
    assert list(est.history_.columns) == ["epoch", "generator_loss", "critic_loss", "seconds", "custom"]
    assert est.history_["custom"].tolist() == [10.0, 20.0, 30.0]


def test_stop_flag_ends_training_after_that_epoch(mixed_frame):
    est = SynthGAN(epochs=50, callbacks=[StopAt(2)], **FAST).fit(mixed_frame)
    assert est.history_["epoch"].tolist() == [1, 2]


def test_open_history_keys_survive_save_and_load(mixed_frame, tmp_path):
    est = SynthGAN(epochs=2, callbacks=[Recorder()], **FAST).fit(mixed_frame)
    est.save(tmp_path / "m.synthgan")
    loaded = SynthGAN.load(tmp_path / "m.synthgan")
    assert loaded.history_["custom"].tolist() == [10.0, 20.0]


def test_user_callbacks_survive_clone(mixed_frame):
    original = Recorder()
    est = SynthGAN(epochs=2, callbacks=[original, EarlyStopping(monitor="custom", patience=3)], **FAST)
    copy = clone(est)
    assert [type(c) for c in copy.callbacks] == [Recorder, EarlyStopping]
    assert copy.callbacks[1].monitor == "custom" and copy.callbacks[1].patience == 3
    copy.fit(mixed_frame)
    assert copy.callbacks[0].events and not original.events  # the clone's own copy was used
    assert "custom" in copy.history_


def test_callbacks_parameter_is_checked(mixed_frame):
    with pytest.raises(SynthGANError, match="callbacks must be None or a list of synthgan.training.Callback"):
        SynthGAN(callbacks=[print], **FAST).fit(mixed_frame)


# ---------------------------------------------------------------- strategy
def _model_and_batches(loss: str = "wgan-gp"):
    frame = make_mixed()
    streams = RandomStreams(0)
    rng = streams.numpy("transform")
    transformer = DataTransformer().fit(frame, rng)
    encoded = transformer.transform(frame, rng)
    params = {**SynthGAN(**FAST, loss=loss)._model_params()}
    model = build_model("wgan-gp", transformer.layout_, params, torch.device("cpu"))
    model.setup_training(streams)
    return model, BatchSampler(encoded, None, torch.device("cpu"), streams.numpy("batches"))


def test_generator_phase_leaves_critic_gradients_alone():
    model, batches = _model_and_batches()
    strategy = Strategy()
    strategy.setup(model)
    critic, generator = model.phases()
    seen = {}

    def grads(module):
        return [None if p.grad is None else p.grad.clone() for p in module.parameters()]

    strategy.run(critic, batches.draw(40), lambda: seen.update(critic=grads(model.critic)))
    strategy.run(generator, batches.draw(40),
                 lambda: seen.update(critic_after_generator=grads(model.critic), generator=grads(model.generator)))
    assert all(g is not None for g in seen["generator"])
    for before, after in zip(seen["critic"], seen["critic_after_generator"]):
        assert torch.equal(before, after)  # the generator's backward added nothing to the critic
    assert all(p.requires_grad for p in model.critic.parameters())  # unfrozen again after the phase


def test_generator_inference_path_equals_the_evaluation_forward():
    """Sampling's generator path (batch norm folded, no concatenation, blocks of rows) computes the
    same function as eval() + forward, for a row count that is not a multiple of the block."""
    from synthgan.models.networks import Generator

    torch.manual_seed(0)
    net = Generator(12, (16, 8, 4), 7)
    for _ in range(3):  # move the batch-norm running statistics away from their initial values
        net(torch.randn(64, 12) * 2 + 1)
    net.eval()
    x = torch.randn(1001, 12)
    with torch.no_grad():
        expected = net(x)
    got = net.infer(x, block_rows=256)
    assert got.shape == expected.shape
    assert torch.allclose(got, expected, atol=1e-5)
    columns = torch.tensor([6, 0, 3, 2])  # a subset of the outputs, reordered
    assert torch.allclose(net.infer(x, block_rows=256, columns=columns), expected[:, columns], atol=1e-5)


def test_generator_inference_reads_one_hot_inputs_as_indices():
    """With ``hot``, the trailing one-hot inputs (the conditional vector) are gathered as weight
    rows instead of multiplied: the same function as forward on the dense input, for one-hot rows
    and all-zero rows alike; vectors that are not one-hot are refused by one_hot_index."""
    from synthgan.models.networks import Generator, one_hot_index

    torch.manual_seed(0)
    net = Generator(12, (16, 8, 4), 7)  # 7 noise inputs and a 5-wide conditional vector
    for _ in range(3):
        net(torch.randn(64, 12) * 2 + 1)
    net.eval()
    noise = torch.randn(1001, 7)
    hot = torch.randint(-1, 5, (1001,))
    vectors = torch.zeros(1001, 5)
    vectors[hot >= 0, hot[hot >= 0]] = 1.0
    with torch.no_grad():
        expected = net(torch.cat([noise, vectors], dim=1))
    assert torch.equal(one_hot_index(vectors), hot)
    got = net.infer(noise, block_rows=256, hot=one_hot_index(vectors))
    assert torch.allclose(got, expected, atol=1e-5)
    columns = torch.tensor([6, 0, 3, 2])
    assert torch.allclose(net.infer(noise, block_rows=256, columns=columns, hot=hot), expected[:, columns], atol=1e-5)
    # offsets folded into the output bias: one row per one-hot position, the last for all-zero rows
    table = torch.randn(6, len(columns))
    shifted = net.infer(noise, block_rows=256, columns=columns, hot=hot, output_offsets=table)
    assert torch.allclose(shifted, expected[:, columns] + table[torch.where(hot < 0, 5, hot)], atol=1e-5)
    assert torch.allclose(net.infer(torch.cat([noise, vectors], dim=1), columns=columns, output_offsets=table[0]),
                          expected[:, columns] + table[0], atol=1e-5)
    soft = vectors.clone()
    soft[0] = 0.2
    assert one_hot_index(soft) is None
    doubled = vectors.clone()
    doubled[0, :2] = 1.0
    assert one_hot_index(doubled) is None
    with pytest.raises(ValueError, match="reads 12 inputs, got 7"):
        net.infer(noise)


def test_strategy_clips_gradients():
    model, batches = _model_and_batches()
    strategy = Strategy(max_grad_norm=1e-3)
    strategy.setup(model)
    critic = model.phases()[0]
    strategy.run(critic, batches.draw(40))
    norm = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in model.critic.parameters()]))
    assert norm <= 1e-3 * 1.0001


def test_bce_and_wasserstein_critic_losses_follow_their_formulas():
    for loss in ("bce", "wgan-gp"):
        model, batches = _model_and_batches(loss)
        batch = batches.draw(40)
        saved = model.random_state()
        value = model.critic_loss(batch)
        model.load_random_state(saved)
        with torch.no_grad():
            _, fake = model._fake(batch.condition, model.noise_rng)
        real_score = model._score(batch.real, batch.real_condition)
        fake_score = model._score(fake, batch.condition)
        bce = torch.nn.functional.softplus(-real_score).mean() + torch.nn.functional.softplus(fake_score).mean()
        if loss == "bce":
            assert torch.allclose(value, bce)
        else:
            assert not torch.allclose(value, bce)
            assert value >= fake_score.mean() - real_score.mean() - 1e-6  # plus a non-negative penalty


# ---------------------------------------------------------------- checkpoints and resume
def test_resume_continues_bit_identically(mixed_frame, tmp_path):
    params = dict(FAST, validation_size=0.2)

    def stopper():
        return EarlyStopping(patience=10, restore_best=False)

    full = SynthGAN(epochs=4, callbacks=[stopper()], **params).fit(mixed_frame)
    first = SynthGAN(epochs=2, callbacks=[Checkpoint(tmp_path, every=1), stopper()], **params).fit(mixed_frame)
    assert not _equal_weights(full, first)
    recorder = Recorder()
    resumed = SynthGAN(epochs=4, callbacks=[stopper(), recorder], **params).fit(mixed_frame, resume_from=tmp_path)
    assert [e[1] for e in recorder.events if e[0] == "epoch_start"] == [3, 4]  # only the missing epochs ran
    assert _equal_weights(full, resumed)
    pd.testing.assert_frame_equal(full.sample(300), resumed.sample(300))
    kept = ["epoch", "generator_loss", "critic_loss", "val_fidelity"]
    pd.testing.assert_frame_equal(full.history_[kept], resumed.history_[kept])
    assert resumed.callbacks[0].best_ == full.callbacks[0].best_  # the callback's state was restored too


def test_checkpoint_files_are_atomic_and_pruned(mixed_frame, tmp_path):
    SynthGAN(epochs=5, callbacks=[Checkpoint(tmp_path / "ck", every=2, keep=1)], **FAST).fit(mixed_frame)
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == ["epoch-000004.ckpt"]
    state = read_checkpoint(tmp_path / "ck")
    assert state["epoch"] == 4 and set(state["optimizers"]) == {"critic", "generator"}
    assert set(state["networks"]) == {"critic", "generator"}
    assert len(state["callbacks"]) >= 2 and state["run"]["entropy"] == 0


def test_resume_past_the_last_epoch_trains_nothing(mixed_frame, tmp_path):
    done = SynthGAN(epochs=3, callbacks=[Checkpoint(tmp_path)], **FAST).fit(mixed_frame)
    again = SynthGAN(epochs=3, **FAST).fit(mixed_frame, resume_from=tmp_path / "epoch-000003.ckpt")
    assert _equal_weights(done, again) and len(again.history_) == 3


def test_a_checkpoint_records_auto_learning_rates_as_they_ran(mixed_frame, tmp_path):
    # "auto" is resolved in the run's description, so a run with the values it stands for (as
    # every checkpoint from before "auto" has) resumes, and a run with other values does not
    SynthGAN(epochs=1, callbacks=[Checkpoint(tmp_path)], **FAST).fit(mixed_frame)
    assert read_checkpoint(tmp_path)["run"]["params"]["generator_lr"] == 2e-4
    again = SynthGAN(epochs=2, generator_lr=2e-4, discriminator_lr=2e-4, **FAST)
    assert len(again.fit(mixed_frame, resume_from=tmp_path).history_) == 2
    with pytest.raises(SynthGANError, match=r"generator_lr=0.0002 \(now 0.001\)"):
        SynthGAN(epochs=2, generator_lr=1e-3, **FAST).fit(mixed_frame, resume_from=tmp_path)


def test_resume_refuses_a_different_run(mixed_frame, tmp_path):
    SynthGAN(epochs=1, callbacks=[Checkpoint(tmp_path)], **FAST).fit(mixed_frame)
    with pytest.raises(SynthGANError, match="random_state=0"):
        SynthGAN(epochs=2, **{**FAST, "random_state": 1}).fit(mixed_frame, resume_from=tmp_path)
    with pytest.raises(SynthGANError, match=r"embedding_dim=16 \(now 8\)"):
        SynthGAN(epochs=2, **{**FAST, "embedding_dim": 8}).fit(mixed_frame, resume_from=tmp_path)
    with pytest.raises(SynthGANError, match="training table differs"):
        SynthGAN(epochs=2, **FAST).fit(make_mixed(seed=3), resume_from=tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SynthGANError, match="no checkpoint"):
        SynthGAN(epochs=2, **FAST).fit(mixed_frame, resume_from=empty)
    (tmp_path / "epoch-000009.ckpt").write_bytes(b"junk")
    with pytest.raises(SynthGANError, match="not a readable synthgan checkpoint"):
        SynthGAN(epochs=2, **FAST).fit(mixed_frame, resume_from=tmp_path)


def test_random_state_none_resumes_with_the_checkpointed_entropy(mixed_frame, tmp_path):
    params = {**FAST, "random_state": None}
    first = SynthGAN(epochs=2, callbacks=[Checkpoint(tmp_path)], **params).fit(mixed_frame)
    resumed = SynthGAN(epochs=2, **params).fit(mixed_frame, resume_from=tmp_path)
    assert resumed.entropy_ == first.entropy_ and _equal_weights(first, resumed)


# ---------------------------------------------------------------- early stopping and validation
def _generator_weights(est: SynthGAN) -> dict:
    return {k: v for k, v in est.model_.weights().items() if k.startswith("generator.")}


def test_early_stopping_stops_on_patience_and_restores_the_best_weights(mixed_frame):
    scripted = Scripted([0.5, 0.6, 0.55, 0.54, 0.53, 0.9, 0.9])
    stopper = EarlyStopping(monitor="score", patience=3)
    est = SynthGAN(epochs=7, callbacks=[scripted, stopper], **FAST).fit(mixed_frame)
    assert est.history_["epoch"].tolist() == [1, 2, 3, 4, 5]
    assert stopper.best_epoch_ == 2 and stopper.best_ == 0.6
    best = scripted.weights[2]
    trained = _generator_weights(est)  # the discrete calibration's offsets are fitted after training
    assert all(torch.equal(v, best[k]) for k, v in trained.items())
    assert not all(torch.equal(v, scripted.weights[5][k]) for k, v in trained.items())


def test_early_stopping_mode_min_for_losses_and_keeps_last_weights_without_restore(mixed_frame):
    scripted = Scripted([3.0, 2.0, 1.0, 1.5])
    stopper = EarlyStopping(monitor="score_loss", patience=1, restore_best=False)

    class Rename(Callback):
        order = 5

        def on_epoch_end(self, state):
            state.logs["score_loss"] = state.logs.pop("score")

    # without the weight average, whose result would replace the last epoch's weights
    est = SynthGAN(epochs=4, weight_average=None, callbacks=[scripted, Rename(), stopper], **FAST).fit(mixed_frame)
    assert stopper.best_epoch_ == 3 and len(est.history_) == 4
    assert all(torch.equal(v, scripted.weights[4][k]) for k, v in _generator_weights(est).items())


def test_early_stopping_warns_when_its_key_is_never_logged(mixed_frame):
    with pytest.warns(UserWarning, match="'val_fidelity' was never logged"):
        SynthGAN(epochs=1, callbacks=[EarlyStopping()], **FAST).fit(mixed_frame)


def test_validation_holds_rows_back_and_logs_fidelity(mixed_frame):
    est = SynthGAN(epochs=4, validation_size=0.25, validation_every=2, **FAST).fit(mixed_frame)
    assert sum(est.condition_counts_[0]) == len(mixed_frame) - 60  # trained on the other 75% only
    scores = est.history_["val_fidelity"]
    assert scores.isna().tolist() == [True, False, True, False]
    assert ((scores.dropna() > 0.3) & (scores.dropna() <= 1.0)).all()
    plain = SynthGAN(epochs=1, **FAST).fit(mixed_frame)
    assert "val_fidelity" not in plain.history_ and sum(plain.condition_counts_[0]) == len(mixed_frame)


def test_early_stopping_on_validation_fidelity(mixed_frame):
    stopper = EarlyStopping(monitor="val_fidelity", patience=1)
    est = SynthGAN(epochs=30, validation_size=0.2, callbacks=[stopper], **FAST).fit(mixed_frame)
    history = est.history_
    assert len(history) < 30
    assert stopper.best_ == history["val_fidelity"].max()
    assert history["val_fidelity"].iloc[-1] < stopper.best_


def test_validation_size_too_large_for_the_table(mixed_frame):
    with pytest.raises(SynthGANError, match="validation_size=0.995 leaves"):
        SynthGAN(epochs=1, validation_size=0.995, **FAST).fit(mixed_frame)


@pytest.mark.slow
def test_validation_score_is_fast_on_adult(datasets):
    import time

    from synthgan.training import ValidationScore

    adult = pd.read_parquet(datasets / "adult.parquet")
    est = SynthGAN(epochs=1, random_state=0, verbose=False).fit(adult.iloc[:2000])
    callback = ValidationScore(adult.iloc[-4800:], lambda n, r: est._generation.rows(n, None, r),
                               np.random.default_rng(0), rows=5000)
    state = TrainState(epochs=1, model=est.model_, trainer=None, epoch=1)  # type: ignore[arg-type]
    callback.on_epoch_end(state)  # warm-up
    started = time.perf_counter()
    callback.on_epoch_end(state)
    assert time.perf_counter() - started < 1.0
    assert 0 < state.logs["val_fidelity"] <= 1


class _Recorder(Callback):
    """The generator's weights at the start and after every step."""

    def on_fit_start(self, state):
        self.start = self._weights(state)
        self.seen = []

    def on_step_end(self, state):
        self.seen.append(self._weights(state))

    @staticmethod
    def _weights(state):
        return {k: v.detach().clone() for k, v in state.model.networks()["generator"].state_dict().items()}


def test_weight_average_leaves_the_moving_average_of_every_step_in_place():
    from synthgan.training import WeightAverage

    recorder = _Recorder()
    model = SynthGAN(epochs=2, weight_average=None, callbacks=[recorder, WeightAverage(decay=0.9)],
                     **FAST).fit(make_mixed())
    average = {k: v.clone() for k, v in recorder.start.items()}
    for step, weights in enumerate(recorder.seen, start=1):
        decay = min(0.9, (1 + step) / (10 + step))
        for key, value in weights.items():
            average[key] = average[key] * decay + value * (1 - decay) if value.is_floating_point() else value
    assert len(recorder.seen) == 2 * (240 // 60)
    final = model.model_.generator.state_dict()
    for key, value in final.items():
        assert torch.allclose(value.float(), average[key].float(), atol=1e-6), key
    assert not torch.allclose(final["body.1.weight"], recorder.seen[-1]["body.1.weight"])  # not the last step's


def test_the_weight_average_parameter_installs_the_average_and_is_checked():
    plain = SynthGAN(epochs=2, weight_average=None, **FAST).fit(make_mixed())
    averaged = SynthGAN(epochs=2, weight_average=0.9, **FAST).fit(make_mixed())
    assert not torch.equal(plain.model_.generator.body[-1].weight, averaged.model_.generator.body[-1].weight)
    assert clone(averaged).get_params()["weight_average"] == 0.9
    with pytest.raises(SynthGANError, match="weight_average"):
        SynthGAN(weight_average=1.5, **FAST).fit(make_mixed())


def test_a_checkpoint_without_a_later_parameter_resumes_as_its_default_and_a_change_is_refused():
    current = {"params": {"generator_steps": 1, "pac": 10}, "device_type": "cpu", "data_sha256": "x", "rows": 5}
    older = {**current, "params": {"pac": 10}}  # written before generator_steps existed
    SynthGAN._check_run(older, current)
    changed = {**current, "params": {"generator_steps": 2, "pac": 10}}
    with pytest.raises(SynthGANError, match=r"generator_steps=1 \(now 2\)"):
        SynthGAN._check_run(current, changed)
    with pytest.raises(SynthGANError, match=r"generator_steps=1 \(now 2\)"):
        SynthGAN._check_run(older, changed)
    # a parameter whose default changed after it was added: an older run ran with the value before it
    now = {**current, "params": {"discriminator_dropout": 0.0, "pac": 10}}
    with pytest.raises(SynthGANError, match=r"discriminator_dropout=0.5 \(now 0.0\)"):
        SynthGAN._check_run(older, now)


# ---------------------------------------------------------------- learning-rate schedule
class _LearningRates(Callback):
    """Records every optimizer's learning rate at the end of every step."""

    order = 50  # after the schedule has set the next step's rates

    def __init__(self):
        self.seen: list[dict] = []

    def on_step_end(self, state):
        self.seen.append({name: opt.param_groups[0]["lr"] for name, opt in state.trainer.strategy.optimizers.items()})


def test_the_schedule_shapes_run_from_one_to_the_final_factor():
    from synthgan.training import LearningRateSchedule

    cosine, linear = LearningRateSchedule("cosine", final=0.2), LearningRateSchedule("linear", final=0.2)
    assert [cosine.factor(p) for p in (0.0, 0.5, 1.0, 2.0)] == pytest.approx([1.0, 0.6, 0.2, 0.2])
    assert [linear.factor(p) for p in (0.0, 0.25, 1.0)] == pytest.approx([1.0, 0.8, 0.2])
    assert cosine.factor(0.25) > linear.factor(0.25)  # cosine stays high longer
    with pytest.raises(ValueError, match="shape"):
        LearningRateSchedule("step")
    with pytest.raises(ValueError, match="final"):
        LearningRateSchedule(final=1.5)


def test_the_schedule_lowers_every_learning_rate_by_steps_to_the_final_factor():
    from synthgan.training import LearningRateSchedule

    rates = _LearningRates()
    SynthGAN(epochs=3, generator_lr=1e-3, discriminator_lr=5e-4,
             callbacks=[LearningRateSchedule("linear", final=0.1), rates], **FAST).fit(make_mixed())
    steps = 3 * (240 // 60)
    assert len(rates.seen) == steps
    for k, seen in enumerate(rates.seen, start=1):  # after step k, the rate for step k + 1
        factor = 1 - 0.9 * k / steps
        assert seen["generator"] == pytest.approx(1e-3 * factor) and seen["critic"] == pytest.approx(5e-4 * factor)


def test_with_a_time_budget_the_schedule_follows_the_time_spent():
    from synthgan.training import LearningRateSchedule

    rates = _LearningRates()
    # a budget far shorter than one epoch: after the first epoch's end the time is spent, so the
    # rest of the (step-wise barely started) run trains at the final rate
    SynthGAN(epochs=50, callbacks=[LearningRateSchedule("cosine", final=0.25, seconds=1e-6), rates,
                                   StopAt(3)], **FAST).fit(make_mixed())
    per_epoch = 240 // 60
    first, later = rates.seen[:per_epoch], rates.seen[per_epoch:]
    assert all(r["generator"] > 0.9 * 2e-4 for r in first)  # by steps: 4 of 200 steps done
    assert later and all(r["generator"] == pytest.approx(0.25 * 2e-4) for r in later)


def test_a_resumed_scheduled_run_continues_bit_identically(mixed_frame, tmp_path):
    from synthgan.training import LearningRateSchedule

    full = SynthGAN(epochs=4, callbacks=[LearningRateSchedule()], **FAST).fit(mixed_frame)
    SynthGAN(epochs=4, callbacks=[LearningRateSchedule(), Checkpoint(tmp_path, every=1), StopAt(2)],
             **FAST).fit(mixed_frame)
    state = read_checkpoint(tmp_path)
    assert state["epoch"] == 2
    assert state["optimizers"]["generator"]["param_groups"][0]["lr"] < 2e-4  # the checkpoint holds a lowered rate
    resumed = SynthGAN(epochs=4, callbacks=[LearningRateSchedule()], **FAST).fit(mixed_frame, resume_from=tmp_path)
    assert _equal_weights(full, resumed)
    plain = SynthGAN(epochs=4, **FAST).fit(mixed_frame)
    assert not _equal_weights(full, plain)  # the schedule changed the training


def test_a_resumed_run_continues_the_time_it_had_trained(mixed_frame, tmp_path):
    from synthgan.training import LearningRateSchedule

    def schedule():
        return LearningRateSchedule("linear", final=0.5, seconds=1e-6)

    SynthGAN(epochs=50, callbacks=[schedule(), Checkpoint(tmp_path), StopAt(1)], **FAST).fit(mixed_frame)
    rates = _LearningRates()
    SynthGAN(epochs=50, callbacks=[schedule(), rates, StopAt(2)], **FAST).fit(mixed_frame, resume_from=tmp_path)
    # the budget was spent in the first part, so the resumed epoch trains at the final rate from its first step
    assert rates.seen and all(r["critic"] == pytest.approx(0.5 * 2e-4) for r in rates.seen)
