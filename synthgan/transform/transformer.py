"""DataTransformer: DataFrame <-> encoded float32 matrix described by a :class:`TableLayout`.

This is the pandas edge of the model: everything after :meth:`DataTransformer.transform` and
before :meth:`DataTransformer.inverse_transform` is numpy or torch.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Union

import numpy as np
import pandas as pd

from synthgan.errors import DataError
from synthgan.layout import Span, TableLayout
from synthgan.transform import identifiers
from synthgan.transform.categories import (CategoryState, decode_categories, encode_categories,
                                           fit_categories)
from synthgan.transform.columns import ColumnSpec, continuous_values, detect_columns, restore_dtype, round_to_steps
from synthgan.transform.encoded import EncodedRows, slot_dtype
from synthgan.transform.dependence import DependenceState, score_correlation
from synthgan.transform.modes import ModeState, ModeTable, encode_modes, fit_modes, grid_probability, quantile_grid

ColumnState = Union[ModeState, CategoryState]
DEPENDENCE_ROWS = 100_000  # most training rows the dependence calibration's target correlation is read from

if TYPE_CHECKING:
    from synthgan.privacy.statistics import Release


class DataTransformer:
    """Mode-specific normalization for numbers and datetimes, capped one-hot for discrete columns.

    Parameters
    ----------
    max_modes : int, default=10
        Most mixture modes per continuous column.
    max_categories : int, default=100
        Widest one-hot per discrete column; rarer levels share an ``other`` slot.
    gmm_max_rows : int, default=5000
        Rows sampled to fit each column's mixture.
    numeric_encoding : {"modes", "quantile"}, default="modes"
        ``modes``: mode-specific normalization of the values; ``quantile``: of their normal scores
        through the column's quantiles (see :mod:`synthgan.transform.modes`). A private fit takes
        its states, grids included, from the private release.
    calibration : bool, default=False
        Keep each continuous column's training quantile grid (``ModeState.target``) so that
        :meth:`fit_calibration` can later map the generator's marginal onto it. On the private path
        the grid is the release's (the quantiles of the noisy histogram the column's mixture is
        fitted to, :func:`synthgan.privacy.statistics.histogram_quantiles`, which the release
        computes when asked: ``calibration_targets``), never the rows'.
    dependence : bool, default=False
        With ``calibration``: also keep the training rows' correlation of the continuous columns'
        normal scores, so that :meth:`fit_calibration` can fit the dependence calibration
        (:mod:`synthgan.transform.dependence`), which decoding applies between the two halves of
        the marginal calibration. Exact path only.
    condition_modes : bool, default=False
        Let the conditional vector range over the modes of continuous columns too
        (:attr:`TableLayout.condition_modes`). Exact path only: a private release has no counts of
        rows per mode.
    mode_separation : float, optional
        Merge neighbouring mixture components whose Ashman's D is at most this into one mode
        (:func:`synthgan.transform.modes.merge_modes`); None keeps them all.
    mode_widening : float, optional
        With ``mode_separation``: the most a merge may widen a mode over its members' spread
        (:func:`synthgan.transform.modes.merge_widening`); None: no bound.
    learn_rounding : bool, default=True
        Round each number column's outputs to the grid its training values lie on (see
        :func:`synthgan.transform.columns.detect_columns`).
    """

    def __init__(self, max_modes: int = 10, max_categories: int = 100, gmm_max_rows: int = 5_000,
                 numeric_encoding: str = "modes", calibration: bool = False, condition_modes: bool = False,
                 mode_separation: float | None = None, learn_rounding: bool = True, dependence: bool = False,
                 mode_widening: float | None = None):
        self.max_modes = max_modes
        self.dependence = dependence
        self.learn_rounding = learn_rounding
        self.mode_separation = mode_separation
        self.mode_widening = mode_widening
        self.max_categories = max_categories
        self.gmm_max_rows = gmm_max_rows
        self.numeric_encoding = numeric_encoding
        self.calibration = calibration
        self.condition_modes = condition_modes
        self._table: ModeTable | None = None  # the continuous columns' states as arrays (see _mode_table)

    # ------------------------------------------------------------------ fitting
    def fit(self, df: pd.DataFrame, rng: np.random.Generator,
            discrete_columns: Iterable[str] | None = None,
            private: Callable[[pd.DataFrame, list[ColumnSpec], np.random.Generator], Release] | None = None,
            declared: Mapping[object, str | None] | None = None) -> DataTransformer:
        """Detect column kinds, fit each column's encoder and build the layout.

        Constant columns are kept aside in ``constants_`` and put back by :meth:`inverse_transform`;
        ``specs_`` and ``states_`` describe the modelled columns only, ``columns_`` all of them.
        ``private`` (see :func:`synthgan.privacy.statistics.release_statistics`) replaces every
        statistic read from the rows by a differentially private release, kept in ``release_``;
        :func:`exact_states` is then never called.
        """
        if private is not None and self.condition_modes:
            raise ValueError("condition_modes needs the exact path: a private release has no per-mode counts")
        specs = detect_columns(df, discrete_columns, exact=private is None, declared=declared,
                               learn_rounding=self.learn_rounding)
        release = private(df, specs, rng) if private is not None else None
        if release is not None:
            specs = list(release.specs)
        self.columns_ = [spec.name for spec in specs]
        self.constants_ = [spec for spec in specs if spec.constant]
        self.generated_ = [spec for spec in specs if spec.generated is not None]
        self.specs_ = [spec for spec in specs if not spec.set_aside]
        if self.generated_:
            listed = ", ".join(f"{s.name!r} ({s.generated['kind']})" for s in self.generated_)
            warnings.warn(f"treated as identifiers or personal data, never learned and generated fresh: {listed}; "
                          "name a column in discrete_columns to model it instead", UserWarning, stacklevel=3)
        if release is None:
            self.states_: list[ColumnState] = exact_states(df, self.specs_, rng, self.max_modes,
                                                           self.max_categories, self.gmm_max_rows,
                                                           quantile=self.numeric_encoding == "quantile",
                                                           separation=self.mode_separation,
                                                           widening=self.mode_widening)
            if self.calibration:
                self.states_ = [_with_target(state, df[spec.name], spec)
                                for spec, state in zip(self.specs_, self.states_)]
        else:
            self.states_ = [release.states[spec.name] for spec in self.specs_]
        self.release_ = release
        self.dependence_: DependenceState | None = None
        if release is None and self.calibration and self.dependence:
            self.dependence_ = self._training_dependence(df, rng)
        capped = [(spec.name, state) for spec, state in zip(self.specs_, self.states_)
                  if isinstance(state, CategoryState) and state.rare_levels]
        if capped:
            def detail(name: object, state: CategoryState) -> str:
                shown = ", ".join(map(repr, state.rare_levels[:5])) + (" ..." if len(state.rare_levels) > 5 else "")
                return f"{name!r} has {len(state.all_levels)} levels, its {len(state.rare_levels)} rarest ({shown})"

            listed = "; ".join(detail(*item) for item in capped[:5]) + (
                f"; and {len(capped) - 5} more columns" if len(capped) > 5 else "")
            warnings.warn(f"{len(capped)} column(s) have more levels than max_categories={self.max_categories}: "
                          f"{listed}. Those rarest levels share one slot per column and are drawn with their "
                          "training frequency, independently of the other columns; raise max_categories to "
                          "model them one by one", UserWarning, stacklevel=3)
        self.layout_ = self._build_layout()
        return self

    def _build_layout(self) -> TableLayout:
        spans: list[Span] = []

        def add(column: str, role: str, activation: str, width: int) -> None:
            start = spans[-1].stop if spans else 0
            spans.append(Span(column, role, activation, start, start + width))  # type: ignore[arg-type]

        for spec, state in zip(self.specs_, self.states_):
            if isinstance(state, ModeState):
                add(spec.name, "value", "tanh", 1)
                add(spec.name, "mode", "softmax", state.n_modes)
                if spec.has_nulls:
                    add(spec.name, "missing", "softmax", 2)
            else:
                add(spec.name, "category", "softmax", state.width)
        return TableLayout(tuple(spans), self.condition_modes)

    # ------------------------------------------------------------------ encoding
    def transform(self, df: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
        """Encode ``df`` (same columns as in fit) as a float32 matrix of width ``layout_.dim``."""
        return self.encode(df, rng).dense()

    def encode(self, df: pd.DataFrame, rng: np.random.Generator) -> EncodedRows:
        """Encode ``df`` (same columns as in fit) compactly: the rows :meth:`transform` gives, as one
        float per scalar span and one slot per one-hot span (what training stores)."""
        missing = [s.name for s in self.specs_ if s.name not in df.columns]
        if missing:
            raise DataError(f"columns seen in fit are missing: {missing}")
        layout = self.layout_
        values = np.zeros((len(df), len(layout.tanh_index)), dtype=np.float32)
        slots = np.zeros((len(df), len(layout.onehot_spans)), dtype=slot_dtype(layout))
        value_col, slot_col = 0, 0
        for spec, state in zip(self.specs_, self.states_):
            if isinstance(state, ModeState):
                column = continuous_values(df[spec.name], spec.kind)
                null = np.isnan(column)
                alpha, mode = encode_modes(state, np.where(null, state.center, column), rng)
                alpha[null] = 0.0
                values[:, value_col] = alpha
                slots[:, slot_col] = mode
                value_col, slot_col = value_col + 1, slot_col + 1
                if spec.has_nulls:
                    slots[:, slot_col] = null
                    slot_col += 1
            else:
                try:
                    slots[:, slot_col] = encode_categories(state, df[spec.name])
                except ValueError as exc:
                    raise DataError(f"column {spec.name!r}: {exc}") from None
                slot_col += 1
        return EncodedRows(layout, values, slots)

    def category_codes(self, encoded: np.ndarray | EncodedRows) -> np.ndarray:
        """Slot of each row in every condition span, shape ``(n_rows, n_condition_spans)``."""
        rows = encoded if isinstance(encoded, EncodedRows) else EncodedRows.from_dense(self.layout_, encoded)
        return rows.condition_codes()

    def _training_dependence(self, df: pd.DataFrame, rng: np.random.Generator) -> DependenceState | None:
        """The dependence calibration's target: the score correlation of the calibrated columns
        over (at most :data:`DEPENDENCE_ROWS` of) the training rows; None with fewer than two."""
        columns = [k for k, state in enumerate(self.states_) if isinstance(state, ModeState) and state.target is not None]
        if len(columns) < 2:
            return None
        rows = np.sort(rng.permutation(len(df))[:DEPENDENCE_ROWS])
        values = np.stack([continuous_values(df[self.specs_[k].name].iloc[rows], self.specs_[k].kind) for k in columns])
        present = ~np.isnan(values)
        probability = np.stack([grid_probability(np.asarray(self.states_[k].target), np.nan_to_num(v), rng)
                                for k, v in zip(columns, values)])
        return DependenceState.from_arrays(columns, score_correlation(probability, present))

    def fit_calibration(self, generated: Iterable[EncodedRows], rng: np.random.Generator | None = None) -> None:
        """Set every calibrated column's generated grid from decode-ready generator output.

        ``generated`` yields blocks of rows as the model's ``generate`` returns them (compact
        :class:`EncodedRows`), drawn as sampling draws them (unconditionally); the values each
        column decodes to, before calibration, give the generator's quantile grid (as many points
        as the training grid), so that decoding maps the generator's marginal onto the training one
        (:meth:`ModeState.calibrate`). With a dependence calibration (``dependence``), its map is
        fitted on the same rows, which needs ``rng`` (it spreads spikes, as decoding does).
        """
        targets = {k: dataclasses.replace(state, generated=None) for k, state in enumerate(self.states_)
                   if isinstance(state, ModeState) and state.target is not None}
        blocks: list[tuple[np.ndarray, np.ndarray]] = []
        table = ModeTable(list(targets.values()))
        for block in generated:
            blocks.append(self._decode_numbers(table, list(targets), block, None, rounded=False))
        values = np.concatenate([v for v, _ in blocks], axis=1) if blocks else np.zeros((len(targets), 0))
        present = ~np.concatenate([m for _, m in blocks], axis=1) if blocks else np.zeros(values.shape, dtype=bool)
        for row, (k, state) in enumerate(targets.items()):
            if present[row].any():
                grid = np.quantile(values[row][present[row]], np.linspace(0, 1, len(state.target)))
                state = dataclasses.replace(state, generated=tuple(map(float, grid)))
            self.states_[k] = state
        if self.dependence_ is not None:
            if rng is None:
                raise ValueError("fitting the dependence calibration needs a random generator")
            rows = [list(targets).index(k) for k in self.dependence_.columns]
            probability = np.stack([self.states_[k].probability_with(values[row], rng.random(values.shape[1]))
                                    if self.states_[k].generated is not None else np.full(values.shape[1], 0.5)
                                    for k, row in zip(self.dependence_.columns, rows)])
            self.dependence_ = self.dependence_.fitted(probability, present[rows])

    # ------------------------------------------------------------------ decoding
    def inverse_transform(self, encoded: np.ndarray | EncodedRows, rng: np.random.Generator) -> pd.DataFrame:
        """Decode rows into a typed DataFrame: compact :class:`EncodedRows` (what a model's
        ``generate`` returns), or a dense matrix whose softmax spans are read by argmax.

        The continuous columns are decoded together (:class:`ModeTable`), then the discrete ones
        in column order."""
        rows = encoded if isinstance(encoded, EncodedRows) else EncodedRows.from_dense(self.layout_, encoded)
        columns = {}
        numbers = [k for k, state in enumerate(self.states_) if isinstance(state, ModeState)]
        table = self._mode_table(numbers)
        values, missing = self._decode_numbers(table, numbers, rows, rng)
        for row, k in enumerate(numbers):
            values[row][missing[row]] = np.nan
            columns[self.specs_[k].name] = restore_dtype(values[row], self.specs_[k])
        for spec, state in zip(self.specs_, self.states_):
            if isinstance(state, CategoryState):
                span = {s.role: s for s in self.layout_.spans_of(spec.name)}["category"]
                columns[spec.name] = restore_dtype(decode_categories(state, rows.slots_of(span), rng), spec,
                                                   state.all_levels)
        for spec in self.constants_:
            columns[spec.name] = restore_dtype(np.empty(len(rows)), spec)
        for spec in self.generated_:
            columns[spec.name] = self._generate(spec, len(rows), rng, 0)
        return pd.DataFrame({name: columns[name] for name in self.columns_})

    def _mode_table(self, numbers: list[int]) -> ModeTable:
        """The :class:`ModeTable` of the continuous columns' current states (rebuilt only when a
        state changed, as :meth:`fit_calibration` changes them)."""
        states = tuple(self.states_[k] for k in numbers)
        dependence = getattr(self, "dependence_", None)
        cached = self._table
        if cached is None or len(cached.states) != len(states) or \
                any(a is not b for a, b in zip(cached.states, states)) or \
                (cached.dependence[1] if cached.dependence else None) is not dependence:
            place = {k: c for c, k in enumerate(numbers)}  # numbers: every continuous column
            joint = None if dependence is None else ([place[k] for k in dependence.columns], dependence)
            self._table = ModeTable(states, joint)
        return self._table

    def _decode_numbers(self, table: ModeTable, numbers: list[int], encoded: EncodedRows,
                        rng: np.random.Generator | None, rounded: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Decoded values and missing flags ``(columns, rows)`` of the continuous columns
        ``numbers`` (``table``: their states); values are rounded to each column's step if
        ``rounded`` (the calibration's grid is of the values before rounding, as calibration comes
        before it)."""
        layout = self.layout_
        spans = [{s.role: s for s in layout.spans_of(self.specs_[k].name)} for k in numbers]
        alpha = encoded.values[:, [layout.value_column[role["value"].start] for role in spans]].T.astype(np.float64)
        mode = encoded.slots[:, [layout.slot_column[role["mode"].start] for role in spans]].T
        values = table.decode(alpha, mode, rng)
        steps = np.array([self.specs_[k].step or 0.0 for k in numbers], dtype=np.float64)[:, None]
        stepped = (steps[:, 0] > 0) & rounded
        if stepped.any():
            values[stepped] = np.clip(round_to_steps(values[stepped], steps[stepped]),
                                      table.minimum[stepped], table.maximum[stepped])
        missing = np.zeros(values.shape, dtype=bool)
        for row, role in enumerate(spans):
            if "missing" in role:
                missing[row] = encoded.slots_of(role["missing"]) == 1
        return values, missing

    def _generate(self, spec: ColumnSpec, n: int, rng: np.random.Generator, first: int) -> pd.Series:
        plan = spec.generated
        kind = plan["kind"]
        if kind == "id-integer":
            values: list | np.ndarray = plan["start"] + first + np.arange(n)
        elif kind == "id-text":
            values = identifiers.format_ids(plan["shape"], plan.get("start", 0) + first + np.arange(n))
        else:
            values = identifiers.fake_values(kind, n, rng, tuple(plan.get("lengths", (8.0, 0.0))))
        series = pd.Series(values, name=spec.name, dtype=object)
        if plan["null_rate"] > 0 and not kind.startswith("id"):
            series[rng.random(n) < plan["null_rate"]] = None
        return series.astype(pd.api.types.pandas_dtype(spec.dtype))

    def number_ids(self, frame: pd.DataFrame, first: int) -> pd.DataFrame:
        """Renumber the identifier columns of ``frame`` from ``first`` (ids stay unique across the
        chunks of one sampling call)."""
        for spec in self.generated_:
            if spec.generated["kind"].startswith("id"):
                frame[spec.name] = self._generate(spec, len(frame), np.random.default_rng(0), first).to_numpy()
        return frame

    # ------------------------------------------------------------------ persistence
    def to_json(self) -> dict:
        return {
            "params": {"max_modes": self.max_modes, "max_categories": self.max_categories,
                       "gmm_max_rows": self.gmm_max_rows, "numeric_encoding": self.numeric_encoding,
                       "calibration": self.calibration, "condition_modes": self.condition_modes,
                       "mode_separation": self.mode_separation, "learn_rounding": self.learn_rounding,
                       "dependence": self.dependence, "mode_widening": self.mode_widening},
            "dependence": None if self.dependence_ is None else self.dependence_.to_json(),
            "columns": [
                {"spec": _spec_json(spec),
                 "modes" if isinstance(state, ModeState) else "categories": state.to_json()}
                for spec, state in zip(self.specs_, self.states_)
            ],
            "layout": self.layout_.to_json(),
            "constants": [_spec_json(spec) for spec in self.constants_],
            "generated": [_spec_json(spec) for spec in self.generated_],
            "order": list(self.columns_),
        }

    @classmethod
    def from_json(cls, data: dict) -> DataTransformer:
        self = cls(**data["params"])
        self.specs_ = [_spec_from_json(item["spec"]) for item in data["columns"]]
        self.constants_ = [_spec_from_json(item) for item in data.get("constants", [])]
        self.generated_ = [_spec_from_json(item) for item in data.get("generated", [])]
        self.columns_ = list(data.get("order", [spec.name for spec in self.specs_]))
        self.states_ = [ModeState.from_json(item["modes"]) if "modes" in item
                        else CategoryState.from_json(item["categories"]) for item in data["columns"]]
        self.layout_ = TableLayout.from_json(data["layout"], self.condition_modes)
        self.release_ = None  # a private release is not stored: what it gave lives on in the states
        stored = data.get("dependence")
        self.dependence_ = None if stored is None else DependenceState.from_json(stored)
        if self.dependence_ is not None and any(
                not 0 <= k < len(self.states_) or not isinstance(self.states_[k], ModeState)
                for k in self.dependence_.columns):
            raise ValueError("the stored dependence calibration names columns that are not numbers")
        for spec in self.specs_ + self.constants_ + self.generated_:
            if spec.kind not in ("numeric", "integer", "datetime", "categorical", "boolean"):
                raise ValueError(f"column {spec.name!r} has an unknown kind {spec.kind!r}")
            pd.api.types.pandas_dtype(spec.dtype)  # TypeError for a dtype pandas does not know
        if sorted(map(str, self.columns_)) != sorted(str(s.name) for s in self.specs_ + self.constants_
                                                      + self.generated_):
            raise ValueError("the stored column order does not match the stored columns")
        if self.layout_ != self._build_layout():
            raise ValueError("stored layout does not match the stored column states")
        return self


def exact_states(df: pd.DataFrame, specs: list[ColumnSpec], rng: np.random.Generator, max_modes: int,
                 max_categories: int, gmm_max_rows: int, quantile: bool = False,
                 separation: float | None = None, widening: float | None = None) -> list[ColumnState]:
    """Each modelled column's encoder state from its exact values (the non-private path)."""
    continuous = [spec for spec in specs if spec.continuous]
    values = [continuous_values(df[spec.name], spec.kind) for spec in continuous]
    mixtures = iter(fit_modes([v[~np.isnan(v)] for v in values], max_modes, gmm_max_rows, rng,
                              quantile=quantile, separation=separation, widening=widening))
    return [next(mixtures) if spec.continuous else fit_categories(df[spec.name], max_categories) for spec in specs]


def _with_target(state: ColumnState, column: pd.Series, spec: ColumnSpec) -> ColumnState:
    """``state`` with the training quantile grid of its column (continuous, non-constant columns)."""
    if not isinstance(state, ModeState):
        return state
    values = continuous_values(column, spec.kind)
    values = values[~np.isnan(values)]
    if not len(values) or values.min() == values.max():
        return state
    return dataclasses.replace(state, target=tuple(map(float, quantile_grid(values))))


def _spec_json(spec: ColumnSpec) -> dict:
    data = vars(spec).copy()
    if data["categories"] is not None:
        data["categories"] = list(data["categories"])
    return data


def _spec_from_json(data: dict) -> ColumnSpec:
    data = dict(data)
    if data.get("categories") is not None:
        data["categories"] = tuple(data["categories"])
    return ColumnSpec(**data)
