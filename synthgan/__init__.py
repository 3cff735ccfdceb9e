"""synthgan: learn a real table and sample synthetic rows that keep its structure."""

from synthgan import models  # noqa: F401  (registers the built-in models)
from synthgan._version import __version__
from synthgan.demo import demo_path, load_demo
from synthgan.errors import ConditionError, DataError, ModelFileError, NotFittedError, SynthGANError
from synthgan.estimator import SynthGAN
from synthgan.metadata import Metadata

__all__ = ["SynthGAN", "Metadata", "SynthGANError", "DataError", "ConditionError", "ModelFileError", "NotFittedError",
           "load_demo", "demo_path", "__version__"]
