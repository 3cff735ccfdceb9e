"""Sampling into a folder of parquet parts: exact total, deterministic parts, resumable, parallel."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from synthgan import SynthGANError
from synthgan.cli import main
from synthgan.sampling import part_rows, sample_parts
from tests.conftest import make_mixed

def test_part_rows_add_up():
    assert part_rows(10, 3) == [4, 3, 3] and sum(part_rows(1001, 7)) == 1001


def test_parts_are_exact_readable_as_one_table_and_resumable(tiny_model_file, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["sample", str(tiny_model_file), "--rows", "1001", "-o", str(out), "--parts", "3",
                                       "--seed", "5", "--quiet"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["_manifest.json", "_plan.json", "part-00000.parquet",
                                                     "part-00001.parquet", "part-00002.parquet"]
    table = pq.read_table(out).to_pandas()
    assert len(table) == 1001 and list(table.columns) == list(make_mixed().columns)
    assert json.loads((out / "_manifest.json").read_text())["complete"] is True
    first = {p.name: p.read_bytes() for p in out.glob("part-*")}
    kept = (out / "part-00000.parquet").stat().st_mtime_ns
    (out / "part-00001.parquet").unlink()
    (out / "_manifest.json").unlink()
    sample_parts(tiny_model_file, 1001, out, 3, seed=5)
    assert (out / "part-00000.parquet").stat().st_mtime_ns == kept  # finished parts are skipped
    assert {p.name: p.read_bytes() for p in out.glob("part-*")} == first  # the redone part is the same
    with pytest.raises(SynthGANError, match="parts of another sampling run"):
        sample_parts(tiny_model_file, 2000, out, 3, seed=5)


def test_parallel_workers_write_the_same_parts(tiny_model_file, tmp_path):
    one = sample_parts(tiny_model_file, 900, tmp_path / "one", 3, seed=1)
    two = sample_parts(tiny_model_file, 900, tmp_path / "two", 3, seed=1, workers=2)
    assert one["parts"] == two["parts"]
    pd.testing.assert_frame_equal(pq.read_table(tmp_path / "one").to_pandas(),
                                  pq.read_table(tmp_path / "two").to_pandas())


def test_bad_part_requests(tiny_model_file, tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "mine.txt").write_text("keep")
    with pytest.raises(SynthGANError, match="is not empty"):
        sample_parts(tiny_model_file, 10, tmp_path / "full", 2)
    with pytest.raises(SynthGANError, match="parts must be between 1 and the number of rows"):
        sample_parts(tiny_model_file, 3, tmp_path / "x", 5)
    with pytest.raises(SynthGANError, match="never occurs in column 'group'"):
        sample_parts(tiny_model_file, 10, tmp_path / "y", 2, conditions=["group=zzz"])
    assert (tmp_path / "full" / "mine.txt").read_text() == "keep"


def test_each_worker_process_gets_its_share_of_the_threads(tiny_model_file, tmp_path, monkeypatch):
    """Workers would each start one torch thread per core and oversubscribe the cores (2 workers
    on 2 cores took twice as long as 1): each is given this process's threads shared out."""
    import concurrent.futures

    import torch

    from synthgan import sampling

    submitted = []

    class Inline:  # runs each worker here (without touching this process's threads), recording its arguments
        def __init__(self, processes, mp_context=None):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def submit(self, fn, *args):
            submitted.append(args)
            future = concurrent.futures.Future()
            future.set_result(fn(*args[:-1], None))
            return future

    monkeypatch.setattr(sampling, "ProcessPoolExecutor", Inline)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 5)
    assert [sampling.threads_per_worker(w) for w in (1, 2, 3, 5, 8)] == [5, 2, 1, 1, 1]
    sample_parts(tiny_model_file, 300, tmp_path / "out", 3, seed=1, workers=2)
    assert [args[-1] for args in submitted] == [2, 2]
    monkeypatch.undo()
    before = torch.get_num_threads()
    try:  # and a worker sets its share before it loads the model
        sampling._write_parts(str(tiny_model_file), str(tmp_path / "out"), [], {"conditions": []}, "cpu", 100,
                              before + 1)
        assert torch.get_num_threads() == before + 1
    finally:
        torch.set_num_threads(before)
