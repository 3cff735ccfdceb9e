"""Column metadata in the form sdmetrics expects, derived from dtypes."""

from __future__ import annotations

import pandas as pd


def sdtype_of(series: pd.Series) -> str:
    """``numerical``, ``categorical``, ``boolean`` or ``datetime`` for a column."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_numeric_dtype(dtype):
        return "numerical"
    return "categorical"


def sdmetrics_metadata(frame: pd.DataFrame) -> dict:
    """Single-table metadata dictionary for sdmetrics reports."""
    return {"columns": {str(name): {"sdtype": sdtype_of(frame[name])} for name in frame.columns}}
