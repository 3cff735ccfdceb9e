"""Registered models. Importing this package registers ``ctgan`` and ``wgan-gp``."""

from synthgan.models import gan  # noqa: F401  (registers the models)
from synthgan.models.base import ModelConfig, TabularGAN, build_model, model_names, register_model

__all__ = ["ModelConfig", "TabularGAN", "build_model", "model_names", "register_model"]
