"""Utility: is the synthetic table useful for learning the real task?

- train-synthetic-test-real (TSTR) against train-real-test-real (TRTR) on held-out real rows, with a
  fixed gradient-boosting model (classification: accuracy, macro-F1, ROC-AUC; regression: R2);
- augmentation gain: a small real training set, balanced with synthetic minority rows, against
  the same set alone and against SMOTE (imbalanced-learn, optional extra).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.metrics import accuracy_score, f1_score, r2_score, roc_auc_score

from synthgan.errors import DataError
from synthgan.evaluation.encoding import FeatureEncoder, is_numeric_column

MAX_CLASSES_FOR_INTEGER_TARGET = 20


def task_of(target: pd.Series) -> str:
    """``classification`` or ``regression`` for a target column."""
    if is_numeric_column(target) and not pd.api.types.is_bool_dtype(target.dtype):
        integer = pd.api.types.is_integer_dtype(target.dtype)
        if not integer or target.nunique() > MAX_CLASSES_FOR_INTEGER_TARGET:
            return "regression"
    return "classification"


def _xy(frame: pd.DataFrame, target: str, encoder: FeatureEncoder) -> tuple[np.ndarray, np.ndarray]:
    keep = frame[target].notna().to_numpy()
    frame = frame[keep]
    return encoder.transform(frame.drop(columns=[target])), frame[target].to_numpy()


def _labels(y: np.ndarray) -> np.ndarray:
    return np.asarray([str(v) for v in y], dtype=object)


def _model(task: str, seed: int, encoder: FeatureEncoder):
    params = dict(max_iter=200, random_state=seed, categorical_features=encoder.tree_categorical_features)
    if task == "classification":
        return HistGradientBoostingClassifier(**params)
    return HistGradientBoostingRegressor(**params)


def _scores(task: str, model, X: np.ndarray, y: np.ndarray, classes: np.ndarray) -> dict:
    if task == "regression":
        return {"r2": float(r2_score(y, model.predict(X)))}
    y = _labels(y)
    predicted = model.predict(X)
    proba = np.zeros((len(X), len(classes)))
    known = {c: i for i, c in enumerate(classes)}
    proba[:, [known[c] for c in model.classes_]] = model.predict_proba(X)
    present = np.isin(classes, np.unique(y))
    result = {"accuracy": float(accuracy_score(y, predicted)),
              "macro_f1": float(f1_score(y, predicted, average="macro", labels=classes[present]))}
    if present.sum() == 2 and len(classes) == 2:
        result["roc_auc"] = float(roc_auc_score(y == classes[1], proba[:, 1]))
    elif present.sum() > 2:
        p = proba[:, present] / np.maximum(proba[:, present].sum(axis=1, keepdims=True), 1e-12)
        result["roc_auc"] = float(roc_auc_score(y, p, multi_class="ovr", labels=classes[present]))
    return result


def train_synthetic_test_real(train: pd.DataFrame, synthetic: pd.DataFrame, test: pd.DataFrame, target: str,
                              seed: int = 0) -> dict:
    """TSTR and TRTR scores of the same model on ``test``.

    Returns
    -------
    dict with ``task``, ``real`` (TRTR scores), ``synthetic`` (TSTR scores) and, per metric,
    ``ratio`` = synthetic / real.
    """
    if target not in train.columns:
        raise DataError(f"target column {target!r} is not in the table")
    task = task_of(train[target])
    encoder = FeatureEncoder(onehot=False).fit(train.drop(columns=[target]))
    X_test, y_test = _xy(test, target, encoder)
    classes = np.unique(_labels(np.concatenate([train[target].dropna().to_numpy(),
                                                synthetic[target].dropna().to_numpy()]))) \
        if task == "classification" else np.zeros(0)
    out: dict = {"task": task}
    for name, frame in (("real", train), ("synthetic", synthetic)):
        X, y = _xy(frame, target, encoder)
        model = _model(task, seed, encoder)
        if task == "classification":
            y = _labels(y)
            counts = np.unique(y, return_counts=True)[1]
            if len(counts) < 2:
                out[name] = {"error": f"only one class of {target!r} in the {name} training rows"}
                continue
            if counts.min() < 2:
                # early stopping holds out a stratified share of the rows, which needs two rows of
                # every class; a class generated once cannot be split, so train for max_iter instead
                model.set_params(early_stopping=False)
        model.fit(X, y)
        out[name] = _scores(task, model, X_test, y_test, classes)
    if "error" not in out["real"] and "error" not in out["synthetic"]:
        out["ratio"] = {k: out["synthetic"][k] / out["real"][k] if out["real"][k] else float("nan")
                        for k in out["real"]}
    return out


def _minority_f1(y_true: np.ndarray, y_pred: np.ndarray, minority: str) -> float:
    return float(f1_score(y_true, y_pred, labels=[minority], average="macro", zero_division=0))


def augmentation_gain(train: pd.DataFrame, synthetic: pd.DataFrame, test: pd.DataFrame, target: str,
                      small_fraction: float = 0.2, seed: int = 0) -> dict:
    """Macro-F1 and minority-class F1 on ``test`` for three training sets built from a small real set.

    ``real_only``: a stratified ``small_fraction`` of ``train``; ``synthetic_augmented``: the same
    plus synthetic rows of each minority class up to the majority count; ``smote``: the same
    oversampled with SMOTE (``None`` when imbalanced-learn is not installed).
    """
    if task_of(train[target]) != "classification":
        return {"skipped": f"augmentation gain is defined for classification; {target!r} is numeric"}
    rng = np.random.default_rng(seed)
    train = train[train[target].notna()]
    labels = _labels(train[target].to_numpy())
    picks = [rng.choice(np.flatnonzero(labels == c), max(2, int(round(small_fraction * (labels == c).sum()))),
                        replace=False) for c in np.unique(labels)]
    small = train.iloc[np.sort(np.concatenate(picks))]
    encoder = FeatureEncoder(onehot=False).fit(small.drop(columns=[target]))
    X_small, y_small = _xy(small, target, encoder)
    y_small = _labels(y_small)
    X_test, y_test = _xy(test, target, encoder)
    y_test = _labels(y_test)
    counts = pd.Series(y_small).value_counts()
    minority = str(counts.index[-1])

    def score(X: np.ndarray, y: np.ndarray) -> dict:
        model = _model("classification", seed, encoder).fit(X, y)
        predicted = model.predict(X_test)
        return {"macro_f1": float(f1_score(y_test, predicted, average="macro")),
                "minority_f1": _minority_f1(y_test, predicted, minority), "train_rows": int(len(y))}

    result: dict = {"minority_class": minority, "real_only": score(X_small, y_small)}
    synthetic_labels = _labels(synthetic[target].to_numpy())
    extra = [synthetic.iloc[rng.permutation(np.flatnonzero(synthetic_labels == c))[: counts.max() - n]]
             for c, n in counts.items() if n < counts.max()]
    if extra:
        X_extra, y_extra = _xy(pd.concat(extra), target, encoder)
        result["synthetic_augmented"] = score(np.vstack([X_small, X_extra]),
                                              np.concatenate([y_small, _labels(y_extra)]))
    else:
        result["synthetic_augmented"] = result["real_only"]
    try:
        from imblearn.over_sampling import SMOTE, SMOTENC
    except ImportError:
        result["smote"] = None
        result["smote_note"] = "imbalanced-learn is not installed (pip install synthgan[bench])"
    else:
        neighbours = int(min(5, counts.min() - 1))
        if neighbours < 1:
            result["smote"] = None
            result["smote_note"] = "a class has fewer than 2 rows"
        else:
            mask = encoder.categorical_mask_
            # SMOTE interpolates; numbers' NaN become 0 (the mean) and category codes are drawn
            # from the neighbours (SMOTE-NC) rather than averaged
            X_fill = np.nan_to_num(X_small)
            sampler = SMOTENC(np.flatnonzero(mask).tolist(), k_neighbors=neighbours, random_state=seed) if mask.any() and not mask.all() \
                else SMOTE(k_neighbors=neighbours, random_state=seed)
            X_res, y_res = sampler.fit_resample(X_fill, y_small)
            result["smote"] = score(X_res, y_res)
    result["gain_vs_real_only"] = result["synthetic_augmented"]["macro_f1"] - result["real_only"]["macro_f1"]
    if result.get("smote"):
        result["gain_vs_smote"] = result["synthetic_augmented"]["macro_f1"] - result["smote"]["macro_f1"]
    return result
