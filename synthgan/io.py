"""Reading and writing tables and files: format by suffix, atomic writes, no clobbering.

Guarantees: an output is written to a hidden temporary file beside it and moved into place only
when complete; without ``overwrite`` the move refuses to replace a file, even one that appeared
while the output was being written (a hard link, which fails if the name exists); an input is never
an output; new files get the permissions the umask gives and a replaced file keeps its mode.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from synthgan.errors import DataError, SynthGANError

SUFFIXES = (".parquet", ".csv", ".csv.gz")
_DELIMITERS = ",;\t|"
_LEADING_ZERO = r"^\s*[+-]?0[0-9]"  # 007, -01, 00501; not 0 or 0.5
_SNIFF_BYTES = 64 * 1024


def table_format(path: Path) -> str:
    """``parquet``, ``csv`` or ``csv.gz`` from the file name; a clear error otherwise."""
    name = path.name.lower()
    for suffix in (".csv.gz", ".parquet", ".csv"):
        if name.endswith(suffix):
            return suffix[1:]
    raise SynthGANError(f"cannot tell the format of {str(path)!r}: use a name ending in "
                        f"{', '.join(SUFFIXES)}")


def check_output(output: Path, overwrite: bool, inputs: Sequence[Path | None] = ()) -> None:
    """Refuse an output that is an input, a directory, in a missing directory, or exists without ``overwrite``.

    Called before any work, so a bad output path fails at once and not after training.
    """
    output = Path(output)
    for source in inputs:
        if source is not None and Path(source).exists() and output.exists() and \
                output.resolve() == Path(source).resolve():
            raise SynthGANError(f"the output {str(output)!r} is an input file; choose another output name")
    if output.is_dir():
        raise SynthGANError(f"the output {str(output)!r} is a directory; give a file name inside it")
    parent = output.parent
    if not parent.is_dir():
        raise SynthGANError(f"output folder {str(parent)!r} does not exist; create it first")
    if not os.access(parent, os.W_OK):
        raise SynthGANError(f"output folder {str(parent)!r} is not writable")
    if output.exists() and not overwrite:
        raise SynthGANError(f"{str(output)!r} already exists; choose another output or allow overwriting (--force)")


def _new_file_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


@contextlib.contextmanager
def atomic_path(path: Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is moved onto ``path``.

    Raises if ``path`` exists and ``overwrite`` is false, also when it appears while the caller
    writes. On failure (an exception, a signal that raises) the temporary file is removed and
    ``path`` is left as it was.
    """
    path = Path(path)
    check_output(path, overwrite)
    handle, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    tmp = Path(tmp_name)
    try:
        yield tmp
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            mode = _new_file_mode()
        os.chmod(tmp, mode)
        if overwrite:
            os.replace(tmp, path)
        else:
            _move_no_replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _move_no_replace(tmp: Path, path: Path) -> None:
    try:
        os.link(tmp, path)  # fails if path exists: no window in which another file is replaced
    except FileExistsError:
        raise SynthGANError(f"{str(path)!r} was created by something else while this run was writing it; "
                            "it was left as it is and nothing was written. Choose another output or "
                            "allow overwriting (--force)") from None
    except OSError as exc:  # file systems without hard links
        if exc.errno not in (errno.EPERM, errno.EXDEV, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        os.close(fd)
        os.replace(tmp, path)


# ---------------------------------------------------------------- reading
def _sniff_delimiter(path: Path, compressed: bool, encoding: str) -> str:
    opener = pa.CompressedInputStream if compressed else None
    with (opener(pa.OSFile(str(path)), "gzip") if opener else open(path, "rb")) as handle:
        head = handle.read(_SNIFF_BYTES)
    text = head.decode(encoding, errors="replace")
    if "\n" in text and len(head) == _SNIFF_BYTES:
        text = text[: text.rindex("\n")]
    try:
        return csv.Sniffer().sniff(text, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        return ","


def _read_csv(path: Path, encoding: str | None, delimiter: str | None) -> pa.Table:
    compressed = path.name.lower().endswith(".gz")
    chosen = encoding or "utf8"
    sep = delimiter or _sniff_delimiter(path, compressed, "latin-1" if encoding is None else encoding)

    def read(enc: str, types: dict | None = None, columns: list | None = None) -> pa.Table:
        return pacsv.read_csv(path, read_options=pacsv.ReadOptions(encoding=enc),
                              parse_options=pacsv.ParseOptions(delimiter=sep),
                              convert_options=pacsv.ConvertOptions(column_types=types, include_columns=columns))

    try:
        table = read(chosen)
        undecoded = [f.name for f in table.schema if pa.types.is_binary(f.type)]
    except pa.ArrowInvalid as exc:
        if encoding is not None or "utf8" not in str(exc).lower().replace("-", ""):
            raise
        undecoded = ["?"]
    if undecoded and encoding is None:  # not UTF-8: Latin-1 decodes every byte
        chosen = "latin-1"
        table = read(chosen)
    elif undecoded:
        raise DataError(f"{str(path)!r}: columns {undecoded} are not valid {encoding} text; pass the "
                        "file's encoding (--encoding)")
    if table.num_columns == 1 and any(d in table.column_names[0] for d in _DELIMITERS if d != sep):
        raise DataError(f"{str(path)!r} was read as one column named {table.column_names[0]!r}; pass the "
                        "delimiter the file uses")
    # codes such as zip codes or ids with leading zeros stay text: 00501 must not become 501
    numeric = [f.name for f in table.schema if pa.types.is_integer(f.type) or pa.types.is_floating(f.type)]
    if numeric:
        text = read(chosen, {c: pa.string() for c in numeric}, numeric)
        for name in numeric:
            if pc.any(pc.match_substring_regex(text.column(name), _LEADING_ZERO)).as_py():
                table = table.set_column(table.schema.get_field_index(name), name, text.column(name))
    return table


def read_table(path: str | Path, encoding: str | None = None, delimiter: str | None = None) -> pd.DataFrame:
    """Read a parquet file or directory of parquet files, or a csv / csv.gz file, with pyarrow.

    CSV files: the delimiter is sniffed (``, ; tab |``) unless given; text that is not UTF-8 is
    read as Latin-1 unless ``encoding`` is given; number-like columns with leading zeros (codes)
    are kept as text. Refuses missing, unreadable or empty inputs with a clear error.
    """
    path = Path(path)
    if path.is_dir():
        fmt = "parquet"
        if not any(path.rglob("*.parquet")):
            raise SynthGANError(f"input folder {str(path)!r} holds no .parquet files")
    else:
        fmt = table_format(path)
        if not path.is_file():
            raise SynthGANError(f"input file {str(path)!r} does not exist")
    try:
        table = pq.read_table(path) if fmt == "parquet" else _read_csv(path, encoding, delimiter)
    except (pa.ArrowException, OSError, LookupError) as exc:
        raise DataError(f"cannot read {str(path)!r} as {fmt}: {exc}") from None
    frame = table.to_pandas()
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise DataError(f"{str(path)!r} holds no rows; pass a table with data")
    return frame


# ---------------------------------------------------------------- writing
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
