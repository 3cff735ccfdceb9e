"""Writing overlaps generating (issue #10): ``synthgan.io.consume_behind`` and ``write_table``."""

from __future__ import annotations

import threading

import pandas as pd
import pyarrow.parquet as pq
import pytest

from synthgan.io import consume_behind, write_table


def _writer_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "synthgan-writer"]


def test_the_next_item_is_produced_while_the_previous_one_is_consumed():
    second_requested = threading.Event()
    waited = []

    def items():
        yield 0
        second_requested.set()  # reached while item 0 is consumed only if consuming runs behind
        yield 1

    def consume(item):
        if item == 0:
            waited.append(second_requested.wait(timeout=5))

    consume_behind(items(), consume)
    assert waited == [True]
    assert not _writer_threads()


def test_items_are_consumed_in_order_and_the_producer_stays_within_the_depth():
    counts = {"produced": 0, "consumed": 0, "ahead": 0}
    seen = []

    def items():
        for k in range(500):
            counts["produced"] += 1
            counts["ahead"] = max(counts["ahead"], counts["produced"] - counts["consumed"])
            yield k

    def consume(item):
        seen.append(item)
        counts["consumed"] += 1

    consume_behind(items(), consume, depth=2)
    assert seen == list(range(500))
    # one item being consumed, two queued, one being handed over
    assert counts["ahead"] <= 4


def test_a_failure_while_consuming_stops_production_and_is_raised():
    produced = []

    def items():
        k = 0
        while True:  # endless: only the failure can stop it
            produced.append(k)
            yield k
            k += 1

    def consume(item):
        if item == 3:
            raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        consume_behind(items(), consume, depth=2)
    assert len(produced) <= 3 + 2 + 3
    assert not _writer_threads()


def test_a_failure_while_producing_propagates_and_ends_the_thread():
    def items():
        yield 0
        yield 1
        raise KeyboardInterrupt

    consumed = []
    with pytest.raises(KeyboardInterrupt):
        consume_behind(items(), consumed.append)
    assert consumed == [0, 1][:len(consumed)]
    assert not _writer_threads()


def test_write_table_writes_every_chunk_in_order_and_leaves_nothing_on_failure(tmp_path):
    chunks = [pd.DataFrame({"a": range(k * 10, k * 10 + 10), "b": [f"s{k}"] * 10}) for k in range(7)]
    target = tmp_path / "out.parquet"
    assert write_table(iter(chunks), target) == 70
    assert pq.read_table(target).to_pandas().equals(pd.concat(chunks, ignore_index=True))

    def broken():
        yield chunks[0]
        raise RuntimeError("generator failed")

    with pytest.raises(RuntimeError, match="generator failed"):
        write_table(broken(), tmp_path / "broken.parquet")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.parquet"]


@pytest.mark.parametrize("overlap", [True, False])
def test_write_table_writes_in_the_writer_thread_unless_told_not_to(tmp_path, monkeypatch, overlap):
    threads = []
    original = pq.ParquetWriter.write_table

    def recording(self, table, *args, **kwargs):
        threads.append(threading.current_thread().name)
        return original(self, table, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetWriter, "write_table", recording)
    chunks = (pd.DataFrame({"a": [k, k + 1]}) for k in range(3))
    assert write_table(chunks, tmp_path / "out.parquet", overlap=overlap) == 6
    assert threads == ["synthgan-writer" if overlap else threading.main_thread().name] * 3


def test_writing_overlaps_only_when_rows_come_from_an_accelerator():
    import torch

    from synthgan.io import overlap_writing

    assert not overlap_writing(torch.device("cpu"))
    assert overlap_writing(torch.device("cuda", 0)) and overlap_writing("cuda")
