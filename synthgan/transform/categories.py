"""One-hot encoding of a discrete column with a cap on its width.

The ``max_categories - 1`` most frequent levels (missing counts as a level) each get a slot. When a
column has more levels than the cap, the rest share one ``other`` slot; decoding that slot draws a
concrete rare level with its training frequency. A 100k-level column therefore costs
``max_categories`` encoded columns, not 100k.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

MISSING = None  # how the missing level is stored among the levels


def _native(value: object) -> object:
    """Python scalar for JSON (numpy scalars become int/float/bool/str)."""
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return None
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


@dataclass(frozen=True)
class CategoryState:
    """Levels of one discrete column.

    Attributes
    ----------
    levels : tuple
        Levels with their own slot, most frequent first; ``None`` stands for missing.
    rare_levels, rare_probs : tuple
        Levels folded into the ``other`` slot and their relative frequencies (empty if none).
    """

    levels: tuple
    rare_levels: tuple = ()
    rare_probs: tuple = ()

    @property
    def width(self) -> int:
        return len(self.levels) + (1 if self.rare_levels else 0)

    @property
    def all_levels(self) -> tuple:
        return self.levels + self.rare_levels

    def to_json(self) -> dict:
        return {"levels": list(self.levels), "rare_levels": list(self.rare_levels),
                "rare_probs": list(self.rare_probs)}

    @classmethod
    def from_json(cls, data: dict) -> CategoryState:
        return cls(tuple(data["levels"]), tuple(data["rare_levels"]), tuple(data["rare_probs"]))


def fit_categories(series: pd.Series, max_categories: int) -> CategoryState:
    """Count the levels of ``series`` (missing included) and apply the width cap."""
    counts = series.value_counts(dropna=False, sort=True)
    counts = counts[counts > 0]  # declared categories of a categorical dtype that never occur
    levels = [_native(v) for v in counts.index]
    if len(levels) <= max_categories:
        return CategoryState(tuple(levels))
    keep = max_categories - 1
    rare = counts.to_numpy(dtype=np.float64)[keep:]
    return CategoryState(tuple(levels[:keep]), tuple(levels[keep:]), tuple((rare / rare.sum()).tolist()))


def encode_categories(state: CategoryState, series: pd.Series) -> np.ndarray:
    """Slot index of each value; unseen values fall into ``other`` if there is one, else error."""
    known = np.array([i for i, v in enumerate(state.levels) if v is not MISSING], dtype=np.int64)
    categories = [state.levels[i] for i in known]
    codes = pd.Categorical(series.astype(object), categories=categories).codes.astype(np.int64)
    if len(known):  # a column whose only level is missing (e.g. no level released privately) has none
        codes = np.where(codes >= 0, known[np.maximum(codes, 0)], -1)
    null = series.isna().to_numpy()
    if MISSING in state.levels:
        codes[null] = state.levels.index(MISSING)
    unmatched = (codes < 0) & ~null if MISSING in state.levels else codes < 0
    if unmatched.any():
        if not state.rare_levels:
            bad = series[unmatched].iloc[0]
            raise ValueError(f"value {bad!r} was not seen in training")
        codes[unmatched] = len(state.levels)
    return codes


def decode_categories(state: CategoryState, codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Object array of levels for slot indices (``other`` drawn from the rare levels)."""
    lookup = np.empty(len(state.levels) + 1, dtype=object)
    lookup[: len(state.levels)] = state.levels
    values = lookup[codes]
    other = codes == len(state.levels)
    if other.any():
        rare = np.empty(len(state.rare_levels), dtype=object)
        rare[:] = state.rare_levels
        values[other] = rare[rng.choice(len(rare), size=int(other.sum()), p=np.asarray(state.rare_probs))]
    return values
