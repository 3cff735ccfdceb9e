"""Benchmark baselines and result tables (the heavy runs live in benchmarks/, not here)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchmarks.baselines import GaussianCopula, Identity, IndependentColumns, PrivateGaussianCopula
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


def test_private_copula_keeps_a_strong_correlation_at_a_loose_budget_and_calibrates_its_noise(monkeypatch):
    from opacus.accountants.utils import get_noise_multiplier

    rng = np.random.default_rng(0)
    x = rng.normal(size=3000)
    frame = pd.DataFrame({"x": x, "y": x + 0.3 * rng.normal(size=3000), "g": np.where(x > 0, "p", "n"),
                          "z": rng.normal(size=3000)})
    model = PrivateGaussianCopula(epsilon=10.0, random_state=0).fit(frame)
    out = model.sample(3000)
    assert len(out) == 3000 and out.dtypes.to_dict() == frame.dtypes.to_dict()
    assert np.corrcoef(out["x"], out["y"])[0, 1] > 0.8
    assert abs(np.corrcoef(out["x"], out["z"])[0, 1]) < 0.15
    assert (out.loc[out["x"] > 0.5, "g"] == "p").mean() > 0.8  # a category follows the numbers too
    # the correlation's noise is the Gaussian mechanism at its share of the budget (delta: 1e-5 for 3,000 rows)
    assert model.noise_multiplier_ == get_noise_multiplier(target_epsilon=5.0, target_delta=0.5e-5, sample_rate=1.0,
                                                           steps=1)
    # the noise is really added: without it (same seed) the correlation is the clipped rows' own
    monkeypatch.setattr("opacus.accountants.utils.get_noise_multiplier", lambda **kw: 0.0)
    exact = PrivateGaussianCopula(epsilon=10.0, random_state=0).fit(frame).corr_
    assert 0 < np.abs(model.corr_ - exact).max() < 0.05


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


def test_result_rows_follow_the_file_header_whatever_the_key_order_and_add_new_columns(tmp_path):
    """Rows appended by a later version of a script (keys in another order, a key fewer or more)
    land under the right columns of the existing file."""
    from benchmarks.run import ResultRows

    path = tmp_path / "r.csv"
    ResultRows(path).append({"system": "a", "seed": 0, "score": 0.5})
    ResultRows(path).append({"score": 0.25, "system": "b", "seed": 1})  # another order
    ResultRows(path).append({"system": "c", "seed": 2})  # a key fewer: blank
    ResultRows(path).append({"seed": 3, "extra": 7, "system": "d", "score": 0.125})  # a new key: a new column
    table = pd.read_csv(path)
    assert list(table.columns) == ["system", "seed", "score", "extra"]
    assert table["system"].tolist() == ["a", "b", "c", "d"] and table["seed"].tolist() == [0, 1, 2, 3]
    assert table["score"].tolist()[:2] == [0.5, 0.25] and pd.isna(table["score"][2]) and table["score"][3] == 0.125
    assert table["extra"].isna().tolist() == [True, True, True, False] and table["extra"][3] == 7


def _budget_rows() -> pd.DataFrame:
    rows = []
    for seed in (0, 1):
        for budget, quality in ((15.0, 0.80), (30.0, 0.86), (60.0, 0.90)):
            rows.append({"dataset": "d", "system": "synthgan-ctgan", "seed": seed, "budget_s": budget,
                         "quality": quality + 0.01 * seed, "tstr": 0.5, "tstr_metric": "r2", "train_s": budget})
        rows.append({"dataset": "d", "system": "ctgan-0.12-300ep", "seed": seed, "budget_s": np.nan,
                     "quality": 0.85, "tstr": 0.4, "tstr_metric": "r2", "train_s": 400.0 + 100 * seed})
        rows.append({"dataset": "d", "system": "holdout", "seed": seed, "budget_s": np.nan, "quality": 0.91,
                     "tstr": np.nan, "tstr_metric": None, "train_s": np.nan})
    return pd.DataFrame(rows)


def test_summary_gives_mean_and_spread_per_system_and_budget():
    from benchmarks.run import summary_table

    table = summary_table(_budget_rows())
    assert list(zip(table.system, table.budget_s)) == [("synthgan-ctgan", "15"), ("synthgan-ctgan", "30"),
                                                       ("synthgan-ctgan", "60"), ("ctgan-0.12-300ep", ""),
                                                       ("holdout", "")]
    first = table.iloc[0]
    assert first.seeds == 2 and first.quality == "0.805 ± 0.007" and first.tstr == "0.500 ± 0.000"
    assert table.iloc[4].tstr == ""  # no TSTR for the holdout


def test_time_to_quality_finds_the_first_budget_reaching_ctgans_300_epochs():
    from benchmarks.run import time_to_quality_check

    check = time_to_quality_check(_budget_rows()).iloc[0]
    assert check["synthgan-ctgan budget reaching it"] == 30.0  # mean 0.865 >= 0.85; 15 s gives 0.805
    assert check["fraction of ctgan time"] == 30.0 / 450.0 and check["target (at most 0.1)"] == "met"
    slow = _budget_rows().assign(train_s=lambda f: f.train_s.where(f.system != "ctgan-0.12-300ep", 200.0))
    assert time_to_quality_check(slow).iloc[0]["target (at most 0.1)"] == "missed"  # 30 s > 20 s
    high = _budget_rows().assign(quality=lambda f: f.quality.where(f.system != "ctgan-0.12-300ep", 0.99))
    assert time_to_quality_check(high).iloc[0]["target (at most 0.1)"] == "not reached at any budget run"
    assert time_to_quality_check(_budget_rows().query("system != 'ctgan-0.12-300ep'")).empty


def test_time_to_quality_plot_has_a_curve_a_reference_line_and_a_point(tmp_path):
    from benchmarks.run import plot_time_to_quality

    ((path, figure),) = plot_time_to_quality(_budget_rows(), tmp_path).items()
    assert path.name == "time_to_quality_d.png" and path.stat().st_size > 0
    quality = figure.axes[0]
    curves = {line.get_label(): line for line in quality.get_lines() if not line.get_label().startswith("_")}
    curves.update({bars.get_label(): bars.lines[0] for bars in quality.containers})  # errorbar: label on the container
    assert list(curves["synthgan-ctgan"].get_xdata()) == [15.0, 30.0, 60.0]
    assert list(curves["holdout"].get_ydata()) == [0.91, 0.91]  # a level, not a curve
    assert list(curves["ctgan-0.12-300ep"].get_xdata()) == [450.0]  # one point at its training time
    assert quality.get_xscale() == "log" and "TSTR r2" in figure.axes[1].get_title()
    assert "holdout" not in [line.get_label() for line in figure.axes[1].get_lines()]  # it has no TSTR
    assert len(figure.legends) == 1


def test_budget_lists_parse_and_refuse_nonsense():
    import argparse

    import pytest

    from benchmarks.run import _budgets

    assert _budgets("60,15, 30,15") == [15.0, 30.0, 60.0]
    for bad in ("abc", "0", ""):
        with pytest.raises(argparse.ArgumentTypeError, match="--budget"):
            _budgets(bad)


def test_the_holdout_system_scores_real_rows_against_train_without_a_tstr():
    from benchmarks.run import score_holdout

    frame = make_mixed(400)
    row = score_holdout(frame.iloc[:300], frame.iloc[300:], seed=0)
    assert 0.8 < row["quality"] <= 1.0 and row["tstr"] is None and row["mia_auc"] is None
    assert row["exact_copy_rate"] == 0.0 and row["dcr_median"] > 0  # fresh real rows, not copies


def test_replot_rewrites_the_outputs_but_keeps_the_command_that_made_them(tmp_path, monkeypatch, capsys):
    import sys

    from benchmarks import run

    rows = _budget_rows().assign(detection_auc=0.9, trtr=0.6, dcr_holdout_median=0.3)
    rows.to_csv(tmp_path / "results.csv", index=False)
    (tmp_path / "results.md").write_text("# Benchmark results\n\nCommand: `python -m benchmarks.run --seeds 0 1`\n")
    monkeypatch.setattr(sys, "argv", ["run", "--out", str(tmp_path), "--replot"])
    run.main()
    text = (tmp_path / "results.md").read_text()
    assert "Command: `python -m benchmarks.run --seeds 0 1`" in text and "--replot" not in text
    assert "0.805 ± 0.007" in text and (tmp_path / "time_to_quality_d.png").exists()


def test_privacy_replot_keeps_the_command_and_draws_every_private_gan(tmp_path, monkeypatch):
    import sys

    from benchmarks import privacy

    rows = [{"dataset": "d", "system": system, "epsilon": 3, "seed": seed, "epsilon_spent": 2.99 if "dp" in system
             else None, "train_s": 1.0, "quality": 0.8 + 0.01 * seed, "tstr": 0.5, "mia_auc": 0.5,
             "detection_auc": 0.9}
            for system in ("synthgan-dp-dropout0", "synthgan-dp-dropout0.5", "private-copula") for seed in (0, 1)]
    pd.DataFrame(rows).to_csv(tmp_path / "privacy.csv", index=False)
    (tmp_path / "summary.md").write_text("Command: `python -m benchmarks.privacy --epsilons 3`\n")
    drawn = []
    monkeypatch.setattr("matplotlib.axes.Axes.errorbar", lambda self, *a, label=None, **k: drawn.append(label))
    monkeypatch.setattr(sys, "argv", ["privacy", "--out", str(tmp_path), "--replot"])
    privacy.main()
    text = (tmp_path / "summary.md").read_text()
    assert "Command: `python -m benchmarks.privacy --epsilons 3`" in text and "--replot" not in text
    assert {"synthgan-dp-dropout0", "synthgan-dp-dropout0.5", "private-copula"} <= set(drawn)


def test_privacy_variant_names_a_system_and_its_parameters():
    import argparse

    from benchmarks.privacy import parse_variant

    assert parse_variant("critic64=discriminator_dim:64,64;discriminator_lr:1e-3") == (
        "critic64", {"discriminator_dim": (64, 64), "discriminator_lr": 1e-3})
    assert parse_variant("g3=generator_steps:3") == ("g3", {"generator_steps": 3})
    assert parse_variant("target=target:@target") == ("target", {"target": "@target"})  # the dataset's target
    assert parse_variant("dc=discrete_calibration:true") == ("dc", {"discrete_calibration": True})
    assert parse_variant("dc=discrete_calibration:False") == ("dc", {"discrete_calibration": False})
    assert parse_variant("q=numeric_encoding:quantile") == ("q", {"numeric_encoding": "quantile"})  # a word
    assert parse_variant("b=batch_size:250;statistics_share:0.1") == ("b", {"batch_size": 250, "statistics_share": 0.1})
    with pytest.raises(argparse.ArgumentTypeError, match="key:value"):
        parse_variant("bad=discriminator_dim")
