"""Conditioning on the modes of continuous columns (``condition_on_modes``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from synthgan import SynthGAN
from synthgan.conditional import ConditionSampler
from synthgan.training.batches import BatchSampler
from synthgan.transform.transformer import DataTransformer

SMALL = dict(epochs=1, batch_size=60, pac=4, embedding_dim=8, generator_dim=(8,), discriminator_dim=(8,),
             verbose=False, random_state=0)


def _two_modes(n=1200, seed=0):
    """``x`` has two far-apart modes and ``y`` follows the mode; ``group`` is a category."""
    rng = np.random.default_rng(seed)
    high = rng.random(n) < 0.3
    x = np.where(high, rng.normal(100, 2, n), rng.normal(0, 2, n))
    y = np.where(high, rng.normal(10, 0.5, n), rng.normal(-10, 0.5, n))
    return pd.DataFrame({"x": x, "y": y, "group": rng.choice(["a", "b", "c"], n), "one": 5.0 + rng.normal(0, 1, n)})


def test_condition_spans_include_the_modes_of_continuous_columns_only_when_asked():
    frame = _two_modes()
    plain = DataTransformer().fit(frame, np.random.default_rng(0))
    moded = DataTransformer(condition_modes=True).fit(frame, np.random.default_rng(0))
    assert [(s.column, s.role) for s in plain.layout_.condition_spans] == [("group", "category")]
    found = [(s.column, s.role) for s in moded.layout_.condition_spans]
    assert ("x", "mode") in found and ("y", "mode") in found and ("group", "category") in found
    assert all(s.width >= 2 for s in moded.layout_.condition_spans)  # a one-mode column is no condition
    assert moded.layout_.condition_dim > plain.layout_.condition_dim
    again = DataTransformer.from_json(moded.to_json())  # the choice survives the model file
    assert again.layout_ == moded.layout_ and again.layout_.condition_spans == moded.layout_.condition_spans
    assert DataTransformer.from_json(plain.to_json()).layout_.condition_spans == plain.layout_.condition_spans


def test_training_batches_conditioned_on_a_mode_hold_real_rows_of_that_mode():
    frame = _two_modes()
    transformer = DataTransformer(condition_modes=True).fit(frame, np.random.default_rng(0))
    encoded = transformer.encode(frame, np.random.default_rng(1))
    codes = transformer.category_codes(encoded)
    spans = transformer.layout_.condition_spans
    counts = [np.bincount(codes[:, k], minlength=s.width) for k, s in enumerate(spans)]
    sampler = ConditionSampler(counts, codes, True)
    batch = BatchSampler(encoded, sampler, torch.device("cpu"), np.random.default_rng(2)).draw(400)
    k = next(i for i, s in enumerate(spans) if (s.column, s.role) == ("x", "mode"))
    offset = int(sum(s.width for s in spans[:k]))
    asked = batch.real_condition[:, offset:offset + spans[k].width]
    chosen = asked.sum(axis=1) == 1  # rows whose condition names a mode of x
    assert chosen.sum() > 50
    span = spans[k]
    held = batch.real[chosen][:, span.start:span.stop].argmax(axis=1)
    assert torch.equal(held, asked[chosen].argmax(axis=1))


def test_synthgan_condition_on_modes_fits_samples_conditions_and_survives_the_model_file(tmp_path):
    frame = _two_modes(600)
    with pytest.raises(Exception, match="condition_on_modes"):
        SynthGAN(condition_on_modes="yes", **SMALL).fit(frame)
    model = SynthGAN(condition_on_modes=True, **SMALL).fit(frame)
    assert any(s.role == "mode" for s in model.transformer_.layout_.condition_spans)
    plain = SynthGAN(**SMALL).fit(frame)
    assert model.model_.condition_dim > plain.model_.condition_dim
    out = model.sample(200, conditions={"group": "b"}, random_state=1)
    assert (out["group"] == "b").all() and out.dtypes.to_dict() == frame.dtypes.to_dict()
    ranged = model.sample(50, conditions={"x": (50.0, None)}, random_state=1)
    assert (ranged["x"] >= 50).all()
    model.save(tmp_path / "m.synthgan")
    again = SynthGAN.load(tmp_path / "m.synthgan")
    assert again.get_params()["condition_on_modes"] is True
    pd.testing.assert_frame_equal(again.sample(200, conditions={"group": "b"}, random_state=1), out)


def test_condition_on_modes_is_ignored_by_private_training():
    frame = _two_modes(600)
    model = SynthGAN(condition_on_modes=True, epsilon=10.0, **SMALL).fit(frame)
    assert not any(s.role == "mode" for s in model.transformer_.layout_.condition_spans)
    with pytest.raises(ValueError, match="condition_modes"):
        DataTransformer(condition_modes=True).fit(frame, np.random.default_rng(0),
                                                  private=lambda df, specs, rng: None)
