"""The one place where gradients are computed and applied.

:class:`Strategy` runs a model's :class:`~synthgan.models.base.Phase`: it freezes every network but
the phase's own, computes the loss, zeroes gradients, calls ``backward``, lets callbacks see the
gradients, clips them if asked and steps the phase's optimizer. Wrappers that change how training
happens (data-parallel gradient averaging, DP-SGD's per-sample clipping and noise, autocast) belong
in a subclass of this class, nowhere else.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import torch
from torch import nn

from synthgan.models.base import Batch, Phase, TabularModel


class Strategy:
    """Plain single-process optimization.

    Parameters
    ----------
    max_grad_norm : float or None, default=None
        Clip each phase's gradient to this total L2 norm before the step.
    precision : {"float32", "bfloat16"}, default="float32"
        ``"bfloat16"``: each phase's loss (its forward passes, and the gradient penalty's
        ``autograd.grad``) runs under ``torch.autocast`` with bfloat16 on the networks' device; the
        backward pass, the weights and the optimizer state stay float32 (bfloat16 keeps float32's
        exponent range, so no loss scaling is needed).
    """

    PRECISIONS = {"float32": None, "bfloat16": torch.bfloat16}

    def __init__(self, max_grad_norm: float | None = None, precision: str = "float32"):
        if precision not in self.PRECISIONS:
            raise ValueError(f"precision must be one of {list(self.PRECISIONS)}, got {precision!r}")
        self.max_grad_norm = max_grad_norm
        self.precision = precision

    def setup(self, model: TabularModel) -> None:
        """Take the model's networks and build its optimizers."""
        self.networks: dict[str, nn.Module] = model.networks()
        self.optimizers: dict[str, torch.optim.Optimizer] = model.configure_optimizers()
        self._parameters = {name: list(net.parameters()) for name, net in self.networks.items()}

    def _freeze_others(self, name: str, frozen: bool) -> None:
        for other, parameters in self._parameters.items():
            if other != name:
                for parameter in parameters:
                    parameter.requires_grad_(not frozen)

    def autocast(self, name: str) -> contextlib.AbstractContextManager:
        """The context ``name``'s loss is computed in: autocast at the strategy's precision."""
        dtype = self.PRECISIONS[self.precision]
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self._parameters[name][0].device.type, dtype=dtype)

    def synchronize(self, name: str) -> None:
        """After ``name``'s backward, before callbacks see the gradients and the step: where a
        data-parallel strategy averages them across processes. Nothing in one process."""

    def agree(self, value: float, how: str) -> float:
        """``value`` as every process agrees on it (``how``: ``min``, ``max`` or ``mean``): steps per
        epoch, the stop flag, the logged losses. The value itself in one process."""
        return value

    @property
    def rank(self) -> int:
        """This process's number among the processes training together (0 in one process)."""
        return 0

    def gather(self, value: object) -> list:
        """Every process's ``value``, in rank order, on every process (a checkpoint's per-process
        random states); ``[value]`` in one process."""
        return [value]

    @property
    def finished(self) -> bool:
        """True when the strategy cannot take another training step (e.g. a privacy budget is spent);
        the trainer then ends training."""
        return False

    def run(self, phase: Phase, batch: Batch, after_backward: Callable[[], None] | None = None) -> torch.Tensor:
        """One update of ``phase`` on ``batch``; returns the detached loss."""
        optimizer = self.optimizers[phase.name]
        self._freeze_others(phase.name, True)
        try:
            with self.autocast(phase.name):
                loss = phase.loss(batch)
                if phase.public_loss is not None:
                    loss = loss + phase.public_loss(batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
        finally:
            self._freeze_others(phase.name, False)
        self.synchronize(phase.name)
        if after_backward is not None:
            after_backward()
        if self.max_grad_norm is not None:
            nn.utils.clip_grad_norm_(self._parameters[phase.name], self.max_grad_norm)
        optimizer.step()
        return loss.detach()

    def state_dict(self) -> dict:
        return {name: optimizer.state_dict() for name, optimizer in self.optimizers.items()}

    def load_state_dict(self, state: dict) -> None:
        for name, optimizer in self.optimizers.items():
            optimizer.load_state_dict(state[name])
