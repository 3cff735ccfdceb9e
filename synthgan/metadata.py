"""What a table's columns are: detected, explained, fixed by hand, kept as JSON.

``Metadata.detect(df)`` says for each column what synthgan will do with it and why, and warns on
likely mis-types (numbers that look like codes, near-unique text, text that parses as dates);
``SynthGAN(metadata=...)`` and ``synthgan fit --metadata meta.json`` use it instead of detection.

A column's entry:

========== ==================================================================================
kind       ``numeric``, ``integer``, ``categorical``, ``boolean``, ``datetime``, ``id`` (never
           modelled; fresh unique values) or ``pii`` (never learned; fake values)
pii_type   for ``pii``: ``email``, ``phone``, ``name``, ``address`` or ``text``
format     for ``datetime`` columns held as text: a ``strftime`` format (e.g. ``%d/%m/%Y``); the
           text is parsed for training and generated dates are written back in that format
bounds     ``[low, high]`` (``null`` for an open end) for a number or date column: every
           generated value lies inside (a :class:`~synthgan.constraints.Bounds` constraint; in
           private training also a public range that costs no budget)
categories the declared levels of a discrete column: a training value outside them is an error,
           and in private training they are public (no release threshold)
sensitive  ``true``: levels held by fewer than ``rare_threshold`` training rows are never
           generated nor stored (see ``SynthGAN(privacy="strict")``, which does it for every
           discrete column)
========== ==================================================================================

The JSON form is ``{"columns": {name: entry}, "constraints": [...]}`` with the constraints'
JSON (:func:`synthgan.constraints.constraint_from_json`).
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from synthgan.constraints import Bounds, Constraint, constraint_from_json
from synthgan.errors import DataError
from synthgan.transform import identifiers
from synthgan.transform.categories import _native
from synthgan.transform.columns import column_kind

__all__ = ["ColumnMetadata", "Metadata", "KINDS", "PII_TYPES"]

KINDS = ("numeric", "integer", "categorical", "boolean", "datetime", "id", "pii")
PII_TYPES = ("email", "phone", "name", "address", "text")
_CODE_HINTS = ("zip", "zipcode", "postal", "postcode", "code", "plz", "fips", "sku", "iban", "account")
_DATE_TEXT = re.compile(r"^\s*\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?\s*$")
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%Y-%m-%d %H:%M:%S",
                 "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%d/%m/%Y %H:%M", "%m/%d/%Y %H:%M")
_ENTRY_KEYS = ("kind", "pii_type", "format", "bounds", "categories", "sensitive", "reason")


@dataclass
class ColumnMetadata:
    """One column's entry (see the module's table)."""

    kind: str
    pii_type: str | None = None
    format: str | None = None
    bounds: tuple | None = None
    categories: list | None = None
    sensitive: bool = False
    reason: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise DataError(f"unknown column kind {self.kind!r}; kinds: {', '.join(KINDS)}")
        if self.kind == "pii" and self.pii_type not in PII_TYPES:
            raise DataError(f"a pii column needs pii_type, one of {', '.join(PII_TYPES)}; got {self.pii_type!r}")
        if self.bounds is not None:
            if not (isinstance(self.bounds, (list, tuple)) and len(self.bounds) == 2):
                raise DataError(f"bounds must be [low, high] (null for an open end), got {self.bounds!r}")
            if self.kind not in ("numeric", "integer", "datetime"):
                raise DataError(f"bounds apply to numeric, integer and datetime columns, not {self.kind}")
            self.bounds = tuple(self.bounds)
        if self.categories is not None and self.kind not in ("categorical", "boolean", "integer"):
            raise DataError(f"declared categories apply to discrete columns, not {self.kind}")
        if self.format is not None and self.kind != "datetime":
            raise DataError(f"format applies to datetime columns, not {self.kind}")

    def to_dict(self) -> dict:
        data: dict[str, Any] = {"kind": self.kind}
        for key in _ENTRY_KEYS[1:]:
            value = getattr(self, key)
            if value not in (None, False, ""):
                data[key] = list(value) if isinstance(value, tuple) else value
        return data

    @classmethod
    def from_dict(cls, name: object, data: Mapping[str, Any]) -> ColumnMetadata:
        if isinstance(data, str):
            data = {"kind": data}
        if not isinstance(data, Mapping):
            raise DataError(f"metadata for column {name!r} must be an object like {{\"kind\": \"categorical\"}}, "
                            f"got {data!r}")
        unknown = sorted(set(data) - set(_ENTRY_KEYS))
        if unknown:
            raise DataError(f"metadata for column {name!r} has unknown keys {unknown}; keys: {', '.join(_ENTRY_KEYS)}")
        try:
            return cls(**dict(data))
        except DataError as exc:
            raise DataError(f"metadata for column {name!r}: {exc}") from None
        except TypeError as exc:
            raise DataError(f"metadata for column {name!r}: {exc}") from None


@dataclass
class Metadata:
    """Column kinds and rules of one table.

    Parameters
    ----------
    columns : dict
        ``{column: ColumnMetadata or its dict}``; columns left out are detected as usual.
    constraints : list
        :mod:`synthgan.constraints` objects or their JSON dicts.
    """

    columns: dict = field(default_factory=dict)
    constraints: list = field(default_factory=list)
    warnings: list = field(default_factory=list, compare=False)

    def __post_init__(self) -> None:
        self.columns = {name: entry if isinstance(entry, ColumnMetadata) else ColumnMetadata.from_dict(name, entry)
                        for name, entry in dict(self.columns).items()}
        self.constraints = [c if isinstance(c, Constraint) else constraint_from_json(c) for c in self.constraints]

    # ------------------------------------------------------------------ detection
    @classmethod
    def detect(cls, df: pd.DataFrame) -> Metadata:
        """What synthgan detects for every column of ``df``, with the reason, and warnings on
        likely mis-types (in ``warnings``, also issued as ``UserWarning``)."""
        if not isinstance(df, pd.DataFrame):
            raise DataError(f"Metadata.detect expects a pandas DataFrame, got {type(df).__name__}")
        found, notes = {}, []
        for name in df.columns:
            entry, note = _detect_column(df[name])
            found[name] = entry
            if note:
                notes.append(f"column {name!r}: {note}")
        self = cls(found)
        self.warnings = notes
        for note in notes:
            warnings.warn(note, UserWarning, stacklevel=2)
        return self

    def summary(self) -> str:
        """One line per column: name, kind (with its details) and why."""
        width = max((len(str(n)) for n in self.columns), default=4)
        lines = []
        for name, entry in self.columns.items():
            kind = entry.kind + (f" ({entry.pii_type})" if entry.pii_type else "") + \
                (f" format {entry.format}" if entry.format else "") + \
                (f" bounds {list(entry.bounds)}" if entry.bounds else "") + (" sensitive" if entry.sensitive else "")
            lines.append(f"{str(name):<{width}}  {kind:<26}  {entry.reason}".rstrip())
        lines += [f"constraint: {c!r}" for c in self.constraints]
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict:
        return {"columns": {str(name): entry.to_dict() for name, entry in self.columns.items()},
                "constraints": [c.to_json() for c in self.constraints]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Metadata:
        if not isinstance(data, Mapping) or not isinstance(data.get("columns", {}), Mapping):
            raise DataError('metadata must be an object {"columns": {name: {"kind": ...}}, "constraints": [...]}')
        unknown = sorted(set(data) - {"columns", "constraints"})
        if unknown:
            raise DataError(f"metadata has unknown keys {unknown}; keys: columns, constraints")
        return cls(dict(data.get("columns", {})), list(data.get("constraints", [])))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=str)

    @classmethod
    def from_json(cls, text: str) -> Metadata:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"metadata is not valid JSON: {exc}") from None
        return cls.from_dict(data)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json() + "\n")

    @classmethod
    def load(cls, path: str | Path) -> Metadata:
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise DataError(f"cannot read metadata file {str(path)!r}: {exc.strerror}") from None
        return cls.from_json(text)

    # ------------------------------------------------------------------ use in fit
    def check(self, df: pd.DataFrame) -> None:
        """Raise :class:`DataError` for a column that is not in ``df`` or whose values contradict its
        entry (the message names the column and the fix)."""
        if not df.columns.is_unique:
            repeated = df.columns[df.columns.duplicated()].tolist()
            raise DataError(f"column names must be unique; repeated: {repeated}. Rename them before fit")
        unknown = [name for name in self.columns if name not in df.columns]
        if unknown:
            raise DataError(f"metadata names columns not in the table: {unknown}; columns: {list(df.columns)[:20]}")
        for name, entry in self.columns.items():
            series = df[name]
            present = series.dropna()
            if entry.kind in ("numeric", "integer") and not pd.api.types.is_numeric_dtype(series.dtype) \
                    or entry.kind in ("numeric", "integer") and pd.api.types.is_bool_dtype(series.dtype):
                raise DataError(f"column {name!r} is declared {entry.kind} but holds {series.dtype} values; "
                                "convert it to numbers first or declare it categorical")
            if entry.kind == "integer" and len(present) and not np.all(np.mod(present.astype(float), 1) == 0):
                raise DataError(f"column {name!r} is declared integer but holds fractions; declare it numeric")
            if entry.categories is not None:
                outside = sorted(set(map(_native, present.unique())) - set(map(_native, entry.categories)), key=str)
                if outside:
                    raise DataError(f"column {name!r} holds values not among its declared categories: "
                                    f"{outside[:5]}; add them to categories or fix the rows")
            if entry.kind == "datetime" and entry.format is not None and column_kind(series) == "datetime":
                raise DataError(f"column {name!r} already holds dates ({series.dtype}); leave out its format (a "
                                "format is for dates held as text, which come back as text in that format)")
            if entry.kind == "datetime" and entry.format is None and column_kind(series) != "datetime":
                raise DataError(f"column {name!r} is declared datetime but holds {series.dtype} values; give its "
                                "format (e.g. \"format\": \"%d/%m/%Y\") or convert it with pandas.to_datetime")

    def parse(self, df: pd.DataFrame) -> pd.DataFrame:
        """A copy of ``df`` with text datetimes of a declared format parsed (``df`` is not changed)."""
        parsed = {}
        for name, entry in self.columns.items():
            if entry.kind == "datetime" and entry.format is not None:
                text = df[name]
                values = pd.to_datetime(text, format=entry.format, errors="coerce")
                bad = values.isna() & text.notna()
                if bad.any():
                    raise DataError(f"column {name!r}: {int(bad.sum())} values do not match the format "
                                    f"{entry.format!r} (first: {text[bad].iloc[0]!r}); fix the format or the rows")
                parsed[name] = values
        return df.assign(**parsed) if parsed else df

    def unparse(self, df: pd.DataFrame) -> pd.DataFrame:
        """Generated dates of a text column written back in its format (text, missing as None)."""
        for name, entry in self.columns.items():
            if entry.kind == "datetime" and entry.format is not None and name in df.columns and \
                    pd.api.types.is_datetime64_any_dtype(df[name].dtype):
                text = df[name].dt.strftime(entry.format).astype(object)
                df[name] = text.where(df[name].notna(), None)
        return df

    def discrete_columns(self) -> list:
        return [name for name, entry in self.columns.items() if entry.kind in ("categorical", "boolean")]

    def generated_kinds(self) -> dict:
        """``{column: identifier kind}`` for id and pii columns, ``{column: None}`` for columns declared
        as anything else (never detected as identifiers)."""
        kinds: dict = {}
        for name, entry in self.columns.items():
            if entry.kind == "pii":
                kinds[name] = entry.pii_type
            elif entry.kind == "id":
                kinds[name] = "id"
            else:
                kinds[name] = None
        return kinds

    def bound_constraints(self) -> list[Bounds]:
        return [Bounds(name, *entry.bounds) for name, entry in self.columns.items() if entry.bounds is not None]

    def sensitive_columns(self) -> list:
        return [name for name, entry in self.columns.items() if entry.sensitive]


def _looks_like_dates(text: pd.Series) -> str | None:
    """The format most values of a text column parse with, or None."""
    sample = text.dropna().astype(str)
    sample = sample.iloc[: 1000]
    if len(sample) == 0 or sample.str.match(_DATE_TEXT).mean() < 0.95:
        return None
    for fmt in _DATE_FORMATS:
        if pd.to_datetime(sample, format=fmt, errors="coerce").notna().mean() >= 0.99:
            return fmt
    return None


def _detect_column(series: pd.Series) -> tuple[ColumnMetadata, str | None]:
    name = series.name
    present = series.dropna()
    sensitive = identifiers.detect(series)
    if sensitive is not None:
        if sensitive.startswith("id"):
            return ColumnMetadata("id", reason="unique values under an id-like name (or UUIDs): fresh ids are "
                                               "generated, never training ids"), None
        reasons = {"email": "values are email addresses", "phone": "phone numbers under a phone-like name",
                   "name": "a name column with many distinct values", "address": "an address-like name",
                   "text": "near-unique free text"}
        return ColumnMetadata("pii", pii_type=sensitive, reason=f"{reasons[sensitive]}: never learned, fake values "
                                                                "are generated"), None
    kind = column_kind(series)
    distinct = present.nunique()
    unique_share = distinct / max(len(present), 1)
    token = identifiers._tokens(name)
    note = None
    if kind == "categorical" and not isinstance(series.dtype, pd.CategoricalDtype):
        fmt = _looks_like_dates(present)
        if fmt is not None:
            return ColumnMetadata("datetime", format=fmt, reason=f"text that parses as dates ({fmt}): modelled as "
                                                                 "dates, written back as text"), None
        digits = present.astype(str).str.fullmatch(r"\d+")
        if len(present) and digits.mean() >= 0.95 and present.astype(str).str.startswith("0").any():
            reason = f"digit codes with leading zeros ({distinct} levels): kept as text categories"
        else:
            reason = f"{distinct} distinct values"
        if len(present) >= 50 and unique_share >= 0.5:
            note = (f"{unique_share:.0%} of its values are distinct: a categorical model reproduces them verbatim; "
                    "if they identify people declare it pii (text) or id, or set sensitive")
        return ColumnMetadata("categorical", reason=reason), note
    if kind == "boolean":
        return ColumnMetadata("boolean", reason="two values (True/False)"), None
    if kind == "datetime":
        what = "datetime.date values (e.g. ISO dates read from CSV)" if series.dtype == object else f"{series.dtype} values"
        return ColumnMetadata("datetime", reason=what), None
    if isinstance(series.dtype, pd.CategoricalDtype):
        return ColumnMetadata("categorical", reason=f"pandas category dtype ({len(series.cat.categories)} "
                                                    "declared levels)"), None
    if any(hint in token.split("_") for hint in _CODE_HINTS):
        note = (f"numbers under a code-like name ({name!r}): a zip or account code is a label, not a quantity; "
                "declare it categorical (and read CSV codes as text to keep leading zeros)")
    reason = f"whole numbers, {distinct} distinct" if kind == "integer" else f"numbers, {distinct} distinct"
    return ColumnMetadata(kind, reason=reason), note


def with_text_dates(metadata: Metadata | None, df: pd.DataFrame, skip: Iterable = ()) -> Metadata | None:
    """``metadata`` (or a new one) with an entry for every text column of ``df`` that parses as dates
    in one format and that neither ``metadata`` nor ``skip`` names: such columns are modelled as
    dates and written back as text in their format, with or without metadata."""
    if not isinstance(df, pd.DataFrame) or not df.columns.is_unique or isinstance(df.columns, pd.MultiIndex):
        return metadata  # fit refuses such tables with its own message
    named = set(skip) | set(metadata.columns if metadata is not None else ())
    found = {}
    for name in df.columns:
        series = df[name]
        if name in named or not (pd.api.types.is_object_dtype(series.dtype) or pd.api.types.is_string_dtype(series.dtype)) \
                or pd.api.types.infer_dtype(series, skipna=True) != "string":
            continue
        fmt = _looks_like_dates(series)
        # the sample parses; only a column whose every value does is taken for dates (else it stays text)
        if fmt is not None and pd.to_datetime(series.dropna(), format=fmt, errors="coerce").notna().all():
            found[name] = ColumnMetadata("datetime", format=fmt, reason=f"text that parses as dates ({fmt})")
    if not found:
        return metadata
    if metadata is None:
        return Metadata(found)
    return Metadata({**metadata.columns, **found}, list(metadata.constraints))


def as_metadata(value: Metadata | Mapping | str | Path | None) -> Metadata | None:
    """A Metadata from a Metadata, its dict, or a JSON file path (None stays None)."""
    if value is None or isinstance(value, Metadata):
        return value
    if isinstance(value, Mapping):
        return Metadata.from_dict(value)
    if isinstance(value, (str, Path)):
        return Metadata.load(value)
    raise DataError(f"metadata must be a synthgan.Metadata, its dict or a JSON file path, got {type(value).__name__}")

