"""Benchmark baselines and result tables (the heavy runs live in benchmarks/, not here)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchmarks.baselines import GaussianCopula, Identity, IndependentColumns
from benchmarks.run import markdown_table, speed_ratios
from synthgan.evaluation import pair_trends
from tests.conftest import make_mixed


def test_baselines_keep_dtypes_and_size():
    frame = make_mixed(300)
    for cls in (GaussianCopula, IndependentColumns, Identity):
        out = cls(random_state=0).fit(frame).sample(123)
        assert len(out) == 123 and out.dtypes.to_dict() == frame.dtypes.to_dict(), cls.__name__


def test_copula_keeps_correlation_that_independent_columns_lose():
    rng = np.random.default_rng(0)
    x = rng.normal(size=2000)
    frame = pd.DataFrame({"x": x, "y": x + 0.2 * rng.normal(size=2000), "g": np.where(x > 0, "p", "n")})
    copula = GaussianCopula(random_state=0).fit(frame).sample(2000)
    independent = IndependentColumns(random_state=0).fit(frame).sample(2000)
    assert np.corrcoef(copula["x"], copula["y"])[0, 1] > 0.9
    assert abs(np.corrcoef(independent["x"], independent["y"])[0, 1]) < 0.1
    assert pair_trends(frame, copula)["score"].mean() > pair_trends(frame, independent)["score"].mean() + 0.1


def test_speed_ratios_and_markdown():
    rows = pd.DataFrame([
        {"dataset": "d", "system": "synthgan-ctgan", "transformer_fit_s": 1.0, "epoch_s": 0.5, "sample_rows_per_s": 1e5},
        {"dataset": "d", "system": "ctgan-0.12", "transformer_fit_s": 20.0, "epoch_s": 2.0, "sample_rows_per_s": 1e4},
    ])
    ratios = speed_ratios(rows)
    assert ratios.iloc[0].to_dict() == {"dataset": "d", "transformer_fit_speedup": 20.0, "epoch_speedup": 4.0,
                                        "sampling_speedup": 10.0}
    table = markdown_table(ratios)
    assert table.splitlines()[0].startswith("| dataset |") and "| d | 20 | 4 | 10 |" in table


def test_plots_zoom_to_the_data_split_tstr_metrics_and_keep_the_legend_off_the_bars(tmp_path):
    from benchmarks.run import plot

    rows = pd.DataFrame({
        "dataset": ["a", "a", "b", "b", "a", "a"], "system": ["x", "y", "x", "y", "x", "y"],
        "quality": [0.90, 0.92, 0.85, 0.88, 0.91, 0.93], "detection_auc": [0.7, 0.6, 0.8, 0.75, 0.72, 0.61],
        "tstr_metric": ["roc_auc", "roc_auc", "r2", "r2", "roc_auc", "roc_auc"], "tstr": [0.8, 0.82, 0.5, 0.6, 0.81, 0.8],
    })
    figure = plot(rows, tmp_path / "quality.png")
    axes = figure.axes
    assert [ax.get_title() for ax in axes] == ["sdmetrics quality (higher better)", "detection AUC (0.5 best)",
                                               "TSTR ROC-AUC (higher better)", "TSTR R-squared (higher better)"]
    low, high = axes[0].get_ylim()
    assert 0.8 < low < 0.85 and 0.93 < high < 0.96  # zoomed to the data, not from 0
    assert [t.get_text() for t in axes[3].get_xticklabels()] == ["b"]  # R-squared only for the regression set
    assert not any(ax.get_legend() for ax in axes) and len(figure.legends) == 1  # one legend, outside the panels
    assert (tmp_path / "quality.png").stat().st_size > 0


def test_result_rows_write_the_header_once_and_know_what_was_recorded(tmp_path, capsys):
    from benchmarks.run import ResultRows

    results = ResultRows(tmp_path / "out" / "r.csv")
    assert results.recorded("system", "seed") == set()
    results.append({"system": "a", "seed": 0, "score": 0.5})
    ResultRows(tmp_path / "out" / "r.csv").append({"system": "b", "seed": 1, "score": 0.25})
    lines = (tmp_path / "out" / "r.csv").read_text().splitlines()
    assert lines == ["system,seed,score", "a,0,0.5", "b,1,0.25"]
    assert results.recorded("system", "seed") == {("a", "0"), ("b", "1")}
    assert "'system': 'b'" in capsys.readouterr().out
