"""The one description of the encoded table that every other part reads.

A :class:`TableLayout` is an ordered, frozen tuple of :class:`Span` objects. Each span is a run of
adjacent output columns of the encoded matrix together with the activation the generator applies
to it. The generator, the conditional loss, the training sampler and the inverse transform all
derive what they need (index tensors, segment ids, the conditional block) from this object, so
there are no parallel index arrays to keep in step.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np

SpanRole = Literal["value", "mode", "category", "missing"]
Activation = Literal["tanh", "softmax"]


@dataclass(frozen=True)
class Span:
    """A run of encoded columns ``[start, stop)`` that belongs to one source column.

    Parameters
    ----------
    column : str
        Name of the source column.
    role : {"value", "mode", "category", "missing"}
        ``value``: the scaled scalar of a mode-normalized number; ``mode``: the one-hot GMM mode;
        ``category``: the one-hot category of a discrete column; ``missing``: the 2-way
        present/missing indicator of a numeric column with nulls.
    activation : {"tanh", "softmax"}
        Output activation the generator applies to the span.
    start, stop : int
        Half-open range of the span in the encoded matrix.
    """

    column: str
    role: SpanRole
    activation: Activation
    start: int
    stop: int

    @property
    def width(self) -> int:
        return self.stop - self.start


@dataclass(frozen=True)
class TableLayout:
    """Ordered spans covering the encoded matrix ``[0, dim)`` without gaps.

    Attributes
    ----------
    spans : tuple of Span
    condition_modes : bool, default=False
        The conditional vector also ranges over the modes of numbers and datetimes (every mode
        span of two or more modes), as CTAB-GAN conditions on them (Zhao et al., 2021).
    """

    spans: tuple[Span, ...]
    condition_modes: bool = False

    def __post_init__(self) -> None:
        position = 0
        for span in self.spans:
            if span.start != position or span.stop <= span.start:
                raise ValueError(f"span {span} does not continue the layout at {position}")
            if span.activation == "tanh" and span.width != 1:
                raise ValueError(f"tanh span {span} must be one column wide")
            position = span.stop

    @property
    def dim(self) -> int:
        """Width of the encoded matrix."""
        return self.spans[-1].stop if self.spans else 0

    @cached_property
    def tanh_index(self) -> np.ndarray:
        """Encoded columns that take a tanh."""
        return np.array([s.start for s in self.spans if s.activation == "tanh"], dtype=np.int64)

    @cached_property
    def onehot_spans(self) -> tuple[Span, ...]:
        """The one-hot (softmax) spans, in order: the slots of a compactly stored row."""
        return tuple(s for s in self.spans if s.activation == "softmax")

    @cached_property
    def onehot_start(self) -> np.ndarray:
        """First encoded column of every one-hot span, in order."""
        return np.array([s.start for s in self.onehot_spans], dtype=np.int64)

    @cached_property
    def onehot_groups(self) -> tuple[tuple[int, np.ndarray, np.ndarray], ...]:
        """The one-hot spans of two or more slots grouped by width, ascending: ``(width, members,
        columns)``, with ``members`` the spans' positions among ``onehot_spans`` and ``columns``
        their encoded columns, span after span (a one-slot span always holds slot 0)."""
        widths = np.array([s.width for s in self.onehot_spans], dtype=np.int64)
        groups = []
        for width in np.unique(widths[widths > 1]):
            members = np.flatnonzero(widths == width)
            groups.append((int(width), members, (self.onehot_start[members][:, None] + np.arange(width)).ravel()))
        return tuple(groups)

    @cached_property
    def slot_column(self) -> dict[int, int]:
        """For each one-hot span (keyed by its first column), its position among ``onehot_spans``:
        its column in a compact row's slots."""
        return {s.start: k for k, s in enumerate(self.onehot_spans)}

    @cached_property
    def value_column(self) -> dict[int, int]:
        """For each tanh span (keyed by its column), its position in ``tanh_index``: its column in
        a compact row's values."""
        return {int(start): k for k, start in enumerate(self.tanh_index)}

    @cached_property
    def column_span(self) -> np.ndarray:
        """For each encoded column, the number of the span it belongs to."""
        return np.repeat(np.arange(len(self.spans)), [s.width for s in self.spans]).astype(np.int64)

    @cached_property
    def condition_spans(self) -> tuple[Span, ...]:
        """Spans the conditional vector ranges over: discrete columns' categories and numeric
        columns' missing indicators (so training-by-sampling also teaches the missing rate), and
        with ``condition_modes`` the modes of numeric columns that have two or more."""
        return tuple(s for s in self.spans if s.role in ("category", "missing")
                     or (self.condition_modes and s.role == "mode" and s.width >= 2))

    @property
    def condition_dim(self) -> int:
        """Width of the conditional vector (total categories over all discrete columns)."""
        return int(sum(s.width for s in self.condition_spans))

    @cached_property
    def condition_index(self) -> np.ndarray:
        """Encoded column of each conditional-vector entry."""
        parts = [np.arange(s.start, s.stop) for s in self.condition_spans]
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, dtype=np.int64)

    def spans_of(self, column: str) -> tuple[Span, ...]:
        """All spans of one source column, in order."""
        return tuple(s for s in self.spans if s.column == column)

    def to_json(self) -> list[dict]:
        return [
            {"column": s.column, "role": s.role, "activation": s.activation,
             "start": s.start, "stop": s.stop}
            for s in self.spans
        ]

    @classmethod
    def from_json(cls, items: list[dict], condition_modes: bool = False) -> TableLayout:
        """The layout of :meth:`to_json`'s spans (``condition_modes`` is kept by the transformer's
        parameters, not in the span list)."""
        return cls(tuple(Span(**item) for item in items), condition_modes)
