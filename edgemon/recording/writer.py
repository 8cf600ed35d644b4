"""Crash-safe session recorder: a thread-safe subscriber that turns samples, latency and events into files.

Callers (sampler, workload reader, session) only append to in-memory buffers. One
background thread, every ``flush_s``, appends the buffered rows as one record batch to
each stream's live tail (``<stream>/part-NNNNN.arrows``, Arrow IPC *stream* format,
flushed and fsync'ed), so a SIGKILL or power cut loses at most the last ``flush_s`` of what reached
the recorder (rows reach it up to half a second after they happen: the sampler's batches, the
worker pipe's reads).
Every ``roll_s`` (and on close) a tail becomes ``part-NNNNN.parquet`` (zstd, written
to a tmp name, fsync'ed, renamed) and the tail is deleted. ``recover`` finishes the
job for tails a crash left behind.

Telemetry is wide (``t_ns`` + one float64 column per metric). When a new metric
appears the telemetry segment is rolled first (an IPC stream has one schema); at close
the earlier segments are rewritten to the session's full set of columns
(:mod:`edgemon.recording.unify`), so every Parquet file of a stream has the same schema.
Every Parquet row carries the session's ``session_id`` (added when a tail is rolled).

A write error (disk full, I/O error, a folder removed, a disk that stalls) never reaches
the session as an exception: the recorder turns it into a :class:`RecordingFault`
(``fault``; its one-line ``error``), calls ``on_error(message)`` once, stops writing, drops
new rows (memory stays bounded) and marks ``session.json`` ``recording_failed``. Its disk
watch stops it cleanly before the disk is full and reports the recording rate and low space
through ``on_disk``. No call from the session waits on the disk for long: ``update_meta``
only wakes the writer thread, and ``close`` gives up on a disk that makes no progress
(``recording/faults.py``).
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
from edgemon.recording import faults
from edgemon.recording.faults import DiskStalled, DiskWatch, RecordingFault, SpaceReserve
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
from edgemon.recording.safe_io import open_new

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

    @property
    def size(self) -> int:
        """Bytes of the open tail (0 when none is open)."""
        f = self._file
        try:
            return os.fstat(f.fileno()).st_size if f is not None else 0
        except (OSError, ValueError):
            return 0

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
            # A new file, never opened through a link or over something already there (safe_io).
            self._file = open_new(self.path, "wb", buffering=0)
            if self.fsync:
                fsync_dir(self.folder)
            self.schema = batch.schema
            self._writer = ipc.new_stream(self._file, batch.schema)
            self.opened_at = time.monotonic()
        self._writer.write_batch(batch)
        self._file.flush()
        if self.fsync:
            os.fsync(self._file.fileno())

    def roll(self, progress: Callable[[], None] | None = None) -> Path | None:
        """Close the tail and convert it; returns the Parquet path (None when nothing was open).
        ``progress()`` is called as the conversion moves on (the recorder's stall watch)."""
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
        contents = tail_to_parquet(tail, session_id=self.session_id, fsync=self.fsync, progress=progress)
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

    ``on_error(message)``: called once, from whichever thread hit the error, when recording stops;
    ``fault`` then says why (a :class:`~edgemon.recording.faults.RecordingFault`).
    ``on_roll(kind, parquet_path)``: called from the writer thread after a segment became Parquet.
    ``on_disk(kind, details)``: from the writer thread: ``"rate"`` once the recording rate is
    measured, ``"low"`` when less than 10 minutes of recording are left (details: free_bytes,
    rate_bytes_per_h, left_s).
    ``max_buffered_rows``: cap per stream while the writer thread is behind (slow disk); rows over
    it are dropped and counted in ``dropped_rows``.
    ``min_free_bytes``: the recording stops cleanly when less than this (plus room for its final
    roll) is free on its file system; ``open()`` refuses to start below it.
    ``stall_s``: a disk on which no write finishes for this long while the session runs is a
    fault ("disk stalled"; long, since an SD card's fsync may take seconds); ``close()`` waits at
    most ``close_stall_s`` for a disk that makes no progress, and at most ``close_max_s`` for
    one that does.
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
        on_disk: Callable[[str, dict[str, Any]], None] | None = None,
        max_buffered_rows: int = 2_000_000,
        min_free_bytes: int = 0,
        stall_s: float = 30.0,
        close_stall_s: float = 10.0,
        close_max_s: float = 30.0,
        open_timeout_s: float = 10.0,
    ):
        if flush_s <= 0 or roll_s <= 0:
            raise ValueError("flush_s and roll_s must be positive")
        self.folder = Path(folder).absolute()   # messages name it absolutely
        self.meta: dict[str, Any] = dict(meta)
        self.flush_s = float(flush_s)
        self.roll_s = float(roll_s)
        self.fsync = fsync
        self.on_error = on_error
        self.on_roll = on_roll
        self.on_disk = on_disk
        self.max_buffered_rows = int(max_buffered_rows)
        self.stall_s = float(stall_s)
        self.close_stall_s = float(close_stall_s)
        self.close_max_s = float(close_max_s)
        self.open_timeout_s = float(open_timeout_s)
        self.error: str | None = None
        self.fault: RecordingFault | None = None
        self.dropped_rows: dict[str, int] = {k: 0 for k in STREAMS}
        self.rows_written: dict[str, int] = {k: 0 for k in STREAMS}
        self.segments: dict[str, int] = {k: 0 for k in STREAMS}  # Parquet files rolled so far
        self.last_t_ns: dict[str, int] = {}                       # newest row written, per stream
        self.disk = DiskWatch(self.folder, min_free_bytes=min_free_bytes)

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
        self._reserve = SpaceReserve(self.folder)
        self._tails = {k: _Tail(self.folder, k, fsync) for k in STREAMS}
        self._metrics: list[str] = []       # telemetry columns of the open segment, in first-seen order
        self._schemas: dict[tuple, Any] = {}  # (stream, metrics) -> Arrow schema: built once, not every flush
        self._state = "new"                 # new -> open -> closing -> closed
        self._opened_at = time.monotonic()
        self._meta_dirty = False
        self._fault_meta_written = False
        self._segment_bytes = 0             # Parquet bytes rolled so far (the rate of the recording)
        # Stall watch: when the current disk operation began and when the disk last made progress.
        self._busy_since: float | None = None
        self._progress_at = time.monotonic()

    # ----------------------------------------------------------------- life cycle

    def open(self) -> "Recorder":
        """Create the folder, take the writer lock, write session.json, start the writer thread.

        UserError for a folder it must not record into, too little free space, or a disk that
        does not answer within ``open_timeout_s`` (Ctrl-C works meanwhile)."""
        if self._state != "new":
            raise RuntimeError("Recorder.open() called twice")
        self._check_folder()
        self._check_space()
        outcome: list[BaseException | None] = []

        def work() -> None:
            try:
                self._open_files()
                outcome.append(None)
            except BaseException as e:  # noqa: BLE001 - handed to the caller's thread
                outcome.append(e)

        opener = threading.Thread(target=work, name="edgemon-recorder-open", daemon=True)
        opener.start()
        opener.join(self.open_timeout_s)
        if not outcome:
            raise UserError(f"cannot record into {self.folder}: its disk did not answer within "
                            f"{self.open_timeout_s:.0f} s (a frozen or failing file system?); pass another folder "
                            "with --record")
        if isinstance(outcome[0], UserError):
            raise outcome[0]
        if isinstance(outcome[0], OSError):
            e = outcome[0]
            raise UserError(
                f"cannot record into {self.folder}: {faults.describe(e)}; pass a writable folder with --record"
            ) from None
        if outcome[0] is not None:
            raise outcome[0]
        self._state = "open"
        self._opened_at = self._progress_at = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="edgemon-recorder", daemon=True)
        self._thread.start()
        return self

    def _open_files(self) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._check_own_folder()
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
            self._reserve.take()
            self.disk = DiskWatch(self.folder, min_free_bytes=self.disk.min_free_bytes)
        except BaseException:
            self._lock.release()
            raise

    def _check_folder(self) -> None:
        f = self.folder
        if not f.exists() and not f.is_symlink():
            return
        self._check_own_folder()
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

    def _check_own_folder(self) -> None:
        """Refuse a folder that is a symlink, belongs to another user, or others may write into:
        they could plant links under the names edgemon is about to create."""
        import stat

        f = self.folder
        try:
            st = os.lstat(f)
        except FileNotFoundError:
            return
        if stat.S_ISLNK(st.st_mode):
            raise UserError(f"{f} is a symbolic link; pass the real folder with --record")
        if stat.S_ISDIR(st.st_mode) and st.st_uid != os.geteuid():
            raise UserError(f"{f} belongs to {_user_name(st.st_uid)}, not to you; another user could plant "
                            "links in it: pass a folder of your own with --record")
        if stat.S_ISDIR(st.st_mode) and st.st_mode & stat.S_IWOTH:   # sticky or not: others can add names
            raise UserError(f"{f} is writable by every user; pass a folder only you can write to with --record "
                            f"(or `chmod o-w {f}`)")

    def _check_space(self) -> None:
        need = self.disk.min_free_bytes
        if need <= 0:
            return
        where = faults.existing_parent(self.folder)
        free = faults.free_bytes(where)
        if free is not None and free < need + faults.RESERVE_BYTES:
            raise UserError(
                f"only {faults.human_bytes(free)} free on the file system of {where}; edgemon stops recording "
                f"with {faults.human_bytes(need)} left (--min-free): free some space, pass another folder "
                "with --record, or lower --min-free")

    def close(self, end: dict[str, Any] | None = None) -> None:
        """Final flush, roll every tail to Parquet, mark session.json ended (or
        ``recording_failed``), release the lock.

        ``end``: details kept under ``session.json["end"]`` (reason, worker exit, ...);
        ``end["state"]`` overrides the final state ("ended"; e.g. "crashed"). Never raises
        for disk trouble; idempotent. Bounded: a disk on which nothing finishes for
        ``close_stall_s`` is a fault ("disk stalled") and close returns; a slow one that makes
        progress (every row group counts) gets at most ``close_max_s``.
        """
        if self._state != "open":
            return
        self._state = "closing"
        self._stop.set()
        self._wake.set()
        if self._thread is threading.current_thread():   # an on_error callback on the writer thread
            self._finish(end)
            return
        if self.fault is not None and self.fault.kind == faults.STALLED:
            self._state = "closed"                         # nothing will finish on that disk
            return
        closer = threading.Thread(target=self._finish, args=(end,), name="edgemon-recorder-close", daemon=True)
        started = time.monotonic()
        closer.start()
        while closer.is_alive():
            closer.join(0.05)
            now = time.monotonic()
            if not closer.is_alive():
                break
            if now - max(self._progress_at, started) > self.close_stall_s:
                self._fail(DiskStalled(now - max(self._progress_at, started), self.folder))
                break
            if now - started > self.close_max_s:
                break   # a disk that crawls: what is not rolled stays a tail, recover converts it
        self._state = "closed"

    def _finish(self, end: dict[str, Any] | None) -> None:
        """The closing itself (see close()); runs on a thread close() can give up on."""
        writer = self._thread
        if writer is not None and writer is not threading.current_thread():
            writer.join()
        end = dict(end or {})
        state = str(end.pop("state", "ended"))
        with self._io_lock:
            if self.fault is None:
                try:
                    self._write_buffers()
                except Exception as e:  # noqa: BLE001 - never raise into the session
                    self._fail(e)
            if self.fault is None:
                try:   # Parquet first: a session.json that says "ended" means every segment is Parquet
                    for kind in STREAMS:
                        self._roll(kind)
                    self._unify()
                except Exception as e:  # noqa: BLE001 - a failed roll becomes the recording's fault, never a crash
                    self._fail(e)
            if self.fault is not None:
                self._clear_buffers()
                for tail in self._tails.values():
                    tail.abandon()
            meta_written = self._write_final_meta(state, end)
            self._reserve.release()
        # Keep the lock file if session.json could not be finished: recover will look at it.
        self._lock.release(remove=meta_written)
        self._state = "closed"

    def _write_final_meta(self, state: str, end: dict[str, Any]) -> bool:
        try:
            with self._meta_lock:
                if self.fault is not None:
                    end = {**end, "session": state}
                    state = faults.STATE_RECORDING_FAILED
                self.meta.update(
                    state=state,
                    ended_wall=utc_iso(),
                    ended_monotonic_ns=time.monotonic_ns(),
                    end=end,
                    rows=dict(self.rows_written),
                )
                if any(self.dropped_rows.values()):
                    self.meta["dropped_rows"] = dict(self.dropped_rows)
                self._put_fault_in_meta()
                if self.fault is not None and self.fault.kind == faults.DISK_FULL:
                    self._reserve.release()      # room for this last word
                self._write_meta()
            return True
        except Exception as e:  # noqa: BLE001 - a failed session.json becomes the recording's fault, never a crash
            self._fail(e)
            return False

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

    @property
    def recorded_s(self) -> float:
        """Seconds since recording began, up to the fault when it stopped early."""
        if self.fault is not None:
            return self.fault.after_s
        return time.monotonic() - self._opened_at

    # ----------------------------------------------------------------- subscriber API (any thread)

    def on_sample(self, sample: Sample) -> None:
        self._check_stall()
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

    def _check_stall(self) -> None:
        """Cheap, from the sampler's thread: a disk operation that has made no progress for
        ``stall_s`` stops the recording now (the writer thread may never come back)."""
        busy = self._busy_since
        if busy is None or self.error is not None or self._state != "open":
            return
        silent = time.monotonic() - max(busy, self._progress_at)
        if silent > self.stall_s:
            self._fail(DiskStalled(silent, self.folder))

    def _progress(self) -> None:
        self._progress_at = time.monotonic()

    def flush(self) -> None:
        """Write what is buffered now, and session.json if it changed (tests, and before
        something risky). Never raises; gives up after ``stall_s`` on a stalled disk."""
        if self._state != "open":
            return
        if not self._io_lock.acquire(timeout=self.stall_s):
            self._check_stall()
            return
        try:
            if self.error is None:
                self._busy_since = time.monotonic()
                try:
                    self._write_buffers()
                    self._write_meta_if_changed()
                except Exception as e:  # noqa: BLE001 - any write failure becomes the recording's fault, never a crash
                    self._fail(e)
                finally:
                    self._busy_since = None
        finally:
            self._io_lock.release()

    def update_meta(self, **kw: Any) -> None:
        """Merge ``kw`` into session.json, e.g. the worker's hello. Never waits on the disk: the
        writer thread rewrites the file (atomically) at once; ``flush()`` does it now."""
        with self._meta_lock:
            self.meta.update(kw)
            if self._state not in ("open", "closing") or self.error is not None:
                return
            self._meta_dirty = True
        self._wake.set()

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
                    self._write_fault_meta()
                    continue
                self._busy_since = time.monotonic()
                try:
                    self._write_buffers()
                    now = time.monotonic()
                    for kind, tail in self._tails.items():
                        if tail.is_open and now - tail.opened_at >= self.roll_s:
                            self._roll(kind)
                    self._watch_disk()
                    self._write_meta_if_changed()
                except Exception as e:  # noqa: BLE001 - recording must never kill the session
                    self._fail(e)
                    self._write_fault_meta()
                finally:
                    self._busy_since = None

    def _watch_disk(self) -> None:
        """Free space and rate; stop cleanly (rolled, meta written) below the floor. Writer thread."""
        open_tails = sum(t.size for t in self._tails.values())
        check = self.disk.check(self._segment_bytes + open_tails, open_tails)
        if check.stop:
            for kind in STREAMS:
                self._roll(kind)
            raise faults.LowSpace(check.free_bytes or 0, self.folder)
        for flag, kind in ((check.rate_report, "rate"), (check.warn, "low")):
            if flag and self.on_disk is not None:
                try:
                    self.on_disk(kind, check.to_dict())
                except Exception:  # noqa: BLE001 - a reporting callback must not stop the recording
                    pass

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
            newest = max(s.t_ns for s in samples)
            self._write_samples(samples)
            self._written("telemetry", newest)
        if latency:
            newest = max(int(b.t_end_ns[-1]) for b in latency if len(b))
            self._write_latency(latency)
            self._written("latency", newest)
        if events:
            newest = max(e.t_ns for e in events)
            self._write_events(events)
            self._written("events", newest)

    def _written(self, kind: str, newest_t_ns: int) -> None:
        self.last_t_ns[kind] = max(int(newest_t_ns), self.last_t_ns.get(kind, newest_t_ns))
        self._progress()

    def _schema(self, kind: str, metrics: tuple[str, ...] = ()):
        schema = self._schemas.get((kind, metrics))
        if schema is None:
            from edgemon.recording.segments import stream_schema

            schema = self._schemas[(kind, metrics)] = stream_schema(kind, list(metrics))
        return schema

    def _write_samples(self, samples: list[Sample]) -> None:
        import pyarrow as pa

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
            self._schemas = {k: v for k, v in self._schemas.items() if k[0] != "telemetry"}
        schema = self._schema("telemetry", tuple(self._metrics))
        samples.sort(key=lambda s: s.t_ns)
        arrays = [pa.array([int(s.t_ns) for s in samples], pa.int64())]
        for name in self._metrics:
            column = [s.values.get(name) for s in samples]
            try:   # sources give floats: Arrow converts the list in C, NaN and None become null
                arrays.append(pa.array(column, pa.float64(), from_pandas=True))
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
                arrays.append(pa.array([_as_float(v) for v in column], pa.float64()))
        tail.write(pa.RecordBatch.from_arrays(arrays, schema=schema))
        self.rows_written["telemetry"] += len(samples)

    def _write_latency(self, batches: list[LatencyBatch]) -> None:
        import numpy as np
        import pyarrow as pa

        if len(batches) == 1:
            b = batches[0]
            t_end, dur, items = b.t_end_ns, b.duration_ns, b.items
        else:
            t_end = np.concatenate([b.t_end_ns for b in batches])
            dur = np.concatenate([b.duration_ns for b in batches])
            items = np.concatenate([b.items for b in batches])
        flags = {bool(b.warmup) for b in batches}
        if len(flags) == 1:
            warm = np.zeros(len(t_end), dtype=bool) if flags == {False} else np.ones(len(t_end), dtype=bool)
        else:
            warm = np.concatenate([np.full(len(b), bool(b.warmup)) for b in batches])
        batch = pa.RecordBatch.from_arrays(
            [pa.array(np.asarray(t_end, dtype=np.int64)), pa.array(np.asarray(dur, dtype=np.int64)),
             pa.array(np.asarray(items, dtype=np.int32)), pa.array(warm)], schema=self._schema("latency"))
        self._tails["latency"].write(batch)
        self.rows_written["latency"] += len(t_end)

    def _write_events(self, events: list[Event]) -> None:
        import pyarrow as pa

        batch = pa.RecordBatch.from_arrays(
            [
                pa.array([int(e.t_ns) for e in events], pa.int64()),
                pa.array([str(e.kind) for e in events], pa.string()),
                pa.array([e.details_json() for e in events], pa.string()),
            ],
            schema=self._schema("events"),
        )
        self._tails["events"].write(batch)
        self.rows_written["events"] += len(events)

    def _roll(self, kind: str) -> None:
        path = self._tails[kind].roll(progress=self._progress)
        self._progress()
        if path is None:
            return
        self.segments[kind] += 1
        try:
            self._segment_bytes += path.stat().st_size
        except OSError:
            pass
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
        self._progress()

    def _write_meta_if_changed(self) -> None:
        """Writer thread (or flush): session.json after update_meta()."""
        with self._meta_lock:
            if not self._meta_dirty:
                return
            self._meta_dirty = False
            self._write_meta()

    def _put_fault_in_meta(self) -> None:
        """Under _meta_lock: the fault, where session.json readers (ls, analyze) find it."""
        if self.fault is None:
            return
        self.meta["state"] = faults.STATE_RECORDING_FAILED
        self.meta["recording_failed"] = self.fault.to_dict()
        self.meta["recording_error"] = self.fault.message
        self.meta["rows"] = dict(self.rows_written)

    def _write_fault_meta(self) -> None:
        """Writer thread, once after a fault: session.json says recording_failed now, not only
        at close (the process may be killed before). On a full disk the reserve makes room."""
        if self._fault_meta_written or self.fault is None:
            return
        self._fault_meta_written = True
        if self.fault.kind in (faults.STALLED, faults.FOLDER_GONE, faults.READ_ONLY):
            return                   # nothing can be written there
        if self.fault.kind == faults.DISK_FULL:
            self._reserve.release()
        try:
            with self._meta_lock:
                self._put_fault_in_meta()
                self._write_meta()
        except Exception:  # noqa: BLE001 - the disk said no; close() tries once more
            pass

    def _fail(self, exc: BaseException) -> None:
        """Stop recording after the first error; tell the session once. Any thread; never
        touches the disk (it may be what hangs)."""
        with self._buf_lock:
            if self.error is not None:
                return
            # a stalled disk stopped recording when it last made progress, not when that was noticed
            at = self._progress_at if isinstance(exc, DiskStalled) else time.monotonic()
            self.fault = RecordingFault.from_exception(
                exc, after_s=at - self._opened_at, folder=self.folder, rows_kept=dict(self.rows_written))
            self.error = self.fault.message
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


def _user_name(uid: int) -> str:
    import pwd

    try:
        return f"user {pwd.getpwuid(uid).pw_name}"
    except KeyError:
        return f"uid {uid}"
