"""synthgan: learn a real table and sample synthetic rows that keep its structure."""

__version__ = "0.1.0"

from synthgan import models  # noqa: E402,F401  (registers the built-in models)
from synthgan.demo import demo_path, load_demo  # noqa: E402
from synthgan.errors import (ConditionError, DataError, ModelFileError, NotFittedError,  # noqa: E402
                             SynthGANError)
from synthgan.estimator import SynthGAN  # noqa: E402

__all__ = ["SynthGAN", "SynthGANError", "DataError", "ConditionError", "ModelFileError", "NotFittedError",
           "load_demo", "demo_path", "__version__"]
