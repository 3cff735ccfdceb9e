"""Registered models. Importing this package registers ``ctgan`` and ``wgan-gp``."""

from synthgan.models import gan  # noqa: F401  (registers the models)
from synthgan.models.base import (Batch, Phase, TabularModel, build_model, model_class, model_names,
                                  register_model)

__all__ = ["Batch", "Phase", "TabularModel", "build_model", "model_class", "model_names", "register_model"]
