"""The protocol a model implements to be trained by :class:`synthgan.trainer.Trainer`, and the registry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch

from synthgan.layout import TableLayout


@dataclass(frozen=True)
class Batch:
    """One training draw.

    Attributes
    ----------
    real : Tensor (batch, dim)
        Encoded real rows.
    real_condition : Tensor (batch, condition_dim)
        Conditional vector paired with ``real`` (zero width for unconditional models).
    condition : Tensor (batch, condition_dim)
        One-hot conditional vectors the generator is asked to honour.
    """

    real: torch.Tensor
    real_condition: torch.Tensor
    condition: torch.Tensor


@dataclass(frozen=True)
class ModelConfig:
    """Hyper-parameters every model receives."""

    embedding_dim: int = 128
    generator_dim: tuple[int, ...] = (256, 256)
    critic_dim: tuple[int, ...] = (256, 256)
    generator_lr: float = 2e-4
    critic_lr: float = 2e-4
    weight_decay: float = 1e-6
    pac: int = 10
    loss: str = "wgan-gp"
    gradient_penalty: float = 10.0
    tau: float = 0.2


class TabularGAN(Protocol):
    """What the trainer and the estimator need from a model."""

    conditional: bool

    def critic_step(self, batch: Batch) -> torch.Tensor:
        """One critic update; returns the critic loss (a detached scalar tensor)."""

    def generator_step(self, batch: Batch) -> torch.Tensor:
        """One generator update; returns the generator loss (a detached scalar tensor)."""

    def generate(self, condition: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Activated rows for the given conditional vectors, one row per vector row."""

    def weights(self) -> dict[str, torch.Tensor]:
        """Tensors needed to sample (saved with the model)."""

    def load_weights(self, state: dict[str, torch.Tensor]) -> None:
        """Restore what :meth:`weights` returned."""


ModelFactory = Callable[[TableLayout, ModelConfig, torch.device, int], TabularGAN]
_REGISTRY: dict[str, ModelFactory] = {}


def register_model(name: str) -> Callable[[ModelFactory], ModelFactory]:
    """Class decorator adding a model under ``name`` (the estimator's ``model`` parameter)."""

    def add(factory: ModelFactory) -> ModelFactory:
        _REGISTRY[name] = factory
        return factory

    return add


def model_names() -> tuple[str, ...]:
    return tuple(sorted(_REGISTRY))


def build_model(name: str, layout: TableLayout, config: ModelConfig, device: torch.device,
                seed: int) -> TabularGAN:
    """Instantiate the registered model ``name``; ``seed`` fixes its initialization and noise."""
    return _REGISTRY[name](layout, config, device, seed)
