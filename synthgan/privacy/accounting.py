"""The privacy budget, its split, and DP-SGD training of the critic through opacus.

The unit of privacy is one training row (add/remove adjacency). The budget ``(epsilon, delta)`` is
split by basic sequential composition: ``statistics_share`` of epsilon and half of delta pay for the
transformer's statistics (:mod:`synthgan.privacy.statistics`), the rest for training. Only the critic
(and, with ``target``, the target predictor) reads real rows during training, each through DP-SGD
with its own Poisson batches and noise, composed by the accountant with the one-query Gaussian
release of the rows' second moments made before training (:mod:`synthgan.privacy.moments`, with
``moment_weight > 0``); the generator learns from the networks' scores of generated rows and from
that release, so its weights (and everything sampled from them) are post-processing of their
private updates, the release and the private statistics.

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
from collections.abc import Callable, Mapping, Sequence
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


def composed_epsilon(mechanisms: Sequence[tuple[float, float, int]], delta: float) -> float:
    """Epsilon, by opacus' RDP accountant, of running each ``(noise_multiplier, sample_rate, steps)``
    DP-SGD mechanism in turn on the same rows (0 for no steps). Each mechanism draws its own Poisson
    batches, so their Renyi divergences add up at every order (Mironov, 2017, Proposition 1)."""
    from opacus.accountants import RDPAccountant  # opacus takes seconds to import: only when needed

    history = [(float(noise), float(rate), int(steps)) for noise, rate, steps in mechanisms if steps > 0]
    if not history:
        return 0.0
    accountant = RDPAccountant()
    accountant.history = history
    with warnings.catch_warnings():  # "optimal order is the largest alpha": a valid, looser bound
        warnings.filterwarnings("ignore", message="Optimal order", category=UserWarning)
        return float(accountant.get_epsilon(delta))


def training_epsilon(noise_multiplier: float, sample_rate: float, steps: int, delta: float) -> float:
    """Epsilon of ``steps`` DP-SGD steps by opacus' RDP accountant (0 for no steps)."""
    return composed_epsilon([(noise_multiplier, sample_rate, steps)], delta)


def allowed_rounds(noise_multipliers: Sequence[float], repeats: Sequence[int], sample_rate: float, epsilon: float,
                   delta: float, upper: int, fixed: Sequence[tuple[float, float, int]] = ()) -> int:
    """The most rounds (at most ``upper``) whose epsilon stays within ``epsilon``, a round being
    ``repeats[i]`` steps of the mechanism with noise ``noise_multipliers[i]`` for every ``i``,
    composed with the ``fixed`` mechanisms (``(noise_multiplier, sample_rate, steps)``, already run)."""
    def spent(rounds: int) -> float:
        return composed_epsilon([*fixed, *((noise, sample_rate, rounds * r)
                                           for noise, r in zip(noise_multipliers, repeats))], delta)

    if spent(1) > epsilon:
        return 0
    low, high = 1, max(int(upper), 1)
    if spent(high) <= epsilon:
        return high
    while high - low > 1:  # epsilon grows with the rounds
        middle = (low + high) // 2
        if spent(middle) <= epsilon:
            low = middle
        else:
            high = middle
    return low


def release_noise(epsilon: float, delta: float, share: float) -> float:
    """The noise multiplier of a one-query Gaussian release (L2 sensitivity 1) that takes ``share``
    of the budget in zero-concentrated terms: ``rho = share * rho(epsilon, delta)``, with
    ``rho(epsilon, delta)`` the largest zCDP whose conversion fits ``(epsilon, delta)``, and noise
    ``sqrt(1 / (2 rho))`` (Bun & Steinke, 2016). Renyi divergences add up under composition, so this
    share is a share of the composed budget (a share of epsilon, converted alone, would be far
    noisier than the budget asks); :class:`DPStrategy` then sets the networks' noise from the rest."""
    from synthgan.privacy.statistics import zcdp_rho

    return math.sqrt(1.0 / (2.0 * share * zcdp_rho(epsilon, delta)))


def _noise_for(epsilon: float, delta: float, sample_rate: float, steps: int) -> float:
    """The smallest noise multiplier whose ``steps`` steps stay within ``(epsilon, delta)``."""
    from opacus.accountants.utils import get_noise_multiplier

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Optimal order", category=UserWarning)
        return float(get_noise_multiplier(target_epsilon=epsilon, target_delta=delta, sample_rate=sample_rate,
                                          steps=max(int(steps), 1), accountant="rdp", epsilon_tolerance=0.005))


@dataclass
class PrivateNetwork:
    """One network trained with DP-SGD: its noise, its updates per training step, how many it may
    take and how many it took."""

    name: str
    noise_multiplier: float
    repeats: int = 1
    allowed: int = 0
    steps: int = 0


class DPStrategy(Strategy):
    """DP-SGD for the networks that read real rows (the critic, and a target predictor when there is
    one); the other networks train as in :class:`Strategy`.

    Every private network has its own optimizer, its own Poisson batches (the trainer draws a batch
    for every update) and its own noise; the accountant composes them. The budget is split between
    them only to set their noise: ``(1 - sum(shares)) * epsilon`` for ``network`` and
    ``shares[name] * epsilon`` for each other, each at ``delta / k`` for ``k`` private networks (a
    split basic composition would honour); as the composed epsilon is well below that sum, all
    noises are then scaled down by one factor until the planned steps, composed, spend
    ``epsilon``. The steps each network may take are set by the composed epsilon too, in whole
    training steps (rounds of every private network's updates).

    Parameters
    ----------
    epsilon, delta : float
        The training share of the budget.
    max_grad_norm : float
        Per-row clipping bound.
    sample_rate : float
        Poisson inclusion probability of each row in a batch.
    expected_batch_size : int
        ``sample_rate * n_rows``; the noisy sum is divided by it.
    planned_steps : int
        Updates of ``network`` the run would take if nothing stopped it (the others take theirs in
        proportion to their phases' repeats); the noise is set so that exactly these steps spend the
        budget (unless ``noise_multiplier`` is given).
    noise_multiplier : float, optional
        Use this noise for ``network`` instead; training then stops when the budget is spent.
    generator : torch.Generator, optional
        Source of the Gaussian noise; the estimator seeds it from secret entropy.
    network : str, default="critic"
    shares : mapping of str to float, optional
        Other networks trained privately, with the share of ``epsilon`` that sets their noise.
    releases : mapping of str to (float, float), optional
        One-query Gaussian releases of L2 sensitivity 1 made before training from the same rows
        (the generator's moment target), each as ``(noise_multiplier, share)``: its noise, set by
        :func:`release_noise` from that ``share`` of the budget. The accountant composes each as
        one step at sampling rate 1 with the networks' steps; the networks' noises are then
        scaled by one factor until everything composed spends ``epsilon``.
    """

    def __init__(self, *, epsilon: float, delta: float, max_grad_norm: float, sample_rate: float,
                 expected_batch_size: int, planned_steps: int, noise_multiplier: float | None = None,
                 generator: torch.Generator | None = None, network: str = "critic",
                 shares: Mapping[str, float] | None = None,
                 releases: Mapping[str, tuple[float, float]] | None = None):
        super().__init__()
        self.epsilon, self.delta = epsilon, delta
        self.clip = max_grad_norm
        self.sample_rate = sample_rate
        self.expected_batch_size = expected_batch_size
        self.planned_steps = max(int(planned_steps), 1)
        self.network = network
        self.shares = dict(shares or {})
        self.releases = {name: (float(noise), float(share)) for name, (noise, share) in (releases or {}).items()}
        taken = [*self.shares.values(), *(share for _, share in self.releases.values())]
        if network in self.shares or sum(taken) >= 1 or min(taken, default=1) <= 0:
            raise ValueError("shares of the other private networks and releases must be positive and sum below 1, "
                             f"got {self.shares} and {self.releases}")
        self.given_noise = noise_multiplier
        self.noise_generator = generator

    def setup(self, model: TabularModel) -> None:
        from opacus import GradSampleModule
        from opacus.optimizers import DPOptimizer

        super().setup(model)
        repeats = {p.name: p.repeats for p in model.phases()}
        names = [self.network, *self.shares]
        missing = [name for name in names if name not in repeats]
        if missing:
            raise ValueError(f"the model has no training phase for the private network(s) {missing}")
        delta = self.delta / len(names)
        primary_share = 1.0 - sum(self.shares.values()) - sum(share for _, share in self.releases.values())
        planned = {name: self.planned_steps * repeats[name] // repeats[self.network] for name in names}
        self.private: dict[str, PrivateNetwork] = {}
        for name in names:
            noise = (self.given_noise if name == self.network and self.given_noise is not None else
                     _noise_for(self.epsilon * self.shares.get(name, primary_share), delta, self.sample_rate,
                                planned[name]))
            self.private[name] = PrivateNetwork(name, float(noise), repeats[name])
        if (self.shares or self.releases) and self.given_noise is None:  # basic composition is loose: tighten
            self._spend_composed([planned[name] for name in names])
        rounds = allowed_rounds([n.noise_multiplier for n in self.private.values()],
                                [n.repeats for n in self.private.values()], self.sample_rate, self.epsilon,
                                self.delta, 4 * self.planned_steps // repeats[self.network], fixed=self._fixed)
        for entry in self.private.values():
            entry.allowed = rounds * entry.repeats
        self.wrapped = {}
        self._public: list[torch.Tensor | None] = []
        for name, entry in self.private.items():
            self.wrapped[name] = GradSampleModule(self.networks[name], loss_reduction="sum")
            self.wrapped[name].disable_hooks()
            self.optimizers[name] = DPOptimizer(
                self.optimizers[name], noise_multiplier=entry.noise_multiplier, max_grad_norm=self.clip,
                expected_batch_size=self.expected_batch_size, loss_reduction="mean", generator=self.noise_generator,
                secure_mode=True)  # noise as a sum of draws, against floating-point attacks (opacus' notes)
        self.optimizers[self.network].step_hook = self._add_public  # after clipping, noise and scaling

    @property
    def _fixed(self) -> list[tuple[float, float, int]]:
        """The releases as the accountant counts them: one step each at sampling rate 1."""
        return [(noise, 1.0, 1) for noise, _ in self.releases.values()]

    def _spend_composed(self, planned: Sequence[int]) -> None:
        """Scale every private network's noise by one factor, the smallest (to 0.1%) with which the
        ``planned`` steps, composed with the releases, spend at most ``epsilon``: the noises keep
        the ratio the split gave them, and the budget the split's basic composition would leave
        unspent is used (the releases' noise is already spent and stays)."""
        noises = [n.noise_multiplier for n in self.private.values()]

        def spent(factor: float) -> float:
            return composed_epsilon([*self._fixed, *((factor * noise, self.sample_rate, steps)
                                                     for noise, steps in zip(noises, planned))], self.delta)

        low, high = 0.05, 1.0  # without releases spent(1) <= epsilon: the split alone already fits
        while spent(high) > self.epsilon and high < 1e3:  # a release's share is of the composed budget
            low, high = high, 2 * high
        if spent(low) <= self.epsilon:
            high = low
        while high - low > 0.001:
            middle = (low + high) / 2
            if spent(middle) <= self.epsilon:
                high = middle
            else:
                low = middle
        for entry in self.private.values():
            entry.noise_multiplier *= high

    # the critic's (``network``'s) record, as the estimator, the CLI and the report read it
    @property
    def noise_multiplier(self) -> float:
        return self.private[self.network].noise_multiplier

    @property
    def allowed(self) -> int:
        return self.private[self.network].allowed

    @allowed.setter
    def allowed(self, value: int) -> None:
        self.private[self.network].allowed = int(value)

    @property
    def steps(self) -> int:
        return self.private[self.network].steps

    @property
    def finished(self) -> bool:
        """True when one more training step would take a private network past the budget."""
        return any(n.steps + n.repeats > n.allowed for n in self.private.values())

    def run(self, phase: Phase, batch: Batch, after_backward: Callable[[], None] | None = None) -> torch.Tensor:
        entry = self.private.get(phase.name)
        if entry is None:  # per-row gradient hooks only while a private network trains
            return super().run(phase, batch, after_backward)
        if entry.steps >= entry.allowed:
            raise RuntimeError(f"refusing a private update of {phase.name!r} past the budget ({entry.allowed} steps)")
        public = self._public_gradients(phase, batch)
        self.wrapped[phase.name].enable_hooks()
        try:
            with warnings.catch_warnings():  # opacus' hooks on a network whose inputs need no gradient
                warnings.filterwarnings("ignore", message="Full backward hook is firing", category=UserWarning)
                loss = super().run(replace(phase, public_loss=None), batch, after_backward)
        finally:
            self.wrapped[phase.name].disable_hooks()
            self._public = []
        entry.steps += 1
        return (loss + public) / self.expected_batch_size  # the losses are sums over rows; log a mean

    def _public_gradients(self, phase: Phase, batch: Batch) -> torch.Tensor:
        """Back-propagate ``phase.public_loss`` (terms that read no real row) with the per-row hooks
        off and keep its gradients for :meth:`_add_public`; returns the detached loss (0 without)."""
        if phase.public_loss is None:
            return torch.zeros(())
        if phase.name != self.network:
            raise ValueError(f"only the {self.network!r} phase may have a public loss, not {phase.name!r}")
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
        """Epsilon of the updates taken and the releases, all composed."""
        return composed_epsilon([*self._fixed, *((n.noise_multiplier, self.sample_rate, n.steps)
                                                 for n in self.private.values())], self.delta)

    def report(self) -> dict:
        """The accountant's record: the critic's noise and steps under their plain names, every other
        private network's as ``{name}_noise_multiplier`` and ``{name}_steps``, every release's as
        ``{name}_noise_multiplier``."""
        others = {}
        for name in self.shares:
            others[f"{name}_noise_multiplier"] = self.private[name].noise_multiplier
            others[f"{name}_steps"] = self.private[name].steps
        for name, (noise, _) in self.releases.items():
            others[f"{name}_noise_multiplier"] = noise
        return {"epsilon_training": self.spent(), "delta_training": self.delta, "noise_multiplier": self.noise_multiplier,
                "max_grad_norm": self.clip, "steps": self.steps, **others, "sample_rate": self.sample_rate,
                "expected_batch_size": self.expected_batch_size,
                "accountant": f"opacus {version('opacus')} RDP"}

    def state_dict(self) -> dict:
        return {**super().state_dict(), "__privacy__": {"steps": self.steps,
                                                        **{name: self.private[name].steps for name in self.shares}}}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        saved = state["__privacy__"]
        for name, entry in self.private.items():
            entry.steps = int(saved["steps" if name == self.network else name])
