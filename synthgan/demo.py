"""The demo table shipped inside the package (a sample of UCI Adult, CC BY 4.0)."""

from __future__ import annotations

from importlib import resources

import pandas as pd

DEMO_FILE = "adult_demo.parquet"


def demo_path() -> str:
    """Filesystem path of the shipped demo parquet file."""
    return str(resources.files("synthgan.data").joinpath(DEMO_FILE))


def load_demo() -> pd.DataFrame:
    """5,000 rows of UCI Adult (census income): 6 numeric and 9 categorical columns with missing values."""
    return pd.read_parquet(demo_path())
