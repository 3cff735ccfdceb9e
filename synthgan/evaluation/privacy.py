"""Privacy: does the synthetic table give away the training rows?

- distance to closest record (DCR): synthetic -> train, against holdout -> train as the baseline of
  what "new data from the same population" looks like (median and 5th percentile);
- exact-copy rate: synthetic rows identical to a training row;
- nearest-neighbour distance ratio (NNDR): distance to the closest over the second closest train row;
- membership inference: a distance attack that calls a real row a member when a synthetic row lies
  close to it; ROC-AUC over train (members) vs holdout (non-members) rows, 0.5 is ideal.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import NearestNeighbors

from synthgan.evaluation.encoding import FeatureEncoder


def _subsample(frame: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    return frame if len(frame) <= n else frame.iloc[np.sort(rng.choice(len(frame), n, replace=False))]


def _row_hashes(frame: pd.DataFrame) -> np.ndarray:
    return pd.util.hash_pandas_object(frame.reset_index(drop=True), index=False).to_numpy()


def exact_copy_rate(train: pd.DataFrame, synthetic: pd.DataFrame) -> float:
    """Share of synthetic rows that equal some training row in every column."""
    train_hashes = _row_hashes(train)
    synthetic_hashes = _row_hashes(synthetic[train.columns].astype(train.dtypes.to_dict()))
    return float(np.isin(synthetic_hashes, train_hashes).mean()) if len(synthetic) else 0.0


def _nearest(reference: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    index = NearestNeighbors(n_neighbors=min(k, len(reference)), algorithm="brute").fit(reference)
    return index.kneighbors(queries, return_distance=True)[0]


def privacy_scores(train: pd.DataFrame, synthetic: pd.DataFrame, holdout: pd.DataFrame | None = None,
                   rng: np.random.Generator | None = None, max_rows: int = 5_000) -> dict:
    """DCR, exact-copy rate, NNDR and membership-inference AUC.

    Parameters
    ----------
    train : DataFrame
        The real rows the generator was trained on.
    synthetic : DataFrame
        Generated rows.
    holdout : DataFrame, optional
        Real rows the generator never saw; needed for the DCR baseline and the attack.
    rng : numpy Generator, optional
        Used for row subsampling.
    max_rows : int
        Each table is subsampled to at most this many rows for the distance computations
        (the exact-copy rate uses every row).
    """
    rng = rng or np.random.default_rng(0)
    synthetic = synthetic[train.columns]
    out: dict = {"exact_copy_rate": exact_copy_rate(train, synthetic)}
    train_rows = _subsample(train, max_rows * 4, rng)
    encoder = FeatureEncoder(max_levels=20).fit(train_rows)
    reference = encoder.transform(train_rows)
    # the attack needs every synthetic row a member may have been copied into, so keep as many
    # synthetic rows as training rows; the DCR statistics use a subsample of them
    synthetic_all = encoder.transform(_subsample(synthetic, max_rows * 4, rng))
    synthetic_x = synthetic_all[np.sort(rng.choice(len(synthetic_all), min(max_rows, len(synthetic_all)),
                                                   replace=False))]
    distances = _nearest(reference, synthetic_x, 2)
    dcr = distances[:, 0]
    out["dcr_synthetic_median"] = float(np.median(dcr))
    out["dcr_synthetic_p5"] = float(np.percentile(dcr, 5))
    if distances.shape[1] > 1:
        ratio = np.where(distances[:, 1] > 0, distances[:, 0] / np.maximum(distances[:, 1], 1e-12), 1.0)
        out["nndr_median"] = float(np.median(ratio))
    if holdout is not None and len(holdout):
        holdout_x = encoder.transform(_subsample(holdout[train.columns], max_rows, rng))
        baseline = _nearest(reference, holdout_x, 1)[:, 0]
        out["dcr_holdout_median"] = float(np.median(baseline))
        out["dcr_holdout_p5"] = float(np.percentile(baseline, 5))
        n = min(len(holdout_x), len(reference))
        members = reference[rng.choice(len(reference), n, replace=False)]
        non_members = holdout_x[rng.choice(len(holdout_x), n, replace=False)]
        closeness = -_nearest(synthetic_all, np.vstack([members, non_members]), 1)[:, 0]
        labels = np.concatenate([np.ones(n), np.zeros(n)])
        out["mia_auc"] = float(roc_auc_score(labels, closeness))
    return out
