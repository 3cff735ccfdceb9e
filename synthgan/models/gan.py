"""Adversarial models: the conditional tabular GAN and the unconditional WGAN-GP.

Both share the same networks and update steps; they differ in whether the generator receives a
conditional vector (and the conditional cross-entropy term) and in how the trainer draws batches.
Losses follow Gulrajani et al. (2017) for ``wgan-gp`` and Goodfellow et al. (2014) for ``bce``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from synthgan.layout import TableLayout
from synthgan.models.activations import SpanActivation
from synthgan.models.base import Batch, ModelConfig, register_model
from synthgan.models.networks import Critic, Generator, init_weights


class AdversarialModel:
    """Generator + PacGAN critic trained with a Wasserstein-GP or binary cross-entropy loss."""

    conditional = True

    def __init__(self, layout: TableLayout, config: ModelConfig, device: torch.device, seed: int):
        self.layout = layout
        self.config = config
        self.device = device
        self.condition_dim = layout.condition_dim if self.conditional else 0
        init_rng = torch.Generator().manual_seed(seed)
        self.rng = torch.Generator(device=device).manual_seed(seed + 1)
        self.activation = SpanActivation(layout, device)
        self.generator = Generator(config.embedding_dim + self.condition_dim, config.generator_dim, layout.dim)
        self.critic = Critic(layout.dim + self.condition_dim, config.critic_dim, config.pac, self.rng)
        init_weights(self.generator, init_rng)
        init_weights(self.critic, init_rng)
        self.generator.to(device)
        self.critic.to(device)
        adam = dict(betas=(0.5, 0.9), weight_decay=config.weight_decay)
        self.generator_opt = torch.optim.Adam(self.generator.parameters(), lr=config.generator_lr, **adam)
        self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=config.critic_lr, **adam)

    # ------------------------------------------------------------------ pieces
    def _noise(self, n: int, generator: torch.Generator) -> torch.Tensor:
        return torch.randn(n, self.config.embedding_dim, generator=generator, device=self.device)

    def _fake(self, condition: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        raw = self.generator(torch.cat([self._noise(len(condition), generator), condition], dim=1))
        return raw, self.activation(raw, self.config.tau, generator)

    def _score(self, rows: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        return self.critic(torch.cat([rows, condition], dim=1))

    def _gradient_penalty(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        pac = self.config.pac
        mix = torch.rand(real.shape[0] // pac, 1, 1, generator=self.rng, device=self.device)
        mix = mix.expand(-1, pac, real.shape[1]).reshape(real.shape)
        blend = (mix * real + (1 - mix) * fake).requires_grad_(True)
        (grad,) = torch.autograd.grad(self.critic(blend).sum(), blend, create_graph=True)
        norm = grad.reshape(-1, pac * real.shape[1]).norm(2, dim=1)
        return self.config.gradient_penalty * ((norm - 1) ** 2).mean()

    # ------------------------------------------------------------------ protocol
    def critic_step(self, batch: Batch) -> torch.Tensor:
        with torch.no_grad():
            _, fake = self._fake(batch.condition, self.rng)
        real_score = self._score(batch.real, batch.real_condition)
        fake_score = self._score(fake, batch.condition)
        if self.config.loss == "wgan-gp":
            loss = fake_score.mean() - real_score.mean()
            loss = loss + self._gradient_penalty(torch.cat([batch.real, batch.real_condition], 1),
                                                 torch.cat([fake, batch.condition], 1))
        else:
            loss = F.softplus(-real_score).mean() + F.softplus(fake_score).mean()
        self.critic_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.critic_opt.step()
        return loss.detach()

    def generator_step(self, batch: Batch) -> torch.Tensor:
        raw, fake = self._fake(batch.condition, self.rng)
        score = self._score(fake, batch.condition)
        loss = -score.mean() if self.config.loss == "wgan-gp" else F.softplus(-score).mean()
        if batch.condition.shape[1]:
            loss = loss + self.activation.condition_loss(raw, batch.condition)
        self.generator_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.generator_opt.step()
        return loss.detach()

    @torch.no_grad()
    def generate(self, condition: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        self.generator.eval()
        try:
            return self._fake(condition, generator)[1]
        finally:
            self.generator.train()

    def weights(self) -> dict[str, torch.Tensor]:
        return {f"generator.{k}": v.detach().cpu() for k, v in self.generator.state_dict().items()}

    def load_weights(self, state: dict[str, torch.Tensor]) -> None:
        prefix = "generator."
        self.generator.load_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)})


@register_model("ctgan")
class ConditionalTabularGAN(AdversarialModel):
    """Conditional generator trained by sampling (Xu et al., 2019)."""

    conditional = True


@register_model("wgan-gp")
class WassersteinGAN(AdversarialModel):
    """Unconditional WGAN-GP over the same encoding."""

    conditional = False
