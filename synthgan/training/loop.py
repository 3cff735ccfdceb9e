"""The training loop every registered model goes through."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from synthgan.errors import TrainingDiverged
from synthgan.models.base import TabularModel
from synthgan.training.batches import BatchSampler
from synthgan.training.callbacks import Callback, History
from synthgan.training.strategy import Strategy

logger = logging.getLogger(__name__)


@dataclass
class TrainState:
    """What callbacks see and may change.

    Attributes
    ----------
    epoch : int
        The current epoch, counting from 1 (0 before the first).
    epochs : int
        The epoch training would end at if nothing stops it.
    step : int
        Training steps (one pass over the model's phases) done so far, over all epochs.
    steps_per_epoch : int
        Training steps in one epoch, the same in every process (0 before the fit starts).
    phase : str or None
        The phase whose gradients were just computed (in ``on_after_backward``).
    logs : dict
        This epoch's record; every key becomes a ``history_`` column.
    stop : bool
        Set to True to end training after this epoch.
    model : TabularModel
        The model being trained.
    trainer : Trainer
        The trainer (its ``state_dict`` is what a checkpoint holds).
    """

    epochs: int
    model: TabularModel
    trainer: Trainer
    epoch: int = 0
    step: int = 0
    steps_per_epoch: int = 0
    phase: str | None = None
    logs: dict = field(default_factory=dict)
    stop: bool = False


@dataclass(frozen=True)
class TrainingPlan:
    """How long and in what steps to train.

    Attributes
    ----------
    epochs : int
        Epoch to train up to (one epoch = ``n_rows // batch_size`` steps).
    batch_size : int
        Rows per phase update, a multiple of the model's ``pac``.
    """

    epochs: int
    batch_size: int


class Trainer:
    """Runs epochs of the model's phases through a :class:`Strategy`, calling callbacks.

    Parameters
    ----------
    model : TabularModel
        A model whose ``setup_training`` has run.
    batches : BatchSampler
    plan : TrainingPlan
    callbacks : sequence of Callback
        Run in ascending ``order``; a :class:`History` is added when none is given.
    strategy : Strategy, optional
        Where backward and step happen (plain single-process optimization by default).
    describe : callable, optional
        Returns what a checkpoint must record about the run besides the training state (seed,
        parameters, a data fingerprint); called only when a checkpoint is written.
    """

    def __init__(self, model: TabularModel, batches: BatchSampler, plan: TrainingPlan,
                 callbacks: Sequence[Callback] = (), strategy: Strategy | None = None,
                 describe: Callable[[], dict] | None = None):
        self.model = model
        self.batches = batches
        self.plan = plan
        given = list(callbacks)
        if not any(isinstance(c, History) for c in given):
            given.insert(0, History())
        self.callbacks = sorted(given, key=lambda c: c.order)
        self.history = next(c for c in self.callbacks if isinstance(c, History))
        self.strategy = strategy or Strategy()
        self.strategy.setup(model)
        self.describe = describe or dict
        self.state = TrainState(epochs=plan.epochs, model=model, trainer=self)
        self._restored: dict | None = None

    # ------------------------------------------------------------------ checkpoint state
    def _callback_keys(self) -> list[str]:
        return [f"{k}:{type(c).__name__}" for k, c in enumerate(self.callbacks)]

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue this run exactly: weights, optimizers, random states,
        the epoch, history and callback states.

        Weights, optimizers and callbacks are the same in every process; each process's own random
        streams, batch sampler and run description (its share of the rows) are gathered into
        ``processes``, in rank order. Every process must call this (it is a collective under
        torchrun); rank 0's own parts are also at the top level, as one process writes them.
        """
        own = {"model_random": self.model.random_state(), "batches": self.batches.state_dict(),
               "run": self.describe()}
        processes = self.strategy.gather(own)
        return {
            "epoch": self.state.epoch,
            "step": self.state.step,
            "networks": {name: net.state_dict() for name, net in self.model.networks().items()},
            "optimizers": self.strategy.state_dict(),
            **processes[0],
            "processes": processes,
            "callbacks": {key: c.state_dict() for key, c in zip(self._callback_keys(), self.callbacks)},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from ``state`` (as returned by :meth:`state_dict`) when :meth:`fit` runs."""
        self._restored = state

    def _restore(self, state: dict[str, Any]) -> None:
        for name, net in self.model.networks().items():
            net.load_state_dict(state["networks"][name])
        self.strategy.load_state_dict(state["optimizers"])
        own = state["processes"][self.strategy.rank] if "processes" in state else state  # older: one process
        self.model.load_random_state(own["model_random"])
        self.batches.load_state_dict(own["batches"])
        saved = state["callbacks"]
        for key, callback in zip(self._callback_keys(), self.callbacks):
            name = key.split(":", 1)[1]
            match = saved.get(key) or next((v for k, v in saved.items() if k.split(":", 1)[1] == name), None)
            if match is not None:
                callback.load_state_dict(match)
        self.state.epoch, self.state.step = int(state["epoch"]), int(state["step"])

    # ------------------------------------------------------------------ loop
    def _hook(self, name: str) -> None:
        for callback in self.callbacks:
            getattr(callback, name)(self.state)

    def fit(self) -> TrainState:
        """Train from the current (or restored) epoch up to ``plan.epochs``; returns the final state."""
        state, plan = self.state, self.plan
        phases = self.model.phases()
        steps = int(self.strategy.agree(max(1, len(self.batches) // plan.batch_size), "min"))  # equal in every process
        state.steps_per_epoch = steps
        watchers = [c for c in self.callbacks if type(c).on_after_backward is not Callback.on_after_backward]
        stepped = [c for c in self.callbacks if type(c).on_step_end is not Callback.on_step_end]

        def after_backward() -> None:
            for callback in watchers:
                callback.on_after_backward(state)

        self._hook("on_fit_start")
        if self._restored is not None:
            self._restore(self._restored)
            self._restored = None
            logger.info("resuming after epoch %d", state.epoch)
        for epoch in range(state.epoch + 1, plan.epochs + 1):
            if self.strategy.finished:  # e.g. a privacy budget spent exactly at the end of the last epoch
                break
            state.epoch, state.logs = epoch, {"epoch": epoch}
            self._hook("on_epoch_start")
            started = time.perf_counter()
            totals = {p.name: torch.zeros((), device=self.batches.device) for p in phases}
            first_step = state.step
            for _ in range(steps):
                if self.strategy.finished:
                    logger.info("the training strategy is finished (budget spent) in epoch %d", epoch)
                    state.stop = True
                    break
                for phase in phases:
                    state.phase = phase.name
                    for _ in range(phase.repeats):
                        totals[phase.name] += self.strategy.run(phase, self.batches.draw(plan.batch_size),
                                                                after_backward if watchers else None)
                state.step += 1
                for callback in stepped:
                    callback.on_step_end(state)
            state.phase = None
            done = state.step - first_step
            for phase in phases:  # the mean over processes: a diverging process stops every process
                state.logs[f"{phase.name}_loss"] = self.strategy.agree(
                    float(totals[phase.name]) / max(done * phase.repeats, 1), "mean")
                if not math.isfinite(state.logs[f"{phase.name}_loss"]):
                    raise TrainingDiverged(
                        f"training diverged: the {phase.name} loss became {state.logs[f'{phase.name}_loss']} in "
                        f"epoch {epoch}, so the weights are no longer numbers; lower the learning rates "
                        "(generator_lr, discriminator_lr) and fit again")
            state.logs["seconds"] = time.perf_counter() - started
            logger.debug("epoch %d: %s", epoch, state.logs)
            self._hook("on_epoch_end")
            state.stop = bool(self.strategy.agree(state.stop, "max"))  # one process's stop stops them all
            if state.stop:
                break
        self._hook("on_fit_end")
        return state
