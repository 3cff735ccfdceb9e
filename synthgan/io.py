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
import sys
import tempfile
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from queue import Queue

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
STDIO = "-"
FORMATS = ("parquet", "csv", "csv.gz")


def is_stdio(path: str | Path | None) -> bool:
    """Whether ``path`` is ``-`` (standard input or output)."""
    return path is not None and str(path) == STDIO


def resolve_format(path: Path, fmt: str | None = None) -> str:
    """The table format: from the name's suffix when it has one, else ``fmt`` (needed for ``-``)."""
    if fmt is not None and fmt not in FORMATS:
        raise SynthGANError(f"format must be one of {list(FORMATS)}, got {fmt!r}")
    if not is_stdio(path) and (fmt is None or str(path).lower().endswith(SUFFIXES)):
        return table_format(path)
    if fmt is None:
        raise SynthGANError("reading or writing '-' (standard input/output) needs --format parquet, csv or csv.gz")
    return fmt


def _sniff_delimiter(head: bytes, encoding: str) -> str:
    text = head.decode(encoding, errors="replace")
    if "\n" in text and len(head) == _SNIFF_BYTES:
        text = text[: text.rindex("\n")]
    try:
        return csv.Sniffer().sniff(text, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        return ","


def _read_csv(opener, name: str, compressed: bool, encoding: str | None, delimiter: str | None) -> pa.Table:
    """Read CSV from ``opener()`` (a fresh pyarrow input each call, so the text can be read again)."""

    def source():
        raw = opener()
        return pa.CompressedInputStream(raw, "gzip") if compressed else raw

    with source() as handle:
        head = handle.read(_SNIFF_BYTES)
    chosen = encoding or "utf8"
    sep = delimiter or _sniff_delimiter(head, "latin-1" if encoding is None else encoding)

    def read(enc: str, types: dict | None = None, columns: list | None = None) -> pa.Table:
        return pacsv.read_csv(source(), read_options=pacsv.ReadOptions(encoding=enc),
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
        raise DataError(f"{name}: columns {undecoded} are not valid {encoding} text; pass the "
                        "file's encoding (--encoding)")
    if table.num_columns == 1 and any(d in table.column_names[0] for d in _DELIMITERS if d != sep):
        raise DataError(f"{name} was read as one column named {table.column_names[0]!r}; pass the "
                        "delimiter the file uses")
    # codes such as zip codes or ids with leading zeros stay text: 00501 must not become 501
    numeric = [f.name for f in table.schema if pa.types.is_integer(f.type) or pa.types.is_floating(f.type)]
    if numeric:
        text = read(chosen, {c: pa.string() for c in numeric}, numeric)
        for column in numeric:
            if pc.any(pc.match_substring_regex(text.column(column), _LEADING_ZERO)).as_py():
                table = table.set_column(table.schema.get_field_index(column), column, text.column(column))
    return table


def read_table(path: str | Path, encoding: str | None = None, delimiter: str | None = None,
               fmt: str | None = None, shard: tuple[int, int] | None = None) -> pd.DataFrame:
    """Read a parquet file or directory of parquet files, or a csv / csv.gz file, with pyarrow.

    ``-`` reads standard input (``fmt`` names its format). CSV: the delimiter is sniffed
    (``, ; tab |``) unless given; text that is not UTF-8 is read as Latin-1 unless ``encoding`` is
    given; number-like columns with leading zeros (codes) are kept as text. Refuses missing,
    unreadable or empty inputs with a clear error.

    ``shard=(k, n)`` reads only share ``k`` of ``n`` (one process of a data-parallel run): a parquet
    file's row groups ``k::n`` when it has at least ``n`` of them (the rest is never read), otherwise
    rows ``k::n`` of the whole input.
    """
    path = Path(path)
    name = "standard input" if is_stdio(path) else repr(str(path))
    if is_stdio(path):
        fmt = resolve_format(path, fmt)
        data = sys.stdin.buffer.read()

        def opener():
            return pa.BufferReader(data)
    elif path.is_dir():
        fmt = "parquet"
        if not any(path.rglob("*.parquet")):
            raise SynthGANError(f"input folder {name} holds no .parquet files")

        def opener():
            return str(path)
    else:
        fmt = resolve_format(path, fmt)
        if not path.is_file():
            raise SynthGANError(f"input file {name} does not exist")

        def opener():
            return pa.OSFile(str(path))
    try:
        if fmt == "parquet" and shard is not None and not path.is_dir() and not is_stdio(path) \
                and pq.ParquetFile(str(path)).num_row_groups >= shard[1]:
            source = pq.ParquetFile(str(path))
            table = source.read_row_groups(list(range(shard[0], source.num_row_groups, shard[1])))
            shard = None  # already this process's share
        elif fmt == "parquet":
            table = pq.read_table(opener())
        else:
            table = _read_csv(opener, name, fmt == "csv.gz", encoding, delimiter)
    except (pa.ArrowException, OSError, LookupError) as exc:
        raise DataError(f"cannot read {name} as {fmt}: {exc}") from None
    frame = table.to_pandas()
    if shard is not None:
        frame = frame.iloc[shard[0]::shard[1]].reset_index(drop=True)
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise DataError(f"{name} holds no rows; pass a table with data")
    return frame


# ---------------------------------------------------------------- writing
def write_table(frames: Iterable[pd.DataFrame], path: str | Path, overwrite: bool = False,
                fmt: str | None = None, overlap: bool = False) -> int:
    """Write a stream of frames to one parquet / csv / csv.gz file atomically; returns rows written.

    Frames are written one at a time, so the whole table never has to be in memory. ``-`` writes
    to standard output (``fmt`` names the format; there is nothing to make atomic there). With
    ``overlap`` each frame is converted and written in a second thread while the next one is
    produced (:func:`consume_behind`); by default frames are written in the calling thread.
    Callers overlap when the frames come from a GPU (:func:`overlap_writing`): on the CPU the
    writer thread competes with generation for the same cores (measured: no consistent gain on 2
    cores, benchmarks/README.md).
    """
    path = Path(path)
    fmt = resolve_format(path, fmt)
    if is_stdio(path):
        return _write_frames(frames, pa.PythonFile(sys.stdout.buffer, mode="w"), fmt, "standard output", overlap)
    with atomic_path(path, overwrite=overwrite) as tmp:
        return _write_frames(frames, str(tmp), fmt, repr(str(path)), overlap)


def _write_frames(frames: Iterable[pd.DataFrame], target, fmt: str, name: str, overlap: bool) -> int:
    state: dict = {"writer": None, "rows": 0}
    sink = pa.CompressedOutputStream(target, "gzip") if fmt == "csv.gz" else target

    def write(frame: pd.DataFrame) -> None:
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if state["writer"] is None:
            state["writer"] = (pq.ParquetWriter(sink, table.schema) if fmt == "parquet"
                               else pacsv.CSVWriter(sink, table.schema))
        writer = state["writer"]
        writer.write_table(table.cast(writer.schema) if fmt == "parquet" else table)
        state["rows"] += len(frame)

    try:
        if overlap:
            consume_behind(frames, write)
        else:
            for frame in frames:
                write(frame)
    finally:
        if state["writer"] is not None:
            state["writer"].close()
        if fmt == "csv.gz":
            sink.close()
    if state["writer"] is None:
        raise SynthGANError(f"nothing to write to {name}")
    return state["rows"]


_END = object()


def overlap_writing(device) -> bool:
    """Whether rows generated on ``device`` (a torch device) are written in a second thread: yes
    when generation runs on an accelerator and leaves the CPU free, no on the CPU."""
    return getattr(device, "type", str(device)) != "cpu"


def consume_behind(items: Iterable, consume, depth: int = 2) -> None:
    """Call ``consume`` on every item of ``items``, in order, in a second thread, while the calling
    thread produces the next items (at most ``depth`` wait in between, which bounds memory).

    This is what overlaps writing with generating: arrow's conversion and parquet's encoding and
    compression release the GIL, as torch's kernels do. An exception on either side ends both: a
    failure of ``consume`` stops the production and is raised here; a failure (or an interrupt)
    while producing skips what is still queued and propagates once the thread has ended.
    """
    queue_: Queue = Queue(maxsize=depth)
    failed: list[BaseException] = []
    abandon = threading.Event()

    def run() -> None:
        while (item := queue_.get()) is not _END:
            if failed or abandon.is_set():
                continue  # keep taking items so that the producer never blocks on a full queue
            try:
                consume(item)
            except BaseException as exc:  # noqa: BLE001  (handed to the calling thread)
                failed.append(exc)

    thread = threading.Thread(target=run, name="synthgan-writer", daemon=True)
    thread.start()
    try:
        for item in items:
            if failed:
                break
            queue_.put(item)
    except BaseException:
        abandon.set()
        raise
    finally:
        queue_.put(_END)
        thread.join()
    if failed:
        raise failed[0]
