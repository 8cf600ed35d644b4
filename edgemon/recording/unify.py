"""One schema per stream: rewrite a session's Parquet segments so that every reader gets every column.

A telemetry metric that appears mid-session starts a new segment with more columns (an Arrow
IPC stream has one schema). pandas, ``pyarrow.dataset`` and DuckDB without ``union_by_name``
take the first file's columns and drop the rest without a word. So when a session is closed
(``Recorder.close``) or recovered, every segment whose columns differ from its stream's
unified schema is rewritten to it:

* telemetry: ``t_ns``, every metric in first-seen order (null where a segment lacks it),
  ``session_id``;
* latency and events: their fixed columns and ``session_id``.

A segment that already matches is not touched, so a second run does nothing. Telemetry is
small (a 3-hour session at 10 Hz is 108,000 rows); latency segments are rewritten only when
``edgemon recover`` upgrades a schema-1 recording, one row group at a time.

A file that cannot be read or does not fit (foreign Parquet, a text column among the metrics)
is left as it is: the reader names it in its problems.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from edgemon.recording.layout import SEGMENT_SUFFIX, SESSION_ID_COLUMN, atomic_file, sorted_files
from edgemon.recording.safe_io import regular_file_path
from edgemon.recording.segments import TIME_COLUMN, segment_writer, stream_schema, with_session_id


@dataclass
class UnifyReport:
    rewritten: list[str] = field(default_factory=list)   # "telemetry/part-00001.parquet"
    skipped: list[str] = field(default_factory=list)     # files left as they are, with the reason


def _columns(schema) -> list[tuple[str, str]]:
    return [(f.name, str(f.type)) for f in schema]


def unified_schema(kind: str, schemas: list):
    """The schema every segment of ``kind`` gets (see the module docstring)."""
    import pyarrow as pa

    if kind == "telemetry":
        fixed = (TIME_COLUMN[kind], SESSION_ID_COLUMN)
        metrics = [n for n in dict.fromkeys(n for schema in schemas for n in schema.names) if n not in fixed]
        base = stream_schema(kind, metrics)
    else:
        base = stream_schema(kind)
    return base.remove_metadata().append(pa.field(SESSION_ID_COLUMN, pa.string()))


def _conform(table, target, session_id: str):
    import pyarrow as pa

    columns = []
    for f in target:
        if f.name == SESSION_ID_COLUMN:
            continue
        if f.name in table.column_names:
            columns.append(table.column(f.name).cast(f.type))
        else:
            columns.append(pa.nulls(table.num_rows, f.type))
    schema = pa.schema([f for f in target if f.name != SESSION_ID_COLUMN])
    return with_session_id(pa.Table.from_arrays(columns, schema=schema), session_id)


def unify_stream(folder: Path, kind: str, session_id: str, *, fsync: bool = True,
                 report: UnifyReport | None = None) -> UnifyReport:
    """Rewrite the segments of ``folder/kind`` that differ from the unified schema (or carry
    another session's id); see the module docstring."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    report = report if report is not None else UnifyReport()
    files = []
    for path in sorted_files(folder / kind, SEGMENT_SUFFIX):
        rel = f"{kind}/{path.name}"
        try:
            schema = pq.read_schema(str(path))
        except Exception as e:  # noqa: BLE001 - foreign or torn file: the reader reports it
            report.skipped.append(f"{rel}: not a readable Parquet file ({' '.join(str(e).split())[:120]})")
            continue
        why = _misfit(kind, schema)
        if why:
            report.skipped.append(f"{rel}: not an edgemon {kind} segment ({why}); left as it is")
        else:
            files.append((path, rel, schema))
    if not files:
        return report
    target = unified_schema(kind, [s for _, _, s in files])
    want = _columns(target)
    for path, rel, schema in files:
        if _columns(schema) == want and _holds_only(path, session_id):
            continue
        try:
            with atomic_file(path, fsync=fsync) as tmp:
                with regular_file_path(path) as own, pq.ParquetFile(own) as src:
                    writer = segment_writer(tmp, target, kind)
                    try:
                        read = [n for n in src.schema_arrow.names if n != SESSION_ID_COLUMN]
                        for group in range(src.num_row_groups):
                            table = _conform(src.read_row_group(group, columns=read), target, session_id)
                            writer.write_table(table, row_group_size=max(1, table.num_rows))
                        if src.num_row_groups == 0:
                            writer.write_table(_conform(src.schema_arrow.empty_table().select(read), target,
                                                        session_id))
                    finally:
                        writer.close()
        except (pa.ArrowException, ValueError, TypeError) as e:
            why = " ".join(str(e).split())[:120]
            report.skipped.append(f"{rel}: columns that do not fit the {kind} stream ({why})")
            continue
        report.rewritten.append(rel)
    return report


def _misfit(kind: str, schema) -> str | None:
    """Why a file's columns cannot be a segment of ``kind`` (None when they can)."""
    import pyarrow as pa

    if kind != "telemetry":
        missing = [n for n in stream_schema(kind).names if n not in schema.names]
        return f"no {', '.join(missing)}" if missing else None
    if TIME_COLUMN[kind] not in schema.names:
        return f"no {TIME_COLUMN[kind]} column"
    for f in schema:
        if f.name not in (TIME_COLUMN[kind], SESSION_ID_COLUMN) and not (
                pa.types.is_floating(f.type) or pa.types.is_integer(f.type)):
            return f"column {f.name} is {f.type}, not a number"
    return None


def _holds_only(path: Path, session_id: str) -> bool:
    """Whether every row's session_id is ``session_id`` (the column's statistics, no data read)."""
    import pyarrow.parquet as pq

    meta = pq.read_metadata(str(path))
    index = meta.schema.to_arrow_schema().get_field_index(SESSION_ID_COLUMN)
    for group in range(meta.num_row_groups):
        stats = meta.row_group(group).column(index).statistics
        if stats is None or not stats.has_min_max or stats.min != session_id or stats.max != session_id:
            if meta.row_group(group).num_rows:
                return False
    return True


def unify_session(folder: Path, session_id: str, *, fsync: bool = True) -> UnifyReport:
    """:func:`unify_stream` for every stream of the session at ``folder``."""
    from edgemon.recording.layout import STREAMS

    report = UnifyReport()
    for kind in STREAMS:
        unify_stream(folder, kind, session_id, fsync=fsync, report=report)
    return report
