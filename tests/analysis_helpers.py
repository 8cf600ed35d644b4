"""Synthetic sessions for tests/test_analysis_*.py, written with the real Recorder.

Times are given in seconds from the session start (the Recorder's clock anchor), so a
test states "1036 MHz from 60 s to 90 s" and the analysis must find exactly that.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np

from edgemon.datatypes import Event, LatencyBatch, Sample
from edgemon.recording.reader import open_recording
from edgemon.recording.writer import Recorder

S = 1_000_000_000


def build_session(
    folder: Path,
    *,
    meta: dict[str, Any] | None = None,
    duration_s: float = 100.0,
    hz: float = 10.0,
    sample: Callable[[float], dict[str, float]] | None = None,
    latency: tuple[np.ndarray, np.ndarray] | None = None,
    items: int | np.ndarray = 1,
    warmup_rows: int = 0,
    events: list[tuple[float, str, dict[str, Any]]] = (),
    batch_rows: int | None = None,
) -> Path:
    """A finished recording in ``folder``.

    ``sample(t_s)`` gives the metrics of the sample at ``t_s`` (every 1/hz from 0 to duration).
    ``latency`` = (t_end_s, duration_ms) arrays; the first ``warmup_rows`` are flagged warm-up.
    ``batch_rows``: hand the measured rows over in batches of this size, as a runner does (the
    Parquet row groups then follow ``segments.ROW_GROUP_ROWS``).
    """
    rec = Recorder(folder, {"host": "synthetic", **(meta or {})}, flush_s=3600, roll_s=3600, fsync=False).open()
    t0 = int(rec.meta["clock"]["monotonic_ns"])
    if sample is not None:
        n = int(round(duration_s * hz))
        for k in range(n):
            t_s = k / hz
            rec.on_sample(Sample(t0 + int(round(t_s * S)), sample(t_s)))
    if latency is not None:
        t_end_s, dur_ms = latency
        t_end = t0 + np.round(np.asarray(t_end_s, dtype=np.float64) * S).astype(np.int64)
        dur = np.round(np.asarray(dur_ms, dtype=np.float64) * 1e6).astype(np.int64)
        it = np.broadcast_to(np.asarray(items, dtype=np.int32), t_end.shape).copy()
        if warmup_rows:
            rec.on_latency(LatencyBatch(t_end[:warmup_rows], dur[:warmup_rows], it[:warmup_rows], True))
        step = batch_rows or max(1, t_end.shape[0])
        for a in range(warmup_rows, t_end.shape[0], step):
            b = min(t_end.shape[0], a + step)
            rec.on_latency(LatencyBatch(t_end[a:b], dur[a:b], it[a:b], False))
            if batch_rows:
                rec.flush()       # one record batch each, as the writer's 1-second flushes make
    last = t0 + int(round(duration_s * S))
    for t_s, kind, details in events:
        rec.on_event(Event(t0 + int(round(t_s * S)), kind, dict(details)))
        last = max(last, t0 + int(round(t_s * S)))
    rec.close({"reason": "test"})
    if latency is not None and len(latency[0]):
        last = max(last, t0 + int(round(float(np.max(latency[0])) * S)))
    end_at(folder, last)
    return folder


def end_at(folder: Path, ended_ns: int) -> None:
    """Record the session's end where its synthetic rows end (written at once, they lie in the
    future of the moment the Recorder closed; a real session's rows never end after it)."""
    import json

    path = folder / "session.json"
    meta = json.loads(path.read_text())
    meta["ended_monotonic_ns"] = int(ended_ns)
    path.write_text(json.dumps(meta, indent=2))


def back_to_back(start_s: float, end_s: float, dur_ms: float) -> tuple[np.ndarray, np.ndarray]:
    """Iterations of ``dur_ms`` each, one after another from ``start_s`` to ``end_s``."""
    n = int(round((end_s - start_s) * 1000.0 / dur_ms))
    t_end = start_s + (np.arange(n) + 1) * dur_ms / 1000.0
    return t_end, np.full(n, dur_ms)


def analyze_folder(folder: Path, **options):
    from edgemon.analysis.summary import AnalysisOptions, analyze

    return analyze(open_recording(folder), AnalysisOptions(**options))
