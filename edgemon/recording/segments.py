"""Arrow-side helpers shared by writer, reader and recover: stream schemas, tail reading, tail -> Parquet.

pyarrow is imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgemon.recording.layout import (
    SCHEMA_VERSION,
    SESSION_ID_COLUMN,
    TMP_SUFFIX,
    atomic_file,
    fsync_dir,
)
from edgemon.recording.safe_io import create_exclusive, fd_path, regular_file_path

# Fixed columns per stream (telemetry adds one float64 column per metric after t_ns).
TIME_COLUMN = {"telemetry": "t_ns", "latency": "t_end_ns", "events": "t_ns"}


def stream_schema(kind: str, metrics: list[str] | None = None):
    """The Arrow schema a stream's files have (telemetry: ``t_ns`` + ``metrics`` as float64)."""
    import pyarrow as pa

    if kind == "telemetry":
        fields = [pa.field("t_ns", pa.int64(), nullable=False)]
        fields += [pa.field(name, pa.float64()) for name in (metrics or [])]
    elif kind == "latency":
        fields = [
            pa.field("t_end_ns", pa.int64(), nullable=False),
            pa.field("duration_ns", pa.int64(), nullable=False),
            pa.field("items", pa.int32(), nullable=False),
            pa.field("warmup", pa.bool_(), nullable=False),
        ]
    elif kind == "events":
        fields = [
            pa.field("t_ns", pa.int64(), nullable=False),
            pa.field("kind", pa.string(), nullable=False),
            pa.field("details", pa.string()),
        ]
    else:
        raise ValueError(f"unknown stream {kind!r}")
    meta = {b"edgemon_stream": kind.encode(), b"edgemon_schema_version": str(SCHEMA_VERSION).encode()}
    return pa.schema(fields, metadata=meta)


@dataclass
class TailContents:
    """What an ``.arrows`` tail holds: its complete batches, and how much of the file they cover."""

    table: Any                # pa.Table or None when not even the schema was readable
    batches: int
    good_bytes: int           # bytes up to the end of the last complete batch
    total_bytes: int
    error: str | None         # why reading stopped early (torn tail), None at a clean end
    streamed_rows: int | None = None  # rows converted without keeping a table (tail_to_parquet)

    @property
    def rows(self) -> int:
        if self.streamed_rows is not None:
            return self.streamed_rows
        return 0 if self.table is None else self.table.num_rows

    @property
    def dropped_bytes(self) -> int:
        return max(0, self.total_bytes - self.good_bytes)


def read_tail(path: Path) -> TailContents:
    """Read every complete record batch of an IPC stream; stop quietly at a torn or growing end.

    A writer killed mid-batch leaves a partial message; the stream reader raises on it
    only after yielding the complete batches before it (docs/architecture.md "Recording layout").
    """
    import pyarrow as pa
    import pyarrow.ipc as ipc

    batches: list = []
    good = 0
    error: str | None = None
    # OSFile reads into owned buffers (no memory map): the tail may be deleted right after.
    with regular_file_path(path) as own, pa.OSFile(own, "rb") as src:
        total = src.size()
        try:
            reader = ipc.open_stream(src)
        except (OSError, pa.ArrowException, ValueError) as e:
            return TailContents(None, 0, 0, total, f"no readable schema ({e})" if total else "empty file")
        good = src.tell()
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                good = src.tell()  # past the end-of-stream marker, if the writer wrote one
                break
            except (OSError, pa.ArrowException, ValueError) as e:
                error = str(e)
                break
            batches.append(batch)
            good = src.tell()
        table = pa.Table.from_batches(batches, schema=reader.schema)
    if error is None and good < total:
        error = f"{total - good} bytes after the last complete batch"
    return TailContents(table, len(batches), good, total, error)


def write_parquet_atomic(table, dest: Path, *, fsync: bool = True) -> None:
    """zstd Parquet at ``dest`` via ``dest.tmp`` + fsync + rename: a crash never leaves a torn ``dest``."""
    import pyarrow.parquet as pq

    with atomic_file(dest, fsync=fsync) as tmp:
        # One row group per segment where it fits: many small ones cost space and time
        # (docs/architecture.md "Recording layout").
        pq.write_table(table, str(tmp), compression="zstd", row_group_size=max(1, min(table.num_rows, 1 << 20)))


def parquet_is_complete(path: Path) -> bool:
    """Whether a Parquet file has a readable footer (validate its metadata, never its size:
    docs/architecture.md "Recording layout")."""
    import pyarrow.parquet as pq

    try:
        with regular_file_path(path) as own:
            pq.read_metadata(own)
        return True
    except Exception:  # noqa: BLE001 - any failure means "not a complete Parquet file"
        return False


ROW_GROUP_ROWS = 1 << 20


def with_session_id(table, session_id: str | None):
    """``table`` with the constant ``session_id`` column appended (replaced if it has one).

    Dictionary-encoded in memory (one byte a row, not the id's length), and stored as a plain
    string by :func:`segment_writer`, which Parquet keeps as one dictionary entry plus run
    lengths: a few bytes per row group on disk.
    """
    import numpy as np
    import pyarrow as pa

    if session_id is None:
        return table
    if SESSION_ID_COLUMN in table.column_names:
        table = table.drop_columns([SESSION_ID_COLUMN])
    ids = pa.DictionaryArray.from_arrays(pa.array(np.zeros(table.num_rows, dtype=np.int8)), pa.array([session_id]))
    return table.append_column(SESSION_ID_COLUMN, ids)


# Columns of nearly unique, slowly moving integers (times, durations): delta-encoded, not
# dictionary-encoded. A dictionary of millions of distinct values is built and then thrown away
# page after page; deltas of a clock pack into a few bits. For a 5-minute latency segment of the
# default model (9 M rows) that is ~40 % less CPU to roll, a quarter smaller, and faster to read
# (benchmarks/roll_cost.py). Every other column keeps Parquet's dictionary and run lengths.
DELTA_COLUMNS = frozenset({"t_ns", "t_end_ns", "duration_ns"})


def column_encodings(schema) -> dict[str, Any]:
    """``ParquetWriter`` keywords for ``schema``: :data:`DELTA_COLUMNS` delta-encoded (int64 only),
    the rest dictionary-encoded."""
    import pyarrow as pa

    delta = [f.name for f in schema if f.name in DELTA_COLUMNS and pa.types.is_int64(f.type)]
    return {"use_dictionary": [f.name for f in schema if f.name not in delta],
            "column_encoding": {name: "DELTA_BINARY_PACKED" for name in delta}}


def segment_writer(path: Path | str, schema, kind: str):
    """A ParquetWriter for a segment of stream ``kind``: zstd, times and durations delta-encoded
    (:func:`column_encodings`), and the Arrow schema left out of the file so that the
    dictionary-encoded ``session_id`` reads as a plain string in every engine (pandas would make
    it a categorical, polars a Categorical that joins with nothing); the stream and schema
    version go into the file's key-value metadata instead."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = schema.remove_metadata()
    index = schema.get_field_index(SESSION_ID_COLUMN)
    if index >= 0:   # the tables written hold it dictionary-encoded (with_session_id)
        schema = schema.set(index, pa.field(SESSION_ID_COLUMN, pa.dictionary(pa.int8(), pa.string())))
    writer = pq.ParquetWriter(str(path), schema, compression="zstd", store_schema=False,
                              **column_encodings(schema))
    add = getattr(writer, "add_key_value_metadata", None)   # pyarrow >= 14
    if add is not None:
        add({"edgemon_stream": kind, "edgemon_schema_version": str(SCHEMA_VERSION)})
    return writer


def tail_to_parquet(tail: Path, *, session_id: str | None = None, fsync: bool = True,
                    progress=None) -> TailContents:
    """Turn ``part-N.arrows`` into ``part-N.parquet`` (complete batches only) and delete the tail.

    Streams: batches go to the Parquet writer a row group (~1 M rows) at a time, so rolling a
    5-minute segment of 10,000 inferences/s costs one row group of memory, not the segment.
    Every row gets the ``session_id`` column when one is given (docs/architecture.md
    "Recording layout"). A tail with no complete batch is deleted without a Parquet file.
    Returns what was read. ``progress()``, when given, is called after each row group (a stall
    watch).
    """
    import pyarrow as pa
    import pyarrow.ipc as ipc

    dest = tail.with_suffix(".parquet")
    tmp = dest.with_name(dest.name + TMP_SUFFIX)
    rows = batches = good = total = 0
    error: str | None = None
    writer = None
    tmp_fd: int | None = None
    pending: list = []
    pending_rows = 0
    try:
        with regular_file_path(tail) as own, pa.OSFile(own, "rb") as src:
            total = src.size()
            try:
                reader = ipc.open_stream(src)
            except (OSError, pa.ArrowException, ValueError) as e:
                reader = None
                error = f"no readable schema ({e})" if total else "empty file"
            if reader is not None:
                good = src.tell()

                def flush_group():
                    nonlocal writer, pending, pending_rows, tmp_fd
                    if not pending:
                        return
                    table = with_session_id(pa.Table.from_batches(pending, schema=reader.schema), session_id)
                    if writer is None:
                        # created without following links; the writer opens that very file
                        tmp_fd = create_exclusive(tmp, replace_stale=True)
                        writer = segment_writer(fd_path(tmp_fd, tmp), table.schema, tail.parent.name)
                    writer.write_table(table, row_group_size=max(1, pending_rows))
                    pending, pending_rows = [], 0
                    if progress is not None:
                        progress()

                while True:
                    try:
                        batch = reader.read_next_batch()
                    except StopIteration:
                        good = src.tell()
                        break
                    except (OSError, pa.ArrowException, ValueError) as e:
                        error = str(e)
                        break
                    batches += 1
                    good = src.tell()
                    if batch.num_rows:
                        pending.append(batch)
                        pending_rows += batch.num_rows
                        rows += batch.num_rows
                    if pending_rows >= ROW_GROUP_ROWS:
                        flush_group()
                flush_group()
        if writer is not None:
            writer.close()
            writer = None
            if fsync and tmp_fd is not None:
                os.fsync(tmp_fd)
            os.replace(tmp, dest)
    except BaseException:
        if writer is not None:
            try:
                writer.close()
            except Exception:  # noqa: BLE001 - the first error is the one to report
                pass
        if tmp_fd is not None:
            try:
                tmp.unlink()
            except OSError:
                pass
        raise
    finally:
        if tmp_fd is not None:
            os.close(tmp_fd)
    if error is None and good < total:
        error = f"{total - good} bytes after the last complete batch"
    tail.unlink()
    if fsync:
        fsync_dir(tail.parent)
    release_memory()
    return TailContents(None, batches, good, total, error, streamed_rows=rows)


def release_memory() -> None:
    """Hand the roll's temporary buffers back to the OS, so a days-long session's RSS tracks
    what it holds rather than its largest roll (Arrow's pool and glibc both keep freed pages)."""
    import pyarrow as pa

    try:
        pa.default_memory_pool().release_unused()
    except AttributeError:  # pyarrow < 9
        pass
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (musl, macOS)
        pass
