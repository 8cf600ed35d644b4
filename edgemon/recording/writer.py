"""Crash-safe session recorder: a thread-safe subscriber that turns samples, latency and events into files.

Callers (sampler, workload reader, session) only append to in-memory buffers. One
background thread, every ``flush_s``, appends the buffered rows as one record batch to
each stream's live tail (``<stream>/part-NNNNN.arrows``, Arrow IPC *stream* format,
flushed and fsync'ed), so a SIGKILL or power cut loses at most the last ``flush_s``.
Every ``roll_s`` (and on close) a tail becomes ``part-NNNNN.parquet`` (zstd, written
to a tmp name, fsync'ed, renamed) and the tail is deleted. ``recover`` finishes the
job for tails a crash left behind.

Telemetry is wide (``t_ns`` + one float64 column per metric). When a new metric
appears the telemetry segment is rolled first (an IPC stream has one schema); at close
the earlier segments are rewritten to the session's full set of columns
(:mod:`edgemon.recording.unify`), so every Parquet file of a stream has the same schema.
Every Parquet row carries the session's ``session_id`` (added when a tail is rolled).

A write error (disk full, I/O error, a folder removed) never reaches the session: the
recorder keeps the message in ``error``, calls ``on_error(message)`` once, stops
writing and drops new rows, so memory stays bounded.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable

from edgemon.datatypes import Event, EventKind, LatencyBatch, Sample
from edgemon.errors import UserError
from edgemon.recording.layout import (
    SCHEMA_VERSION,
    SESSION_FILE,
    STREAMS,
    TAIL_SUFFIX,
    FolderLock,
    fsync_dir,
    is_live,
    live_writer_error,
    new_session_id,
    part_name,
    write_json_atomic,
)

# Events that must reach the disk now, not at the next tick: the process may be about to die.
_URGENT_EVENTS = frozenset({EventKind.WORKER_CRASHED, EventKind.SESSION_END})


def utc_iso(unix_ns: int | None = None) -> str:
    """ISO 8601 UTC with milliseconds, e.g. ``2026-08-21T10:04:05.123Z``."""
    ns = time.time_ns() if unix_ns is None else unix_ns
    t = _dt.datetime.fromtimestamp(ns / 1e9, tz=_dt.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def clock_anchor() -> dict[str, Any]:
    """One (monotonic, wall) pair taken together: converts recorded ``t_ns`` to wall time for display."""
    mono = time.monotonic_ns()
    unix = time.time_ns()
    return {"monotonic_ns": mono, "unix_ns": unix, "wall_time": utc_iso(unix), "source": "CLOCK_MONOTONIC"}


class _Tail:
    """One stream's live tail file and its roll into Parquet."""

    def __init__(self, folder: Path, kind: str, fsync: bool):
        self.folder = folder / kind
        self.kind = kind
        self.fsync = fsync
        self.session_id: str | None = None      # set when the recorder opens
        self.index = 0
        self.path: Path | None = None
        self._file: Any = None       # the open tail file (binary, unbuffered)
        self._writer: Any = None     # its pyarrow IPC stream writer
        self.opened_at = 0.0  # time.monotonic() of the segment's first batch
        self.schema = None

    @property
    def is_open(self) -> bool:
        return self._writer is not None

    def write(self, batch) -> None:
        try:
            self._write(batch)
        except OSError as e:
            if e.filename or self.path is None:
                raise
            # pyarrow's wrapped errors carry no file name; the message should say which file.
            raise OSError(e.errno, e.strerror or str(e), str(self.path)) from e

    def _write(self, batch) -> None:
        import pyarrow.ipc as ipc

        if self._writer is None:
            self.path = self.folder / part_name(self.index, TAIL_SUFFIX)
            # Unbuffered: each IPC message goes straight to the kernel; fsync below makes it durable.
            self._file = open(self.path, "wb", buffering=0)
            if self.fsync:
                fsync_dir(self.folder)
            self.schema = batch.schema
            self._writer = ipc.new_stream(self._file, batch.schema)
            self.opened_at = time.monotonic()
        self._writer.write_batch(batch)
        self._file.flush()
        if self.fsync:
            os.fsync(self._file.fileno())

    def roll(self) -> Path | None:
        """Close the tail and convert it; returns the Parquet path (None when nothing was open)."""
        from edgemon.recording.segments import tail_to_parquet

        if self._writer is None:
            return None
        tail = self.path
        assert tail is not None   # set when the writer was opened
        try:
            self._writer.close()  # writes the end-of-stream marker
            if self.fsync:
                os.fsync(self._file.fileno())
        finally:
            self._writer = None
            self._file.close()
            self._file = None
            self.schema = None
            self.index += 1
        contents = tail_to_parquet(tail, session_id=self.session_id, fsync=self.fsync)
        return tail.with_suffix(".parquet") if contents.rows else None

    def abandon(self) -> None:
        """Close file handles after an error without touching the disk further."""
        for closer in (getattr(self._writer, "close", None), getattr(self._file, "close", None)):
            try:
                if closer:
                    closer()
            except Exception:  # noqa: BLE001 - the disk is already failing; nothing more to say
                pass
        self._writer = None
        self._file = None


def _as_float(v: Any) -> float | None:
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


class Recorder:
    """Records one session into ``folder`` (see module docstring).

    ``on_error(message)``: called once, from whichever thread hit the error, when recording stops.
    ``on_roll(kind, parquet_path)``: called from the writer thread after a segment became Parquet.
    ``max_buffered_rows``: cap per stream while the writer thread is behind (slow disk); rows over
    it are dropped and counted in ``dropped_rows``.
    """

    def __init__(
        self,
        folder: Path,
        meta: dict[str, Any],
        *,
        flush_s: float = 1.0,
        roll_s: float = 300.0,
        fsync: bool = True,
        on_error: Callable[[str], None] | None = None,
        on_roll: Callable[[str, Path], None] | None = None,
        max_buffered_rows: int = 2_000_000,
    ):
        if flush_s <= 0 or roll_s <= 0:
            raise ValueError("flush_s and roll_s must be positive")
        self.folder = Path(folder)
        self.meta: dict[str, Any] = dict(meta)
        self.flush_s = float(flush_s)
        self.roll_s = float(roll_s)
        self.fsync = fsync
        self.on_error = on_error
        self.on_roll = on_roll
        self.max_buffered_rows = int(max_buffered_rows)
        self.error: str | None = None
        self.dropped_rows: dict[str, int] = {k: 0 for k in STREAMS}
        self.rows_written: dict[str, int] = {k: 0 for k in STREAMS}
        self.segments: dict[str, int] = {k: 0 for k in STREAMS}  # Parquet files rolled so far

        self._buf_lock = threading.Lock()
        # One writer of the files at a time (thread, flush(), close()). Re-entrant so that an
        # on_error callback running on the writer thread may call close().
        self._io_lock = threading.RLock()
        self._meta_lock = threading.Lock()
        self._samples: list[Sample] = []
        self._latency: list[LatencyBatch] = []
        self._latency_rows = 0
        self._events: list[Event] = []
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = FolderLock(self.folder)
        self._tails = {k: _Tail(self.folder, k, fsync) for k in STREAMS}
        self._metrics: list[str] = []       # telemetry columns of the open segment, in first-seen order
        self._state = "new"                 # new -> open -> closed

    # ----------------------------------------------------------------- life cycle

    def open(self) -> "Recorder":
        """Create the folder, take the writer lock, write session.json, start the writer thread."""
        if self._state != "new":
            raise RuntimeError("Recorder.open() called twice")
        self._check_folder()
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            if not self._lock.acquire():
                raise live_writer_error(self.folder, "choose another folder")
            for kind in STREAMS:
                (self.folder / kind).mkdir(exist_ok=True)
            if not isinstance(self.meta.get("session_id"), str) or not self.meta["session_id"]:
                self.meta["session_id"] = new_session_id(str(self.meta.get("host") or "host"))
            for tail in self._tails.values():
                tail.session_id = self.meta["session_id"]
            self.meta.update(
                schema_version=SCHEMA_VERSION,
                edgemon_version=_edgemon_version(),
                clock=clock_anchor(),
                state="running",
                writer_pid=os.getpid(),
            )
            self._write_meta()
        except OSError as e:
            self._lock.release()
            raise UserError(
                f"cannot record into {self.folder}: {e.strerror or e}; pass a writable folder with --record"
            ) from None
        self._state = "open"
        self._thread = threading.Thread(target=self._run, name="edgemon-recorder", daemon=True)
        self._thread.start()
        return self

    def _check_folder(self) -> None:
        f = self.folder
        if not f.exists():
            return
        if not f.is_dir():
            raise UserError(f"{f} exists and is not a folder; pass a new folder with --record")
        try:
            entries = list(f.iterdir())
        except OSError as e:
            raise UserError(f"cannot read {f}: {e.strerror or e}; pass a writable folder with --record") from None
        if not entries:
            return
        if is_live(f):
            raise live_writer_error(f, "choose another folder with --record")
        if (f / SESSION_FILE).exists():
            raise UserError(f"{f} already holds a recording; pass a new folder with --record")
        raise UserError(f"{f} exists and is not empty; pass a new or empty folder with --record")

    def close(self, end: dict[str, Any] | None = None) -> None:
        """Final flush, roll every tail to Parquet, mark session.json ended, release the lock.

        ``end``: details kept under ``session.json["end"]`` (reason, worker exit, ...);
        ``end["state"]`` overrides the final state ("ended"; e.g. "crashed"). Never raises
        for disk trouble; idempotent.
        """
        if self._state != "open":
            return
        self._state = "closing"
        self._stop.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=60.0)
        end = dict(end or {})
        state = str(end.pop("state", "ended"))
        with self._io_lock:
            if self.error is None:
                try:
                    self._write_buffers()
                    for kind in STREAMS:
                        self._roll(kind)
                    self._unify()
                except Exception as e:  # noqa: BLE001 - any write failure becomes the recording's fault, never a crash - never raise into the session
                    self._fail(e)
            if self.error is not None:
                for tail in self._tails.values():
                    tail.abandon()
                self._clear_buffers()
            meta_written = False
            try:
                with self._meta_lock:
                    self.meta.update(
                        state=state,
                        ended_wall=utc_iso(),
                        ended_monotonic_ns=time.monotonic_ns(),
                        end=end,
                        rows=dict(self.rows_written),
                    )
                    if any(self.dropped_rows.values()):
                        self.meta["dropped_rows"] = dict(self.dropped_rows)
                    if self.error is not None:
                        self.meta["recording_error"] = self.error
                    self._write_meta()
                    meta_written = True
            except Exception as e:  # noqa: BLE001 - any write failure becomes the recording's fault, never a crash
                self._fail(e)
        # Keep the lock file if session.json could not be finished: recover will look at it.
        self._lock.release(remove=meta_written)
        self._state = "closed"

    def __enter__(self) -> "Recorder":
        return self.open()

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close({"reason": "exception" if exc_type else "closed"})

    @property
    def is_open(self) -> bool:
        return self._state == "open"

    @property
    def buffered_rows(self) -> int:
        """Rows waiting for the writer thread (0 after an error: new rows are dropped)."""
        with self._buf_lock:
            return len(self._samples) + self._latency_rows + len(self._events)

    # ----------------------------------------------------------------- subscriber API (any thread)

    def on_sample(self, sample: Sample) -> None:
        with self._buf_lock:
            if not self._accepting("telemetry", 1, len(self._samples)):
                return
            self._samples.append(sample)

    def on_latency(self, batch: LatencyBatch) -> None:
        n = len(batch)
        if n == 0:
            return
        with self._buf_lock:
            if not self._accepting("latency", n, self._latency_rows):
                return
            self._latency.append(batch)
            self._latency_rows += n

    def on_event(self, event: Event) -> None:
        with self._buf_lock:
            if not self._accepting("events", 1, len(self._events)):
                return
            self._events.append(event)
        if event.kind in _URGENT_EVENTS:
            self._wake.set()

    def _accepting(self, kind: str, n: int, buffered: int) -> bool:
        """Under _buf_lock. False (and counted) when closed, failed, or the buffer is full."""
        if self._state not in ("open", "closing") or self.error is not None:
            return False
        if buffered + n > self.max_buffered_rows:
            self.dropped_rows[kind] += n
            return False
        return True

    def flush(self) -> None:
        """Write what is buffered now (tests, and before something risky). Never raises."""
        if self._state != "open":
            return
        with self._io_lock:
            if self.error is None:
                try:
                    self._write_buffers()
                except Exception as e:  # noqa: BLE001 - any write failure becomes the recording's fault, never a crash
                    self._fail(e)

    def update_meta(self, **kw: Any) -> None:
        """Merge ``kw`` into session.json (rewritten atomically), e.g. the worker's hello."""
        with self._meta_lock:
            self.meta.update(kw)
            if self._state not in ("open", "closing") or self.error is not None:
                return
            try:
                self._write_meta()
            except Exception as e:  # noqa: BLE001 - any write failure becomes the recording's fault, never a crash
                self._fail(e)

    # ----------------------------------------------------------------- writer thread

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.flush_s)
            self._wake.clear()
            if self._stop.is_set():
                break  # close() does the final flush
            with self._io_lock:
                if self.error is not None:
                    self._clear_buffers()
                    continue
                try:
                    self._write_buffers()
                    now = time.monotonic()
                    for kind, tail in self._tails.items():
                        if tail.is_open and now - tail.opened_at >= self.roll_s:
                            self._roll(kind)
                except Exception as e:  # noqa: BLE001 - any write failure becomes the recording's fault, never a crash - recording must never kill the session
                    self._fail(e)

    def _take_buffers(self):
        with self._buf_lock:
            samples, self._samples = self._samples, []
            latency, self._latency = self._latency, []
            self._latency_rows = 0
            events, self._events = self._events, []
        return samples, latency, events

    def _clear_buffers(self) -> None:
        self._take_buffers()

    def _write_buffers(self) -> None:
        """Under _io_lock: one record batch per stream with rows."""
        samples, latency, events = self._take_buffers()
        if samples:
            self._write_samples(samples)
        if latency:
            self._write_latency(latency)
        if events:
            self._write_events(events)

    def _write_samples(self, samples: list[Sample]) -> None:
        import pyarrow as pa

        from edgemon.recording.segments import stream_schema

        known = set(self._metrics)
        new: list[str] = []
        for s in samples:
            for name in s.values:
                if name not in known and name != "t_ns":
                    known.add(name)
                    new.append(name)
        tail = self._tails["telemetry"]
        if new:
            self._roll("telemetry")  # a new column starts a new file: one schema per file
            self._metrics = self._metrics + new
        schema = stream_schema("telemetry", self._metrics)
        samples.sort(key=lambda s: s.t_ns)
        arrays = [pa.array([int(s.t_ns) for s in samples], pa.int64())]
        for name in self._metrics:
            arrays.append(pa.array([_as_float(s.values.get(name)) for s in samples], pa.float64()))
        tail.write(pa.RecordBatch.from_arrays(arrays, schema=schema))
        self.rows_written["telemetry"] += len(samples)

    def _write_latency(self, batches: list[LatencyBatch]) -> None:
        import numpy as np
        import pyarrow as pa

        from edgemon.recording.segments import stream_schema

        t_end = np.concatenate([np.asarray(b.t_end_ns, dtype=np.int64) for b in batches])
        dur = np.concatenate([np.asarray(b.duration_ns, dtype=np.int64) for b in batches])
        items = np.concatenate([np.asarray(b.items, dtype=np.int32) for b in batches])
        warm = np.concatenate([np.full(len(b), bool(b.warmup)) for b in batches])
        batch = pa.RecordBatch.from_arrays(
            [pa.array(t_end), pa.array(dur), pa.array(items), pa.array(warm)], schema=stream_schema("latency")
        )
        self._tails["latency"].write(batch)
        self.rows_written["latency"] += len(t_end)

    def _write_events(self, events: list[Event]) -> None:
        import pyarrow as pa

        from edgemon.recording.segments import stream_schema

        batch = pa.RecordBatch.from_arrays(
            [
                pa.array([int(e.t_ns) for e in events], pa.int64()),
                pa.array([str(e.kind) for e in events], pa.string()),
                pa.array([e.details_json() for e in events], pa.string()),
            ],
            schema=stream_schema("events"),
        )
        self._tails["events"].write(batch)
        self.rows_written["events"] += len(events)

    def _roll(self, kind: str) -> None:
        path = self._tails[kind].roll()
        if path is None:
            return
        self.segments[kind] += 1
        if self.on_roll is not None:
            try:
                self.on_roll(kind, path)
            except Exception:  # noqa: BLE001 - a logging callback must not stop the recording
                pass

    def _unify(self) -> None:
        """Every segment of a stream to one schema (module docstring); before session.json says
        "ended", so a crash in between leaves a "running" session that recover finishes."""
        from edgemon.recording.unify import unify_session

        unify_session(self.folder, self.meta["session_id"], fsync=self.fsync)

    def _write_meta(self) -> None:
        write_json_atomic(self.folder / SESSION_FILE, self.meta, fsync=self.fsync)

    def _fail(self, exc: BaseException) -> None:
        """Stop recording after the first error; tell the session once."""
        if self.error is not None:
            return
        if isinstance(exc, OSError):
            where = f"{exc.filename}: " if exc.filename else ""
            why = f"{where}{exc.strerror or exc}"
        else:
            why = f"{type(exc).__name__}: {exc}"
        self.error = (
            f"recording stopped ({why}); the session goes on unrecorded; "
            f"what was recorded before is kept in {self.folder}"
        )
        with self._buf_lock:
            self._samples, self._latency, self._events = [], [], []
            self._latency_rows = 0
        if self.on_error is not None:
            try:
                self.on_error(self.error)
            except Exception:  # noqa: BLE001 - a broken error callback must not hide the error
                pass


def _edgemon_version() -> str:
    from edgemon import __version__

    return __version__
