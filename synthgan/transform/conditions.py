"""Sampling conditions: parsing ``column=value`` text, checking values against the fitted columns,
finding what the conditional vector can express, and matching generated rows.

The estimator and the command line both go through this module, so a condition means the same
thing, and fails with the same message, from Python and from the shell.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from synthgan.errors import ConditionError
from synthgan.transform.categories import CategoryState
from synthgan.transform.columns import column_kind, continuous_values

if TYPE_CHECKING:
    from synthgan.transform.transformer import DataTransformer

_MISSING_TEXT = ("", "null", "NULL", "NA", "None")
_OPERATORS = (">=", "<=", ">", "<", "=")


@dataclass(frozen=True)
class Range:
    """Rows whose value lies between ``low`` and ``high`` (None: unbounded); ends included unless open.

    ``{"age": (30, 40)}`` is ``Range(30, 40)``: 30 <= age <= 40.
    """

    low: object = None
    high: object = None
    low_open: bool = False
    high_open: bool = False

    def __and__(self, other: Range) -> Range:
        low, low_open = (self.low, self.low_open) if other.low is None else (other.low, other.low_open)
        high, high_open = (self.high, self.high_open) if other.high is None else (other.high, other.high_open)
        return Range(low, high, low_open, high_open)


def normalize(value: object) -> object:
    """A condition value as matched: a scalar, a tuple of values (any of them), or a :class:`Range`."""
    if isinstance(value, Range):
        return value
    if isinstance(value, tuple):
        if len(value) != 2:
            raise ConditionError(f"a range is a pair (low, high), got {value!r}; for a list of values use a list")
        return Range(value[0], value[1])
    if isinstance(value, (list, set, frozenset, np.ndarray, pd.Series)):
        values = tuple(value)
        if not values:
            raise ConditionError("an empty list of values matches no row")
        return values
    return value


def parse_conditions(texts, transformer: DataTransformer, extra: Mapping[Any, tuple] | None = None) -> dict:
    """CLI conditions: ``col=v`` (repeat for any of several values), ``col>=v``, ``col>v``, ``col<=v``,
    ``col<v`` (bounds on one column combine into one range). ``extra`` maps columns the model does not
    learn as they are (constraints) to ``(ColumnSpec, levels)``."""
    out: dict = {}
    for text in texts:
        positions = [(text.index(op), op) for op in _OPERATORS if op in text]
        if not positions:
            raise ConditionError(f"condition {text!r} must look like column=value, column>=value or column<value")
        position = min(p for p, _ in positions)
        operator = next(op for op in _OPERATORS if text.startswith(op, position))  # ">=" before ">"
        column, value = parse_condition(text[:position] + "=" + text[position + len(operator):], transformer, extra)
        previous = out.get(column)
        if operator == "=":
            if column not in out:
                out[column] = value
            elif isinstance(previous, Range):
                raise ConditionError(f"column {column!r} has both a range and an exact value")
            else:
                listed = previous if isinstance(previous, list) else [previous]
                out[column] = listed + [value] if value not in listed else listed
            continue
        bound = {">=": Range(low=value), ">": Range(low=value, low_open=True),
                 "<=": Range(high=value), "<": Range(high=value, high_open=True)}[operator]
        if previous is not None and not isinstance(previous, Range):
            raise ConditionError(f"column {column!r} has both a range and an exact value")
        out[column] = bound if previous is None else previous & bound
    return out


def is_missing(value: object) -> bool:
    return value is None or (pd.api.types.is_scalar(value) and bool(pd.isna(value)))


def as_level(value: object) -> object:
    """The value as stored among a category column's levels (numpy scalars unwrapped, missing as None)."""
    if is_missing(value):
        return None
    return value.item() if isinstance(value, np.generic) else value


def condition_number(value: object, kind: str) -> float:
    """A numeric or datetime condition value in model units (datetimes as UTC nanoseconds)."""
    if kind == "datetime":
        stamp = pd.Timestamp(value)
        if stamp.tzinfo is not None:
            stamp = stamp.tz_convert("UTC").tz_localize(None)
        return float(stamp.value)
    return float(value)  # type: ignore[arg-type]


def _refuse_generated(column: object, transformer: DataTransformer) -> None:
    if str(column) in {str(spec.name) for spec in transformer.generated_}:
        raise ConditionError(f"column {column!r} is generated fresh (an identifier or personal data), so it "
                             "cannot be a condition")


def parse_condition(text: str, transformer: DataTransformer,
                    extra: Mapping[Any, tuple] | None = None) -> tuple[Any, object]:
    """``column=value`` text with the value converted to the column's type in the fitted model."""
    if "=" not in text:
        raise ConditionError(f"condition {text!r} must look like column=value")
    column, raw = text.split("=", 1)
    _refuse_generated(column, transformer)
    constants = {str(spec.name): spec for spec in transformer.constants_}
    if column in constants:
        spec = constants[column]
        return spec.name, spec.value if str(spec.value) == raw else raw
    specs = {spec.name: spec for spec in transformer.specs_}
    levels = {spec.name: state.all_levels for spec, state in zip(transformer.specs_, transformer.states_)
              if isinstance(state, CategoryState)}
    for name, (spec, known) in (extra or {}).items():  # columns a constraint transforms: their real type
        specs[name], levels[name] = spec, tuple(known)
    by_text = {str(name): name for name in specs}
    if column not in by_text:
        raise ConditionError(f"condition column {column!r} is not a model column; known: {list(by_text)}")
    name = by_text[column]
    spec = specs[name]
    if raw in _MISSING_TEXT:
        return name, None
    try:
        if spec.kind == "integer":
            return name, int(raw)
        if spec.kind == "numeric":
            return name, float(raw)
        if spec.kind == "datetime":
            return name, pd.Timestamp(raw).date() if spec.dtype == "object" else pd.Timestamp(raw)
        if spec.kind == "boolean":
            if raw.lower() not in ("true", "false", "1", "0"):
                raise ValueError(raw)
            return name, raw.lower() in ("true", "1")
    except ValueError:
        raise ConditionError(f"condition value {raw!r} does not fit column {column!r} ({spec.kind})") from None
    for level in levels.get(name, ()):
        if level is not None and str(level) == raw:
            return name, level
    return name, raw


def check_conditions(conditions: Mapping[Any, Any], transformer: DataTransformer) -> None:
    """Raise :class:`ConditionError` for an unknown column or a value the model cannot generate."""
    if not isinstance(conditions, Mapping):
        raise ConditionError(f"conditions must be a dict of column -> value, got {type(conditions).__name__}")
    names = [spec.name for spec in transformer.specs_]
    constants = {spec.name: spec for spec in transformer.constants_}
    for column, value in conditions.items():
        _refuse_generated(column, transformer)
        if column in constants:
            held, value = constants[column].value, normalize(value)
            items = () if isinstance(value, Range) else value if isinstance(value, tuple) else (value,)
            if items and not any(as_level(v) == held or str(v) == str(held) for v in items):
                raise ConditionError(f"column {column!r} holds only {held!r} in the training data; "
                                     "no other value can be generated")
            continue
        if column not in names:
            raise ConditionError(f"condition column {column!r} is not a training column; "
                                 f"known columns: {transformer.columns_}")
        spec = transformer.specs_[names.index(column)]
        state = transformer.states_[names.index(column)]
        value = normalize(value)
        if isinstance(value, Range):
            if isinstance(state, CategoryState):
                raise ConditionError(f"column {column!r} is categorical: a range needs a number or date column; "
                                     "give a list of values instead")
            for end in (value.low, value.high):
                if end is not None:
                    _check_number(end, column, spec, state, inside=False)
            continue
        for item in (value if isinstance(value, tuple) else (value,)):
            _check_value(item, column, spec, state)


def _check_number(value: object, column: object, spec, state, inside: bool = True) -> float:
    try:
        number = condition_number(value, spec.kind)
    except (TypeError, ValueError):
        raise ConditionError(f"value {value!r} for numeric column {column!r} is not a number") from None
    if inside and not state.minimum <= number <= state.maximum:
        raise ConditionError(f"value {value!r} for column {column!r} lies outside the training "
                             f"range; choose a value in the observed range")
    return number


def _check_value(value: object, column: object, spec, state) -> None:
    if is_missing(value):
        if not spec.has_nulls:
            raise ConditionError(f"column {column!r} had no missing values in training, "
                                 "so rows with it missing cannot be generated")
    elif isinstance(state, CategoryState):
        if as_level(value) not in state.all_levels:
            shown = list(state.all_levels[:20])
            raise ConditionError(f"value {value!r} never occurs in column {column!r}; "
                                 f"choose one of {shown}{' ...' if len(state.all_levels) > 20 else ''}")
    else:
        number = _check_number(value, column, spec, state)
        if spec.step and not np.isclose(number / spec.step, round(number / spec.step), rtol=0, atol=1e-6):
            raise ConditionError(f"value {value!r} is not on column {column!r}'s grid (its values were recorded "
                                 f"in steps of {spec.step:g}), so it is never generated; choose a multiple of "
                                 f"{spec.step:g} or a range")
        if not spec.step:
            raise ConditionError(f"column {column!r} is continuous, so an exact value such as {value!r} almost "
                                 f"never occurs; ask for a range instead, e.g. {{{column!r}: (low, high)}} or "
                                 f"-c '{column}>=low' -c '{column}<high'")


def native_condition(conditions: Mapping[Any, Any], transformer: DataTransformer) -> tuple[int, int] | None:
    """(condition span, slot) of the first condition the conditional vector can express, if any."""
    names = [spec.name for spec in transformer.specs_]
    for k, span in enumerate(transformer.layout_.condition_spans):
        if span.column not in conditions or span.role == "mode":  # a mode is not a value a user asks for
            continue
        raw = normalize(conditions[span.column])
        if isinstance(raw, (tuple, Range)):
            continue  # several values or a range: rejection sampling
        value = as_level(raw)
        if span.role == "missing":
            if value is None:
                return k, 1
            continue
        state = transformer.states_[names.index(span.column)]
        if value in state.levels:
            return k, state.levels.index(value)
    return None


MAX_PAIR_SPANS = 60  # beyond this many conditional columns the observed pairs are not recorded


def observed_pairs(codes: np.ndarray, widths: list[int], keep: list[int] | None = None) -> dict[str, list[int]] | None:
    """For every pair of condition spans ``i < j`` (among ``keep``, default all), the slot pairs seen
    in training, coded ``slot_i * width_j + slot_j`` (keys ``"i,j"``); None for tables with too many
    spans to record."""
    kept = list(range(codes.shape[1])) if keep is None else list(keep)
    if len(kept) > MAX_PAIR_SPANS:
        return None
    return {f"{i},{j}": np.unique(codes[:, i] * widths[j] + codes[:, j]).tolist()
            for a, i in enumerate(kept) for j in kept[a + 1:]}


def _condition_slots(conditions: Mapping[Any, Any], transformer: DataTransformer) -> list[tuple[int, int, str]]:
    """(span, slot, text) of every condition that fixes one slot of a condition span."""
    names = [spec.name for spec in transformer.specs_]
    found = []
    for k, span in enumerate(transformer.layout_.condition_spans):
        if (span.column not in conditions or span.role == "mode"
                or isinstance(normalize(conditions[span.column]), (tuple, Range))):
            continue
        value = as_level(conditions[span.column])
        if span.role == "missing":
            slot = 1 if value is None else 0
        else:
            levels = transformer.states_[names.index(span.column)].levels
            if value not in levels:
                continue  # a rare level in the shared slot: not checked
            slot = levels.index(value)
        found.append((k, slot, f"{span.column}={value!r}" if span.role == "category" or value is None
                      else f"{span.column} present"))
    return found


def unseen_combinations(conditions: Mapping[Any, Any], transformer: DataTransformer,
                        pairs: Mapping[str, list[int]] | None) -> list[str]:
    """Pairs of conditions that never occur together in the training rows (empty if unknown)."""
    if not pairs:
        return []
    widths = [span.width for span in transformer.layout_.condition_spans]
    slots = _condition_slots(conditions, transformer)
    unseen = []
    for a in range(len(slots)):
        for b in range(a + 1, len(slots)):
            (i, si, ti), (j, sj, tj) = sorted([slots[a], slots[b]])
            seen = pairs.get(f"{i},{j}")
            if seen is not None and si * widths[j] + sj not in seen:
                unseen.append(f"{ti} with {tj}")
    return unseen


def matches(frame: pd.DataFrame, conditions: Mapping[Any, Any]) -> np.ndarray:
    """Boolean mask of the rows of ``frame`` that meet every condition."""
    keep = np.ones(len(frame), dtype=bool)
    for column, raw in conditions.items():
        series = frame[column]
        value = normalize(raw)
        if isinstance(value, Range):
            kind = "datetime" if column_kind(series) == "datetime" else "numeric"  # date objects included
            numbers = continuous_values(series, kind)
            inside = ~np.isnan(numbers)
            if value.low is not None:
                low = condition_number(value.low, kind)
                inside &= numbers > low if value.low_open else numbers >= low
            if value.high is not None:
                high = condition_number(value.high, kind)
                inside &= numbers < high if value.high_open else numbers <= high
            keep &= inside
            continue
        hit = np.zeros(len(frame), dtype=bool)
        for item in (value if isinstance(value, tuple) else (value,)):
            hit |= series.isna().to_numpy() if is_missing(item) else (series == item).fillna(False).to_numpy(bool)
        keep &= hit
    return keep
