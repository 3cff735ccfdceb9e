"""Named random streams: every random draw synthgan makes comes from one of these.

One root entropy (from ``random_state``) seeds every stream, and each stream is found by name,
so adding a stream never shifts another and a checkpoint can restore each one on its own.

The rule, for a stream called ``name`` in process ``rank`` (0 in a single-process run)::

    SeedSequence(entropy, spawn_key=(crc32(name),))        # shared streams: the same in every process
    SeedSequence(entropy, spawn_key=(crc32(name), rank))   # per-process streams

Shared streams (``SHARED``) must agree across processes: network initialization, the transformer's
row sample and mode draws, the validation split and scoring, sampling after fit, the levels that
replace rare ones (``rare``), the generated rows that calibrate the marginals after training
(``calibration``) and the noise of a private fit's moment release (``moments``). Per-process streams (``PER_PROCESS``) must differ across processes so that
data-parallel workers draw different batches and noise: training batches, generator noise (with
the Gumbel noise of the activations), the critic's dropout masks, the gradient-penalty mix and
DP-SGD's Gaussian noise (``privacy``). A single-process run is rank 0, so it draws the same
numbers as rank 0 of a distributed run. Global random states (``numpy.random``, ``torch``'s
default generator) are never read or advanced.
"""

from __future__ import annotations

import zlib
from numbers import Integral

import numpy as np
import torch

SHARED = ("init", "transform", "validation", "sampling", "rare", "calibration", "moments")
PER_PROCESS = ("batches", "noise", "dropout", "penalty", "privacy")


def _key(name: str) -> int:
    return zlib.crc32(name.encode("utf-8"))


def numpy_from_torch(generator: torch.Generator) -> np.random.Generator:
    """A numpy Generator seeded by one draw of ``generator``, for numpy work in a step that is
    handed a torch generator (a model's sampling)."""
    return np.random.default_rng(int(torch.randint(2**62, (1,), generator=generator,
                                                   device=generator.device).item()))


def root_entropy(random_state: int | np.random.Generator | None) -> int:
    """The root entropy for ``random_state``: the int itself, one draw from a Generator, or fresh entropy."""
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**63))
    if isinstance(random_state, Integral):
        return int(random_state)
    return int(np.random.SeedSequence().entropy)


class RandomStreams:
    """Independent, reproducible random streams derived from one root entropy.

    Parameters
    ----------
    entropy : int
        Root entropy (see :func:`root_entropy`).
    rank : int, default=0
        Process rank; only per-process streams depend on it.
    """

    def __init__(self, entropy: int, rank: int = 0):
        self.entropy = int(entropy)
        self.rank = int(rank)

    def seed_sequence(self, name: str) -> np.random.SeedSequence:
        if name in SHARED:
            key: tuple[int, ...] = (_key(name),)
        elif name in PER_PROCESS:
            key = (_key(name), self.rank)
        else:
            raise KeyError(f"unknown random stream {name!r}; known: {SHARED + PER_PROCESS}")
        return np.random.SeedSequence(self.entropy, spawn_key=key)

    def numpy(self, name: str) -> np.random.Generator:
        """A numpy Generator for stream ``name``."""
        return np.random.default_rng(self.seed_sequence(name))

    def seed(self, name: str) -> int:
        """A 63-bit integer seed for stream ``name`` (for torch generators)."""
        return int(self.seed_sequence(name).generate_state(1, np.uint64)[0] >> np.uint64(1))

    def torch(self, name: str, device: torch.device | str = "cpu") -> torch.Generator:
        """A torch Generator on ``device`` for stream ``name``."""
        return torch.Generator(device=device).manual_seed(self.seed(name))
