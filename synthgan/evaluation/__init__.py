"""Evaluation of synthetic tables: fidelity, utility and privacy.

>>> from synthgan.evaluation import evaluate
>>> result = evaluate(train, synthetic, target="income", holdout=test)   # doctest: +SKIP
>>> result.to_frame(); result.write_html("report.html", train, synthetic)  # doctest: +SKIP
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from synthgan.errors import DataError
from synthgan.evaluation.fidelity import (FidelityScorer, column_shapes, detection_auc, ks_complement,
                                          pair_trends, sdmetrics_quality, tv_complement)
from synthgan.evaluation.privacy import exact_copy_rate, privacy_scores
from synthgan.evaluation.report import EvaluationResult
from synthgan.evaluation.utility import augmentation_gain, task_of, train_synthetic_test_real

logger = logging.getLogger(__name__)

__all__ = ["evaluate", "EvaluationResult", "FidelityScorer", "column_shapes", "pair_trends", "detection_auc", "sdmetrics_quality",
           "ks_complement", "tv_complement", "train_synthetic_test_real", "augmentation_gain", "task_of",
           "privacy_scores", "exact_copy_rate"]


def _check_tables(real: pd.DataFrame, synthetic: pd.DataFrame, holdout: pd.DataFrame | None,
                  target: str | None) -> None:
    for name, frame in (("real", real), ("synthetic", synthetic), ("holdout", holdout)):
        if frame is None:
            continue
        if not isinstance(frame, pd.DataFrame):
            raise DataError(f"the {name} table must be a pandas DataFrame, got {type(frame).__name__}")
        if len(frame) == 0:
            raise DataError(f"the {name} table is empty")
        missing = [c for c in real.columns if c not in frame.columns]
        if missing:
            raise DataError(f"the {name} table lacks columns of the real table: {missing}")
    if target is not None and target not in real.columns:
        raise DataError(f"target column {target!r} is not in the real table; columns: {list(real.columns)}")


def evaluate(real: pd.DataFrame, synthetic: pd.DataFrame, target: str | None = None,
             holdout: pd.DataFrame | None = None, random_state: int = 0, detection: bool = True,
             sdmetrics: bool = True, augmentation: bool = True, max_rows: int = 20_000) -> EvaluationResult:
    """Score ``synthetic`` against ``real`` (the rows the generator was trained on).

    Parameters
    ----------
    real : DataFrame
        Training rows of the generator.
    synthetic : DataFrame
        Generated rows with the same columns.
    target : str, optional
        Column to predict; enables the utility section.
    holdout : DataFrame, optional
        Real rows the generator never saw: the test set for utility and the non-members for the
        privacy baseline and attack. Without it utility is measured on a split of ``real`` (which the
        generator has seen; a note says so) and the privacy baselines are skipped.
    random_state : int
        Seed of the subsampling, splits and classifiers.
    detection, sdmetrics, augmentation : bool
        Switch off the slower parts.
    max_rows : int
        Row cap for the detection classifier; half of it for sdmetrics, a quarter for the distance
        queries (the distance reference set is four times the queries).

    Returns
    -------
    EvaluationResult
    """
    _check_tables(real, synthetic, holdout, target)
    rng = np.random.default_rng(random_state)
    synthetic = synthetic[real.columns]
    notes: list[str] = []
    shapes, pairs, fidelity = FidelityScorer(real).scores(synthetic)
    if detection:
        auc = detection_auc(real, synthetic, rng, max_rows=max_rows)
        fidelity["detection_auc"] = auc
        fidelity["detection_score"] = float(min(1.0, 2.0 * (1.0 - auc)))
    if sdmetrics:
        fidelity["sdmetrics_quality"] = sdmetrics_quality(real, synthetic, rng, max_rows=max_rows // 2)

    utility = None
    if target is not None:
        if holdout is None:
            order = rng.permutation(len(real))
            cut = int(0.7 * len(real))
            train, test = real.iloc[order[:cut]], real.iloc[order[cut:]]
            notes.append("no holdout given: utility is tested on 30% of the training rows, which the "
                         "generator has seen; pass holdout= for an honest estimate")
        else:
            train, test = real, holdout[real.columns]
        utility = {"tstr": train_synthetic_test_real(train, synthetic, test, target, seed=random_state)}
        if augmentation and utility["tstr"]["task"] == "classification":
            utility["augmentation"] = augmentation_gain(train, synthetic, test, target, seed=random_state)
    privacy = privacy_scores(real, synthetic, holdout[real.columns] if holdout is not None else None, rng,
                             max_rows=max_rows // 4)
    if holdout is None:
        notes.append("no holdout given: DCR baseline and membership-inference AUC are not computed")
    scores = {"fidelity": fidelity, "utility": utility, "privacy": privacy}
    return EvaluationResult(scores=scores, column_shapes=shapes, pair_trends=pairs, notes=notes)
