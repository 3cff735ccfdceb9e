"""Fidelity: does the synthetic table look like the real one?

- column shapes: KS complement (numbers, datetimes) or total-variation complement (categories);
- pair trends: correlation similarity (number pairs) or contingency similarity (other pairs);
- detection: cross-validated ROC-AUC of a classifier telling real from synthetic (0.5 is ideal);
- the sdmetrics QualityReport score, for comparison with the ecosystem.
"""

from __future__ import annotations

import warnings
from itertools import combinations

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from synthgan.evaluation.encoding import BinEncoder, FeatureEncoder, is_numeric_column, numeric_values
from synthgan.evaluation.metadata import sdmetrics_metadata


def ks_complement(real: np.ndarray, synthetic: np.ndarray) -> float:
    """``1 - KS statistic`` of two samples (missing values ignored); 1 means identical CDFs."""
    a = np.sort(real[~np.isnan(real)])
    b = np.sort(synthetic[~np.isnan(synthetic)])
    if len(a) == 0 or len(b) == 0:
        return float(len(a) == len(b))
    grid = np.concatenate([a, b])
    gap = np.abs(np.searchsorted(a, grid, side="right") / len(a) - np.searchsorted(b, grid, side="right") / len(b))
    return float(1.0 - gap.max())


def tv_complement(real_codes: np.ndarray, synthetic_codes: np.ndarray, width: int) -> float:
    """``1 - total variation distance`` of two categorical samples given as codes ``< width``."""
    p = np.bincount(real_codes, minlength=width) / max(len(real_codes), 1)
    q = np.bincount(synthetic_codes, minlength=width) / max(len(synthetic_codes), 1)
    return float(1.0 - 0.5 * np.abs(p - q).sum())


def column_shapes(real: pd.DataFrame, synthetic: pd.DataFrame, bins: BinEncoder | None = None) -> pd.DataFrame:
    """One row per column: ``column``, ``metric``, ``score`` in [0, 1]."""
    bins = bins or BinEncoder().fit(real)
    rows = []
    real_codes, synthetic_codes = bins.transform(real), bins.transform(synthetic[real.columns])
    for k, column in enumerate(real.columns):
        if is_numeric_column(real[column]):
            score = ks_complement(numeric_values(real[column]), numeric_values(synthetic[column]))
            rows.append((column, "KSComplement", score))
        else:
            score = tv_complement(real_codes[:, k], synthetic_codes[:, k], bins.width(column))
            rows.append((column, "TVComplement", score))
    return pd.DataFrame(rows, columns=["column", "metric", "score"])


def _correlations(frame: pd.DataFrame, columns: list) -> np.ndarray:
    block = pd.DataFrame({c: numeric_values(frame[c]) for c in columns})
    return block.corr(method="pearson").to_numpy()


def pair_trends(real: pd.DataFrame, synthetic: pd.DataFrame, bins: BinEncoder | None = None) -> pd.DataFrame:
    """One row per column pair: ``column_a``, ``column_b``, ``metric``, ``score`` in [0, 1].

    Number pairs use ``1 - |corr_real - corr_synthetic| / 2`` (Pearson); every other pair uses
    ``1 - TV`` between the joint distributions of the binned columns.
    """
    bins = bins or BinEncoder().fit(real)
    columns = list(real.columns)
    numeric = [c for c in columns if is_numeric_column(real[c])]
    real_corr, synthetic_corr = _correlations(real, numeric), _correlations(synthetic, numeric)
    position = {c: i for i, c in enumerate(numeric)}
    real_codes, synthetic_codes = bins.transform(real), bins.transform(synthetic[columns])
    rows = []
    for i, j in combinations(range(len(columns)), 2):
        a, b = columns[i], columns[j]
        if a in position and b in position:
            r, s = real_corr[position[a], position[b]], synthetic_corr[position[a], position[b]]
            if np.isnan(r) or np.isnan(s):
                score = float(np.isnan(r) and np.isnan(s))
            else:
                score = float(1.0 - abs(r - s) / 2.0)
            rows.append((a, b, "CorrelationSimilarity", score))
        else:
            width = bins.width(b)
            joint_real = real_codes[:, i] * width + real_codes[:, j]
            joint_synthetic = synthetic_codes[:, i] * width + synthetic_codes[:, j]
            score = tv_complement(joint_real, joint_synthetic, bins.width(a) * width)
            rows.append((a, b, "ContingencySimilarity", score))
    return pd.DataFrame(rows, columns=["column_a", "column_b", "metric", "score"])


class FidelityScorer:
    """synthgan's fidelity score against fixed real rows: the mean of the column-shape and the
    pair-trend means (the ``overall`` of :func:`synthgan.evaluation.evaluate`'s fidelity section).

    The bins are fitted on ``real`` once, so scoring many synthetic tables against the same rows
    (validation during training) pays only for the synthetic side.
    """

    def __init__(self, real: pd.DataFrame):
        self.real = real
        self.bins = BinEncoder().fit(real)

    def scores(self, synthetic: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, float]]:
        """``(column_shapes, pair_trends, summary)`` where summary has ``column_shapes``,
        ``pair_trends`` and ``overall``."""
        shapes = column_shapes(self.real, synthetic, self.bins)
        pairs = pair_trends(self.real, synthetic, self.bins)
        shape_score = float(shapes["score"].mean())
        pair_score = float(pairs["score"].mean()) if len(pairs) else float("nan")
        summary = {"column_shapes": shape_score, "pair_trends": pair_score,
                   "overall": float(np.nanmean([shape_score, pair_score]))}
        return shapes, pairs, summary

    def score(self, synthetic: pd.DataFrame) -> float:
        """The overall score in [0, 1] (1: same shapes and pair trends as the real rows)."""
        return self.scores(synthetic)[2]["overall"]


def detection_auc(real: pd.DataFrame, synthetic: pd.DataFrame, rng: np.random.Generator,
                  max_rows: int = 20_000, folds: int = 3) -> float:
    """Cross-validated ROC-AUC of gradient boosting telling real rows from synthetic ones.

    Both tables are subsampled to the same size (at most ``max_rows``); 0.5 means the classifier
    cannot tell them apart, 1.0 means it always can.
    """
    n = min(len(real), len(synthetic), max_rows)
    real_rows = real.iloc[rng.choice(len(real), n, replace=False)]
    synthetic_rows = synthetic[real.columns].iloc[rng.choice(len(synthetic), n, replace=False)]
    encoder = FeatureEncoder(onehot=False).fit(real_rows)
    X = np.vstack([encoder.transform(real_rows), encoder.transform(synthetic_rows)])
    y = np.concatenate([np.zeros(n), np.ones(n)])
    scores = np.zeros(len(y))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=int(rng.integers(2**31 - 1)))
    for train, test in splitter.split(X, y):
        model = HistGradientBoostingClassifier(max_iter=100, random_state=0,
                                               categorical_features=encoder.tree_categorical_features)
        model.fit(X[train], y[train])
        scores[test] = model.predict_proba(X[test])[:, 1]
    return float(roc_auc_score(y, scores))


def sdmetrics_quality(real: pd.DataFrame, synthetic: pd.DataFrame, rng: np.random.Generator,
                      max_rows: int = 20_000) -> float:
    """sdmetrics QualityReport overall score on at most ``max_rows`` rows of each table."""
    with warnings.catch_warnings():  # the single-table module warns on import that it is deprecated
        warnings.simplefilter("ignore", FutureWarning)
        from sdmetrics.reports.single_table import QualityReport

    if len(real) > max_rows:
        real = real.iloc[rng.choice(len(real), max_rows, replace=False)]
    if len(synthetic) > max_rows:
        synthetic = synthetic.iloc[rng.choice(len(synthetic), max_rows, replace=False)]
    report = QualityReport()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report.generate(real, synthetic[real.columns], sdmetrics_metadata(real), verbose=False)
    return float(report.get_score())
