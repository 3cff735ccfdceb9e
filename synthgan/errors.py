"""Exceptions raised by synthgan.

Every error a user can provoke with bad input is a :class:`SynthGANError`, so callers can catch
one type, and each message names the column (where there is one) and the fix.
"""

from __future__ import annotations

from sklearn.exceptions import NotFittedError as _SklearnNotFittedError


class SynthGANError(ValueError):
    """Base class of the errors synthgan raises for bad input or bad use."""


class DataError(SynthGANError):
    """The training or evaluation table cannot be used as it is."""


class ConditionError(SynthGANError):
    """A sampling condition names an unknown column or a value that cannot be generated."""


class ModelFileError(SynthGANError):
    """A model file is missing, corrupt, or was written by an incompatible version."""


class NotFittedError(SynthGANError, _SklearnNotFittedError):
    """The estimator was used before ``fit``."""


class TrainingDiverged(SynthGANError):
    """A training loss stopped being a finite number (e.g. a learning rate far too high)."""
