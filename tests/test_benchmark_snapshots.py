"""benchmarks.run --one-run: the time-to-quality points of one run per system and seed, taken as
snapshots of that run (the heavy runs live in benchmarks/, not here)."""

from __future__ import annotations

import argparse
import json

import pandas as pd
import pytest

from benchmarks import fit_one, run
from synthgan import SynthGAN
from tests.conftest import make_mixed


def test_the_epoch_clock_snapshots_between_epochs_off_the_clock_and_stops_at_the_budget(monkeypatch):
    clock = {"now": 100.0}
    monkeypatch.setattr(fit_one.time, "perf_counter", lambda: clock["now"])
    epochs = fit_one._BudgetedEpochs(3.5, snapshots=[1.7, 0.5, 1.5])
    calls = []

    def snapshot(budgets):
        calls.append((len(epochs.epoch_ends), budgets))
        clock["now"] += 10.0  # sampling takes a while: not training time

    epochs.on_snapshot = snapshot
    done = []
    for epoch in epochs(range(100)):
        clock["now"] += 1.0  # each epoch trains for one second
        done.append(epoch)
    # the first epoch ending past 0.5 s is the first, past 1.5 and 1.7 s the second
    assert calls == [(1, [0.5]), (2, [1.5, 1.7])]
    assert done == [0, 1, 2, 3]  # stopped after the first epoch ending past 3.5 s of training
    assert epochs.epoch_ends[-1] - epochs.start == pytest.approx(4.0)  # the 20 s of sampling left out


def test_a_synthgan_snapshot_is_the_model_a_fit_stopped_at_that_epoch_ends_with():
    train = make_mixed(200, seed=4)
    taken = []
    synthetic, metrics = fit_one.run_synthgan(train, "ctgan", 0.3, 60, seed=5, snapshots=[1e-9],
                                              on_snapshot=lambda b, rows, m: taken.append((b, rows, m)))
    assert [(b, m["epochs"]) for b, _, m in taken] == [(1e-9, 1)]  # every epoch ends past 1e-9 s
    assert metrics["epochs"] > 1 and metrics["snapshot_write_s"] > 0
    stopped = SynthGAN(model="ctgan", epochs=1, random_state=5, verbose=False).fit(train)
    pd.testing.assert_frame_equal(taken[0][1], stopped.sample(60))  # weight average and calibrations included
    found = taken[0][2]
    assert found["fit_s"] == pytest.approx(found["transformer_fit_s"] + found["train_s"]) and found["train_s"] > 0
    assert not taken[0][1].equals(synthetic)


@pytest.mark.parametrize("system", ["ctgan-0.12", "tvae-0.12"])
def test_a_package_snapshot_leaves_the_training_run_as_it_was(system, monkeypatch):
    pytest.importorskip("ctgan")
    monkeypatch.setattr(fit_one, "MAX_EPOCHS", 3)  # with no budget to stop it, the run trains 3 epochs
    train = make_mixed(120, seed=6).fillna({"amount": 0.0})  # the package refuses missing numbers
    plain, _ = fit_one.run_package(system, train, float("inf"), 40, seed=1)
    streams = []
    sample = fit_one._package_rows

    def traced(model, *args):  # the torch seed each sample draws from
        streams.append(model.random_states[1].initial_seed())
        return sample(model, *args)

    monkeypatch.setattr(fit_one, "_package_rows", traced)
    taken = []
    snapped, metrics = fit_one.run_package(system, train, float("inf"), 40, seed=1, snapshots=[1e-9],
                                           on_snapshot=lambda b, rows, m: taken.append((b, rows, m)))
    assert [(b, len(rows), m["epochs"]) for b, rows, m in taken] == [(1e-9, 40, 1)]
    assert metrics["epochs"] == 3
    pd.testing.assert_frame_equal(snapped, plain)  # the same training stream, so the same final rows
    # the snapshot draws from a stream of its own, not from the one that initialized the weights
    assert streams[0] == fit_one.snapshot_seed(1, 1) != 1 and len(streams) == 2


def test_one_run_scores_each_budget_from_the_snapshots_of_the_largest(tmp_path, monkeypatch):
    train, holdout = make_mixed(160, seed=1), make_mixed(60, seed=2)
    calls = []

    def fake_system(system, train_path, budget, seed, work, snapshots=None):
        calls.append((system, budget, snapshots))
        train.head(80).to_parquet(tmp_path / "rows.parquet", index=False)
        found = {b: {"train_s": b + 0.1, "epochs": 1, "synthetic_path": str(tmp_path / "rows.parquet")}
                 for b in snapshots or []}
        return {"train_s": budget + 0.1, "epochs": 9, "synthetic_path": str(tmp_path / "rows.parquet"),
                "snapshots": found}

    monkeypatch.setattr(run, "run_system", fake_system)
    args = argparse.Namespace(budget=[1.0, 2.0, 4.0], one_run=True, keep_synthetic=False, out=tmp_path)
    row = {"dataset": "mixed", "system": "synthgan-ctgan", "seed": 0, "budget_s": 4.0}
    rows = run._run_and_score(row, "synthgan-ctgan", train, holdout, "group", tmp_path / "train.parquet", 4.0, 0,
                              tmp_path, args)
    assert calls == [("synthgan-ctgan", 4.0, [1.0, 2.0])]  # one fit, to the largest budget
    assert [(r["budget_s"], r["run_budget_s"], r["train_s"]) for r in rows] == [(1.0, 4.0, 1.1), (2.0, 4.0, 2.1),
                                                                              (4.0, 4.0, 4.1)]
    assert all(r["quality"] > 0 for r in rows)
    args.one_run = False  # otherwise: one fit for this budget, no snapshot
    calls.clear()
    rows = run._run_and_score(row, "synthgan-ctgan", train, holdout, "group", tmp_path / "train.parquet", 4.0, 0,
                              tmp_path, args)
    assert calls == [("synthgan-ctgan", 4.0, [])] and len(rows) == 1 and "run_budget_s" not in rows[0]


def test_fit_one_writes_each_snapshot_beside_the_run(tmp_path, monkeypatch):
    train_path = tmp_path / "train.parquet"
    make_mixed(150, seed=3).to_parquet(train_path, index=False)
    out = tmp_path / "out"
    monkeypatch.setattr("sys.argv", ["fit_one", "--system", "synthgan-ctgan", "--train", str(train_path),
                                     "--budget", "0.2", "--snapshots", "0.000001", "--rows", "30", "--out", str(out)])
    fit_one.main()
    where = fit_one.snapshot_dir(out, 1e-6)
    assert len(pd.read_parquet(out / "synthetic.parquet")) == 30 and len(pd.read_parquet(where / "synthetic.parquet")) == 30
    assert json.loads((where / "metrics.json").read_text())["epochs"] == 1
    assert json.loads((out / "metrics.json").read_text())["epochs"] > 1
    monkeypatch.setattr("sys.argv", ["fit_one", "--system", "synthgan-ctgan", "--train", str(train_path),
                                     "--budget", "0.2", "--snapshots", "0.5", "--out", str(out)])
    with pytest.raises(SystemExit):  # a snapshot must come before the end of the run
        fit_one.main()


@pytest.mark.parametrize("unit", ["ns", "ms"])
def test_package_systems_get_dates_in_nanoseconds_whatever_their_unit(unit):
    pytest.importorskip("ctgan")
    train = make_mixed(120, seed=7).fillna({"amount": 0.0})
    train["when"] = train["when"].astype(f"datetime64[{unit}]")
    assert (fit_one._nanoseconds(train["when"]) == train["when"].astype("datetime64[ns]").astype("int64")).all()
    synthetic, _ = fit_one.run_package("tvae-0.12", train, 0.5, 200, seed=0)
    assert synthetic["when"].dtype == train["when"].dtype
    # generated dates lie about where the training dates do (2024), not in 1970
    assert synthetic["when"].dt.year.between(2020, 2028).mean() > 0.9


def test_the_run_logs_every_scored_row_of_a_one_run_fit(tmp_path, monkeypatch, caplog):
    train, holdout = make_mixed(40, seed=1), make_mixed(20, seed=2)
    monkeypatch.setattr(run, "TARGETS", {"mixed": "group"})
    monkeypatch.setattr(run, "load_split", lambda *args: (train, holdout, []))
    monkeypatch.setattr(run, "write_outputs", lambda frame, out, command: "")
    monkeypatch.setattr(run, "_run_and_score", lambda row, *args: [{**row, "budget_s": b, "mark": f"row-{b:g}"}
                                                                   for b in (1.0, 2.0, 4.0)])
    monkeypatch.setattr("sys.argv", ["run", "--datasets", "mixed", "--systems", "synthgan-ctgan", "--budget",
                                     "1,2,4", "--one-run", "--out", str(tmp_path)])
    with caplog.at_level("INFO", logger="benchmarks.run"):
        run.main()
    assert all(f"row-{b}" in caplog.text for b in (1, 2, 4))  # not only the last budget's row
    assert len(pd.read_csv(tmp_path / "results.csv")) == 3
