"""Shared numeric encodings of mixed tables for the evaluators.

Two views are fitted on the real table and applied to any table with the same columns:

- :class:`FeatureEncoder`: standardized numbers (+ a missing indicator) and one-hot categories,
  for distances and classifiers;
- :class:`BinEncoder`: every column as small integer codes (numbers in real-quantile bins), for
  contingency tables.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthgan.evaluation.metadata import sdtype_of
from synthgan.transform.columns import continuous_values

MAX_LEVELS = 50


def numeric_values(series: pd.Series) -> np.ndarray:
    """Float64 values of a numerical or datetime column, NaN where missing."""
    if pd.api.types.is_datetime64_any_dtype(series.dtype) or sdtype_of(series) == "datetime":
        return continuous_values(series, "datetime")
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def is_numeric_column(series: pd.Series) -> bool:
    return sdtype_of(series) in ("numerical", "datetime")


def level_codes(series: pd.Series, levels: list) -> np.ndarray:
    """Index of each value in ``levels``; missing maps to ``len(levels)``, unknown to ``len(levels) + 1``."""
    codes = pd.Categorical(series.astype(object).where(series.notna(), None), categories=levels).codes
    codes = codes.astype(np.int64)
    codes[(codes < 0) & series.isna().to_numpy()] = len(levels)
    codes[codes < 0] = len(levels) + 1
    return codes


def _levels(series: pd.Series, max_levels: int) -> list:
    counts = series.dropna().astype(object).value_counts()
    return list(counts.index[:max_levels])


class FeatureEncoder:
    """Standardized numbers plus categories, fitted on the real table.

    With ``onehot=True`` (for distances) numbers get a missing indicator and categories a scaled
    one-hot block. With ``onehot=False`` (for tree models) numbers keep NaN for missing and each
    category column is one column of integer codes; :attr:`categorical_mask_` marks those columns
    for ``HistGradientBoosting*(categorical_features=...)``.
    """

    def __init__(self, max_levels: int = MAX_LEVELS, onehot: bool = True):
        self.max_levels = max_levels
        self.onehot = onehot

    @property
    def categorical_mask_(self) -> np.ndarray:
        """Which output columns hold category codes (``onehot=False`` only)."""
        return np.array([False] * len(self.numeric_) + [True] * len(self.discrete_))

    @property
    def tree_categorical_features(self) -> list | None:
        """``categorical_features`` argument for scikit-learn's histogram gradient boosting."""
        mask = self.categorical_mask_
        return mask.tolist() if mask.any() else None

    def fit(self, real: pd.DataFrame) -> FeatureEncoder:
        self.numeric_ = [c for c in real.columns if is_numeric_column(real[c])]
        self.discrete_ = [c for c in real.columns if c not in self.numeric_]
        block = np.column_stack([numeric_values(real[c]) for c in self.numeric_]) if self.numeric_ else \
            np.zeros((len(real), 0))
        self.mean_ = np.nan_to_num(np.nanmean(block, axis=0)) if block.size else np.zeros(0)
        std = np.nanstd(block, axis=0) if block.size else np.zeros(0)
        self.std_ = np.where(np.nan_to_num(std) > 0, np.nan_to_num(std), 1.0)
        self.levels_ = {c: _levels(real[c], self.max_levels) for c in self.discrete_}
        return self

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        parts = []
        if self.numeric_:
            block = (np.column_stack([numeric_values(frame[c]) for c in self.numeric_]) - self.mean_) / self.std_
            missing = np.isnan(block)
            if not self.onehot:
                parts.append(block)
            else:
                parts.append(np.where(missing, 0.0, block))
                parts.append(missing.astype(np.float64))
        for column in self.discrete_:
            levels = self.levels_[column]
            codes = level_codes(frame[column], levels)
            if not self.onehot:
                parts.append(codes[:, None].astype(np.float64))
                continue
            onehot = np.zeros((len(frame), len(levels) + 2))
            onehot[np.arange(len(frame)), codes] = 1.0
            # scale so that a category mismatch costs as much as a 1-sd numeric gap
            parts.append(onehot / np.sqrt(2.0))
        return np.hstack(parts).astype(np.float32) if parts else np.zeros((len(frame), 0), np.float32)


class BinEncoder:
    """Each column as integer codes: numbers in up to ``bins`` real-quantile bins, categories by level."""

    def __init__(self, bins: int = 10, max_levels: int = MAX_LEVELS):
        self.bins = bins
        self.max_levels = max_levels

    def fit(self, real: pd.DataFrame) -> BinEncoder:
        self.edges_: dict = {}
        self.levels_: dict = {}
        for column in real.columns:
            if is_numeric_column(real[column]):
                values = numeric_values(real[column])
                edges = np.unique(np.nanquantile(values, np.linspace(0, 1, self.bins + 1)[1:-1]))
                self.edges_[column] = edges
            else:
                self.levels_[column] = _levels(real[column], self.max_levels)
        return self

    def width(self, column) -> int:
        """Number of distinct codes ``column`` can take (missing and other included)."""
        if column in self.edges_:
            return len(self.edges_[column]) + 2
        return len(self.levels_[column]) + 2

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        columns = []
        for column in frame.columns:
            if column in self.edges_:
                values = numeric_values(frame[column])
                codes = np.searchsorted(self.edges_[column], values, side="right")
                codes[np.isnan(values)] = len(self.edges_[column]) + 1
            else:
                codes = level_codes(frame[column], self.levels_[column])
            columns.append(codes)
        return np.column_stack(columns).astype(np.int64)
