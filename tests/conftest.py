from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def make_mixed(n: int = 240, seed: int = 0) -> pd.DataFrame:
    """Small table with every column kind synthgan supports, missing values included."""
    rng = np.random.default_rng(seed)
    group = rng.choice(["a", "b", "c"], size=n, p=[0.5, 0.3, 0.2])
    amount = np.where(group == "a", rng.normal(10, 1, n), rng.normal(50, 5, n))
    amount[rng.random(n) < 0.2] = np.nan
    frame = pd.DataFrame({
        "amount": amount,
        "count": rng.poisson(4, n).astype(np.int64),
        "flag": rng.random(n) < 0.3,
        "group": group,
        "city": pd.Series(rng.choice(["x", "y", None], size=n, p=[0.6, 0.3, 0.1]), dtype=object),
        "when": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D"),
        "size": pd.Categorical(rng.choice(["S", "M", "L"], size=n), categories=["S", "M", "L"]),
    })
    return frame


@pytest.fixture
def mixed() -> pd.DataFrame:
    return make_mixed()


@pytest.fixture
def datasets() -> Path:
    if not DATASETS.is_dir():
        pytest.skip("../shared/datasets is not present")
    return DATASETS


@pytest.fixture(scope="session")
def tiny_model_file(tmp_path_factory) -> Path:
    """A model file of a one-epoch, tiny-network fit of make_mixed(), shared by the file tests."""
    from synthgan import SynthGAN

    path = tmp_path_factory.mktemp("tiny") / "tiny.synthgan"
    SynthGAN(epochs=1, batch_size=60, pac=4, embedding_dim=8, generator_dim=(8,), discriminator_dim=(8,),
             verbose=False, random_state=0).fit(make_mixed()).save(path)
    return path
