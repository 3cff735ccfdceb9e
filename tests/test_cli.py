"""The synthgan command line, through click's runner and as a real subprocess."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from synthgan import SynthGAN
from synthgan.cli import balance_counts, main
from tests.conftest import make_mixed

FAST = ["--epochs", "1", "--seed", "0", "--quiet"]


@pytest.fixture
def small(tmp_path):
    path = tmp_path / "data.parquet"
    frame = make_mixed(200)
    frame.to_parquet(path)
    return path, frame


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_help_for_every_command():
    for command in ([], ["fit"], ["sample"], ["augment"], ["evaluate"], ["models"]):
        result = run(*command, "--help")
        assert result.exit_code == 0 and "Example" in result.output


def test_augment_writes_real_plus_synthetic_beside_input(small):
    path, frame = small
    before = path.read_bytes()
    result = run("augment", path, "--rows", 150, *FAST)
    assert result.exit_code == 0, result.output
    out = path.parent / "data.augmented.parquet"
    written = pd.read_parquet(out)
    assert len(written) == len(frame) + 150
    pd.testing.assert_frame_equal(written.iloc[: len(frame)].reset_index(drop=True), frame, check_dtype=False)
    assert path.read_bytes() == before  # the input file is untouched


def test_augment_refuses_to_clobber_and_protects_input(small):
    path, _ = small
    out = path.parent / "out.csv"
    out.write_text("keep me")
    result = run("augment", path, "--rows", 10, "-o", out, *FAST)
    assert result.exit_code != 0 and "--force" in result.output
    assert out.read_text() == "keep me"
    result = run("augment", path, "--rows", 10, "-o", path, "--force", *FAST)
    assert result.exit_code != 0 and "input" in result.output
    result = run("augment", path, "--rows", 10, "-o", out, "--force", "--synthetic-only", *FAST)
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(out)) == 10


def test_augment_balance_evens_out_the_target(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=300), "label": ["a"] * 240 + ["b"] * 45 + ["c"] * 15})
    path = tmp_path / "imb.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "bal.csv"
    result = run("augment", path, "--rows", 300, "--target", "label", "--balance", "-o", out, *FAST)
    assert result.exit_code == 0, result.output
    counts = pd.read_csv(out)["label"].value_counts()
    assert counts.sum() == 600
    assert counts.to_dict() == {"a": 240, "b": 180, "c": 180}


def test_fit_and_augment_train_with_the_target_loss_when_asked(small, tmp_path, monkeypatch):
    path, _ = small
    result = run("fit", path, "-o", tmp_path / "m.synthgan", "--target", "group", *FAST)
    assert result.exit_code == 0, result.output
    loaded = SynthGAN.load(tmp_path / "m.synthgan")
    assert loaded.target == "group" and "target_loss" in loaded.history_
    result = run("fit", path, "-o", tmp_path / "n.synthgan", "--target", "zzz", *FAST)
    assert result.exit_code != 0 and "'zzz' is not a column" in result.output
    targets = []
    fit = SynthGAN.fit
    monkeypatch.setattr(SynthGAN, "fit", lambda self, *a, **k: targets.append(self.target) or fit(self, *a, **k))
    for extra in ([], ["--target-loss"]):
        out = tmp_path / f"aug{len(extra)}.parquet"
        result = run("augment", path, "--rows", 20, "--target", "group", *extra, "-o", out, *FAST)
        assert result.exit_code == 0 and len(pd.read_parquet(out)) == 220, result.output
    assert targets == [None, "group"]  # --target alone (for --balance) does not add the loss


def test_fit_with_checkpoint_resumes_where_the_last_run_stopped(small, tmp_path):
    path, _ = small
    ck = tmp_path / "ck"
    runs = (("full", 3, []), ("first", 2, ["--checkpoint", ck]), ("resumed", 3, ["--checkpoint", ck]))
    for name, epochs, extra in runs:
        result = run("fit", path, "-o", tmp_path / f"{name}.synthgan", "--epochs", epochs, "--seed", "0", "--quiet",
                     *extra)
        assert result.exit_code == 0, result.output
    full, resumed = (SynthGAN.load(tmp_path / f"{n}.synthgan") for n in ("full", "resumed"))
    assert sorted(p.name for p in ck.iterdir()) == ["epoch-000002.ckpt", "epoch-000003.ckpt"]
    pd.testing.assert_frame_equal(full.sample(200, random_state=1), resumed.sample(200, random_state=1))
    assert len(resumed.history_) == 3


def test_balance_counts_water_fills():
    counts = pd.Series({"a": 100, "b": 10, "c": 40})
    assert balance_counts(counts, 50) == {"b": 40, "c": 10}
    add = balance_counts(counts, 500)
    assert sum(add.values()) == 500
    final = {k: counts[k] + add.get(k, 0) for k in counts.index}
    assert max(final.values()) - min(final.values()) <= 1


def test_fit_then_sample_with_condition(small, tmp_path):
    path, frame = small
    model = tmp_path / "m.synthgan"
    assert run("fit", path, "-o", model, *FAST).exit_code == 0
    out = tmp_path / "s.csv.gz"
    result = run("sample", model, "--rows", 25, "-o", out, "--condition", "group=c", "-c", "flag=true",
                 "--seed", "1", "--quiet")
    assert result.exit_code == 0, result.output
    sampled = pd.read_csv(out)
    assert len(sampled) == 25 and (sampled["group"] == "c").all() and sampled["flag"].all()
    assert list(sampled.columns) == list(frame.columns)


def test_sample_streams_in_chunks(small, tmp_path, monkeypatch):
    import synthgan.cli as cli

    path, _ = small
    model = tmp_path / "m.synthgan"
    run("fit", path, "-o", model, *FAST)
    monkeypatch.setattr(cli, "CHUNK_ROWS", 1000)
    sizes = []
    original = SynthGAN._generate

    def spy(self, n, native, rng):
        sizes.append(n)
        return original(self, n, native, rng)

    monkeypatch.setattr(SynthGAN, "_generate", spy)
    out = tmp_path / "big.parquet"
    assert run("sample", model, "--rows", 5500, "-o", out, "--quiet").exit_code == 0
    assert max(sizes) <= 1000 and sum(sizes) == 5500
    assert pd.read_parquet(out).shape[0] == 5500


def test_clear_one_line_errors(small, tmp_path):
    path, _ = small
    cases = [
        (["augment", tmp_path / "nope.parquet", "--rows", "5"], "does not exist"),
        (["augment", tmp_path / "data.xlsx", "--rows", "5"], "cannot tell the format"),
        (["sample", tmp_path / "nope.synthgan", "--rows", "5", "-o", tmp_path / "x.csv"], "does not exist"),
        (["augment", path, "--rows", "5", "--balance"], "--balance needs --target"),
        (["augment", path, "--rows", "5", "--target-loss"], "--target-loss needs --target"),
        (["augment", path, "--rows", "5", "--target", "zzz"], "'zzz' is not in the table"),
    ]
    empty = tmp_path / "empty.csv"
    empty.write_text("a,b\n")
    cases.append((["augment", empty, "--rows", "5"], "holds no rows"))
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"garbage")
    cases.append((["augment", broken, "--rows", "5"], "cannot read"))
    for args, message in cases:
        result = run(*args, "--quiet") if args[0] == "augment" else run(*args)
        assert result.exit_code != 0, args
        assert message in result.output, (args, result.output)
        assert "Traceback" not in result.output


def test_bad_condition_values(small, tmp_path):
    path, _ = small
    model = tmp_path / "m.synthgan"
    run("fit", path, "-o", model, *FAST)
    for condition, message in [("group", "column=value"), ("nope=1", "not a model column"),
                               ("count=abc", "does not fit column 'count'"), ("group=zzz", "never occurs")]:
        result = run("sample", model, "--rows", 5, "-o", tmp_path / "o.csv", "-c", condition, "--quiet")
        assert result.exit_code != 0 and message in result.output, (condition, result.output)


def test_evaluate_writes_report_and_json(small, tmp_path):
    path, frame = small
    synthetic = tmp_path / "synth.parquet"
    make_mixed(200, seed=5).to_parquet(synthetic)
    report, scores = tmp_path / "r.html", tmp_path / "r.json"
    result = run("evaluate", path, synthetic, "--target", "group", "--report", report, "--json", scores)
    assert result.exit_code == 0, result.output
    assert "column_shapes" in result.output and "mia_auc" not in result.output
    assert report.read_text().startswith("<!doctype html>")
    assert '"fidelity"' in scores.read_text()
    again = run("evaluate", path, synthetic, "--report", report)
    assert again.exit_code != 0 and "--force" in again.output


def test_subprocess_entry_points(small, tmp_path):
    path, _ = small
    out = tmp_path / "sub.csv"
    done = subprocess.run([sys.executable, "-m", "synthgan", "augment", str(path), "--rows", "20", "-o", str(out),
                           *FAST], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert len(pd.read_csv(out)) == 220
    failed = subprocess.run([sys.executable, "-m", "synthgan", "sample", str(tmp_path / "missing.synthgan"),
                             "--rows", "5", "-o", str(tmp_path / "x.csv")], capture_output=True, text=True)
    assert failed.returncode != 0 and "Traceback" not in failed.stderr and "does not exist" in failed.stderr
    debug = subprocess.run([sys.executable, "-m", "synthgan", "--debug", "sample", str(tmp_path / "missing.synthgan"),
                            "--rows", "5", "-o", str(tmp_path / "x.csv")], capture_output=True, text=True)
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_progress_bars_on_stderr(small, tmp_path):
    path, _ = small
    out = tmp_path / "p.parquet"
    done = subprocess.run([sys.executable, "-m", "synthgan", "augment", str(path), "--rows", "20", "-o", str(out),
                           "--epochs", "1"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0
    assert "epoch" in done.stderr and done.stdout == ""


def test_model_choices_and_descriptions_come_from_the_registry(small, tmp_path, monkeypatch):
    from synthgan.models import base as model_base
    from synthgan.models import model_class

    extra = type("Extra", (model_class("ctgan"),), {"description": "a plugin model for this test"})
    monkeypatch.setitem(model_base._REGISTRY, "extra", extra)
    listing = run("models")
    assert listing.exit_code == 0 and "extra: a plugin model for this test" in listing.output
    assert "ctgan: conditional generator" in listing.output and "pac: an integer >= 1" in listing.output
    path, _ = small
    result = run("fit", path, "-o", tmp_path / "m.synthgan", "--model", "extra", *FAST)
    assert result.exit_code == 0, result.output
    refused = run("fit", path, "-o", tmp_path / "n.synthgan", "--model", "nope", *FAST)
    assert refused.exit_code != 0 and "'extra'" in refused.output


def test_standard_input_and_output(small, tmp_path):
    path, frame = small
    csv_text = frame.to_csv(index=False).encode()
    result = CliRunner().invoke(main, ["augment", "-", "--format", "csv", "--rows", "15", *FAST], input=csv_text,
                                catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    out = pd.read_csv(__import__("io").BytesIO(result.stdout_bytes))
    assert len(out) == len(frame) + 15 and list(out.columns) == list(frame.columns)
    model = tmp_path / "m.synthgan"
    assert run("fit", path, "-o", model, *FAST).exit_code == 0
    sampled = CliRunner().invoke(main, ["sample", str(model), "--rows", "30", "-o", "-", "--format", "parquet", "--quiet"],
                                 catch_exceptions=False)
    assert sampled.exit_code == 0
    assert len(pd.read_parquet(__import__("io").BytesIO(sampled.stdout_bytes))) == 30
    missing = run("sample", model, "--rows", "3", "-o", "-", "--quiet")
    assert missing.exit_code != 0 and "needs --format" in missing.output
    to_stdout = run("fit", path, "-o", "-", *FAST)
    assert to_stdout.exit_code != 0 and "cannot be written to standard output" in to_stdout.output


def test_info_describes_a_model(small, tmp_path):
    path, _ = small
    model = tmp_path / "m.synthgan"
    assert run("fit", path, "-o", model, *FAST).exit_code == 0
    result = run("info", model)
    assert result.exit_code == 0, result.output
    text = result.output
    assert "synthgan model 'ctgan'" in text and "written by synthgan 0.1.0, torch 2." in text
    assert "group: categorical (object), 3 levels" in text and "amount: numeric (float64)" in text
    assert "with missing values" in text and "epochs=1" in text and "training: 1 epochs" in text


def test_augment_marks_synthetic_rows(small, tmp_path):
    path, frame = small
    out = tmp_path / "marked.parquet"
    assert run("augment", path, "--rows", 12, "-o", out, "--mark-synthetic", *FAST).exit_code == 0
    written = pd.read_parquet(out)
    assert written["is_synthetic"].tolist() == [False] * len(frame) + [True] * 12


def test_capped_categories_warn_with_the_levels_that_share_a_slot():
    from synthgan import SynthGAN

    frame = pd.DataFrame({"city": [f"c{k % 30}" for k in range(300)], "x": np.arange(300.0)})
    with pytest.warns(UserWarning, match=r"more levels than max_categories=10: 'city' has 30 levels, its 21 rarest"):
        SynthGAN(epochs=1, max_categories=10, verbose=False, batch_size=60, pac=4).fit(frame)


def test_package_ships_type_information():
    from importlib import resources

    assert resources.files("synthgan").joinpath("py.typed").is_file()


def test_evaluate_report_carries_the_model_history_and_parameters(small, tmp_path):
    path, _ = small
    model = tmp_path / "m.synthgan"
    assert run("fit", path, "-o", model, "--epochs", "3", "--seed", "0", "--quiet").exit_code == 0
    synthetic = tmp_path / "s.parquet"
    assert run("sample", model, "--rows", 200, "-o", synthetic, "--quiet").exit_code == 0
    report = tmp_path / "r.html"
    result = run("evaluate", path, synthetic, "--model", model, "--report", report)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("FIDELITY") and "PRIVACY" in result.output
    page = report.read_text()
    assert "Training history" in page and "epochs=3" in page and str(path) in page
    refused = run("evaluate", path, synthetic, "--model", model, "--json", model, "--force")
    assert refused.exit_code != 0 and "is an input file" in refused.output
