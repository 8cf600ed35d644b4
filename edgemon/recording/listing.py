"""``edgemon ls``: this user's sessions (the session index and ./recordings, or given folders)
and what state each is in.

States:
  running  session.json says running and a process holds session.lock (the writer's flock)
  ended    finished normally          crashed  the workload crashed (or recover marked it)
  recording_failed  the recording stopped early (disk full, ...); a live session goes on
           unrecorded and is shown as running, with the reason
  died     session.json says running but nobody holds session.lock: the session process
           was killed; ``edgemon recover DIR`` turns its tail into Parquet and marks it crashed
  gone     in the session index, but its folder is no longer there (moved or deleted);
           ``edgemon ls --prune`` forgets it
A crashed session whose worker never said hello (or that failed before it ran) is shown as
"failed to start" and is never what ``latest`` means.

Reads session.json, the lock and file sizes: cheap on hundreds of recordings. A session
that never recorded its end (died, or recovered after a crash) gets its duration from its
own clock: the newest time in its data (Parquet footers, the telemetry and events tails),
never from file modification times, which recover and copies change.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

from edgemon.errors import UserError
from edgemon.units import format_clock


@dataclass
class SessionInfo:
    path: str                      # absolute
    name: str
    state: str                     # running, ended, crashed, died, unknown, gone
    started: str                   # local wall time "YYYY-mm-dd HH:MM:SS", "" when unknown
    runner: str
    model: str
    duration_s: float | None       # so far for running; up to the last write for died
    size_bytes: int
    pid: int | None                # the writer (session process) when running
    detached: bool                 # a control socket: `edgemon attach` works
    hint: str = ""                 # what to do about it (died: recover)
    failed_to_start: bool = False  # crashed before its worker ran: never 'latest'
    started_unix_ns: int | None = None
    index_file: str = ""           # its entry in the session index ("" when found under a folder)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def shown_state(self) -> str:
        if self.failed_to_start:
            return "failed to start"
        return self.state + (" (detached)" if self.detached else "")

    @property
    def usable(self) -> bool:
        """What 'latest' may pick: a recording that exists and whose session got going."""
        return self.state not in ("gone", "unknown") and not self.failed_to_start


def session_info(folder: Path) -> SessionInfo | None:
    """What ``folder`` is, or None when it is not a recording."""
    from edgemon.daemon.server import SOCKET_NAME
    from edgemon.recording.layout import SESSION_FILE, is_live, writer_pid
    from edgemon.recording.meta_check import checked_meta
    from edgemon.recording.safe_io import read_text

    try:
        meta = json.loads(read_text(folder / SESSION_FILE))
        if not isinstance(meta, dict):
            raise ValueError
    except FileNotFoundError:
        return None
    except (OSError, ValueError, RecursionError):
        meta = {"state": "unknown"}
    folder = Path(os.path.abspath(folder))
    meta, _problems = checked_meta(meta)
    state = str(meta.get("state", "unknown"))
    live = is_live(folder)
    hint = ""
    if state == "running" and not live:
        state = "died"
        hint = f"edgemon recover {folder}"
    elif state == "recording_failed":
        failed = meta.get("recording_failed") or {}
        hint = f"recording stopped: {failed.get('headline') or 'see session.json'}"
        if live:
            state = "running"
    clock = meta.get("clock") or {}
    ended_ns = meta.get("ended_monotonic_ns")
    start_mono = clock.get("monotonic_ns")
    start_unix = clock.get("unix_ns")
    duration = None
    if isinstance(start_mono, int):
        if state == "running":
            duration = (time.monotonic_ns() - start_mono) / 1e9
        elif isinstance(ended_ns, int) and ended_ns >= start_mono:
            duration = (ended_ns - start_mono) / 1e9
    size = _size(folder)
    if duration is None and isinstance(start_mono, int):
        last = last_recorded_ns(folder)                    # died or recovered: up to its last data
        if last is not None:
            duration = max(0.0, (last - start_mono) / 1e9)
    workload = meta.get("workload")
    workload = workload if isinstance(workload, dict) else {}
    return SessionInfo(
        path=str(folder),
        name=folder.name,
        state=state,
        started=_local(start_unix),
        runner=str(workload.get("runner", "")),
        model=str(workload.get("model", "")),
        duration_s=round(duration, 1) if duration is not None else None,
        size_bytes=size,
        pid=writer_pid(folder) if live else None,
        detached=live and (folder / SOCKET_NAME).exists(),
        hint=hint,
        failed_to_start=_failed_to_start(meta, state),
        started_unix_ns=start_unix if isinstance(start_unix, int) else None,
    )


def _failed_to_start(meta: dict[str, Any], state: str) -> bool:
    """The session crashed before its workload ran: it said so, or (recordings from before it
    said so) its runner never said hello."""
    from edgemon.workload.spec import session_kind

    end = meta.get("end")
    if isinstance(end, dict) and "failed_to_start" in end:
        return end.get("failed_to_start") is True
    return state == "crashed" and session_kind(meta) == "runner" and not meta.get("runner_hello")


def _local(unix_ns: Any) -> str:
    if not isinstance(unix_ns, int):
        return ""
    try:
        return _dt.datetime.fromtimestamp(unix_ns / 1e9).strftime("%Y-%m-%d %H:%M:%S")
    except (ValueError, OverflowError, OSError):
        return ""


def _size(folder: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue
    return total


def last_recorded_ns(folder: Path) -> int | None:
    """The newest time in a recording's data on its own monotonic clock: the maximum of every
    Parquet segment's time statistics (footers only) and of the telemetry and events tails
    (small; a latency tail ends within a flush of the telemetry one). None when it has none."""
    from edgemon.recording.layout import SEGMENT_SUFFIX, TAIL_SUFFIX, sorted_files
    from edgemon.recording.segments import TIME_COLUMN

    best: int | None = None

    def keep(v) -> None:
        nonlocal best
        if isinstance(v, int) and not isinstance(v, bool):
            best = v if best is None else max(best, v)

    for kind, col in TIME_COLUMN.items():
        for seg in sorted_files(folder / kind, SEGMENT_SUFFIX):
            keep(_footer_max(seg, col))
        if kind == "latency":
            continue
        for tail in sorted_files(folder / kind, TAIL_SUFFIX):
            keep(_tail_max(tail, col))
    return best


def _footer_max(path: Path, column: str) -> int | None:
    import pyarrow.parquet as pq

    from edgemon.recording.safe_io import regular_file_path

    try:
        with regular_file_path(path) as own:
            meta = pq.read_metadata(own)
        idx = meta.schema.to_arrow_schema().names.index(column)
    except Exception:  # noqa: BLE001 - a damaged or foreign file adds nothing
        return None
    best = None
    for k in range(meta.num_row_groups):
        st = meta.row_group(k).column(idx).statistics
        if st is not None and st.has_min_max:
            try:
                v = int(st.max)
            except (TypeError, ValueError):
                continue
            best = v if best is None else max(best, v)
    return best


def _tail_max(path: Path, column: str) -> int | None:
    from edgemon.recording.segments import read_tail

    try:
        contents = read_tail(path)
    except OSError:
        return None
    if contents.table is None or column not in contents.table.column_names or not contents.table.num_rows:
        return None
    try:
        return int(max(v for v in contents.table.column(column).to_pylist() if v is not None))
    except (TypeError, ValueError):
        return None


def list_sessions(roots: list[Path]) -> list[SessionInfo]:
    """Sessions in each root (a recording folder itself, or a folder of them), oldest first."""
    found: dict[str, SessionInfo] = {}
    _add_roots(found, roots)
    return sorted(found.values(), key=lambda i: (i.started, i.name))


def _add_roots(found: dict[str, SessionInfo], roots: Sequence[Path]) -> None:
    from edgemon.recording.layout import SESSION_FILE

    for root in roots:
        root = Path(root)
        if not root.exists():
            continue
        candidates = [root] if (root / SESSION_FILE).is_file() else sorted(
            p.parent for p in root.glob(f"*/{SESSION_FILE}"))
        for folder in candidates:
            key = _key(folder)
            if key in found:
                continue
            info = session_info(folder)
            if info is not None:
                found[key] = info


def _key(folder: Path) -> str:
    try:
        return str(Path(folder).resolve())
    except OSError:
        return os.path.abspath(folder)


def user_sessions(local_roots: Sequence[Path] = (Path("recordings"),), *, warn=None) -> tuple[list[SessionInfo], list]:
    """Every session of this user: the session index, plus ``local_roots`` (sessions recorded
    before the index existed). Running first, then newest first. Returns ``(infos, bad
    index entries)``; gone entries are SessionInfos in state "gone"."""
    from edgemon.recording.index import _stderr_warning, read_index

    entries, bad = read_index(warn=warn if warn is not None else _stderr_warning)
    found: dict[str, SessionInfo] = {}
    for e in entries:
        key = _key(e.folder)
        if key in found:
            continue
        info = session_info(e.folder) if e.exists else None
        if info is None:
            info = SessionInfo(path=str(e.folder), name=e.folder.name, state="gone", started=_local(e.started_unix_ns),
                               runner="", model="", duration_s=None, size_bytes=0, pid=None, detached=False,
                               hint="the folder is no longer there; `edgemon ls --prune` forgets it",
                               started_unix_ns=e.started_unix_ns)
        info.index_file = e.file
        if info.started_unix_ns is None:
            info.started_unix_ns = e.started_unix_ns
        found[key] = info
    _add_roots(found, list(local_roots))
    return sort_running_first(list(found.values())), bad


def sort_running_first(infos: list[SessionInfo]) -> list[SessionInfo]:
    """Running sessions first, then the rest; newest first within each."""
    def newest(i: SessionInfo):
        return -(i.started_unix_ns or 0), i.name
    return sorted(infos, key=lambda i: (i.state != "running", *newest(i)))


def latest_session(local_roots: Sequence[Path] = (Path("recordings"),), *, running: bool = False) -> Path | None:
    """The newest usable session of this user (``running``: the newest one that can be attached
    to: running and detached), wherever it records; None when there is none."""
    infos, _bad = user_sessions(local_roots)
    usable = [i for i in infos if i.usable and (not running or (i.state == "running" and i.detached))]
    if not usable:
        return None
    return Path(max(usable, key=_started_or_mtime).path)


def _started_or_mtime(info: SessionInfo) -> int:
    if info.started_unix_ns is not None:
        return info.started_unix_ns
    try:
        return os.stat(os.path.join(info.path, "session.json")).st_mtime_ns
    except OSError:
        return 0


def check_roots(roots: list[Path]) -> None:
    for root in roots:
        if not Path(root).exists():
            raise UserError(f"{root} does not exist; pass a recordings folder or a recording")
        if not Path(root).is_dir():
            raise UserError(f"{root} is not a folder; pass a recordings folder or a recording")


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"


def human_duration(s: float | None) -> str:
    return format_clock(s, missing="-", always_hours=True)


def format_table(infos: list[SessionInfo]) -> str:
    """A table with each session's absolute folder last (it can be long), then what to do about
    died and gone sessions."""
    if not infos:
        return "no sessions"
    rows = [("STATE", "STARTED", "WORKLOAD", "DURATION", "SIZE", "FOLDER")]
    for i in infos:
        rows.append((i.shown_state, i.started or "-", f"{i.runner}/{i.model}".strip("/") or "-",
                     human_duration(i.duration_s), human_size(i.size_bytes) if i.state != "gone" else "-", i.path))
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows]
    for i in infos:
        if i.state == "died":
            lines.append(f"{i.path} died: run `{i.hint}` to make its recording whole")
        elif i.hint and i.state != "gone":
            lines.append(f"{i.path}: {i.hint}")
    gone = [i for i in infos if i.state == "gone"]
    if gone:
        lines.append(f"{len(gone)} session{'s' if len(gone) != 1 else ''} in the index no longer exist "
                     f"({', '.join(i.path for i in gone[:3])}{', ...' if len(gone) > 3 else ''}); "
                     "`edgemon ls --prune` forgets them")
    return "\n".join(lines)
