"""Write imported samples, events and latency rows as a normal recording (the live session's writer)."""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from edgemon.datatypes import Event, EventKind, LatencyBatch, Sample
from edgemon.recording.layout import SESSION_FILE, load_session_json, write_json_atomic
from edgemon.recording.writer import Recorder, utc_iso

CHUNK = 20_000                    # samples between writes: bounds memory whatever the log's length
LATENCY_CHUNK = 1_000_000


@dataclass
class Written:
    folder: Path
    samples: int
    first_ns: int | None
    last_ns: int | None
    latency_rows: int

    @property
    def duration_s(self) -> float:
        if self.first_ns is None or self.last_ns is None:
            return 0.0
        return (self.last_ns - self.first_ns) / 1e9


def base_meta(kind_source: str, argv: list[str]) -> dict:
    """session.json of an imported recording, before the importer adds what it found."""
    from edgemon import __version__

    return {
        "host": socket.gethostname(),
        "edgemon_version": __version__,
        "argv": list(argv),
        "kind": "imported",
        "imported": {"source": kind_source},
        "workload": {"kind": "imported", "runner": "imported", "model": kind_source, "batch": 1},
        "emulated": False,
    }


def write_recording(folder: Path, meta: dict, rows: Iterable[tuple[int, dict, list]],
                    *, latency=None, progress: Callable[[int], None] | None = None) -> Written:
    """Stream ``rows`` (``(unix ns, values, [(event kind, details), ...])``) and the latency rows into a
    new recording at ``folder``. ``progress(samples so far)`` is called now and then."""
    rec = Recorder(folder, meta)
    rec.open()
    first = last = None
    n = 0
    try:
        for t_ns, values, events in rows:
            if first is None:
                first = t_ns
                rec.on_event(Event(t_ns, EventKind.SESSION_START, {"imported": meta.get("imported", {}).get("source"),
                                                                   "argv": meta.get("argv")}))
            last = t_ns
            rec.on_sample(Sample(t_ns, values))
            for kind, details in events:
                rec.on_event(Event(t_ns, kind, details))
            n += 1
            if n % CHUNK == 0:
                rec.flush()
                if progress is not None:
                    progress(n)
        lat_rows = 0
        if latency is not None and latency.t_end.shape[0]:
            for a in range(0, latency.t_end.shape[0], LATENCY_CHUNK):
                sl = slice(a, a + LATENCY_CHUNK)
                rec.on_latency(LatencyBatch(latency.t_end[sl], latency.duration[sl], latency.items[sl], False))
                rec.flush()
            lat_rows = int(latency.t_end.shape[0])
            lo = int(latency.t_end[0] - latency.duration[0])
            first = lo if first is None else min(first, lo)
            last = int(latency.t_end[-1]) if last is None else max(last, int(latency.t_end[-1]))
        if first is not None and last is not None:
            rec.on_event(Event(last, EventKind.SESSION_END, {"reason": "imported"}))
            rec.update_meta(clock={"monotonic_ns": first, "unix_ns": first, "wall_time": utc_iso(first),
                                   "source": "imported: the log's wall clock (Unix ns)"},
                            duration_s=(last - first) / 1e9)
    except BaseException:
        rec.close({"state": "crashed", "reason": "import interrupted"})
        raise
    rec.close({"reason": "imported"})
    if first is not None and last is not None:   # the recorder stamps its own end; an import ends with its log
        data = load_session_json(folder)
        data.update(ended_monotonic_ns=last, ended_wall=utc_iso(last))
        write_json_atomic(folder / SESSION_FILE, data)
    return Written(Path(folder), n, first, last, lat_rows)


def progress_printer(total: int, what: str = "lines", out=None) -> Callable[[int], None]:
    """``progress(done)``: a line on stderr every few seconds with the share done and time left."""
    out = out or sys.stderr
    start = time.monotonic()
    next_at = [start + 2.0]

    def progress(done: int) -> None:
        now = time.monotonic()
        if now < next_at[0] or total <= 0:
            return
        next_at[0] = now + 5.0
        share = min(1.0, done / total)
        left = (now - start) * (1 - share) / share if share > 0 else 0.0
        print(f"import: {share:.0%} ({done:,} of {total:,} {what}), about {left:.0f} s left", file=out, flush=True)

    return progress

