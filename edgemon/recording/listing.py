"""``edgemon ls``: the sessions under ./recordings (or given folders) and what state each is in.

States:
  running  session.json says running and a process holds session.lock (the writer's flock)
  ended    finished normally          crashed  the workload crashed (or recover marked it)
  died     session.json says running but nobody holds session.lock: the session process
           was killed; ``edgemon recover DIR`` turns its tail into Parquet and marks it crashed

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
from typing import Any

from edgemon.errors import UserError
from edgemon.units import format_clock


@dataclass
class SessionInfo:
    path: str
    name: str
    state: str                     # running, ended, crashed, died, unknown
    started: str                   # local wall time "YYYY-mm-dd HH:MM:SS", "" when unknown
    runner: str
    model: str
    duration_s: float | None       # so far for running; up to the last write for died
    size_bytes: int
    pid: int | None                # the writer (session process) when running
    detached: bool                 # a control socket: `edgemon attach` works
    hint: str = ""                 # what to do about it (died: recover)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def session_info(folder: Path) -> SessionInfo | None:
    """What ``folder`` is, or None when it is not a recording."""
    from edgemon.daemon.server import SOCKET_NAME
    from edgemon.recording.layout import SESSION_FILE, is_live, writer_pid

    try:
        meta = json.loads((folder / SESSION_FILE).read_text(encoding="utf-8"))
        if not isinstance(meta, dict):
            raise ValueError
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        meta = {"state": "unknown"}
    state = str(meta.get("state", "unknown"))
    live = is_live(folder)
    hint = ""
    if state == "running" and not live:
        state = "died"
        hint = f"edgemon recover {folder}"
    clock = meta.get("clock") or {}
    start_mono = clock.get("monotonic_ns")
    start_unix = clock.get("unix_ns")
    duration = None
    if isinstance(start_mono, int):
        if state == "running":
            duration = (time.monotonic_ns() - start_mono) / 1e9
        elif isinstance(meta.get("ended_monotonic_ns"), int):
            duration = (meta["ended_monotonic_ns"] - start_mono) / 1e9
    size = _size(folder)
    if duration is None and isinstance(start_mono, int):
        last = last_recorded_ns(folder)                    # died or recovered: up to its last data
        if last is not None:
            duration = max(0.0, (last - start_mono) / 1e9)
    workload = meta.get("workload") or {}
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
    )


def _local(unix_ns: Any) -> str:
    if not isinstance(unix_ns, int):
        return ""
    return _dt.datetime.fromtimestamp(unix_ns / 1e9).strftime("%Y-%m-%d %H:%M:%S")


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

    try:
        meta = pq.read_metadata(str(path))
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
    from edgemon.recording.layout import SESSION_FILE

    found: dict[str, SessionInfo] = {}
    for root in roots:
        root = Path(root)
        if not root.exists():
            continue
        candidates = [root] if (root / SESSION_FILE).is_file() else sorted(
            p.parent for p in root.glob(f"*/{SESSION_FILE}"))
        for folder in candidates:
            info = session_info(folder)
            if info is not None:
                found[str(folder.resolve())] = info
    return sorted(found.values(), key=lambda i: (i.started, i.name))


def check_roots(roots: list[Path]) -> None:
    for root in roots:
        if not Path(root).exists():
            raise UserError(f"{root} does not exist; pass a recordings folder or a recording")
        if not Path(root).is_dir():
            raise UserError(f"{root} is not a folder; pass a recordings folder or a recording")


def latest_running(roots: list[Path]) -> Path | None:
    """The newest session that can be attached to (running and detached), if any."""
    running = [i for i in list_sessions(roots) if i.state == "running" and i.detached]
    return Path(running[-1].path) if running else None


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
    if not infos:
        return "no sessions"
    rows = [("NAME", "STATE", "STARTED", "WORKLOAD", "DURATION", "SIZE")]
    for i in infos:
        state = i.state + (" (detached)" if i.detached else "")
        rows.append((i.name, state, i.started or "-", f"{i.runner}/{i.model}".strip("/") or "-",
                     human_duration(i.duration_s), human_size(i.size_bytes)))
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows]
    died = [i for i in infos if i.state == "died"]
    for i in died:
        lines.append(f"{i.name} died: run `{i.hint}` to make its recording whole")
    return "\n".join(lines)
