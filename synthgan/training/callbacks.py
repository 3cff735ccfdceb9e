"""The callback protocol and the built-in callbacks.

A callback overrides any of the hooks below; each receives the :class:`~synthgan.training.loop.TrainState`.
Callbacks run in ascending ``order`` (ties keep the order they were given in): scores are computed
first (order < 0), user callbacks by default at 0, early stopping at 10, checkpoints at 20 (so a
checkpoint holds every key logged for its epoch) and the progress bar last. To end training, set
``state.stop = True``; training ends after the current epoch's hooks have all run.

A callback that keeps state across epochs returns it from :meth:`Callback.state_dict` so that
checkpoints hold it and a resumed run continues it.
"""

from __future__ import annotations

import logging
import math
import sys
import time
import warnings
from typing import TYPE_CHECKING, ClassVar

import torch
from tqdm.auto import tqdm

if TYPE_CHECKING:
    from synthgan.training.loop import TrainState

logger = logging.getLogger(__name__)


class Callback:
    """Base class: every hook does nothing.

    Hooks: ``on_fit_start``, ``on_epoch_start``, ``on_after_backward`` (after each phase's
    ``backward``, before clipping and the optimizer step; ``state.phase`` names the phase),
    ``on_step_end`` (after every phase of a step has stepped), ``on_epoch_end`` and ``on_fit_end``.
    In ``on_fit_start`` a callback resets whatever it keeps per fit; on resume the checkpointed state
    is loaded after that.
    """

    order: ClassVar[int] = 0

    def on_fit_start(self, state: TrainState) -> None:
        pass

    def on_epoch_start(self, state: TrainState) -> None:
        pass

    def on_after_backward(self, state: TrainState) -> None:
        pass

    def on_step_end(self, state: TrainState) -> None:
        pass

    def on_epoch_end(self, state: TrainState) -> None:
        pass

    def on_fit_end(self, state: TrainState) -> None:
        pass

    def state_dict(self) -> dict:
        """What a checkpoint must hold to continue this callback exactly (nothing by default)."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` returned."""

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({shown})"


class WeightAverage(Callback):
    """An exponential moving average of a network's weights, put in place of the trained weights at
    the end of the fit (Yazici et al., 2019, *The unusual effectiveness of averaging in GAN
    training*): the average of the last steps' generators samples better than the last one.

    Parameters
    ----------
    decay : float, default=0.999
        Weight of the average so far at every step (about ``1 / (1 - decay)`` steps are averaged).
    network : str, default="generator"
    """

    order = 5  # before early stopping and checkpoints, which then see the averaged run's state

    def __init__(self, decay: float = 0.999, network: str = "generator"):
        self.decay = decay
        self.network = network

    def on_fit_start(self, state: TrainState) -> None:
        net = state.model.networks()[self.network]
        self._shadow = {k: v.detach().clone() for k, v in net.state_dict().items()}
        self._steps = 0

    def on_step_end(self, state: TrainState) -> None:
        net = state.model.networks()[self.network]
        self._steps += 1
        decay = min(self.decay, (1 + self._steps) / (10 + self._steps))  # short warm-up: early weights fade fast
        with torch.no_grad():
            for key, value in net.state_dict().items():
                if value.is_floating_point():
                    self._shadow[key].mul_(decay).add_(value, alpha=1 - decay)
                else:  # counters (batch-norm's num_batches_tracked)
                    self._shadow[key].copy_(value)

    def on_fit_end(self, state: TrainState) -> None:
        if self._steps:
            state.model.networks()[self.network].load_state_dict(self._shadow)

    def state_dict(self) -> dict:
        return {"shadow": self._shadow, "steps": self._steps}

    def load_state_dict(self, state: dict) -> None:
        self._shadow = {k: v.clone() for k, v in state["shadow"].items()}
        self._steps = int(state["steps"])


class LearningRateSchedule(Callback):
    """Lower every optimizer's learning rate as training progresses, after every step.

    Progress is the larger of the fraction of steps done (``epochs`` times the steps per epoch)
    and, when the run has a time budget, the fraction of that budget spent: a fit that
    ``max_time`` ends early still reaches its final learning rate at the end. The learning rate
    at progress ``p`` is ``lr * factor(p)``, with ``lr`` each parameter group's rate at the start
    of the fit and

    - ``"cosine"``: ``final + (1 - final) * (1 + cos(pi * p)) / 2`` (Loshchilov & Hutter, 2017,
      *SGDR*, without restarts);
    - ``"linear"``: ``1 - (1 - final) * p``.

    Parameters
    ----------
    shape : {"cosine", "linear"}, default="cosine"
    final : float, default=0.1
        The factor at the end of training, in [0, 1].
    seconds : float or None, default=None
        The time budget; None takes the run's :class:`TimeBudget` if it has one.
    """

    order = 1  # after user callbacks that log, before weight averaging (5) reads the stepped weights

    SHAPES = ("cosine", "linear")

    def __init__(self, shape: str = "cosine", final: float = 0.1, seconds: float | None = None):
        if shape not in self.SHAPES:
            raise ValueError(f"LearningRateSchedule shape must be one of {list(self.SHAPES)}, got {shape!r}")
        if not 0.0 <= final <= 1.0:
            raise ValueError(f"LearningRateSchedule final must be in [0, 1], got {final!r}")
        self.shape = shape
        self.final = final
        self.seconds = seconds

    def factor(self, progress: float) -> float:
        """The learning-rate multiplier at ``progress`` (clipped to [0, 1])."""
        p = min(max(progress, 0.0), 1.0)
        if self.shape == "cosine":
            return self.final + (1.0 - self.final) * 0.5 * (1.0 + math.cos(math.pi * p))
        return 1.0 - (1.0 - self.final) * p

    def _groups(self, state: TrainState) -> list[tuple[str, int, dict]]:
        return [(name, k, group) for name, optimizer in state.trainer.strategy.optimizers.items()
                for k, group in enumerate(optimizer.param_groups)]

    def on_fit_start(self, state: TrainState) -> None:
        self._base = {f"{name}:{k}": float(group["lr"]) for name, k, group in self._groups(state)}
        budget = self.seconds
        if budget is None:
            budget = next((c.seconds for c in state.trainer.callbacks if isinstance(c, TimeBudget)), None)
        self._budget = budget
        # time is read at epoch ends only, as every process agrees on it (the slowest's), and
        # extrapolated within an epoch by the seconds per step so far: every process sets the
        # same learning rate at the same step
        self._start = time.perf_counter()
        self._elapsed = 0.0  # seconds trained before this fit started (a resumed run's earlier part)
        self._first_step: int | None = None
        self._anchor: tuple[int, float, float] | None = None  # (step, seconds trained, seconds per step)

    def on_epoch_start(self, state: TrainState) -> None:
        if self._first_step is None:
            self._first_step = state.step

    def on_epoch_end(self, state: TrainState) -> None:
        if not self._budget:
            return
        spent = state.trainer.strategy.agree(time.perf_counter() - self._start, "max")
        steps = state.step - (self._first_step or 0)
        if steps > 0:
            self._anchor = (state.step, self._elapsed + spent, spent / steps)

    def progress(self, state: TrainState) -> float:
        """How far training is, in [0, 1]."""
        done = state.step / max(1, state.epochs * state.steps_per_epoch)
        if self._budget and self._anchor is not None:
            step, seconds, per_step = self._anchor
            done = max(done, (seconds + (state.step - step) * per_step) / self._budget)
        return min(done, 1.0)

    def on_step_end(self, state: TrainState) -> None:
        scale = self.factor(self.progress(state))
        for name, k, group in self._groups(state):
            group["lr"] = self._base[f"{name}:{k}"] * scale

    # the starting rates need no saving: on resume they are read in on_fit_start from the new
    # optimizers, before the checkpoint's (lowered) rates are loaded into them
    def state_dict(self) -> dict:
        return {"anchor": self._anchor}

    def load_state_dict(self, state: dict) -> None:
        self._anchor = tuple(state["anchor"]) if state["anchor"] is not None else None
        if self._anchor is not None:  # the time this fit trains adds to what the earlier part trained
            self._elapsed = self._anchor[1]


class History(Callback):
    """One record per epoch: every key any callback or the loop puts in ``state.logs``.

    Always installed by the trainer; its records become the estimator's ``history_``.
    """

    order = -100

    def __init__(self) -> None:
        self.records: list[dict] = []

    def on_fit_start(self, state: TrainState) -> None:
        self.records = []

    def on_epoch_start(self, state: TrainState) -> None:
        # the record is the live logs dict, so keys added later in the epoch land in it
        self.records.append(state.logs)

    def state_dict(self) -> dict:
        return {"records": [dict(r) for r in self.records]}

    def load_state_dict(self, state: dict) -> None:
        self.records = [dict(r) for r in state["records"]]


class TimeBudget(Callback):
    """Stop after the first epoch that ends more than ``seconds`` after the fit started."""

    def __init__(self, seconds: float):
        self.seconds = seconds

    def on_fit_start(self, state: TrainState) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, state: TrainState) -> None:
        if time.perf_counter() - self._start > self.seconds:
            logger.info("stopping after epoch %d: time budget of %.0fs spent", state.epoch, self.seconds)
            state.stop = True


class ProgressBar(Callback):
    """A tqdm bar over epochs on stderr with the latest losses."""

    order = 100

    def __init__(self) -> None:
        self._bar = None

    def on_epoch_start(self, state: TrainState) -> None:
        if self._bar is None:
            self._bar = tqdm(total=state.epochs, initial=state.epoch - 1, desc="fit", unit="epoch",
                             file=sys.stderr, leave=False)

    def on_epoch_end(self, state: TrainState) -> None:
        shown = {key.replace("_loss", ""): f"{value:.3f}" for key, value in state.logs.items()
                 if isinstance(value, float) and key != "seconds"}
        self._bar.set_postfix(shown, refresh=False)
        self._bar.update(1)

    def on_fit_end(self, state: TrainState) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved for ``patience`` evaluations; keep the best weights.

    Parameters
    ----------
    monitor : str, default="val_fidelity"
        A ``history_`` key. Epochs where it was not logged (e.g. validation runs every k epochs)
        are skipped and do not count towards the patience.
    patience : int, default=5
        Evaluations without improvement before training stops.
    mode : {"auto", "max", "min"}, default="auto"
        ``auto``: ``min`` for keys containing "loss", ``max`` otherwise.
    min_delta : float, default=0.0
        Smallest change that counts as an improvement.
    restore_best : bool, default=True
        At the end of the fit, however it ends, load the generator weights of the best epoch.

    Attributes
    ----------
    best_ : float or None
        Best value seen.
    best_epoch_ : int or None
        Epoch of the best value.
    """

    order = 10

    def __init__(self, monitor: str = "val_fidelity", patience: int = 5, mode: str = "auto",
                 min_delta: float = 0.0, restore_best: bool = True):
        if mode not in ("auto", "max", "min"):
            raise ValueError(f"EarlyStopping mode must be 'auto', 'max' or 'min', got {mode!r}")
        if not isinstance(patience, int) or patience < 1:
            raise ValueError(f"EarlyStopping patience must be an integer >= 1, got {patience!r}")
        self.monitor = monitor
        self.patience = patience
        self.mode = mode
        self.min_delta = min_delta
        self.restore_best = restore_best

    @property
    def _sign(self) -> float:
        mode = self.mode if self.mode != "auto" else ("min" if "loss" in self.monitor else "max")
        return 1.0 if mode == "max" else -1.0

    def on_fit_start(self, state: TrainState) -> None:
        self.best_: float | None = None
        self.best_epoch_: int | None = None
        self._wait = 0
        self._best_weights: dict[str, torch.Tensor] | None = None

    def on_epoch_end(self, state: TrainState) -> None:
        value = state.logs.get(self.monitor)
        if value is None or not math.isfinite(value):
            return
        if self.best_ is None or self._sign * (value - self.best_) > self.min_delta:
            self.best_, self.best_epoch_, self._wait = float(value), state.epoch, 0
            if self.restore_best:
                self._best_weights = state.model.weights()
            return
        self._wait += 1
        if self._wait >= self.patience:
            logger.info("early stopping after epoch %d: %s has not improved on %.4f (epoch %d) for %d evaluations",
                        state.epoch, self.monitor, self.best_, self.best_epoch_, self._wait)
            state.stop = True

    def on_fit_end(self, state: TrainState) -> None:
        if self.best_ is None:
            warnings.warn(f"EarlyStopping: {self.monitor!r} was never logged, so nothing was monitored "
                          f"(logged keys: {sorted(state.logs)}); for 'val_fidelity' set validation_size",
                          UserWarning, stacklevel=2)
            return
        if self.restore_best and self._best_weights is not None:
            state.model.load_weights(self._best_weights)
            logger.info("restored the generator weights of epoch %d (%s=%.4f)", self.best_epoch_, self.monitor,
                        self.best_)

    def state_dict(self) -> dict:
        return {"best": self.best_, "best_epoch": self.best_epoch_, "wait": self._wait,
                "weights": self._best_weights}

    def load_state_dict(self, state: dict) -> None:
        self.best_, self.best_epoch_, self._wait = state["best"], state["best_epoch"], state["wait"]
        self._best_weights = state["weights"]
