"""Bad input gives a clear synthgan error that names the column and the fix."""

from __future__ import annotations


import numpy as np
import pandas as pd
import pytest

from synthgan import ConditionError, DataError, ModelFileError, SynthGAN

FAST = dict(epochs=1, batch_size=20, pac=2, embedding_dim=8, generator_dim=(8,), discriminator_dim=(8,),
            verbose=False)


def fit(frame, **kw):
    return SynthGAN(**FAST).fit(frame, **kw)


def test_empty_frame():
    with pytest.raises(DataError, match="empty"):
        fit(pd.DataFrame())
    with pytest.raises(DataError, match="empty"):
        fit(pd.DataFrame({"a": []}))


def test_not_a_dataframe():
    with pytest.raises(DataError, match="expects a pandas DataFrame"):
        fit(np.zeros((10, 2)))


def test_all_missing_column():
    frame = pd.DataFrame({"a": np.arange(10.0), "b": [np.nan] * 10})
    with pytest.raises(DataError, match="column 'b' is entirely missing; drop it"):
        fit(frame)


def test_constant_columns_are_put_back_not_refused(tmp_path):
    frame = pd.DataFrame({"c": ["k"] * 10, "a": np.arange(10.0), "n": np.int32(7),
                          "t": pd.Timestamp("2024-03-01"), "z": pd.Categorical(["u"] * 10, categories=["u", "v"])})
    est = fit(frame)
    out = est.sample(25)
    assert list(out.columns) == list(frame.columns) and out.dtypes.to_dict() == frame.dtypes.to_dict()
    assert (out["c"] == "k").all() and (out["n"] == 7).all() and (out["t"] == frame["t"][0]).all()
    assert list(out["z"].cat.categories) == ["u", "v"] and (out["z"] == "u").all()
    assert len(est.sample(5, conditions={"c": "k"})) == 5
    with pytest.raises(ConditionError, match="column 'c' holds only 'k'"):
        est.sample(5, conditions={"c": "other"})
    est.save(tmp_path / "m.synthgan")
    pd.testing.assert_frame_equal(SynthGAN.load(tmp_path / "m.synthgan").sample(5, random_state=1),
                                  est.sample(5, random_state=1))
    with pytest.raises(DataError, match="every column is constant"):
        fit(frame[["c", "n"]])


def test_infinite_values():
    frame = pd.DataFrame({"a": np.arange(10.0), "x": [1.0, np.inf] + [2.0] * 8})
    with pytest.raises(DataError, match="column 'x' holds infinite values; replace them"):
        fit(frame)


def test_duplicate_columns_and_unknown_discrete():
    frame = pd.DataFrame(np.arange(20.0).reshape(10, 2), columns=["a", "a"])
    with pytest.raises(DataError, match="unique"):
        fit(frame)
    with pytest.raises(DataError, match=r"discrete_columns names columns not in the table: \['zz'\]"):
        fit(pd.DataFrame({"a": np.arange(10.0)}), discrete_columns=["zz"])


def test_unsupported_dtype():
    frame = pd.DataFrame({"a": np.arange(10.0), "d": pd.to_timedelta(np.arange(10), unit="s")})
    with pytest.raises(DataError, match="column 'd' has dtype"):
        fit(frame)


def test_bad_model_files(tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        SynthGAN.load(tmp_path / "missing.synthgan")
    junk = tmp_path / "junk.synthgan"
    junk.write_bytes(b"not a zip")
    with pytest.raises(ModelFileError, match="not a synthgan model file"):
        SynthGAN.load(junk)
