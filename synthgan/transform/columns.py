"""Column kinds: detection from a DataFrame and the checks that reject unusable columns."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

import numpy as np
import pandas as pd

from synthgan.errors import DataError
from synthgan.transform import identifiers

logger = logging.getLogger(__name__)

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
        Resolution outputs are rounded to, in model units (1 for integers; for floats the grid
        their values were recorded on, see :func:`recorded_step`; a day or a second in
        nanoseconds for datetimes stored at that resolution, 10**-d for Decimal values with d
        places; 0 for none).
    categories : tuple or None
        The declared categories of a ``category`` column, in their order (unused ones included).
    ordered : bool
        Whether that categorical dtype is ordered.
    decimals : int or None
        For a column of ``decimal.Decimal`` values: the places kept; outputs are Decimals again.
    constant : bool
        The column holds one value in every row; it is not modelled, only put back.
    value : object
        That value (JSON-native: numbers, text, bool, ISO text for dates, None for missing).
    generated : dict or None
        For identifier and personal-data columns (see :mod:`synthgan.transform.identifiers`): never
        modelled; ``kind`` says how values are generated, with ``null_rate`` and, per kind, the
        id ``shape``, the integer ids' ``start`` or the text ``lengths``. No training value is kept.
    """

    name: str
    kind: ColumnKind
    dtype: str
    has_nulls: bool
    step: float = 0.0
    categories: tuple | None = None
    ordered: bool = False
    decimals: int | None = None
    constant: bool = False
    value: object = None
    generated: dict | None = None

    @property
    def set_aside(self) -> bool:
        """Not modelled: put back (constant) or generated fresh (identifier, personal data)."""
        return self.constant or self.generated is not None

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


MAX_DECIMALS = 6
_EXACT_INTEGER = 2.0**53


def _decimals_holding(values: np.ndarray, max_decimals: int) -> int | None:
    """The fewest decimals ``d`` (at most ``max_decimals``) at which every value is a whole number
    of ``10**-d``, to float precision and below 2**53 (where floats hold every whole number); None
    if there are none."""
    for decimals in range(max_decimals + 1):
        scaled = values * 10.0**decimals
        whole = np.round(scaled)
        if np.abs(whole).max() >= _EXACT_INTEGER:
            return None
        if np.all(np.abs(scaled - whole) <= 1e-9 * np.maximum(1.0, np.abs(scaled))):
            return decimals
    return None


def recorded_step(values: np.ndarray, max_decimals: int = MAX_DECIMALS) -> float:
    """The grid finite ``values`` were recorded on: ``g / 10**d`` for the fewest decimals ``d`` (at
    most ``max_decimals``) at which every value is a whole number of ``10**-d`` (to float precision),
    ``g`` the greatest common divisor of those whole numbers. So 0.005 for lengths recorded in
    steps of 5 thousandths, 0.25 for a quarter-step count, 0.01 for prices in cents, 10 for areas
    recorded in tens, 1 for other whole numbers; 0.0 when no such grid exists (measured floats).
    Read from every value: one value off the grid refines it (to its decimals) or removes it."""
    decimals = _decimals_holding(values, max_decimals) if len(values) else None
    if decimals is None:
        return 0.0
    divisor = int(np.gcd.reduce(np.abs(np.round(values * 10.0**decimals)).astype(np.int64)))
    return max(divisor, 1) / 10.0**decimals


def step_decimals(step: float) -> int:
    """The decimals of a grid step (3 for 0.005, 0 for 1 or 10): outputs are rounded to them last,
    so that a value on the grid is the float its decimal reads as (0.175, not 0.17500000000000002)."""
    decimals = _decimals_holding(np.array([step], dtype=np.float64), 15)
    return 15 if decimals is None else decimals


def round_to_steps(values: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """``values`` (columns, rows) rounded to each row's grid step in ``steps`` (columns, 1), every
    step positive: the nearest multiple ``k`` of a step ``g / 10**d`` is computed as
    ``(k * g) / 10**d``, a whole number divided by a power of ten, which is the float the decimal
    reads as (0.175 rather than 35 * 0.005 = 0.17500000000000002)."""
    scale = 10.0 ** np.array([step_decimals(float(step)) for step in steps[:, 0]])[:, None]
    return np.rint(values / steps) * np.round(steps * scale) / scale


def continuous_values(series: pd.Series, kind: ColumnKind) -> np.ndarray:
    """Float64 view of a numeric, integer or datetime column (datetimes as UTC nanoseconds), NaN for missing."""
    if kind == "datetime":
        if not pd.api.types.is_datetime64_any_dtype(series.dtype):  # datetime.date objects (CSV dates)
            series = pd.to_datetime(series)
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            series = series.dt.tz_convert("UTC").dt.tz_localize(None)
        stamps = series.to_numpy(dtype="datetime64[ns]")
        values = stamps.view(np.int64).astype(np.float64)
        values[np.isnat(stamps)] = np.nan
        return values
    return series.to_numpy(dtype=np.float64, na_value=np.nan)


def dtype_name(dtype) -> str:
    """A dtype's name that ``pandas.api.types.pandas_dtype`` turns back into the same dtype."""
    if isinstance(dtype, pd.StringDtype):
        return f"string[{dtype.storage}]"
    return str(dtype)


def _integer_limits(dtype) -> tuple[float, float] | None:
    if not pd.api.types.is_integer_dtype(dtype):
        return None
    info = np.iinfo(getattr(dtype, "numpy_dtype", dtype))
    # the largest floats that still fit the integer type (float(2**63 - 1) rounds up to 2**63)
    return float(np.nextafter(float(info.min), 0)), float(np.nextafter(float(info.max), 0))


def restore_dtype(values: np.ndarray, spec: ColumnSpec, levels: tuple = ()) -> pd.Series:
    """Series of ``spec.dtype`` from decoded values (floats for continuous kinds, objects otherwise)."""
    if spec.constant:
        if spec.categories is not None:
            return pd.Series(pd.Categorical([spec.value] * len(values), categories=list(spec.categories),
                                            ordered=spec.ordered), name=spec.name)
        dtype = pd.api.types.pandas_dtype(spec.dtype)
        if isinstance(dtype, np.dtype) and dtype.kind in "biuf" and spec.value is not None:
            return pd.Series(np.full(len(values), spec.value, dtype=dtype), name=spec.name)
        repeated = np.empty(len(values), dtype=object)  # filled, not built from a list: a list is copied item by item
        repeated[:] = [spec.value]
        return pd.Series(repeated, name=spec.name, dtype=object).astype(dtype)
    if spec.decimals is not None:
        out = np.empty(len(values), dtype=object)
        for i, v in enumerate(values):
            out[i] = None if np.isnan(v) else Decimal(f"{v:.{spec.decimals}f}")
        return pd.Series(out, name=spec.name, dtype=object)
    if spec.kind == "datetime":
        stamps = pd.Series(pd.to_datetime(values, unit="ns"), name=spec.name)
        if spec.dtype == "object":  # a column of datetime.date objects comes back as dates
            return stamps.dt.date.where(stamps.notna(), None).astype(object)
        dtype = pd.api.types.pandas_dtype(spec.dtype)
        if isinstance(dtype, pd.DatetimeTZDtype):
            stamps = stamps.dt.tz_localize("UTC").dt.tz_convert(dtype.tz)
        return stamps.astype(dtype)
    if spec.dtype == "category":
        known = list(spec.categories) if spec.categories is not None else [v for v in levels if v is not None]
        return pd.Series(pd.Categorical(values, categories=known, ordered=spec.ordered), name=spec.name)
    dtype = pd.api.types.pandas_dtype(spec.dtype)
    limits = _integer_limits(dtype)
    if limits is not None:
        values = np.clip(values, *limits)
    return pd.Series(values, name=spec.name).astype(dtype)


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
        inferred = pd.api.types.infer_dtype(series, skipna=True)
        if inferred == "boolean":
            return "boolean"
        if inferred == "decimal" and not isinstance(dtype, pd.CategoricalDtype):
            return "numeric"
        if inferred == "date" and pd.api.types.is_object_dtype(dtype):
            return "datetime"  # datetime.date objects, e.g. an ISO date column read from CSV
        if inferred in ("bytes", "mixed", "unknown-array"):
            _check_cells(series)
        return "categorical"
    raise DataError(
        f"column {series.name!r} has dtype {dtype} that synthgan cannot model; "
        "convert it to a number, string, bool or datetime column before fit"
    )


_CONTAINERS = (list, tuple, dict, set, frozenset, np.ndarray)


def _check_cells(series: pd.Series) -> None:
    """Refuse cells a column of levels cannot hold: containers (unhashable) and raw bytes."""
    for value in series.dropna():
        if isinstance(value, _CONTAINERS):
            raise DataError(f"column {series.name!r} holds {type(value).__name__} values (e.g. {value!r:.60}); "
                            "synthgan models one value per cell: split or serialize them to text before fit")
        if isinstance(value, (bytes, bytearray)):
            raise DataError(f"column {series.name!r} holds bytes (e.g. {value!r:.40}); decode them to text "
                            "before fit, e.g. df[column] = df[column].str.decode('latin-1')")


def _native_value(value: object) -> object:
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return None
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (pd.Timestamp, datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _decimal_places(series: pd.Series) -> int:
    exponents = [v.as_tuple().exponent for v in series.dropna()]
    return int(max(0, -min((e for e in exponents if isinstance(e, int)), default=0)))


_LARGEST = 1e150  # squares of larger numbers overflow float64


def detect_columns(df: pd.DataFrame, discrete_columns: Iterable[str] | None = None,
                   exact: bool = True, declared: Mapping[object, str | None] | None = None,
                   learn_rounding: bool = True) -> list[ColumnSpec]:
    """Check a training table and decide the kind of each column.

    Parameters
    ----------
    df : DataFrame
        Training table.
    discrete_columns : iterable of str, optional
        Columns to model as categorical whatever their dtype (integer codes, zip codes).
    exact : bool, default=True
        False for a private fit: no constant value and no identifier or text statistic is read
        (identifier columns get only their kind and id shape; :mod:`synthgan.privacy.statistics`
        adds the rest from noisy queries).
    declared : mapping, optional
        Identifier kinds declared in metadata: ``"id"``, a personal-data kind (``"email"``,
        ``"phone"``, ``"name"``, ``"address"``, ``"text"``), or None for a column declared as
        anything else (never detected as an identifier).
    learn_rounding : bool, default=True
        Give each float column the grid its values were recorded on as its ``step``
        (:func:`recorded_step`: a number of decimals, or steps such as 0.005 or 0.25); with
        ``exact=False`` only whole numbers are detected (step 1), as the grid reads every value.
        Integer columns get their grid too (at least 1). False: float columns get no step and
        integer columns step 1.

    Returns
    -------
    list of ColumnSpec, in column order.

    Constant columns (one value in every row) get ``constant=True``: they are put back, not modelled.

    Raises
    ------
    DataError
        For an empty or one-row table, a MultiIndex or non-text column names, duplicate column
        names, unknown discrete columns, a column that is entirely missing, infinite or
        float64-overflowing values, container or bytes cells, or a table of constant columns only.
    """
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"fit expects a pandas DataFrame, got {type(df).__name__}")
    if df.shape[0] == 0 or df.shape[1] == 0:
        raise DataError(f"the training table is empty ({df.shape[0]} rows x {df.shape[1]} columns); "
                        "pass a table with at least one row and one column")
    if df.shape[0] < 2:
        raise DataError(f"the training table has {df.shape[0]} row; synthgan needs at least 2 rows to learn from")
    if isinstance(df.columns, pd.MultiIndex):
        raise DataError("the columns are a MultiIndex; flatten them first, e.g. "
                        "df.columns = ['_'.join(map(str, c)) for c in df.columns]")
    odd = [c for c in df.columns if not isinstance(c, (str, int, np.integer)) or isinstance(c, (bool, np.bool_))]
    if odd:
        raise DataError(f"column names must be text or integers; got {odd[:5]!r}: rename them with "
                        "df.columns = df.columns.map(str)")
    duplicated = df.columns[df.columns.duplicated()].tolist()
    if duplicated:
        raise DataError(f"column names must be unique; repeated: {duplicated}. Rename them before fit")
    if isinstance(discrete_columns, str):
        discrete_columns = [discrete_columns]
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
        sensitive = identifier_kind(series, name in forced, declared)
        if sensitive is not None:
            plan = _generation_plan(series, sensitive, null_mask) if exact else _private_plan(series, sensitive)
            specs.append(ColumnSpec(name=name, kind=kind, dtype=dtype_name(series.dtype),
                                    has_nulls=bool(null_mask.any()), generated=plan))
            continue
        extra: dict = {}
        if isinstance(series.dtype, pd.CategoricalDtype):
            extra = {"categories": tuple(_native_value(c) for c in series.cat.categories),
                     "ordered": bool(series.cat.ordered)}
        if exact and series.nunique(dropna=False) == 1:
            specs.append(ColumnSpec(name=name, kind=kind, dtype=dtype_name(series.dtype),
                                    has_nulls=bool(null_mask.any()), constant=True,
                                    value=_native_value(series.iloc[0]), **extra))
            continue
        step = 0.0
        if kind in ("numeric", "integer"):
            values = series.to_numpy(dtype=np.float64, na_value=np.nan)[~null_mask]
            if np.isinf(values).any():
                raise DataError(f"column {name!r} holds infinite values; replace them with NaN "
                                "(modelled as missing) or finite numbers before fit")
            if np.abs(values).max() > _LARGEST:
                raise DataError(f"column {name!r} holds values up to {np.abs(values).max():.3g}, beyond what "
                                f"synthgan models exactly ({_LARGEST:g}); rescale it (e.g. divide by a power "
                                "of ten, or take a log) before fit")
            if pd.api.types.infer_dtype(series, skipna=True) == "decimal":
                extra["decimals"] = _decimal_places(series)
                step = 10.0 ** -extra["decimals"]
            elif learn_rounding and exact:
                step = max(recorded_step(values), 1.0) if kind == "integer" else recorded_step(values)
            elif kind == "integer" or (learn_rounding and np.all(values == np.round(values))):
                step = 1.0
            else:
                step = 0.0
            if kind == "integer" and np.abs(values).max() > 2**53:
                logger.warning("column %r holds integers beyond 2**53; they are modelled at float64 precision",
                               name)
        elif kind == "datetime":
            step = _datetime_step(continuous_values(series, kind)[~null_mask])
        specs.append(ColumnSpec(name=name, kind=kind, dtype=dtype_name(series.dtype),
                                has_nulls=bool(null_mask.any()), step=step, **extra))
    if all(spec.set_aside for spec in specs):
        raise DataError(f"every column is constant, an identifier or personal data ({[s.name for s in specs][:10]}); "
                        "there is nothing to learn. Name columns in discrete_columns to model them anyway")
    return specs


def identifier_kind(series: pd.Series, forced_discrete: bool = False,
                    declared: Mapping[object, str | None] | None = None) -> str | None:
    """The identifier or personal-data kind of a column (see :func:`identifiers.detect`), or None: a
    kind declared in metadata wins, then a column named in ``discrete_columns`` is never one."""
    if declared is not None and series.name in declared:
        kind = declared[series.name]
        if kind != "id":
            return kind
        integer = pd.api.types.is_integer_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype)
        return "id-integer" if integer else "id-text"
    return None if forced_discrete else identifiers.detect(series)


def _private_plan(series: pd.Series, kind: str) -> dict:
    """A generation plan without statistics: the kind, and the shape of text ids (treated as schema)."""
    plan: dict = {"kind": kind, "null_rate": 0.0}
    if kind == "id-text":
        plan["shape"] = identifiers.shape_of(series.dropna())
    return plan


def _generation_plan(series: pd.Series, kind: str, null_mask: np.ndarray) -> dict:
    """How to generate an identifier or personal-data column: no training value is kept."""
    plan: dict = {"kind": kind, "null_rate": float(null_mask.mean())}
    values = series[~null_mask]
    if kind == "id-integer":
        plan["start"] = int(values.max()) + 1  # fresh ids never coincide with training ids
    elif kind == "id-text":
        plan["shape"] = identifiers.shape_of(values)
        numbers = [identifiers.id_number(plan["shape"], v) for v in values.astype(str)]
        plan["start"] = max((k for k in numbers if k is not None), default=-1) + 1
    elif kind == "text":
        lengths = values.astype(str).str.len()
        plan["lengths"] = [round(float(lengths.mean()), 1), round(float(lengths.std() or 0.0), 1)]
    return plan
