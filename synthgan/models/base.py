"""What a model declares so that the trainer can train it, and the registry of models.

A model owns its networks, says which optimizer updates each of them and which loss each training
phase minimizes; it never calls ``backward`` or ``step`` itself. The trainer's strategy
(:mod:`synthgan.training.strategy`) does that, in one place, which is where data-parallel wrapping,
DP-SGD or mixed precision go.

Registered models are classes that describe themselves: their name, a one-line description, the
estimator parameters they read (with constraints, see :mod:`synthgan.params`) and their
capabilities. The estimator's parameter checks and the command line's ``--model`` choices are read
from the registry.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from synthgan.layout import TableLayout
from synthgan.params import Constraint
from synthgan.streams import RandomStreams
from synthgan.transform.encoded import EncodedRows


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
class Phase:
    """One update of a training step: minimize ``loss`` over the parameters of network ``name``.

    The optimizer of the same name (from ``configure_optimizers``) takes the step; every other
    network's parameters are frozen (they get no gradients) while the phase runs. The mean loss is
    logged as ``f"{name}_loss"``.

    ``public_loss``, where given, is a part of the loss that reads no real rows (a private critic's
    score of generated rows): a private strategy back-propagates it apart and adds its gradient as
    is, outside per-row clipping and noise, while ``loss`` holds the terms that read real rows. A
    strategy that is not private adds the two losses.
    """

    name: str
    loss: Callable[[Batch], torch.Tensor]
    repeats: int = 1
    public_loss: Callable[[Batch], torch.Tensor] | None = None


class TabularModel(ABC):
    """Base class of registered models.

    Construction builds only what sampling needs (so loading a model file builds no critic and no
    optimizer); :meth:`setup_training` adds the rest and initializes the weights from the ``init``
    stream.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    capabilities: ClassVar[frozenset[str]] = frozenset()
    parameters: ClassVar[Mapping[str, Constraint]] = {}

    def __init__(self, layout: TableLayout, params: Mapping[str, Any], device: torch.device, transformer=None):
        self.layout = layout
        self.device = device

    @property
    def conditional(self) -> bool:
        """Whether the generator takes a conditional vector (training-by-sampling)."""
        return "conditional" in self.capabilities

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """Name, description, parameters (with what each must be) and capabilities."""
        return {"name": cls.name, "description": cls.description, "capabilities": sorted(cls.capabilities),
                "parameters": {k: c.text for k, c in cls.parameters.items()}}

    @classmethod
    def training_bytes(cls, layout: TableLayout, params: Mapping[str, Any]) -> int:
        """Estimated bytes of parameters, gradients and optimizer states when training (for a check
        before anything is allocated); 0 when the model cannot tell."""
        return 0

    def fit_table(self, frame, encoded) -> None:
        """One-pass fit (models with the ``one-pass`` capability; the others are trained by the
        trainer through their phases)."""
        raise NotImplementedError(f"{type(self).__name__} is trained through its phases, not in one pass")

    @abstractmethod
    def setup_training(self, streams: RandomStreams) -> None:
        """Build the training-only parts and initialize every network from ``streams``."""

    @abstractmethod
    def networks(self) -> dict[str, nn.Module]:
        """The model's networks by name (the names the phases and optimizers use)."""

    @abstractmethod
    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """One optimizer per trained network, keyed like :meth:`networks`."""

    @abstractmethod
    def phases(self) -> tuple[Phase, ...]:
        """The updates of one training step, in order."""

    def calibrate_discrete(self, condition: torch.Tensor, generator: torch.Generator, counts: list,
                           count_noise: float = 0.0) -> None:
        """After training, make the discrete slots drawn for conditional vectors ``condition``
        occur with the given per-condition-span ``counts`` (models with the
        ``discrete-calibration`` capability); ``count_noise``: the standard deviation of noise
        added to each count (a private release's), which widens the band left alone."""
        raise NotImplementedError(f"{type(self).__name__} has no discrete calibration")

    @abstractmethod
    def generate(self, condition: torch.Tensor, generator: torch.Generator, asked: bool = False) -> EncodedRows:
        """Rows for the given conditional vectors (one per vector row), ready to decode, in compact
        form: each scalar column's encoded value and the slot drawn in each one-hot span.
        ``asked``: the conditions were asked for by the user (``sample(conditions=...)``), not drawn
        by sampling from the training shares (a discrete calibration then leaves their spans alone)."""

    @abstractmethod
    def weights(self) -> dict[str, torch.Tensor]:
        """Copies of the tensors needed to sample (saved with the model)."""

    @abstractmethod
    def load_weights(self, state: Mapping[str, torch.Tensor]) -> None:
        """Restore what :meth:`weights` returned."""

    @abstractmethod
    def weight_shapes(self) -> dict[str, tuple[int, ...]]:
        """The shape of every tensor :meth:`weights` returns (works on the ``meta`` device, so a model
        file's weights can be checked before a real network is built)."""

    def random_state(self) -> dict[str, torch.Tensor]:
        """States of the model's own training random generators (for checkpoints)."""
        return {}

    def load_random_state(self, state: Mapping[str, torch.Tensor]) -> None:
        """Restore what :meth:`random_state` returned."""


_REGISTRY: dict[str, type[TabularModel]] = {}


def register_model(name: str) -> Callable[[type[TabularModel]], type[TabularModel]]:
    """Class decorator adding a model under ``name`` (the estimator's ``model`` parameter).

    Raises
    ------
    ValueError
        If ``name`` is registered already.
    """

    def add(cls: type[TabularModel]) -> type[TabularModel]:
        if name in _REGISTRY:
            raise ValueError(f"a model named {name!r} is registered already "
                             f"({_REGISTRY[name].__module__}.{_REGISTRY[name].__qualname__})")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return add


def model_names() -> tuple[str, ...]:
    return tuple(sorted(_REGISTRY))


def model_class(name: str) -> type[TabularModel]:
    """The registered class for ``name`` (KeyError if there is none)."""
    return _REGISTRY[name]


def build_model(name: str, layout: TableLayout, params: Mapping[str, Any], device: torch.device,
                transformer=None) -> TabularModel:
    """Instantiate the registered model ``name`` with the parameters it declares, read from ``params``
    (``transformer``: the fitted DataTransformer, for models that work with column values)."""
    cls = _REGISTRY[name]
    return cls(layout, {k: params[k] for k in cls.parameters}, device, transformer=transformer)
