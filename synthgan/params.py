"""Parameter constraints declared as data and one function that checks them.

The estimator declares its own parameters in ``SynthGAN._parameter_constraints``; each registered
model declares the parameters it reads in its class attribute ``parameters``. ``validate`` checks an
object's attributes against such a mapping and raises :class:`SynthGANError` naming the parameter,
what it must be and what it got.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

from synthgan.errors import SynthGANError


def _is_int(value: Any) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class Constraint:
    """A test on one parameter value and the words for what it must be."""

    test: Callable[[Any], bool]
    text: str

    def __call__(self, value: Any) -> bool:
        return bool(self.test(value))

    def or_none(self) -> Constraint:
        return Constraint(lambda v: v is None or self.test(v), f"{self.text} or None")

    def or_auto(self) -> Constraint:
        return Constraint(lambda v: is_auto(v) or self.test(v), f"{self.text} or 'auto'")


def is_auto(value: Any) -> bool:
    """Whether a parameter value is the ``"auto"`` default (resolved where the value is used)."""
    return isinstance(value, str) and value == "auto"


def integer(minimum: int = 1) -> Constraint:
    return Constraint(lambda v: _is_int(v) and v >= minimum, f"an integer >= {minimum}")


def positive(allow_zero: bool = False) -> Constraint:
    if allow_zero:
        return Constraint(lambda v: _is_real(v) and v >= 0, "a non-negative number")
    return Constraint(lambda v: _is_real(v) and v > 0, "a positive number")


def fraction() -> Constraint:
    return Constraint(lambda v: _is_real(v) and 0 < v < 1, "a number strictly between 0 and 1")


def one_of(options: Iterable[Any]) -> Constraint:
    choices = tuple(options)
    return Constraint(lambda v: isinstance(v, str) and v in choices, f"one of {list(choices)}")


def boolean() -> Constraint:
    return Constraint(lambda v: isinstance(v, bool), "True or False")


def widths() -> Constraint:
    return Constraint(lambda v: isinstance(v, (tuple, list)) and all(_is_int(d) and d > 0 for d in v),
                      "a tuple of positive integers")


def instances(kind: type, text: str) -> Constraint:
    return Constraint(lambda v: isinstance(v, kind), text)


def validate(owner: object, constraints: Mapping[str, Constraint]) -> None:
    """Check ``getattr(owner, name)`` against each constraint; the first failure raises."""
    for name, constraint in constraints.items():
        value = getattr(owner, name)
        if not constraint(value):
            raise SynthGANError(f"{name} must be {constraint.text}, got {value!r}")
