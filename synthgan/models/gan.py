"""Adversarial models: the conditional tabular GAN and the unconditional WGAN-GP.

Both share the same networks and losses; they differ in whether the generator receives a
conditional vector (and the conditional cross-entropy term) and in how the trainer draws batches.
Losses follow Gulrajani et al. (2017) for ``wgan-gp`` and Goodfellow et al. (2014) for ``bce``.
The models only declare networks, optimizers and losses; the trainer runs the updates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from synthgan import params as P
from synthgan.layout import TableLayout
from synthgan.models.activations import SpanActivation
from synthgan.models.base import Batch, Phase, TabularModel, register_model
from synthgan.models.moments import MomentTerm
from synthgan.models.networks import Critic, Generator, init_weights, one_hot_index
from synthgan.models.target import HIDDEN, TargetLoss
from synthgan.streams import RandomStreams
from synthgan.transform.encoded import EncodedRows
from synthgan.transform.modes import ModeState


# the logit offsets of discrete calibration among the weights (model files before it have none: zeros)
OFFSETS_KEY = "activation.logit_offsets"


@dataclass(frozen=True)
class GANConfig:
    """Hyper-parameters of the adversarial models (names as in the estimator)."""

    embedding_dim: int = 128
    generator_dim: tuple[int, ...] = (256, 256)
    discriminator_dim: tuple[int, ...] = (256, 256)
    generator_lr: float = 2e-4
    discriminator_lr: float = 2e-4
    weight_decay: float = 1e-6
    pac: int = 1
    discriminator_dropout: float = 0.0
    critic_steps: int = 1
    generator_steps: int = 1
    loss: str = "wgan-gp"
    critic_whitening: bool = True
    gradient_penalty: float = 10.0
    tau: float = 0.2
    target: object = None
    target_weight: float = 1.0
    moment_weight: float = 0.0


def _column_name(value: object) -> bool:
    return value is None or isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


_GAN_PARAMETERS: dict[str, P.Constraint] = {
    "loss": P.one_of(("wgan-gp", "bce")),
    "embedding_dim": P.integer(1),
    "generator_dim": P.widths(),
    "discriminator_dim": P.widths(),
    "generator_lr": P.positive(),
    "discriminator_lr": P.positive(),
    "weight_decay": P.positive(allow_zero=True),
    "pac": P.integer(1),
    "discriminator_dropout": P.Constraint(lambda v: P.positive(allow_zero=True)(v) and v < 1,
                                          "a number in [0, 1)"),
    "critic_steps": P.integer(1),
    "generator_steps": P.integer(1),
    "critic_whitening": P.boolean(),
    "target": P.Constraint(_column_name, "None or a column name"),
    "target_weight": P.positive(),
    "moment_weight": P.positive(allow_zero=True),
}

TARGET_LR = 1e-3  # Adam's usual rate for a supervised network (the target predictor)
# critic whitening: no direction of the numbers is stretched more than sqrt(1 / WHITENING_FLOOR) times
# the average direction (eigenvalues below this share of their mean are raised to it). Chosen
# before any measurement as a bound on how much a direction the data barely varies in can weigh.
WHITENING_FLOOR = 1e-2


def whitening_map(covariance: torch.Tensor, floor: float = WHITENING_FLOOR) -> torch.Tensor:
    """The symmetric map that gives numbers of this ``covariance`` equal variance in every
    direction while keeping their total variance: ``V diag(sqrt(mean(l) / l)) V^T`` over its
    eigenpairs ``(l, V)``, each ``l`` raised to at least ``floor * mean(l)``. Only the numbers that
    vary take part: one with no variance in the training rows (the value within a point-mass mode,
    which decoding barely reads: the mode's spread is the floor) is left as it is, not stretched.
    The identity when the covariance is a multiple of the identity; float32, on ``covariance``'s
    device."""
    covariance = covariance.double()
    out = torch.eye(len(covariance), dtype=torch.float64, device=covariance.device)
    variance = covariance.diagonal()
    if not len(variance) or not float(variance.max()) > 0:  # no number varies: nothing to reshape
        return out.float()
    live = torch.nonzero(variance > 1e-12 * float(variance.max())).flatten()
    eigenvalues, vectors = torch.linalg.eigh(covariance[live][:, live])
    mean = eigenvalues.clamp_min(0).mean()
    scale = torch.sqrt(mean / eigenvalues.clamp_min(floor * mean))
    out[live.unsqueeze(1), live.unsqueeze(0)] = (vectors * scale) @ vectors.T
    return out.float()


class AdversarialModel(TabularModel):
    """Generator + critic (PacGAN packing of ``pac`` rows, one by default) trained with a
    Wasserstein-GP or binary cross-entropy loss."""

    parameters = _GAN_PARAMETERS

    def __init__(self, layout: TableLayout, params: Mapping[str, Any], device: torch.device, transformer=None):
        super().__init__(layout, params, device)
        known = {f.name for f in fields(GANConfig)}
        config = {k: tuple(v) if isinstance(v, list) else v for k, v in params.items() if k in known}
        self.config = GANConfig(**config)
        self.condition_dim = layout.condition_dim if self.conditional else 0
        self.activation = SpanActivation(layout, device)
        with torch.random.fork_rng(devices=[]):  # layer constructors draw from torch's global RNG
            self.generator = Generator(self.config.embedding_dim + self.condition_dim,
                                       self.config.generator_dim, layout.dim).to(device)
        self.critic: Critic | None = None
        self.predictor: nn.Module | None = None
        self.transformer = transformer
        self.private = False
        self.whitening: torch.Tensor | None = None  # set by fit_critic_view
        self.moment_term: MomentTerm | None = None  # set by set_moment_target

    def make_private(self) -> None:
        """Score one row per critic input and return the critic's (and the target predictor's) loss
        on real rows as a sum over rows, as DP-SGD's per-row clipping needs
        (:mod:`synthgan.privacy.accounting`); the generator's target term then reads no real row.
        Needs ``pac=1`` and ``loss="bce"``; a target must be discrete."""
        if "private" not in self.capabilities:
            raise ValueError(f"model {self.name!r} cannot be trained privately")
        if self.config.pac != 1 or self.config.loss != "bce":
            raise ValueError(f"private training needs pac=1 and loss='bce', not pac={self.config.pac} and "
                             f"loss={self.config.loss!r}")
        self.private = True

    @classmethod
    def training_bytes(cls, layout: TableLayout, params: Mapping[str, Any]) -> int:
        """Float32 parameters of both networks times four (weights, gradients, two Adam moments)."""
        condition = layout.condition_dim if "conditional" in cls.capabilities else 0
        count, width = 0, params["embedding_dim"] + condition
        for size in params["generator_dim"]:  # residual layers widen the input
            count += (width + 1) * size + 2 * size
            width += size
        count += (width + 1) * layout.dim
        width = (layout.dim + condition) * params["pac"]
        for size in params["discriminator_dim"]:
            count += (width + 1) * size
            width = size
        count += width + 1
        return 4 * 4 * count

    def setup_training(self, streams: RandomStreams) -> None:
        init = streams.torch("init")
        self.noise_rng = streams.torch("noise", self.device)
        self.penalty_rng = streams.torch("penalty", self.device)
        self.dropout_rng = streams.torch("dropout", self.device)
        with torch.random.fork_rng(devices=[]):
            critic = Critic(self.layout.dim + self.condition_dim, self.config.discriminator_dim, self.config.pac,
                            self.dropout_rng, self.config.discriminator_dropout)
        # initialize on the CPU (the init stream is a CPU generator), so every device starts from the
        # same weights, then move
        self.generator = self.generator.cpu()
        init_weights(self.generator, init)
        init_weights(critic, init)
        self.generator = self.generator.to(self.device)
        self.critic = critic.to(self.device)
        if self.config.target is not None:
            self.target_loss = TargetLoss(self.layout, self.config.target, self._modes(self.config.target),
                                          self.device)
            if self.private and not self.target_loss.discrete:
                raise ValueError(f"target column {self.config.target!r} is a number; private training supports a "
                                 "discrete target only")
            # private: the critic's (small) widths, since DP-SGD's noise grows with the parameters
            predictor = self.target_loss.build(self.config.discriminator_dim if self.private else HIDDEN)
            init_weights(predictor, init)  # after the other networks: their weights do not change
            self.predictor = predictor.to(self.device)

    def _modes(self, column: object):
        """The fitted mixture of ``column`` when it is a number or datetime, else None."""
        if self.transformer is None:
            raise RuntimeError("a target needs the fitted transformer")
        for spec, state in zip(self.transformer.specs_, self.transformer.states_):
            if spec.name == column:
                return state if isinstance(state, ModeState) else None
        raise ValueError(f"target column {column!r} is not modelled")

    def set_moment_target(self, target: torch.Tensor) -> None:
        """With ``moment_weight > 0``: the second moment (:mod:`synthgan.models.moments`) the
        generator's batches are held to, ``moment_weight`` times their relative error in the
        generator's loss. Private training passes the Gaussian release of it, never the rows' own
        (the term then reads no real row: post-processing)."""
        self.moment_term = MomentTerm(target.to(self.device), self.layout)

    @property
    def whitens_critic(self) -> bool:
        """Whether :meth:`fit_critic_view` has anything to fit (``critic_whitening``, not private,
        a table with numbers)."""
        return self.config.critic_whitening and not self.private and len(self.layout.tanh_index) > 0

    def fit_critic_view(self, covariance: torch.Tensor) -> None:
        """With ``critic_whitening``: the critic reads the numbers through :func:`whitening_map` of
        the ``covariance`` of the training rows' scalar columns (``layout.tanh_index`` order), and the
        gradient penalty holds its slope to 1 in that view. The Wasserstein distance the critic
        estimates then weighs every direction of the numbers by its spread in the data: an error
        across a near-exact relation (a width proportional to a length) counts as much as one along
        the numbers' main direction, where the plain view lets it pass as a small distance. Not
        used in private training (the map reads real rows and the private loss has no penalty)."""
        if not self.whitens_critic:
            self.whitening = None
            return
        self.whitening = whitening_map(covariance.to(self.device))
        self._value_index = torch.as_tensor(self.layout.tanh_index, device=self.device)

    def _view(self, rows: torch.Tensor) -> torch.Tensor:
        """Encoded rows as the critic reads them (the numbers whitened with :attr:`whitening`)."""
        if self.whitening is None:
            return rows
        whitened = rows.index_select(1, self._value_index) @ self.whitening
        return rows.index_copy(1, self._value_index, whitened.to(rows.dtype))  # the rows keep their dtype

    def networks(self) -> dict[str, nn.Module]:
        found = {"generator": self.generator}
        if self.critic is not None:
            found["critic"] = self.critic
        if self.predictor is not None:
            found["target"] = self.predictor
        return found

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        if self.critic is None:
            raise RuntimeError("setup_training() must run before the optimizers are configured")
        adam = dict(betas=(0.5, 0.9), weight_decay=self.config.weight_decay)
        optimizers = {
            "critic": torch.optim.Adam(self.critic.parameters(), lr=self.config.discriminator_lr, **adam),
            "generator": torch.optim.Adam(self.generator.parameters(), lr=self.config.generator_lr, **adam)}
        if self.predictor is not None:
            optimizers["target"] = torch.optim.Adam(self.predictor.parameters(), lr=TARGET_LR,
                                                    weight_decay=self.config.weight_decay)
        return optimizers

    def phases(self) -> tuple[Phase, ...]:
        target = () if self.predictor is None else (
            Phase("target", self.private_predictor_loss if self.private else self.predictor_loss),)
        if self.private:  # only the real rows' terms go through per-row clipping and noise
            critic = Phase("critic", self.private_critic_loss, repeats=self.config.critic_steps,
                           public_loss=self.generated_critic_loss)
        else:
            critic = Phase("critic", self.critic_loss, repeats=self.config.critic_steps)
        return (critic, *target,
                Phase("generator", self.generator_loss, repeats=self.config.generator_steps))

    # ------------------------------------------------------------------ pieces
    def _noise(self, n: int, generator: torch.Generator) -> torch.Tensor:
        return torch.randn(n, self.config.embedding_dim, generator=generator, device=self.device)

    def _sampled_scores(self, condition: torch.Tensor, generator: torch.Generator,
                        calibrated: bool = True, asked: bool = False) -> torch.Tensor:
        """The generator's output in decode order (``Generator.infer``) for conditional vectors
        ``condition``; one-hot vectors (what sampling draws) are read as indices, not multiplied.
        With ``calibrated`` the discrete calibration's logit offsets are added: folded into the
        output layer's bias (:meth:`SpanActivation.offset_table`) for one-hot vectors; with
        ``asked`` (conditions the user asked for) not on the span each row is conditioned on."""
        noise = self._noise(len(condition), generator)
        columns = self.activation.decode_order
        hot = one_hot_index(condition)
        if hot is None:
            raw = self.generator.infer(torch.cat([noise, condition], dim=1), columns=columns)
            return self.activation.add_logit_offsets(raw, condition if asked else None) if calibrated else raw
        offsets = self.activation.offset_table(asked) if calibrated else None
        return self.generator.infer(noise, columns=columns, hot=hot, output_offsets=offsets)

    def _fake(self, condition: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        raw = self.generator(torch.cat([self._noise(len(condition), generator), condition], dim=1))
        return raw, self.activation(raw, self.config.tau, generator)

    def _critic_input(self, rows: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        """Rows as the critic reads them (whitened numbers, if so) beside their condition."""
        return torch.cat([self._view(rows), condition], dim=1)

    def _score(self, rows: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        return self.critic(self._critic_input(rows, condition))

    def _gradient_penalty(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        pac = self.config.pac
        mix = torch.rand(real.shape[0] // pac, 1, 1, generator=self.penalty_rng, device=self.device)
        mix = mix.expand(-1, pac, real.shape[1]).reshape(real.shape)
        blend = (mix * real + (1 - mix) * fake).requires_grad_(True)
        (grad,) = torch.autograd.grad(self.critic(blend).sum(), blend, create_graph=True)
        norm = grad.reshape(-1, pac * real.shape[1]).norm(2, dim=1)
        return self.config.gradient_penalty * ((norm - 1) ** 2).mean()

    # ------------------------------------------------------------------ losses
    def critic_loss(self, batch: Batch) -> torch.Tensor:
        """Critic loss on one batch (fake rows are drawn without a generator graph)."""
        if self.private:
            return self.private_critic_loss(batch) + self.generated_critic_loss(batch)
        with torch.no_grad():
            _, fake = self._fake(batch.condition, self.noise_rng)
        # both scored as the critic reads them (whitened numbers, if so), where the penalty's slope is taken too
        real = self._critic_input(batch.real, batch.real_condition)
        fake = self._critic_input(fake, batch.condition)
        real_score, fake_score = self.critic(real), self.critic(fake)
        if self.config.loss == "wgan-gp":
            return fake_score.mean() - real_score.mean() + self._gradient_penalty(real, fake)
        return F.softplus(-real_score).mean() + F.softplus(fake_score).mean()

    def private_critic_loss(self, batch: Batch) -> torch.Tensor:
        """The private critic's loss on the real rows, a sum over rows (DP-SGD clips and noises each
        row's gradient of it)."""
        return F.softplus(-self._score(batch.real, batch.real_condition)).sum()

    def generated_critic_loss(self, batch: Batch) -> torch.Tensor:
        """The private critic's loss on generated rows, a sum over rows. It reads no real row: the
        generated rows are a function of the generator, which learns only from the critic's earlier,
        already private, updates and fresh noise; so its gradient is post-processing and needs no
        clipping nor noise."""
        with torch.no_grad():
            _, fake = self._fake(batch.condition, self.noise_rng)
        return F.softplus(self._score(fake, batch.condition)).sum()

    def generator_loss(self, batch: Batch) -> torch.Tensor:
        """Generator loss on one batch (plus the conditional cross-entropy for conditional models)."""
        raw, fake = self._fake(batch.condition, self.noise_rng)
        score = self._score(fake, batch.condition)
        loss = -score.mean() if self.config.loss == "wgan-gp" else F.softplus(-score).mean()
        if batch.condition.shape[1]:
            loss = loss + self.activation.condition_loss(raw, batch.condition)
        if self.config.moment_weight > 0:
            if self.moment_term is None:
                raise RuntimeError("moment_weight > 0 needs set_moment_target() before training")
            loss = loss + self.config.moment_weight * self.moment_term(fake)
        if self.predictor is not None:  # the target must follow from the other columns as in real rows
            real = None if self.private else batch.real  # private: the generator reads no real row
            loss = loss + self.config.target_weight * self.target_loss.generator_loss(self.predictor, fake, real)
        return loss

    def predictor_loss(self, batch: Batch) -> torch.Tensor:
        """The target predictor's loss on real rows (it never trains on generated ones)."""
        return self.target_loss(self.predictor, batch.real)

    def private_predictor_loss(self, batch: Batch) -> torch.Tensor:
        """The target predictor's loss on real rows as a sum over rows (DP-SGD clips and noises each
        row's gradient of it, as the critic's)."""
        return self.target_loss(self.predictor, batch.real, reduction="sum")

    # ------------------------------------------------------------------ sampling and state
    @torch.no_grad()
    def generate(self, condition: torch.Tensor, generator: torch.Generator, asked: bool = False) -> EncodedRows:
        raw = self._sampled_scores(condition, generator, asked=asked)
        values, slots = self.activation.for_decoding(raw, generator)
        return EncodedRows(self.layout, values.cpu().numpy(), slots.cpu().numpy())

    @torch.no_grad()
    def calibrate_discrete(self, condition: torch.Tensor, generator: torch.Generator,
                           counts: list[np.ndarray], count_noise: float = 0.0) -> None:
        """Fit the logit offsets of discrete calibration (:meth:`SpanActivation.fit_logit_offsets`)
        on generated rows with conditional vectors ``condition`` (drawn as sampling draws them),
        towards the slot ``counts`` of each condition span, within two standard errors of each
        share (:meth:`SpanActivation.slot_frequency`, with ``count_noise``). Reads no real row."""
        scores = self._sampled_scores(condition, generator, calibrated=False)[:, self.activation.n_values:]
        self.activation.fit_logit_offsets(scores, *self.activation.slot_frequency(counts, count_noise=count_noise))

    def weights(self) -> dict[str, torch.Tensor]:
        found = {f"generator.{k}": v.detach().cpu().clone() for k, v in self.generator.state_dict().items()}
        offsets = self.activation.logit_offsets
        found[OFFSETS_KEY] = (offsets.detach().cpu().clone() if offsets is not None
                              else torch.zeros(self.activation.n_scores))  # zeros: not calibrated
        return found

    def load_weights(self, state: Mapping[str, torch.Tensor]) -> None:
        prefix = "generator."
        self.generator.load_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)})
        offsets = state.get(OFFSETS_KEY)
        self.activation.logit_offsets = (offsets.to(self.device, torch.float32)
                                         if offsets is not None and bool(offsets.any()) else None)

    def weight_shapes(self) -> dict[str, tuple[int, ...]]:
        shapes = {f"generator.{k}": tuple(v.shape) for k, v in self.generator.state_dict().items()}
        shapes[OFFSETS_KEY] = (self.activation.n_scores,)
        return shapes

    def random_state(self) -> dict[str, torch.Tensor]:
        return {name: getattr(self, f"{name}_rng").get_state() for name in ("noise", "penalty", "dropout")}

    def load_random_state(self, state: Mapping[str, torch.Tensor]) -> None:
        for name in ("noise", "penalty", "dropout"):
            getattr(self, f"{name}_rng").set_state(state[name])


@register_model("ctgan")
class ConditionalTabularGAN(AdversarialModel):
    """Conditional generator trained by sampling (Xu et al., 2019)."""

    description = "conditional generator, training-by-sampling, critic of pac rows (Xu et al., 2019)"
    capabilities = frozenset({"conditional", "private", "target", "discrete-calibration", "moments"})


@register_model("wgan-gp")
class WassersteinGAN(AdversarialModel):
    """Unconditional WGAN-GP over the same encoding."""

    description = "unconditional Wasserstein GAN with gradient penalty over the same encoding"
    capabilities = frozenset({"target", "discrete-calibration", "moments"})
