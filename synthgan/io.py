"""Reading and writing tables and files: format by suffix, atomic writes, no clobbering."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from synthgan.errors import DataError, SynthGANError

SUFFIXES = (".parquet", ".csv", ".csv.gz")


def table_format(path: Path) -> str:
    """``parquet``, ``csv`` or ``csv.gz`` from the file name; a clear error otherwise."""
    name = path.name.lower()
    for suffix in (".csv.gz", ".parquet", ".csv"):
        if name.endswith(suffix):
            return suffix[1:]
    raise SynthGANError(f"cannot tell the format of {str(path)!r}: use a name ending in "
                        f"{', '.join(SUFFIXES)}")


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a parquet / csv / csv.gz table with pyarrow; refuses missing, unreadable or empty files."""
    path = Path(path)
    fmt = table_format(path)
    if not path.is_file():
        raise SynthGANError(f"input file {str(path)!r} does not exist")
    try:
        if fmt == "parquet":
            table = pq.read_table(path)
        else:
            table = pacsv.read_csv(path)
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"cannot read {str(path)!r} as {fmt}: {exc}") from None
    frame = table.to_pandas()
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise DataError(f"{str(path)!r} holds no rows; pass a table with data")
    return frame


@contextlib.contextmanager
def atomic_path(path: Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed onto ``path``.

    Raises if ``path`` exists and ``overwrite`` is false. On failure the temporary file is removed
    and ``path`` is left as it was.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise SynthGANError(f"{str(path)!r} already exists; choose another output or allow overwriting (--force)")
    if path.parent and not path.parent.exists():
        raise SynthGANError(f"output folder {str(path.parent)!r} does not exist")
    handle, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    os.close(handle)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_table(frames: Iterable[pd.DataFrame], path: str | Path, overwrite: bool = False) -> int:
    """Write a stream of frames to one parquet / csv / csv.gz file atomically; returns rows written.

    Frames are written one at a time, so the whole table never has to be in memory.
    """
    path = Path(path)
    fmt = table_format(path)
    rows = 0
    with atomic_path(path, overwrite=overwrite) as tmp:
        writer = None
        sink = pa.CompressedOutputStream(str(tmp), "gzip") if fmt == "csv.gz" else str(tmp)
        try:
            for frame in frames:
                table = pa.Table.from_pandas(frame, preserve_index=False)
                if writer is None:
                    writer = (pq.ParquetWriter(sink, table.schema) if fmt == "parquet"
                              else pacsv.CSVWriter(sink, table.schema))
                writer.write_table(table.cast(writer.schema) if fmt == "parquet" else table)
                rows += len(frame)
        finally:
            if writer is not None:
                writer.close()
            if fmt == "csv.gz":
                sink.close()
        if writer is None:
            raise SynthGANError(f"nothing to write to {str(path)!r}")
    return rows
