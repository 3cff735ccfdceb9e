"""Evaluators on tables with known answers."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from synthgan.errors import DataError
from synthgan.evaluation import (column_shapes, evaluate, exact_copy_rate, ks_complement, pair_trends,
                                 task_of, train_synthetic_test_real, tv_complement)


def correlated(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    label = np.where(x + 0.3 * rng.normal(size=n) > 0.5, "yes", "no")
    return pd.DataFrame({
        "x": x,
        "y": 2 * x + 0.1 * rng.normal(size=n),
        "k": rng.integers(0, 5, n),
        "color": np.where(x > 0, "red", "blue"),
        "label": label,
    })


@pytest.fixture
def table() -> pd.DataFrame:
    return correlated(1500, 0)


def shuffled_independently(frame: pd.DataFrame, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({c: frame[c].to_numpy()[rng.permutation(len(frame))] for c in frame.columns})


def test_ks_and_tv_known_values():
    assert ks_complement(np.arange(10.0), np.arange(10.0)) == 1.0
    assert ks_complement(np.zeros(10), np.ones(10)) == 0.0
    assert tv_complement(np.array([0, 0, 1, 1]), np.array([0, 0, 0, 0]), 2) == pytest.approx(0.5)


def test_identical_tables_score_one_and_are_flagged_as_copies(table):
    holdout = correlated(800, 7)
    result = evaluate(table, table.copy(), target="label", holdout=holdout)
    fidelity = result.scores["fidelity"]
    assert fidelity["column_shapes"] == pytest.approx(1.0)
    assert fidelity["pair_trends"] == pytest.approx(1.0)
    assert fidelity["detection_auc"] < 0.6 and fidelity["detection_score"] > 0.8
    assert fidelity["sdmetrics_quality"] > 0.99
    privacy = result.scores["privacy"]
    assert privacy["exact_copy_rate"] == 1.0
    assert privacy["dcr_synthetic_median"] == 0.0 and privacy["dcr_holdout_median"] > 0
    assert privacy["mia_auc"] > 0.95
    tstr = result.scores["utility"]["tstr"]
    assert tstr["ratio"]["accuracy"] == pytest.approx(1.0)


def test_independent_columns_lose_pair_trends_not_shapes(table):
    shuffled = shuffled_independently(table)
    shapes = column_shapes(table, shuffled)
    assert (shapes["score"] == 1.0).all()  # same marginals
    pairs = pair_trends(table, shuffled)
    xy = pairs[(pairs.column_a == "x") & (pairs.column_b == "y")].iloc[0]
    assert xy.metric == "CorrelationSimilarity" and xy.score < 0.6
    assert pairs["score"].mean() < pair_trends(table, table)["score"].mean() - 0.1
    result = evaluate(table, shuffled, sdmetrics=False, augmentation=False)
    assert result.scores["fidelity"]["detection_auc"] > 0.8  # a classifier sees the broken structure


def test_fresh_sample_is_private_and_useful(table):
    fresh = correlated(1500, 3)
    holdout = correlated(800, 7)
    result = evaluate(table, fresh, target="label", holdout=holdout, sdmetrics=False)
    privacy = result.scores["privacy"]
    assert privacy["exact_copy_rate"] == 0.0
    assert 0.35 < privacy["mia_auc"] < 0.65
    assert privacy["dcr_synthetic_median"] == pytest.approx(privacy["dcr_holdout_median"], rel=0.5)
    assert result.scores["utility"]["tstr"]["ratio"]["accuracy"] > 0.9
    augmentation = result.scores["utility"]["augmentation"]
    assert set(augmentation) >= {"real_only", "synthetic_augmented", "smote", "gain_vs_real_only"}


def test_useless_synthetic_labels_hurt_tstr(table):
    holdout = correlated(800, 7)
    noisy = table.copy()
    noisy["label"] = np.random.default_rng(0).permutation(noisy["label"].to_numpy())
    scores = train_synthetic_test_real(table, noisy, holdout, "label")
    assert scores["synthetic"]["roc_auc"] < 0.65 < scores["real"]["roc_auc"]


def test_tstr_scores_synthetic_rows_with_a_class_generated_once():
    """Above 10,000 rows the gradient-boosted model holds out a stratified share for early stopping,
    which cannot split a class with one row (a synthesizer generated it once): TSTR still scores."""
    train, holdout = correlated(12_000, 1), correlated(800, 7)
    synthetic = train.copy()
    synthetic["label"] = "no"
    synthetic.loc[5, "label"] = "yes"
    scores = train_synthetic_test_real(train, synthetic, holdout, "label")
    assert 0.0 <= scores["synthetic"]["roc_auc"] <= 1.0 and scores["real"]["roc_auc"] > 0.8


def test_regression_task_reports_r2(table):
    holdout = correlated(800, 7)
    assert task_of(table["y"]) == "regression" and task_of(table["label"]) == "classification"
    assert task_of(table["k"]) == "classification"
    scores = train_synthetic_test_real(table, table, holdout, "y")
    assert scores["real"]["r2"] > 0.9 and set(scores["real"]) == {"r2"}


def test_exact_copy_rate_counts_partial_copies(table):
    synthetic = pd.concat([table.iloc[:100], correlated(300, 9)], ignore_index=True)
    assert exact_copy_rate(table, synthetic) == pytest.approx(0.25)


def test_result_object_views_and_html(table, tmp_path):
    result = evaluate(table, correlated(500, 4), sdmetrics=False, detection=False, target="label")
    frame = result.to_frame()
    assert list(frame.columns) == ["section", "metric", "value", "direction", "meaning"]
    assert {"fidelity", "utility", "privacy"} <= set(frame["section"])
    data = json.loads(result.to_json())
    assert data["fidelity"]["column_shapes"] == pytest.approx(result.scores["fidelity"]["column_shapes"])
    assert any("no holdout" in n for n in result.notes)
    path = tmp_path / "report.html"
    result.write_html(path, table, correlated(500, 4))
    text = path.read_text()
    assert text.count("data:image/png;base64,") == 2 and "column_shapes" in text


def test_missing_values_and_datetimes_are_handled():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"v": np.where(rng.random(300) < 0.3, np.nan, rng.normal(size=300)),
                          "c": pd.Series(rng.choice(["a", None], 300), dtype=object),
                          "t": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 100, 300), unit="D")})
    result = evaluate(frame, frame.sample(frac=1, random_state=0), sdmetrics=False)
    assert result.scores["fidelity"]["column_shapes"] == pytest.approx(1.0)
    assert np.isfinite(result.to_frame()["value"]).all()


def test_bad_tables_are_rejected(table):
    with pytest.raises(DataError, match="lacks columns"):
        evaluate(table, table.drop(columns=["x"]))
    with pytest.raises(DataError, match="target column 'nope'"):
        evaluate(table, table, target="nope")
    with pytest.raises(DataError, match="empty"):
        evaluate(table, table.iloc[:0])


def test_report_draws_without_pyplot_or_a_backend_switch(table, tmp_path):
    import subprocess
    import sys

    code = ("import sys, numpy as np, pandas as pd\n"
            "from synthgan.evaluation.report import distribution_figure, difference_figure\n"
            "from synthgan.evaluation import pair_trends\n"
            "rng = np.random.default_rng(0)\n"
            "f = pd.DataFrame({'a': rng.normal(size=200), 'b': rng.normal(size=200), 'c': rng.choice(['x', 'y'], 200)})\n"
            "assert distribution_figure(f, f) and difference_figure(pair_trends(f, f), f, f)\n"
            "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot was imported'\n"
            "import matplotlib\n"
            "assert matplotlib.rcParams._get_backend_or_none() in (None, 'template'), "
            "matplotlib.rcParams._get_backend_or_none()\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={"MPLBACKEND": "template", "PATH": ""})
    assert done.returncode == 0, done.stderr


def test_one_column_kind_detector_for_transform_and_evaluation():
    from synthgan.evaluation.metadata import sdtype_of
    from synthgan.transform.columns import detect_columns
    from tests.conftest import make_mixed

    frame = make_mixed().assign(yes=pd.Series([True, False] * 120, dtype=object),
                                code=pd.Series(range(240), dtype="Int64"))
    expected = {"numeric": "numerical", "integer": "numerical", "datetime": "datetime", "boolean": "boolean",
                "categorical": "categorical"}
    for spec in detect_columns(frame):
        assert sdtype_of(frame[spec.name]) == expected[spec.kind], spec.name
    assert sdtype_of(frame["yes"]) == "boolean"  # object column of booleans, as the transformer sees it
    assert sdtype_of(pd.Series(pd.to_timedelta([1, 2], unit="s"))) == "categorical"  # not modellable


def test_verdicts_tell_a_fresh_sample_from_a_copy_and_from_broken_tables(table):
    holdout = correlated(800, 11)
    fresh = evaluate(table, correlated(1500, 7), target="label", holdout=holdout, sdmetrics=False, augmentation=False)
    assert {k: v["verdict"] for k, v in fresh.verdicts.items()} == {"fidelity": "pass", "utility": "pass",
                                                                       "privacy": "pass"}
    copy = evaluate(table, table.copy(), target="label", holdout=holdout, sdmetrics=False, augmentation=False)
    assert copy.verdicts["privacy"]["verdict"] == "fail" and "100.0% of synthetic rows copy" in \
        copy.verdicts["privacy"]["reasons"][0]
    broken = shuffled_independently(correlated(1500, 8))
    bad = evaluate(table, broken, target="label", holdout=holdout, sdmetrics=False, augmentation=False)
    assert bad.verdicts["fidelity"]["verdict"] == "fail" and bad.verdicts["utility"]["verdict"] == "fail"
    assert bad.references["independent"]["pair_trends"] < bad.references["holdout"]["pair_trends"]
    assert bad.references["holdout"]["detection_auc"] < 0.6 < bad.references["independent"]["detection_auc"]


def test_report_leads_with_verdicts_and_says_what_was_skipped(table, tmp_path):
    history = pd.DataFrame({"epoch": [1, 2, 3], "generator_loss": [1.0, 0.8, 0.7], "critic_loss": [0.5, 0.4, 0.3],
                            "seconds": [0.1] * 3, "val_fidelity": [0.7, np.nan, 0.8]})
    result = evaluate(table, correlated(1500, 7), sdmetrics=False, detection=False, history=history,
                      provenance={"real_file": "train.csv"})
    text = result.summary()
    # without a holdout the ceiling is a perfect copy, which even fresh real rows do not reach
    assert text.splitlines()[0].startswith("FIDELITY  WARN: column shapes") and "a perfect copy" in text
    assert text.splitlines()[1].startswith("PRIVACY   WARN")
    assert "worst columns:" in text and "(higher better)" in text and "(lower better)" in text
    assert "skipped: utility (TSTR vs TRTR, augmentation): no target column given" in text
    assert "skipped: detection AUC: switched off" in text
    page = result.to_html(table, correlated(1500, 7))
    assert page.index("Fidelity: <span") < page.index("Quality <b>") < page.index("Worst columns")
    assert "train.csv" in page and "synthgan version" in page and "How the verdicts are decided" in page
    assert page.count("data:image/png;base64,") == 3  # history, distributions, pair differences
    assert "max-width:100%" in page
    data = json.loads(result.to_json())
    assert data["verdicts"]["fidelity"]["verdict"] == "warn" and data["provenance"]["real_file"] == "train.csv"
    frame = result.to_frame().set_index("metric")
    assert frame.loc["detection_auc" if "detection_auc" in frame.index else "overall", "direction"] == \
        "higher is better"
    assert frame.loc["mia_auc" if "mia_auc" in frame.index else "exact_copy_rate", "direction"] == "lower is better"


def test_missing_imbalanced_learn_is_reported_not_silent(table, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_imblearn(name, *args, **kwargs):
        if name.startswith("imblearn"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_imblearn)
    result = evaluate(table, correlated(600, 3), target="label", sdmetrics=False, detection=False)
    assert any(s.startswith("SMOTE comparison: imbalanced-learn is not installed") for s in result.skipped)
