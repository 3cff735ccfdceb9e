"""Registered models. Importing this package registers ``ctgan``, ``wgan-gp`` and ``copula``."""

from synthgan.models import copula, gan  # noqa: F401  (registers the models)
from synthgan.models.base import (Batch, Phase, TabularModel, build_model, model_class, model_names,
                                  register_model)

__all__ = ["Batch", "Phase", "TabularModel", "build_model", "model_class", "model_names", "register_model"]
