"""The Gaussian copula offered through the registry: same guarantees as the GANs, aggregates only."""

from __future__ import annotations

import zipfile

import numpy as np
import pandas as pd
import pytest

from synthgan import SynthGAN, SynthGANError
from synthgan.models import model_class, model_names
from synthgan.training import EarlyStopping
from tests.conftest import make_mixed


def correlated(n: int = 2000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return pd.DataFrame({"x": x, "y": 3 * x + rng.normal(scale=0.3, size=n),
                         "band": np.where(x > 0.5, "high", np.where(x < -0.5, "low", "mid")),
                         "z": rng.exponential(size=n)})


def test_copula_is_registered_and_described():
    assert "copula" in model_names()
    assert "one-pass" in model_class("copula").describe()["capabilities"]


def test_copula_keeps_marginals_and_rank_correlations():
    real = correlated()
    out = SynthGAN(model="copula", random_state=0, verbose=False).fit(real).sample(4000)
    assert out.dtypes.to_dict() == real.dtypes.to_dict()
    assert abs(out["x"].corr(out["y"], method="spearman") - real["x"].corr(real["y"], method="spearman")) < 0.05
    assert abs(out["z"].median() - real["z"].median()) < 0.1
    shares = out["band"].value_counts(normalize=True)
    assert (shares - real["band"].value_counts(normalize=True)).abs().max() < 0.03
    independent = SynthGAN(model="copula", random_state=0, verbose=False).fit(
        real.assign(y=np.random.default_rng(1).permutation(real["y"].to_numpy()))).sample(4000)
    assert abs(independent["x"].corr(independent["y"])) < 0.1  # it learns the relation, it does not invent one


def test_copula_guarantees_missing_values_conditions_reproducibility_and_files(tmp_path):
    real = make_mixed(400)
    est = SynthGAN(model="copula", random_state=3, verbose=False).fit(real)
    out = est.sample(3000)
    assert out.dtypes.to_dict() == real.dtypes.to_dict()
    assert abs(out["amount"].isna().mean() - real["amount"].isna().mean()) < 0.04
    assert abs(out["city"].isna().mean() - real["city"].isna().mean()) < 0.04
    assert set(out["group"]) <= set(real["group"])
    chosen = est.sample(50, conditions={"group": "c"})
    assert len(chosen) == 50 and (chosen["group"] == "c").all()
    again = SynthGAN(model="copula", random_state=3, verbose=False).fit(real).sample(3000)
    pd.testing.assert_frame_equal(out, again)
    path = tmp_path / "c.synthgan"
    est.save(path)
    loaded = SynthGAN.load(path)
    pd.testing.assert_frame_equal(loaded.sample(100, random_state=4), est.sample(100, random_state=4))
    with zipfile.ZipFile(path) as archive:
        assert set(__import__("torch").load(__import__("io").BytesIO(archive.read("weights.pt")),
                                            weights_only=True)) == {"copula.correlation", "copula.quantiles",
                                                                   "copula.missing", "copula.slot_probs"}


def test_copula_stores_quantiles_not_rows():
    real = correlated(5000)
    est = SynthGAN(model="copula", random_state=0, verbose=False).fit(real)
    stored = est.model_.weights()["copula.quantiles"].numpy()
    assert stored.shape == (3, 257)  # three number columns, 257 quantiles each, whatever the row count
    assert np.isin(real["x"].to_numpy(), stored).mean() < 0.06


def test_training_options_are_refused_for_the_copula():
    with pytest.raises(SynthGANError, match="fitted in one pass.*callbacks"):
        SynthGAN(model="copula", callbacks=[EarlyStopping()]).fit(correlated(100))
    with pytest.raises(SynthGANError, match="validation_size"):
        SynthGAN(model="copula", validation_size=0.2).fit(correlated(100))
