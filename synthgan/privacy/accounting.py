"""The privacy budget, its split, and DP-SGD training of the critic through opacus.

The unit of privacy is one training row (add/remove adjacency). The budget ``(epsilon, delta)`` is
split by basic sequential composition: ``statistics_share`` of epsilon and half of delta pay for the
transformer's statistics (:mod:`synthgan.privacy.statistics`), the rest for DP-SGD. Only the critic
reads real rows during training; the generator learns from the critic's scores of generated rows,
so its weights (and everything sampled from them) are post-processing of the critic's private
updates and of the private statistics.

DP-SGD (Abadi et al., 2016) as opacus implements it: every critic update uses a batch in which each
row is included independently with probability ``sample_rate`` (Poisson sampling, what the RDP
accountant assumes), each row's gradient is clipped to ``max_grad_norm``, Gaussian noise of standard
deviation ``noise_multiplier * max_grad_norm`` is added to the sum, and the accountant (opacus'
RDP accountant, Mironov 2017; Mironov, Talwar & Zhang 2019) adds the step. Per-row clipping needs
each critic input to hold one row, so private training uses ``pac=1``, and the binary cross-entropy
loss without gradient penalty (the penalty's double backward does not go through opacus' per-sample
gradients, opacus issue #31). The critic's loss on the generated rows of the same update reads no
real row (the rows come from the generator, itself post-processing of earlier private updates, and
fresh noise), so its gradient is computed apart, without per-row hooks, and added after the noise
(``Phase.public_loss``): it is post-processing of what the accountant already counts, needs no
clipping, and halves the per-row gradients opacus materializes.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from importlib.metadata import version

import torch

from synthgan.models.base import Batch, Phase, TabularModel
from synthgan.training.strategy import Strategy


def default_delta(n_rows: int) -> float:
    """The largest power of ten not above ``1 / (10 n)``: well below the ``1/n`` that would allow
    releasing one row outright."""
    return 10.0 ** -math.ceil(math.log10(10 * max(n_rows, 1)))


@dataclass(frozen=True)
class PrivacyBudget:
    """A total ``(epsilon, delta)`` and its split between statistics and training."""

    epsilon: float
    delta: float
    statistics_share: float

    @property
    def statistics_epsilon(self) -> float:
        return self.epsilon * self.statistics_share

    @property
    def statistics_delta(self) -> float:
        return self.delta / 2

    @property
    def training_epsilon(self) -> float:
        return self.epsilon - self.statistics_epsilon

    @property
    def training_delta(self) -> float:
        return self.delta / 2


def training_epsilon(noise_multiplier: float, sample_rate: float, steps: int, delta: float) -> float:
    """Epsilon of ``steps`` DP-SGD steps by opacus' RDP accountant (0 for no steps)."""
    from opacus.accountants import RDPAccountant  # opacus takes seconds to import: only when needed

    if steps <= 0:
        return 0.0
    accountant = RDPAccountant()
    accountant.history = [(noise_multiplier, sample_rate, int(steps))]
    with warnings.catch_warnings():  # "optimal order is the largest alpha": a valid, looser bound
        warnings.filterwarnings("ignore", message="Optimal order", category=UserWarning)
        return float(accountant.get_epsilon(delta))


def allowed_steps(noise_multiplier: float, sample_rate: float, epsilon: float, delta: float,
                  upper: int) -> int:
    """The most steps (at most ``upper``) whose epsilon stays within ``epsilon``."""
    if training_epsilon(noise_multiplier, sample_rate, 1, delta) > epsilon:
        return 0
    low, high = 1, max(int(upper), 1)
    if training_epsilon(noise_multiplier, sample_rate, high, delta) <= epsilon:
        return high
    while high - low > 1:  # epsilon grows with the steps
        middle = (low + high) // 2
        if training_epsilon(noise_multiplier, sample_rate, middle, delta) <= epsilon:
            low = middle
        else:
            high = middle
    return low


class DPStrategy(Strategy):
    """DP-SGD for one network (the critic); the other networks train as in :class:`Strategy`.

    Parameters
    ----------
    epsilon, delta : float
        The training share of the budget.
    max_grad_norm : float
        Per-row clipping bound.
    sample_rate : float
        Poisson inclusion probability of each row in a critic batch.
    expected_batch_size : int
        ``sample_rate * n_rows``; the noisy sum is divided by it.
    planned_steps : int
        Private updates the run would take if nothing stopped it; the noise is set so that exactly
        these steps spend the budget (unless ``noise_multiplier`` is given).
    noise_multiplier : float, optional
        Use this noise instead; training then stops when the budget is spent.
    generator : torch.Generator, optional
        Source of the Gaussian noise; the estimator seeds it from secret entropy.
    network : str, default="critic"
    """

    def __init__(self, *, epsilon: float, delta: float, max_grad_norm: float, sample_rate: float,
                 expected_batch_size: int, planned_steps: int, noise_multiplier: float | None = None,
                 generator: torch.Generator | None = None, network: str = "critic"):
        from opacus.accountants.utils import get_noise_multiplier

        super().__init__()
        self.epsilon, self.delta = epsilon, delta
        self.clip = max_grad_norm
        self.sample_rate = sample_rate
        self.expected_batch_size = expected_batch_size
        self.network = network
        self.noise_generator = generator
        if noise_multiplier is None:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Optimal order", category=UserWarning)
                noise_multiplier = get_noise_multiplier(target_epsilon=epsilon, target_delta=delta,
                                                        sample_rate=sample_rate, steps=max(planned_steps, 1),
                                                        accountant="rdp", epsilon_tolerance=0.005)
        self.noise_multiplier = float(noise_multiplier)
        self.allowed = allowed_steps(self.noise_multiplier, sample_rate, epsilon, delta, max(planned_steps, 1) * 4)
        self.steps = 0

    def setup(self, model: TabularModel) -> None:
        from opacus import GradSampleModule
        from opacus.optimizers import DPOptimizer

        super().setup(model)
        self.wrapped = GradSampleModule(self.networks[self.network], loss_reduction="sum")
        self.wrapped.disable_hooks()
        self.optimizers[self.network] = DPOptimizer(
            self.optimizers[self.network], noise_multiplier=self.noise_multiplier, max_grad_norm=self.clip,
            expected_batch_size=self.expected_batch_size, loss_reduction="mean", generator=self.noise_generator,
            secure_mode=True)  # noise as a sum of draws, against floating-point attacks (opacus' notes)
        self._repeats = next((p.repeats for p in model.phases() if p.name == self.network), 1)
        self._public: list[torch.Tensor | None] = []
        self.optimizers[self.network].step_hook = self._add_public  # after clipping, noise and scaling

    @property
    def finished(self) -> bool:
        """True when one more training step would take the critic past the budget."""
        return self.steps + self._repeats > self.allowed

    def run(self, phase: Phase, batch: Batch, after_backward: Callable[[], None] | None = None) -> torch.Tensor:
        if phase.name != self.network:  # per-row gradient hooks only while the private network trains
            return super().run(phase, batch, after_backward)
        if self.steps >= self.allowed:
            raise RuntimeError(f"refusing a private update past the budget ({self.allowed} steps)")
        public = self._public_gradients(phase, batch)
        self.wrapped.enable_hooks()
        try:
            with warnings.catch_warnings():  # opacus' hooks on a critic whose inputs need no gradient
                warnings.filterwarnings("ignore", message="Full backward hook is firing", category=UserWarning)
                loss = super().run(replace(phase, public_loss=None), batch, after_backward)
        finally:
            self.wrapped.disable_hooks()
            self._public = []
        self.steps += 1
        return (loss + public) / self.expected_batch_size  # the losses are sums over rows; log a mean

    def _public_gradients(self, phase: Phase, batch: Batch) -> torch.Tensor:
        """Back-propagate ``phase.public_loss`` (terms that read no real row) with the per-row hooks
        off and keep its gradients for :meth:`_add_public`; returns the detached loss (0 without)."""
        if phase.public_loss is None:
            return torch.zeros(())
        parameters = list(self.networks[self.network].parameters())
        self._freeze_others(phase.name, True)
        try:
            with warnings.catch_warnings():  # opacus' (disabled) hooks still fire on the backward
                warnings.filterwarnings("ignore", message="Full backward hook is firing", category=UserWarning)
                loss = phase.public_loss(batch)
                grads = torch.autograd.grad(loss, [p for p in parameters if p.requires_grad], allow_unused=True)
        finally:
            self._freeze_others(phase.name, False)
        self._public = list(grads)
        return loss.detach()

    def _add_public(self, optimizer) -> None:
        """opacus' step hook: once the real rows' clipped, noised sum is scaled into ``.grad``, add
        the public terms' gradient on the same scale (a sum over rows divided by the expected batch)."""
        trainable = [p for p in self.networks[self.network].parameters() if p.requires_grad]
        for parameter, grad in zip(trainable, self._public):
            if grad is not None and parameter.grad is not None:
                parameter.grad.add_(grad, alpha=1.0 / self.expected_batch_size)

    def spent(self) -> float:
        return training_epsilon(self.noise_multiplier, self.sample_rate, self.steps, self.delta)

    def report(self) -> dict:
        return {"epsilon_training": self.spent(), "delta_training": self.delta, "noise_multiplier": self.noise_multiplier,
                "max_grad_norm": self.clip, "steps": self.steps, "sample_rate": self.sample_rate,
                "expected_batch_size": self.expected_batch_size,
                "accountant": f"opacus {version('opacus')} RDP"}

    def state_dict(self) -> dict:
        return {**super().state_dict(), "__privacy__": {"steps": self.steps}}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.steps = int(state["__privacy__"]["steps"])
