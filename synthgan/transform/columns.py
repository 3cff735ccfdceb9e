"""Column kinds: detection from a DataFrame and the checks that reject unusable columns."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from synthgan.errors import DataError

ColumnKind = Literal["numeric", "integer", "datetime", "categorical", "boolean"]
CONTINUOUS_KINDS = ("numeric", "integer", "datetime")


@dataclass(frozen=True)
class ColumnSpec:
    """What synthgan knows about one source column.

    Attributes
    ----------
    name : str
        Column label as given.
    kind : str
        One of ``numeric``, ``integer``, ``datetime``, ``categorical``, ``boolean``.
    dtype : str
        The pandas dtype of the training column, restored exactly on output.
    has_nulls : bool
        Whether the training column held missing values.
    step : float
        Resolution outputs are rounded to, in model units (1 for integers and whole-valued floats,
        a day or a second in nanoseconds for datetimes stored at that resolution; 0 for none).
    """

    name: str
    kind: ColumnKind
    dtype: str
    has_nulls: bool
    step: float = 0.0

    @property
    def continuous(self) -> bool:
        return self.kind in CONTINUOUS_KINDS


_DAY_NS = 86_400 * 10**9
_SECOND_NS = 10**9


def _datetime_step(nanoseconds: np.ndarray) -> float:
    for step in (_DAY_NS, _SECOND_NS):
        if np.all(np.mod(nanoseconds, step) == 0):
            return float(step)
    return 0.0


def continuous_values(series: pd.Series, kind: ColumnKind) -> np.ndarray:
    """Float64 view of a numeric, integer or datetime column (datetimes as UTC nanoseconds), NaN for missing."""
    if kind == "datetime":
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            series = series.dt.tz_convert("UTC").dt.tz_localize(None)
        stamps = series.to_numpy(dtype="datetime64[ns]")
        values = stamps.view(np.int64).astype(np.float64)
        values[np.isnat(stamps)] = np.nan
        return values
    return series.to_numpy(dtype=np.float64, na_value=np.nan)


def restore_dtype(values: np.ndarray, spec: ColumnSpec, levels: tuple = ()) -> pd.Series:
    """Series of ``spec.dtype`` from decoded values (floats for continuous kinds, objects otherwise)."""
    if spec.kind == "datetime":
        stamps = pd.Series(pd.to_datetime(values, unit="ns"), name=spec.name)
        dtype = pd.api.types.pandas_dtype(spec.dtype)
        if isinstance(dtype, pd.DatetimeTZDtype):
            stamps = stamps.dt.tz_localize("UTC").dt.tz_convert(dtype.tz)
        return stamps.astype(dtype)
    if spec.dtype == "category":
        known = [v for v in levels if v is not None]
        return pd.Series(pd.Categorical(values, categories=known), name=spec.name)
    return pd.Series(values, name=spec.name).astype(spec.dtype)


def column_kind(series: pd.Series, forced_discrete: bool = False) -> ColumnKind:
    """The kind of one column from its dtype (and, for object columns, its values).

    This is the one column-kind detector: the transformer and the evaluators both use it.

    Raises
    ------
    DataError
        For a dtype synthgan cannot model (timedelta, complex, ...), naming the column.
    """
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if forced_discrete:
        return "categorical"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_integer_dtype(dtype):
        return "integer"
    if pd.api.types.is_float_dtype(dtype):
        return "numeric"
    if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_object_dtype(dtype) or \
            pd.api.types.is_string_dtype(dtype):
        if pd.api.types.infer_dtype(series, skipna=True) == "boolean":
            return "boolean"
        return "categorical"
    raise DataError(
        f"column {series.name!r} has dtype {dtype} that synthgan cannot model; "
        "convert it to a number, string, bool or datetime column before fit"
    )


def detect_columns(df: pd.DataFrame, discrete_columns: Iterable[str] | None = None) -> list[ColumnSpec]:
    """Check a training table and decide the kind of each column.

    Parameters
    ----------
    df : DataFrame
        Training table.
    discrete_columns : iterable of str, optional
        Columns to model as categorical whatever their dtype (integer codes, zip codes).

    Returns
    -------
    list of ColumnSpec, in column order.

    Raises
    ------
    DataError
        For an empty table, duplicate column names, unknown discrete columns, a column that is
        entirely missing or constant, or infinite values.
    """
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"fit expects a pandas DataFrame, got {type(df).__name__}")
    if df.shape[0] == 0 or df.shape[1] == 0:
        raise DataError(f"the training table is empty ({df.shape[0]} rows x {df.shape[1]} columns); "
                        "pass a table with at least one row and one column")
    duplicated = df.columns[df.columns.duplicated()].tolist()
    if duplicated:
        raise DataError(f"column names must be unique; repeated: {duplicated}. Rename them before fit")
    forced = set(discrete_columns or ())
    unknown = sorted(map(str, forced - set(df.columns)))
    if unknown:
        raise DataError(f"discrete_columns names columns not in the table: {unknown}")

    specs = []
    for name in df.columns:
        series = df[name]
        null_mask = series.isna().to_numpy()
        if null_mask.all():
            raise DataError(f"column {name!r} is entirely missing; drop it before fit")
        kind = column_kind(series, name in forced)
        step = 0.0
        if kind in ("numeric", "integer"):
            values = series.to_numpy(dtype=np.float64, na_value=np.nan)[~null_mask]
            if np.isinf(values).any():
                raise DataError(f"column {name!r} holds infinite values; replace them with NaN "
                                "(modelled as missing) or finite numbers before fit")
            step = 1.0 if kind == "integer" or np.all(values == np.round(values)) else 0.0
        elif kind == "datetime":
            step = _datetime_step(continuous_values(series, kind)[~null_mask])
        if series.nunique(dropna=False) == 1:
            raise DataError(f"column {name!r} is constant ({series.iloc[0]!r} in every row); "
                            "drop it before fit and add it back to the sampled rows")
        specs.append(ColumnSpec(name=name, kind=kind, dtype=str(series.dtype),
                                has_nulls=bool(null_mask.any()), step=step))
    return specs
