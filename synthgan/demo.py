"""The demo table shipped inside the package (a sample of UCI Adult, CC BY 4.0)."""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

DEMO_FILE = "adult_demo.parquet"


def demo_path() -> str:
    """Filesystem path of the shipped demo parquet file."""
    return str(resources.files("synthgan.data").joinpath(DEMO_FILE))


def load_demo() -> pd.DataFrame:
    """5,000 rows of UCI Adult (census income): 6 numeric and 9 categorical columns with missing values."""
    # read through synthgan.io (pyarrow's reader): pandas.read_parquet after importing torch
    # aborted the process in some runs
    from synthgan.io import read_table

    return read_table(demo_path())
