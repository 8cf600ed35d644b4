"""Open a recording folder (finished, crashed, or still growing) as Arrow tables.

``open_recording(path)``:
* a folder without session.json -> UserError; a corrupt session.json -> UserError;
* no live writer but leftover ``.arrows`` tails / ``.tmp`` files / state "running"
  -> ``recover`` runs first (unless ``recover=False``, then the tails are read read-only);
* a live writer (it holds ``session.lock``) -> read-only: the Parquet segments plus the
  complete batches of the growing tails, re-read on every call (that is attach/replay of a
  live session).

A file it cannot use (corrupt or foreign Parquet, a column of the wrong type) is skipped and
named in ``Recording.problems``; the rest still reads.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from edgemon.errors import UserError
from edgemon.recording.layout import (
    MAX_ITEMS,
    MAX_LATENCY_NS,
    MAX_T_NS,
    SEGMENT_SUFFIX,
    SESSION_ID_COLUMN,
    STREAMS,
    TAIL_SUFFIX,
    TMP_SUFFIX,
    is_live,
    load_session_json,
    recording_folder,
    sorted_files,
)
from edgemon.recording.meta_check import checked_meta
from edgemon.recording.safe_io import regular_file_path
from edgemon.recording.segments import TIME_COLUMN, read_tail, stream_schema


class Recording:
    """A recording folder. Tables are sorted by time; telemetry schemas are unified (missing -> null)."""

    def __init__(self, path: Path, meta: dict[str, Any], *, live: bool, recovered=None, problems=None):
        self.path = path
        self.meta = meta
        self.is_live = live
        self.recovered = recovered          # RecoverReport when open_recording recovered it first
        self._problems: list[str] = list(problems or [])
        self._cache: dict[str, pa.Table] = {}
        self._chunks = None

    # ----------------------------------------------------------------- tables

    def telemetry(self) -> pa.Table:
        """``t_ns`` int64 + one float64 column per metric (first-seen order), sorted by ``t_ns``."""
        return self._table("telemetry")

    def latency(self) -> pa.Table:
        """``t_end_ns`` int64, ``duration_ns`` int64, ``items`` int32, ``warmup`` bool, sorted by ``t_end_ns``.

        The whole table in memory: small recordings and tests only. Analysis and replay read
        :meth:`latency_chunks`, whose memory does not grow with the number of rows."""
        return self._table("latency")

    def latency_chunks(self):
        """The latency rows as an index of pieces read on demand (:mod:`edgemon.recording.chunks`);
        re-indexed on every call while the recording is live."""
        from edgemon.recording.chunks import index_latency

        cached = self._chunks
        if cached is not None and not self.is_live:
            return cached
        self._chunks = index_latency(self.path, live=self.is_live)
        return self._chunks

    def events(self) -> pa.Table:
        """``t_ns`` int64, ``kind`` string, ``details`` string (JSON), sorted by ``t_ns``."""
        return self._table("events")

    @property
    def problems(self) -> list[str]:
        """Files that could not be used, one line each (telemetry and events are read, the
        latency files only indexed)."""
        for kind in ("telemetry", "events"):
            self._table(kind)
        return list(self._problems) + [p for p in self.latency_chunks().problems if p not in self._problems]

    @property
    def state(self) -> str:
        return str(self.meta.get("state", "unknown"))

    def forget(self, kind: str) -> None:
        """Drop the cached table of one stream (a caller that converted it keeps its own copy)."""
        self._cache.pop(kind, None)

    def refresh(self) -> None:
        """Forget cached tables (a live recording is re-read on every call anyway)."""
        self._cache.clear()
        self._chunks = None

    # ----------------------------------------------------------------- time

    @property
    def start_ns(self) -> int:
        """Session start: the clock anchor taken when recording began, else the first row."""
        anchor = (self.meta.get("clock") or {}).get("monotonic_ns")
        if isinstance(anchor, int):
            return anchor
        firsts = [t for t in (self._first_last(k)[0] for k in STREAMS) if t is not None]
        return min(firsts) if firsts else 0

    @property
    def end_ns(self) -> int:
        """The last row of any stream, or the recorded end of the session if later."""
        lasts = [t for t in (self._first_last(k)[1] for k in STREAMS) if t is not None]
        ended = self.meta.get("ended_monotonic_ns")
        if isinstance(ended, int) and not self.is_live:
            lasts.append(ended)
        return max(lasts) if lasts else self.start_ns

    @property
    def length_s(self) -> float:
        return max(0, self.end_ns - self.start_ns) / 1e9

    def wall_time(self, t_ns: int) -> _dt.datetime | None:
        """Recorded monotonic ``t_ns`` as an aware UTC datetime, via the session's clock anchor."""
        clock = self.meta.get("clock") or {}
        mono, unix = clock.get("monotonic_ns"), clock.get("unix_ns")
        if not isinstance(mono, int) or not isinstance(unix, int):
            return None
        return _dt.datetime.fromtimestamp((unix + (t_ns - mono)) / 1e9, tz=_dt.timezone.utc)

    def _first_last(self, kind: str) -> tuple[int | None, int | None]:
        if kind == "latency":
            chunks = self.latency_chunks()
            return chunks.t_min, chunks.t_max
        t = self._table(kind).column(TIME_COLUMN[kind])
        if len(t) == 0:
            return None, None
        return int(t[0].as_py()), int(t[len(t) - 1].as_py())

    # ----------------------------------------------------------------- reading

    def _table(self, kind: str) -> pa.Table:
        if kind in self._cache and not self.is_live:
            return self._cache[kind]
        problems: list[str] = []
        parts = self._read_stream(kind, problems)
        table = _combine(kind, parts)
        del parts
        from edgemon.recording.segments import release_memory

        release_memory()                 # the decoders' buffers go back: a long session has many files
        if self.is_live:
            # A growing recording: report problems of the latest read only.
            self._problems = [p for p in self._problems if not p.startswith(f"{kind}/")] + problems
        else:
            self._problems += problems
        self._cache[kind] = table
        return table

    def _read_stream(self, kind: str, problems: list[str]) -> list[pa.Table]:
        folder = self.path / kind
        # Tails first, then segments: a roll in between (Parquet renamed in, tail deleted)
        # then shows up as a Parquet twin, never as a gap.
        tails = sorted_files(folder, TAIL_SUFFIX)
        segments = sorted_files(folder, SEGMENT_SUFFIX)
        seg_names = {p.name for p in segments}
        tables: list[tuple[str, pa.Table]] = []
        for seg in segments:
            t = _read_segment(kind, seg, problems)
            if t is not None:
                tables.append((seg.stem, t))
        for tail in tails:
            twin = tail.with_suffix(SEGMENT_SUFFIX)
            if twin.name in seg_names:
                continue
            try:
                contents = read_tail(tail)
            except FileNotFoundError:  # rolled while we listed: read the Parquet twin instead
                if twin.exists():
                    t = _read_segment(kind, twin, problems)
                    if t is not None:
                        tables.append((twin.stem, t))
                continue
            except OSError as e:
                problems.append(f"{kind}/{tail.name}: unreadable ({e.strerror or e}); skipped")
                continue
            if contents.table is None:
                if not self.is_live:
                    problems.append(f"{kind}/{tail.name}: no complete batch ({contents.error}); skipped")
                continue
            if contents.error and not self.is_live:
                problems.append(
                    f"{kind}/{tail.name}: {contents.dropped_bytes} bytes of a torn batch ignored; "
                    "run `edgemon recover` to convert it"
                )
            t = _conform(kind, contents.table, f"{kind}/{tail.name}", problems)
            if t is not None:
                tables.append((tail.stem, t))
        tables.sort(key=lambda x: x[0])
        return [t for _, t in tables]

    def __repr__(self) -> str:
        live = " live" if self.is_live else ""
        return f"<Recording {self.path} state={self.state}{live}>"


def _read_segment(kind: str, path: Path, problems: list[str]) -> pa.Table | None:
    name = f"{kind}/{path.name}"
    try:
        # ParquetFile.read, not pq.read_table: the latter builds a dataset per file (and imports
        # pyarrow.dataset), twice the time for the many small segments of a long session.
        with regular_file_path(path) as own, pq.ParquetFile(own, pre_buffer=False) as f:
            # session_id is for readers of many sessions at once; a Recording is one session.
            table = f.read(columns=[n for n in f.schema_arrow.names if n != SESSION_ID_COLUMN], use_threads=False)
    except FileNotFoundError:
        return None
    except Exception as e:  # noqa: BLE001 - corrupt/foreign file: say so, go on
        problems.append(f"{name}: not a readable Parquet file ({_one_line(e)}); skipped")
        return None
    return _conform(kind, table, name, problems)


def _conform(kind: str, table: pa.Table, name: str, problems: list[str]) -> pa.Table | None:
    """Cast a file's table to the stream's column types; None (and a problem) when it does not fit."""
    table = table.replace_schema_metadata(None)
    if SESSION_ID_COLUMN in table.column_names:
        table = table.drop_columns([SESSION_ID_COLUMN])
    if kind == "telemetry":
        if "t_ns" not in table.column_names:
            problems.append(f"{name}: not an edgemon telemetry segment (no t_ns column); skipped")
            return None
        fields = [pa.field("t_ns", pa.int64())]
        fields += [pa.field(c, pa.float64()) for c in table.column_names if c != "t_ns"]
        target = pa.schema(fields)
    else:
        target = stream_schema(kind).remove_metadata()
        missing = [f.name for f in target if f.name not in table.column_names]
        if missing:
            problems.append(f"{name}: not an edgemon {kind} segment (missing {', '.join(missing)}); skipped")
            return None
        table = table.select(target.names)
        target = pa.schema([pa.field(f.name, f.type) for f in target])
    try:
        table = table.cast(target)
    except (pa.ArrowException, ValueError, TypeError) as e:
        problems.append(f"{name}: columns of an unexpected type ({_one_line(e)}); skipped")
        return None
    return _plausible_rows(kind, table, name, problems)


# Values no recording of ours can hold (a corrupt or forged file; bounds in layout): rows are
# left out, telemetry values become null, and the problem is named. Physical plausibility of
# readings is the telemetry sources' job; this only keeps absurd numbers from the analysis.
_MAX_ABS_VALUE = 1e15


def _plausible_rows(kind: str, table: pa.Table, name: str, problems: list[str]) -> pa.Table:
    import pyarrow.compute as pc

    if table.num_rows == 0:
        return table
    bounds = {TIME_COLUMN[kind]: (0, MAX_T_NS)}
    if kind == "latency":
        bounds.update(duration_ns=(0, MAX_LATENCY_NS), items=(0, MAX_ITEMS))
    keep = None
    for column, (lo, hi) in bounds.items():
        col = table.column(column)
        mm = pc.min_max(col).as_py()
        if mm["min"] is not None and lo <= mm["min"] and mm["max"] <= hi and col.null_count == 0:
            continue
        ok = pc.fill_null(pc.and_(pc.greater_equal(col, lo), pc.less_equal(col, hi)), False)
        keep = ok if keep is None else pc.and_(keep, ok)
    if keep is not None:
        before = table.num_rows
        table = table.filter(keep)
        problems.append(f"{name}: {before - table.num_rows} row(s) with impossible values (a time outside "
                        "0..100 years, a latency below 0 or over a day, a bad item count) left out")
    if kind == "telemetry":
        table = _null_absurd_values(table, name, problems)
    return table


def _null_absurd_values(table: pa.Table, name: str, problems: list[str]) -> pa.Table:
    import pyarrow.compute as pc

    bad_columns = []
    for i, column in enumerate(table.column_names):
        if column == "t_ns":
            continue
        col = table.column(i)
        ok = pc.and_(pc.is_finite(col), pc.less_equal(pc.abs(col), _MAX_ABS_VALUE))  # null stays null
        if not pc.sum(pc.invert(ok)).as_py():
            continue
        table = table.set_column(i, column, pc.if_else(ok, col, pa.scalar(None, pa.float64())))
        bad_columns.append(column)
    if bad_columns:
        problems.append(f"{name}: values that are not finite numbers (NaN, inf, beyond 1e15) in "
                        f"{', '.join(bad_columns[:5])}{' ...' if len(bad_columns) > 5 else ''} read as missing")
    return table


def _combine(kind: str, parts: list[pa.Table]) -> pa.Table:
    time_col = TIME_COLUMN[kind]
    if not parts:
        empty = stream_schema(kind).remove_metadata()
        return pa.schema([pa.field(f.name, f.type) for f in empty]).empty_table()
    if len(parts) == 1:
        table = parts[0]
    elif kind == "telemetry":
        table = _concat_union(parts)
    else:
        table = pa.concat_tables(parts)
    t = table.column(time_col)
    if len(t) > 1 and not _is_sorted(t):
        table = table.sort_by(time_col)
    # No combine_chunks(): one chunk per file is fine for every reader (a column's to_numpy()
    # concatenates anyway, ReplayFeed searches the chunks), and it saves a copy of every
    # column -- 230 MB for the latency of a 3-hour session at 1000 inferences/s.
    return table


def _concat_union(parts: list[pa.Table]) -> pa.Table:
    """Concatenate telemetry tables with different metric sets (missing columns become null)."""
    names: list[str] = []
    seen: set[str] = set()
    for p in parts:
        for c in p.column_names:
            if c not in seen:
                seen.add(c)
                names.append(c)
    filled = []
    for p in parts:
        cols = [p.column(c) if c in p.column_names else pa.nulls(p.num_rows, pa.float64()) for c in names]
        filled.append(pa.Table.from_arrays(cols, names=names))
    return pa.concat_tables(filled)


def _is_sorted(col: pa.ChunkedArray) -> bool:
    """Ascending within and across chunks; checked chunk by chunk on zero-copy views."""
    import numpy as np

    previous = None
    for chunk in col.chunks:
        if len(chunk) == 0:
            continue
        a = chunk.to_numpy(zero_copy_only=False)
        if previous is not None and a[0] < previous:
            return False
        if a.shape[0] > 1 and not bool(np.all(a[1:] >= a[:-1])):
            return False
        previous = a[-1]
    return True


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())[:200]


def _needs_recovery(folder: Path, meta: dict[str, Any]) -> bool:
    if meta.get("state") == "running":
        return True
    if any(sorted_files(folder, TMP_SUFFIX)):
        return True
    return any(sorted_files(folder / k, TAIL_SUFFIX) or sorted_files(folder / k, TMP_SUFFIX) for k in STREAMS)


def open_recording(path: Path | str, *, recover: bool = True) -> Recording:
    """Open a recording folder (or its session.json); see the module docstring."""
    folder = recording_folder(path)
    meta = load_session_json(folder)
    live = is_live(folder)
    report = None
    problems: list[str] = []
    if not live and recover and _needs_recovery(folder, meta):
        from edgemon.recording.recover import recover as _recover

        try:
            report = _recover(folder)
        except UserError as e:
            # e.g. a read-only copy of a crashed session: read the tails as they are.
            problems.append(f"automatic recovery failed ({e}); tails read as they are")
            live = is_live(folder)
        else:
            problems += report.problems
            meta = load_session_json(folder)
    meta, meta_problems = checked_meta(meta)
    problems += meta_problems
    stopped = stopped_early(meta)
    if stopped:
        problems.append(stopped)
    return Recording(folder, meta, live=live, recovered=report, problems=problems)


def stopped_early(meta: dict[str, Any]) -> str | None:
    """One line when the recording stopped before its session ended (``recording_failed``)."""
    failed = meta.get("recording_failed")
    if meta.get("state") != "recording_failed" and not isinstance(failed, dict):
        return None
    headline = failed.get("headline") if isinstance(failed, dict) else None
    return (f"the recording stopped early ({headline or meta.get('recording_error') or 'recording failed'}); "
            "the rest of the session was not recorded")
