"""The critic's shape parameters: rows scored together (pac) and dropout."""

from __future__ import annotations

import pytest
import torch

from synthgan import SynthGAN, SynthGANError
from synthgan.models.networks import SeededDropout
from tests.conftest import make_mixed

SMALL = dict(epochs=1, batch_size=60, embedding_dim=8, generator_dim=(8,), discriminator_dim=(8, 8),
             verbose=False, random_state=0)


def test_discriminator_dropout_sets_the_critic_dropout_and_zero_removes_it():
    frame = make_mixed()
    with pytest.raises(SynthGANError, match="discriminator_dropout"):
        SynthGAN(discriminator_dropout=1.0, **SMALL).fit(frame)
    some = SynthGAN(pac=1, discriminator_dropout=0.3, **SMALL).fit(frame).model_.critic
    assert [m.p for m in some.modules() if isinstance(m, SeededDropout)] == [0.3, 0.3]
    none = SynthGAN(pac=1, discriminator_dropout=0.0, **SMALL).fit(frame).model_.critic
    assert not any(isinstance(m, SeededDropout) for m in none.modules())
    rows = torch.randn(6, none.body[0].in_features)
    none.train()
    assert torch.equal(none(rows), none(rows))  # nothing random left in training mode
    some.train()
    assert not torch.equal(some(rows), some(rows))
