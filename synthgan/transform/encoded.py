"""Encoded training rows, stored compactly and expanded to the layout's dense matrix a batch at a time.

The dense encoding is mostly zeros: every one-hot span holds a single 1 per row. Storing the
training table that way costs ``rows x layout.dim`` floats (kddcup99's 494,021 rows encode to 225
columns: 424 MiB), while the same information is one float per scalar span and one slot number per
one-hot span (kddcup99: 106 MiB, with 16-bit slots). :class:`EncodedRows` keeps that compact form in numpy;
:class:`DeviceRows` keeps it on the training device and builds the dense rows of a batch with one
scatter, so no per-column loop runs in the training step and the dense table never exists.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import torch

from synthgan.layout import Span, TableLayout

_HASH_BLOCK_ROWS = 8192


def slot_dtype(layout: TableLayout) -> np.dtype:
    """The smallest integer type that holds every one-hot span's slot numbers."""
    widest = max((s.width for s in layout.onehot_spans), default=1)
    return np.dtype(np.int16 if widest <= np.iinfo(np.int16).max else np.int32)


def first_max(block: torch.Tensor) -> torch.Tensor:
    """The argmax over the last axis of ``block`` (rows, spans, width), the first on ties; for
    width 2 one comparison, several times faster than torch's argmax over a short last axis."""
    return (block[..., 1] > block[..., 0]).long() if block.shape[-1] == 2 else block.argmax(dim=-1)


def span_argmax(layout: TableLayout, encoded: np.ndarray) -> np.ndarray:
    """The slot each row picks in every one-hot span of ``encoded`` (its argmax, the first on ties),
    shape ``(rows, len(layout.onehot_spans))``.

    Spans of one width are read together (``layout.onehot_groups``), from one gathered
    ``(rows, spans, width)`` block on torch's threads: one call per distinct width instead of one
    numpy call per span (kddcup99 has 40 one-hot spans, most of them mode spans).
    """
    slots = np.zeros((len(encoded), len(layout.onehot_spans)), dtype=np.int64)
    if not layout.onehot_groups:
        return slots
    table = torch.from_numpy(np.ascontiguousarray(encoded))
    for width, members, columns in layout.onehot_groups:
        block = table.index_select(1, torch.from_numpy(columns)).view(len(table), len(members), width)
        slots[:, members] = first_max(block).numpy()
    return slots


@dataclass(frozen=True)
class EncodedRows:
    """Encoded rows as ``values`` (one float32 per scalar span, in ``layout.tanh_index`` order) and
    ``slots`` (the hot slot of every one-hot span, in layout order).

    ``dense()`` gives exactly the matrix :meth:`DataTransformer.transform` returns.
    """

    layout: TableLayout
    values: np.ndarray
    slots: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.values)
        if self.values.shape != (n, len(self.layout.tanh_index)) or \
                self.slots.shape != (n, len(self.layout.onehot_spans)):
            raise ValueError(f"encoded rows do not match the layout: values {self.values.shape}, "
                             f"slots {self.slots.shape}")

    def __len__(self) -> int:
        return len(self.values)

    @property
    def shape(self) -> tuple[int, int]:
        """Shape of the dense matrix these rows stand for."""
        return len(self), self.layout.dim

    @property
    def nbytes(self) -> int:
        return self.values.nbytes + self.slots.nbytes

    def dense(self, rows: np.ndarray | slice | None = None) -> np.ndarray:
        """The dense float32 matrix of the given rows (all by default)."""
        values = self.values if rows is None else self.values[rows]
        slots = self.slots if rows is None else self.slots[rows]
        out = np.zeros((len(values), self.layout.dim), dtype=np.float32)
        out[:, self.layout.tanh_index] = values
        np.put_along_axis(out, slots.astype(np.int64) + self.layout.onehot_start, 1.0, axis=1)
        return out

    @classmethod
    def from_dense(cls, layout: TableLayout, dense: np.ndarray) -> EncodedRows:
        """The compact form of dense rows (or of decode-ready scores): the tanh columns as they are
        and each one-hot span's argmax (:func:`span_argmax`)."""
        return cls(layout, np.asarray(dense)[:, layout.tanh_index], span_argmax(layout, dense))

    def slots_of(self, span: Span) -> np.ndarray:
        """The hot slot of one one-hot span in every row."""
        return self.slots[:, self.layout.slot_column[span.start]]

    def condition_codes(self) -> np.ndarray:
        """Slot of each row in every condition span, shape ``(n_rows, n_condition_spans)``."""
        codes = [self.slots_of(span) for span in self.layout.condition_spans]
        return np.column_stack(codes).astype(np.int64) if codes else np.zeros((len(self), 0), dtype=np.int64)

    def sha256(self) -> str:
        """Hash of the dense matrix's bytes, computed a block of rows at a time."""
        digest = hashlib.sha256()
        for first in range(0, len(self), _HASH_BLOCK_ROWS):
            digest.update(self.dense(slice(first, first + _HASH_BLOCK_ROWS)).tobytes())
        return digest.hexdigest()

    def to(self, device: torch.device) -> DeviceRows:
        return DeviceRows(self, device)


class DeviceRows:
    """:class:`EncodedRows` on a torch device; indexing with row numbers gives dense rows."""

    def __init__(self, rows: EncodedRows, device: torch.device):
        layout = rows.layout
        self.dim = layout.dim
        self.values = torch.as_tensor(rows.values, device=device)
        self.slots = torch.as_tensor(rows.slots, device=device)
        self.tanh_index = torch.as_tensor(layout.tanh_index, device=device)
        self.starts = torch.as_tensor(layout.onehot_start, device=device)

    def __len__(self) -> int:
        return len(self.values)

    def __getitem__(self, index: torch.Tensor) -> torch.Tensor:
        values = self.values[index]
        out = values.new_zeros((len(values), self.dim)).index_copy_(1, self.tanh_index, values)
        return out.scatter_(1, self.slots[index].long() + self.starts, 1.0)
