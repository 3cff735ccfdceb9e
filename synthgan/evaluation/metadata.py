"""Column metadata in the form sdmetrics expects, from the transformer's column-kind detector."""

from __future__ import annotations

import pandas as pd

from synthgan.errors import DataError
from synthgan.transform.columns import column_kind

_SDTYPES = {"numeric": "numerical", "integer": "numerical", "datetime": "datetime", "boolean": "boolean",
            "categorical": "categorical"}


def sdtype_of(series: pd.Series) -> str:
    """``numerical``, ``categorical``, ``boolean`` or ``datetime`` for a column.

    Columns of a dtype the model cannot learn (e.g. timedelta) are compared as categories.
    """
    try:
        return _SDTYPES[column_kind(series)]
    except DataError:
        return "categorical"


def sdmetrics_metadata(frame: pd.DataFrame) -> dict:
    """Single-table metadata dictionary for sdmetrics reports."""
    return {"columns": {str(name): {"sdtype": sdtype_of(frame[name])} for name in frame.columns}}
