"""Constraints every synthetic row satisfies: inequalities, bounds, fixed combinations, row filters.

A constraint is checked on the training rows when the model is fitted (a training row that breaks
it is a :class:`~synthgan.errors.DataError` naming the constraint, the count and the first row) and
enforced on every generated row:

* by **transformation** where one exists, so the model learns a form in which the rule cannot be
  broken: :class:`Inequality` models the gap ``high - low`` (never negative) in place of ``high``;
  :class:`FixedCombinations` models the combination of its columns as one categorical column, so
  only combinations seen in training come out; :class:`Bounds` clips into the bounds;
* by **rejection** otherwise (:class:`RowFilter`, and an :class:`Inequality` whose ``low`` column
  is missing where ``high`` is not, or whose columns another constraint already transforms):
  generated rows that break it are dropped and more are drawn.

Missing values satisfy every comparison (``Inequality`` and ``Bounds`` constrain present values).
``Constraint.to_json``/``constraint_from_json`` are the metadata JSON form; ``RowFilter`` holds
Python code, which neither JSON nor a model file stores.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from synthgan.errors import DataError
from synthgan.transform.categories import _native
from synthgan.transform.columns import (ColumnSpec, _datetime_step, column_kind, continuous_values, dtype_name,
                                        restore_dtype)
from synthgan.transform.transformer import _spec_from_json, _spec_json

__all__ = ["Bounds", "Constraint", "FixedCombinations", "Inequality", "RowFilter", "Constraints",
           "constraint_from_json"]


class Constraint:
    """One rule over some columns. Subclasses set ``kind`` and implement :meth:`is_valid`; those that
    can be enforced by transformation also implement :meth:`_transform` and :meth:`_reverse`."""

    kind: ClassVar[str] = ""

    @property
    def columns(self) -> tuple[str, ...]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.to_json().items() if k != 'kind')})"

    # ------------------------------------------------------------------ fitting
    def fit(self, frame: pd.DataFrame, transform: bool = True) -> None:
        """Check the rule on the training rows and learn what enforcing it needs. ``transform=False``:
        enforce by rejection only (another constraint transforms one of the columns)."""
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise DataError(f"constraint {self!r} names columns not in the table: {missing}; "
                            f"columns: {list(frame.columns)[:20]}")
        broken = ~self.is_valid(frame)
        if broken.any():
            first = frame.index[np.flatnonzero(broken)[0]]
            raise DataError(f"constraint {self!r} does not hold in the training data: {int(broken.sum())} of "
                            f"{len(frame)} rows break it (first: row {first!r}, "
                            f"{frame.loc[first, list(self.columns)].to_dict()}); fix or drop those rows, or "
                            "remove the constraint")
        self.transforms_ = bool(transform and self._fit_transform(frame))

    def _fit_transform(self, frame: pd.DataFrame) -> bool:
        """Learn the transformation; False when this constraint is enforced by rejection."""
        return False

    @property
    def changes(self) -> tuple[str, ...]:
        """Columns whose modelled values differ from the real ones (conditions on them are matched
        after generation)."""
        return self.columns if getattr(self, "transforms_", False) else ()

    # ------------------------------------------------------------------ enforcing
    def is_valid(self, frame: pd.DataFrame) -> np.ndarray:
        """Boolean array: which rows satisfy the rule."""
        raise NotImplementedError

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        return self._transform(frame) if self.transforms_ else frame

    def modelled(self, columns: list) -> list:
        """The columns the model learns, from the columns before this constraint's transformation."""
        return columns

    def original_columns(self) -> dict:
        """``{column: (ColumnSpec, levels)}`` of the columns this constraint transforms, as the user
        sees them (to type condition values)."""
        return {}

    def reverse(self, frame: pd.DataFrame) -> pd.DataFrame:
        return self._reverse(frame) if self.transforms_ else frame

    def _transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        return frame

    def _reverse(self, frame: pd.DataFrame) -> pd.DataFrame:
        return frame

    # ------------------------------------------------------------------ JSON
    def to_json(self) -> dict:
        raise NotImplementedError

    def fitted_json(self) -> dict:
        """:meth:`to_json` plus what fitting learnt (for model files)."""
        return {**self.to_json(), "transforms": bool(self.transforms_)}

    def _load_fitted(self, data: Mapping[str, Any]) -> None:
        self.transforms_ = bool(data.get("transforms", False))


def _spec(series: pd.Series) -> ColumnSpec:
    kind = column_kind(series)
    extra: dict = {}
    if isinstance(series.dtype, pd.CategoricalDtype):
        extra = {"categories": tuple(_native(c) for c in series.cat.categories), "ordered": bool(series.cat.ordered)}
    return ColumnSpec(name=series.name, kind=kind, dtype=dtype_name(series.dtype),
                      has_nulls=bool(series.isna().any()), **extra)


def _restored(frame: pd.DataFrame, values: np.ndarray, spec: ColumnSpec, levels: tuple = ()) -> pd.Series:
    """``values`` as ``spec``'s column, on ``frame``'s index."""
    restored = restore_dtype(values, spec, levels)
    restored.index = frame.index
    return restored


class Inequality(Constraint):
    """``low_column <= high_column`` (``<`` with ``strict=True``) for two number or two date columns.

    Enforced by modelling the gap ``high - low`` in place of ``high`` (in the gap's own resolution:
    days, seconds or the number's units), then ``high = low + max(gap, 0)`` (the smallest step for
    ``strict``). When ``low`` is missing in a row where ``high`` is not, the gap cannot carry
    ``high``, so the rule is enforced by rejection instead.
    """

    kind = "inequality"

    def __init__(self, low_column: str, high_column: str, strict: bool = False):
        self.low_column = low_column
        self.high_column = high_column
        self.strict = bool(strict)

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.low_column, self.high_column)

    @property
    def changes(self) -> tuple[str, ...]:
        return (self.high_column,) if getattr(self, "transforms_", False) else ()

    def _values(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        low, high = frame[self.low_column], frame[self.high_column]
        kinds = {column_kind(low), column_kind(high)}
        if not (kinds <= {"numeric", "integer"} or kinds == {"datetime"}):
            raise DataError(f"constraint {self!r} compares {self.low_column!r} ({column_kind(low)}) with "
                            f"{self.high_column!r} ({column_kind(high)}); both must be numbers or both dates")
        kind = "datetime" if kinds == {"datetime"} else "numeric"
        return continuous_values(low, kind), continuous_values(high, kind)

    def is_valid(self, frame: pd.DataFrame) -> np.ndarray:
        low, high = self._values(frame)
        with np.errstate(invalid="ignore"):
            holds = low < high if self.strict else low <= high
        return holds | np.isnan(low) | np.isnan(high)

    def _fit_transform(self, frame: pd.DataFrame) -> bool:
        low, high = self._values(frame)
        if (np.isnan(low) & ~np.isnan(high)).any():
            return False
        self.high_spec_ = _spec(frame[self.high_column])
        gap = (high - low)[~np.isnan(high)]
        if self.high_spec_.kind == "datetime":
            self.unit_ = _datetime_step(gap) or 1.0  # the gap in days, seconds or nanoseconds
        else:  # whole gaps are modelled (and rounded) as whole numbers; a strict gap is then at least 1
            self.unit_ = 1.0 if np.all(gap == np.round(gap)) else 0.0
        return True

    def _transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        low, high = self._values(frame)
        out = frame.copy()
        out[self.high_column] = (high - low) / (self.unit_ or 1.0)
        return out

    def _reverse(self, frame: pd.DataFrame) -> pd.DataFrame:
        gap = frame[self.high_column].to_numpy(dtype=np.float64, na_value=np.nan) * (self.unit_ or 1.0)
        smallest = self.unit_ if self.strict else 0.0
        low = continuous_values(frame[self.low_column], "datetime" if self.high_spec_.kind == "datetime" else "numeric")
        if self.strict and not self.unit_:  # floats: the next number above low
            high = np.maximum(low + np.maximum(gap, 0.0), np.nextafter(low, np.inf))
        else:
            high = low + np.maximum(gap, smallest)
        out = frame.copy()
        out[self.high_column] = _restored(frame, high, self.high_spec_)
        return out

    def original_columns(self) -> dict:
        return {self.high_column: (self.high_spec_, ())} if self.transforms_ else {}

    def to_json(self) -> dict:
        return {"kind": self.kind, "low_column": self.low_column, "high_column": self.high_column,
                "strict": self.strict}

    def fitted_json(self) -> dict:
        data = super().fitted_json()
        if self.transforms_:
            data.update(unit=self.unit_, high_spec=_spec_json(self.high_spec_))
        return data

    def _load_fitted(self, data: Mapping[str, Any]) -> None:
        super()._load_fitted(data)
        if self.transforms_:
            self.unit_ = float(data["unit"])
            self.high_spec_ = _spec_from_json(data["high_spec"])


class Bounds(Constraint):
    """``low <= column <= high`` for a number or date column (``None``: no bound on that side).
    Generated values are clipped into the bounds."""

    kind = "bounds"

    def __init__(self, column: str, low: Any = None, high: Any = None):
        self.column = column
        self.low = low
        self.high = high

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.column,)

    @property
    def changes(self) -> tuple[str, ...]:
        return ()  # the modelled values are the real ones; only generated values are clipped

    def _ends(self, series: pd.Series) -> tuple[float, float]:
        kind = column_kind(series)
        if kind not in ("numeric", "integer", "datetime"):
            raise DataError(f"constraint {self!r}: column {self.column!r} is {kind}; bounds need a number or date "
                            "column (for categories use a RowFilter or a list of values)")
        ends = []
        for end, default in ((self.low, -np.inf), (self.high, np.inf)):
            if end is None:
                ends.append(default)
            elif kind == "datetime":
                stamp = pd.Timestamp(end)
                stamp = stamp.tz_convert("UTC").tz_localize(None) if stamp.tzinfo is not None else stamp
                ends.append(float(stamp.value))
            else:
                ends.append(float(end))
        if ends[0] > ends[1]:
            raise DataError(f"constraint {self!r}: low is above high")
        return ends[0], ends[1]

    def is_valid(self, frame: pd.DataFrame) -> np.ndarray:
        series = frame[self.column]
        low, high = self._ends(series)
        values = continuous_values(series, column_kind(series))
        return np.isnan(values) | ((values >= low) & (values <= high))

    def _fit_transform(self, frame: pd.DataFrame) -> bool:
        self.spec_ = _spec(frame[self.column])
        return True

    def _reverse(self, frame: pd.DataFrame) -> pd.DataFrame:
        series = frame[self.column]
        low, high = self._ends(series)
        if self.spec_.kind == "integer":
            low, high = np.ceil(low), np.floor(high)
        values = continuous_values(series, self.spec_.kind)
        clipped = np.where(np.isnan(values), np.nan, np.clip(values, low, high))
        if np.array_equal(clipped, values, equal_nan=True):
            return frame
        out = frame.copy()
        out[self.column] = _restored(frame, clipped, self.spec_)
        return out

    def to_json(self) -> dict:
        def end(value: Any) -> Any:
            return value.isoformat() if hasattr(value, "isoformat") else _native(value)
        return {"kind": self.kind, "column": self.column, "low": end(self.low), "high": end(self.high)}

    def fitted_json(self) -> dict:
        return {**super().fitted_json(), "spec": _spec_json(self.spec_)}

    def _load_fitted(self, data: Mapping[str, Any]) -> None:
        super()._load_fitted(data)
        self.spec_ = _spec_from_json(data["spec"])


_SEPARATOR = " | "


class FixedCombinations(Constraint):
    """Only combinations of ``columns`` seen in training are generated (e.g. ``education`` and
    ``education-num``, a country and its currency). Enforced by modelling the combination as one
    categorical column (under the first column's name) and splitting it after generation."""

    kind = "fixed_combinations"

    def __init__(self, columns: Sequence[str]):
        self.column_names = list(columns)

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.column_names)

    def is_valid(self, frame: pd.DataFrame) -> np.ndarray:
        if not hasattr(self, "combinations_"):
            return np.ones(len(frame), dtype=bool)  # training rows define the combinations
        return self._codes(frame) >= 0

    def _keys(self, frame: pd.DataFrame) -> pd.MultiIndex:
        return pd.MultiIndex.from_frame(frame[list(self.columns)].astype(object).where(
            frame[list(self.columns)].notna(), None))

    def _codes(self, frame: pd.DataFrame) -> np.ndarray:
        known = pd.MultiIndex.from_tuples([tuple(c) for c in self.combinations_], names=list(self.columns))
        return known.get_indexer(self._keys(frame))

    def fit(self, frame: pd.DataFrame, transform: bool = True) -> None:
        if len(self.columns) < 2 or len(set(self.columns)) != len(self.columns):
            raise DataError(f"constraint {self!r} needs two or more different columns")
        super().fit(frame, transform)
        if not self.transforms_:
            self.combinations_ = [tuple(_native(v) for v in key) for key in self._keys(frame).unique()]

    def _fit_transform(self, frame: pd.DataFrame) -> bool:
        for name in self.columns:
            kind = column_kind(frame[name])
            if kind in ("numeric", "datetime"):
                raise DataError(f"constraint {self!r}: column {name!r} is {kind}; fixed combinations are of "
                                "categorical, boolean or integer columns")
        self.combinations_ = [tuple(_native(v) for v in key) for key in self._keys(frame).unique()]
        self.specs_ = [_spec(frame[name]) for name in self.columns]
        return True

    def labels(self) -> list[str]:
        """The combined column's levels: the values joined by `` | ``."""
        labels = [_SEPARATOR.join("" if v is None else str(v) for v in combo) for combo in self.combinations_]
        if len(set(labels)) < len(labels):  # values that print alike: number them
            labels = [f"{i}: {label}" for i, label in enumerate(labels)]
        return labels

    def modelled(self, columns: list) -> list:
        return [c for c in columns if c not in self.columns[1:]] if self.transforms_ else columns

    def _transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        labels = np.asarray(self.labels(), dtype=object)
        out = frame.drop(columns=list(self.columns[1:]))
        out[self.columns[0]] = pd.Series(labels[self._codes(frame)], index=frame.index, dtype=object)
        return out

    def _reverse(self, frame: pd.DataFrame) -> pd.DataFrame:
        lookup = {label: i for i, label in enumerate(self.labels())}
        codes = frame[self.columns[0]].astype(object).map(lookup).to_numpy()
        out = frame.copy()
        for position, spec in enumerate(self.specs_):
            values = np.empty(len(frame), dtype=object)
            values[:] = [self.combinations_[int(c)][position] for c in codes]
            if spec.kind in ("integer", "numeric"):
                values = np.asarray([np.nan if v is None else v for v in values], dtype=np.float64)
            out[spec.name] = _restored(frame, values, spec, tuple(c[position] for c in self.combinations_))
        return out

    def original_columns(self) -> dict:
        if not self.transforms_:
            return {}
        return {spec.name: (spec, tuple(dict.fromkeys(c[i] for c in self.combinations_)))
                for i, spec in enumerate(self.specs_)}

    def to_json(self) -> dict:
        return {"kind": self.kind, "columns": list(self.columns)}

    def fitted_json(self) -> dict:
        return {**super().fitted_json(), "combinations": [list(c) for c in self.combinations_],
                "specs": [_spec_json(s) for s in getattr(self, "specs_", [])]}

    def _load_fitted(self, data: Mapping[str, Any]) -> None:
        super()._load_fitted(data)
        self.combinations_ = [tuple(c) for c in data["combinations"]]
        self.specs_ = [_spec_from_json(s) for s in data.get("specs", [])]


class RowFilter(Constraint):
    """Keep only rows for which ``function(frame)`` is True (a boolean array or Series, one entry per
    row). Enforced by rejection; a model with a row filter cannot be saved (it holds Python code)."""

    kind = "row_filter"

    def __init__(self, function: Callable[[pd.DataFrame], Any], columns: Iterable[str] = (),
                 name: str | None = None):
        self.function = function
        self.column_names = list(columns)
        self.name = name or getattr(function, "__name__", "row filter")

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.column_names)

    def is_valid(self, frame: pd.DataFrame) -> np.ndarray:
        result = self.function(frame)
        mask = np.asarray(result)
        if mask.shape != (len(frame),) or mask.dtype != bool:
            raise DataError(f"RowFilter {self.name!r} must return one True/False per row; it returned "
                            f"{type(result).__name__} of shape {mask.shape} and dtype {mask.dtype}")
        return mask

    def to_json(self) -> dict:
        return {"kind": self.kind, "name": self.name}


_KINDS: dict[str, type[Constraint]] = {cls.kind: cls for cls in (Inequality, Bounds, FixedCombinations)}


def constraint_from_json(data: Mapping[str, Any]) -> Constraint:
    """A constraint from its JSON form, e.g. ``{"kind": "inequality", "low_column": "start",
    "high_column": "end"}`` (kinds: ``inequality``, ``bounds``, ``fixed_combinations``)."""
    if not isinstance(data, Mapping) or data.get("kind") not in _KINDS:
        kind = data.get("kind") if isinstance(data, Mapping) else data
        raise DataError(f"unknown constraint {kind!r}; known kinds: {sorted(_KINDS)} (a row filter is Python "
                        "code: pass synthgan.constraints.RowFilter to SynthGAN(constraints=...))")
    arguments = {k: v for k, v in data.items() if k in _ARGUMENTS[data["kind"]]}
    try:
        return _KINDS[data["kind"]](**arguments)
    except TypeError as exc:
        raise DataError(f"constraint {dict(data)!r}: {exc}; expected keys {_ARGUMENTS[data['kind']]}") from None


_ARGUMENTS = {"inequality": ("low_column", "high_column", "strict"), "bounds": ("column", "low", "high"),
              "fixed_combinations": ("columns",)}


class Constraints:
    """The constraints of one model, applied together.

    The first constraint to name a column may transform it; a later constraint over a column that
    an earlier one transforms is enforced by rejection. ``transform`` maps real rows to the form the
    model learns, ``reverse`` maps generated rows back (and restores the column order), ``valid``
    says which rows satisfy every constraint.
    """

    def __init__(self, items: Sequence[Constraint | Mapping[str, Any]] = ()):
        self.items = [item if isinstance(item, Constraint) else constraint_from_json(item) for item in items]
        for item in self.items:
            if not isinstance(item, Constraint):
                raise DataError(f"constraints must be synthgan.constraints objects or their JSON dicts, got {item!r}")

    def __bool__(self) -> bool:
        return bool(self.items)

    def fit(self, frame: pd.DataFrame) -> Constraints:
        self.columns_ = list(frame.columns)
        taken: set[str] = set()
        for item in self.items:
            item.fit(frame, transform=not taken & set(item.columns))
            if item.transforms_:
                taken |= set(item.columns)
        columns = list(frame.columns)
        for item in self.items:
            columns = item.modelled(columns)
        self.modelled_columns_ = columns
        return self

    @property
    def changes(self) -> set[str]:
        return {column for item in self.items for column in item.changes}

    @property
    def rejection(self) -> list[Constraint]:
        return [item for item in self.items if not item.transforms_]

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        for item in self.items:
            frame = item.transform(frame)
        return frame

    def reverse(self, frame: pd.DataFrame) -> pd.DataFrame:
        for item in reversed(self.items):
            frame = item.reverse(frame)
        return frame[self.columns_]

    def original_columns(self) -> dict:
        return {name: found for item in self.items for name, found in item.original_columns().items()}

    def valid(self, frame: pd.DataFrame) -> np.ndarray:
        mask = np.ones(len(frame), dtype=bool)
        for item in self.items:
            mask &= item.is_valid(frame)
        return mask

    def to_json(self) -> dict:
        filters = [item.name for item in self.items if isinstance(item, RowFilter)]
        if filters:
            raise DataError(f"a model with a RowFilter ({', '.join(map(repr, filters))}) cannot be saved: a model "
                            "file never holds Python code. Save a model fitted without it and filter the sampled "
                            "rows yourself, or express the rule as an Inequality, Bounds or FixedCombinations")
        return {"columns": list(self.columns_), "modelled_columns": list(self.modelled_columns_),
                "items": [item.fitted_json() for item in self.items]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Constraints:
        self = cls([constraint_from_json(item) for item in data["items"]])
        for item, stored in zip(self.items, data["items"]):
            item._load_fitted(stored)
        self.columns_ = list(data["columns"])
        self.modelled_columns_ = list(data["modelled_columns"])
        return self
