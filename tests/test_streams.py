"""Named random streams and the promise that global random states are never touched."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from synthgan import SynthGAN
from synthgan.streams import PER_PROCESS, SHARED, RandomStreams, root_entropy
from tests.conftest import make_mixed

FAST = dict(epochs=2, batch_size=60, pac=4, embedding_dim=16, generator_dim=(32,), discriminator_dim=(32,),
            verbose=False, random_state=0)


def test_streams_are_found_by_name_not_by_order():
    a, b = RandomStreams(7), RandomStreams(7)
    first = a.numpy("noise").random(3)
    b.numpy("batches").random(5)  # asking for another stream first changes nothing
    assert np.array_equal(first, b.numpy("noise").random(3))
    draws = {name: a.numpy(name).random() for name in SHARED + PER_PROCESS}
    assert len(set(draws.values())) == len(draws)  # every stream is its own


def test_per_process_streams_depend_on_rank_and_shared_ones_do_not():
    zero, one = RandomStreams(11, rank=0), RandomStreams(11, rank=1)
    for name in PER_PROCESS:
        assert zero.seed(name) != one.seed(name)
    for name in SHARED:
        assert zero.seed(name) == one.seed(name)
    assert RandomStreams(11).seed("noise") == zero.seed("noise")  # a single process is rank 0
    expected = np.random.SeedSequence(11, spawn_key=(zero.seed_sequence("noise").spawn_key[0], 1))
    assert one.seed_sequence("noise").generate_state(2).tolist() == expected.generate_state(2).tolist()


def test_torch_generators_and_unknown_names():
    streams = RandomStreams(3)
    assert torch.equal(torch.rand(4, generator=streams.torch("penalty")),
                       torch.rand(4, generator=streams.torch("penalty")))
    with pytest.raises(KeyError, match="unknown random stream 'nope'"):
        streams.numpy("nope")


def test_root_entropy():
    assert root_entropy(5) == 5
    assert root_entropy(np.random.default_rng(0)) == root_entropy(np.random.default_rng(0))
    assert root_entropy(None) != root_entropy(None)


def test_fit_and_sample_leave_global_random_states_alone():
    frame = make_mixed()
    torch.manual_seed(123)
    np.random.seed(123)
    torch_state, numpy_state = torch.get_rng_state(), np.random.get_state()
    est = SynthGAN(**FAST).fit(frame)
    est.sample(50)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], numpy_state[1])


def test_model_file_keeps_the_sampling_stream_for_any_random_state(tmp_path):
    frame = make_mixed()
    est = SynthGAN(**{**FAST, "random_state": None}).fit(frame)
    est.save(tmp_path / "m.synthgan")
    loaded = SynthGAN.load(tmp_path / "m.synthgan")
    pd.testing.assert_frame_equal(loaded.sample(100), est.sample(100))
