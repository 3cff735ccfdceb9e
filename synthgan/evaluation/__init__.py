"""Evaluation of synthetic tables: fidelity, utility and privacy.

>>> from synthgan.evaluation import evaluate
>>> result = evaluate(train, synthetic, target="income", holdout=test)   # doctest: +SKIP
>>> result.to_frame(); result.write_html("report.html", train, synthetic)  # doctest: +SKIP
"""

from __future__ import annotations

import datetime
import logging

import numpy as np
import pandas as pd

from synthgan.errors import DataError
from synthgan.evaluation.fidelity import (FidelityScorer, column_shapes, detection_auc, ks_complement,
                                          pair_trends, sdmetrics_quality, tv_complement)
from synthgan.evaluation.privacy import exact_copy_rate, privacy_scores
from synthgan.evaluation import verdicts as verdicts_module
from synthgan.evaluation.report import EvaluationResult
from synthgan.evaluation.utility import augmentation_gain, task_of, train_synthetic_test_real
from synthgan.transform import identifiers

logger = logging.getLogger(__name__)

__all__ = ["evaluate", "EvaluationResult", "FidelityScorer", "column_shapes", "pair_trends", "detection_auc",
           "sdmetrics_quality", "ks_complement", "tv_complement", "train_synthetic_test_real", "augmentation_gain", "task_of",
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


def _independent(real: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Each column shuffled on its own: the real marginals exactly, every relation between columns broken."""
    return pd.DataFrame({c: real[c].to_numpy()[rng.permutation(len(real))] for c in real.columns},
                        index=real.index).astype(real.dtypes.to_dict())


def _provenance(real: pd.DataFrame, synthetic: pd.DataFrame, holdout: pd.DataFrame | None, target: str | None,
                random_state: int, given: dict | None) -> dict:
    import sklearn
    import torch

    from synthgan._version import __version__

    info = {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "real_rows": len(real), "synthetic_rows": len(synthetic),
            "holdout_rows": None if holdout is None else len(holdout), "columns": real.shape[1],
            "target": target, "evaluation_seed": random_state, "synthgan_version": __version__,
            "torch_version": torch.__version__, "scikit_learn_version": sklearn.__version__}
    return {**info, **(given or {})}


def evaluate(real: pd.DataFrame, synthetic: pd.DataFrame, target: str | None = None,
             holdout: pd.DataFrame | None = None, random_state: int = 0, detection: bool = True,
             sdmetrics: bool = True, augmentation: bool = True, max_rows: int = 20_000,
             history: pd.DataFrame | None = None, provenance: dict | None = None) -> EvaluationResult:
    """Score ``synthetic`` against ``real`` (the rows the generator was trained on) and say what to conclude.

    Parameters
    ----------
    real : DataFrame
        Training rows of the generator.
    synthetic : DataFrame
        Generated rows with the same columns.
    target : str, optional
        Column to predict; enables the utility section.
    holdout : DataFrame, optional
        Real rows the generator never saw: the test set for utility, the non-members for the
        privacy baseline and attack, and the ceiling of the fidelity scale (real rows differ from
        each other too). Without it utility is measured on a split of ``real`` (which the
        generator has seen; a note says so) and privacy is judged on copies only.
    random_state : int
        Seed of the subsampling, splits, shuffles and classifiers.
    detection, sdmetrics, augmentation : bool
        Switch off the slower parts (the report says what was skipped).
    max_rows : int
        Row cap for the detection classifier; half of it for sdmetrics, a quarter for the distance
        queries (the distance reference set is four times the queries).
    history : DataFrame, optional
        The model's ``history_``, plotted in the report.
    provenance : dict, optional
        Extra header entries for the report (input files, model parameters, ...).

    Returns
    -------
    EvaluationResult
        Scores, per-column and per-pair tables, references computed in the same call (the
        independent-columns baseline, the holdout, the identity), a verdict per section and what
        was skipped and why.
    """
    _check_tables(real, synthetic, holdout, target)
    rng = np.random.default_rng(random_state)
    notes: list[str] = []
    skipped: list[str] = []
    # identifier and personal-data columns are generated fresh, not learned: comparing them says nothing
    fresh = [c for c in real.columns if c != target and identifiers.detect(real[c]) is not None]
    if fresh and len(fresh) < real.shape[1]:
        skipped.append(f"columns {fresh}: identifiers or personal data, which synthgan generates fresh rather "
                       "than learns, so they are not compared")
        real = real.drop(columns=fresh)
        holdout = None if holdout is None else holdout.drop(columns=fresh)
    synthetic = synthetic[real.columns]
    scorer = FidelityScorer(real)
    shapes, pairs, fidelity = scorer.scores(synthetic)
    independent = _independent(real, rng)
    references: dict = {"independent": scorer.scores(independent)[2],
                        "identity": {"column_shapes": 1.0, "pair_trends": 1.0, "overall": 1.0, "detection_auc": 0.5,
                                     "exact_copy_rate": 1.0, "dcr_synthetic_median": 0.0}}
    if holdout is not None:
        holdout = holdout[real.columns]
        references["holdout"] = {**scorer.scores(holdout)[2], "exact_copy_rate": exact_copy_rate(real, holdout)}
    if detection:
        auc = detection_auc(real, synthetic, rng, max_rows=max_rows)
        fidelity["detection_auc"] = auc
        fidelity["detection_score"] = float(min(1.0, 2.0 * (1.0 - auc)))
        references["independent"]["detection_auc"] = detection_auc(real, independent, rng, max_rows=max_rows)
        if holdout is not None:
            references["holdout"]["detection_auc"] = detection_auc(real, holdout, rng, max_rows=max_rows)
    else:
        skipped.append("detection AUC: switched off (detection=False)")
    if sdmetrics:
        fidelity["sdmetrics_quality"] = sdmetrics_quality(real, synthetic, rng, max_rows=max_rows // 2)
    else:
        skipped.append("sdmetrics quality: switched off (sdmetrics=False)")

    utility = None
    if target is not None:
        if holdout is None:
            order = rng.permutation(len(real))
            cut = int(0.7 * len(real))
            train, test = real.iloc[order[:cut]], real.iloc[order[cut:]]
            notes.append("no holdout given: utility is tested on 30% of the training rows, which the "
                         "generator has seen; pass holdout= for an honest estimate")
        else:
            train, test = real, holdout
        utility = {"tstr": train_synthetic_test_real(train, synthetic, test, target, seed=random_state)}
        if not augmentation:
            skipped.append("augmentation gain: switched off (augmentation=False)")
        elif utility["tstr"]["task"] != "classification":
            skipped.append(f"augmentation gain: {target!r} is numeric; it is defined for class labels")
        else:
            utility["augmentation"] = augmentation_gain(train, synthetic, test, target, seed=random_state)
            if utility["augmentation"].get("smote_note"):
                skipped.append(f"SMOTE comparison: {utility['augmentation'].pop('smote_note')}")
    else:
        skipped.append("utility (TSTR vs TRTR, augmentation): no target column given (target=)")
    privacy = privacy_scores(real, synthetic, holdout, rng, max_rows=max_rows // 4)
    if holdout is None:
        skipped.append("privacy references (holdout DCR, membership-inference attack): no holdout given")
        notes.append("no holdout given: fidelity is judged against a perfect copy, which even fresh real rows "
                     "do not reach; pass holdout= to judge against real sampling noise")
    scores = {"fidelity": fidelity, "utility": utility, "privacy": privacy}
    verdicts = {"fidelity": verdicts_module.fidelity_verdict(fidelity, references),
                "privacy": verdicts_module.privacy_verdict(privacy, references)}
    if utility is not None:
        verdicts["utility"] = verdicts_module.utility_verdict(utility)
    return EvaluationResult(scores=scores, column_shapes=shapes, pair_trends=pairs, notes=notes,
                            references=references, verdicts=verdicts, skipped=skipped, history=history,
                            provenance=_provenance(real, synthetic, holdout, target, random_state, provenance))
