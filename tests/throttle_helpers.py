"""Feed a recording through the live throttling classifier in the order a session sees it, and
line its episodes up against ``edgemon analyze``'s."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgemon.analysis.data import load
from edgemon.analysis.throttle_online import ThrottleChange, ThrottleClassifier
from edgemon.analysis.throttling import ThrottleOptions
from edgemon.datatypes import Event, LatencyBatch, Sample
from edgemon.recording.reader import open_recording


def causal_items(folder: Path, *, batch_s: float = 0.1) -> tuple[list[Sample | LatencyBatch | Event], object]:
    """The recording in ``folder`` as a session publishes it: at each sample, first the events up
    to it and the latency rows that ended up to it (in runner-sized batches), then the sample.
    Returns ``(items, SessionData)``."""
    rec = open_recording(folder)
    data = load(rec)
    lat = rec.latency()
    lat_t_end = np.asarray(lat.column("t_end_ns").to_numpy(), dtype=np.int64)
    lat_dur = np.asarray(lat.column("duration_ns").to_numpy(), dtype=np.int64)
    events = sorted(data.events, key=lambda e: e.t_ns)
    out: list[Sample | LatencyBatch | Event] = []
    ei = li = 0
    step = int(batch_s * 1e9)
    n_lat = lat_t_end.shape[0]
    names = data.tel_names
    cols = [data.metric(m) for m in names]

    def rows(lo: int, hi: int) -> LatencyBatch:
        return LatencyBatch(lat_t_end[lo:hi], lat_dur[lo:hi], np.ones(hi - lo, dtype=np.int32))

    for k, t in enumerate(data.tel_t.tolist()):
        while ei < len(events) and events[ei].t_ns <= t:
            out.append(Event(events[ei].t_ns, events[ei].kind, dict(events[ei].details)))
            ei += 1
        while li < n_lat and lat_t_end[li] <= t:
            hi = int(np.searchsorted(lat_t_end, min(t, int(lat_t_end[li]) + step), side="right"))
            out.append(rows(li, hi))
            li = hi
        out.append(Sample(t, {m: float(c[k]) for m, c in zip(names, cols) if np.isfinite(c[k])}))
    if li < n_lat:
        out.append(rows(li, n_lat))
    out += [Event(ev.t_ns, ev.kind, dict(ev.details)) for ev in events[ei:]]
    return out, data


def online_changes(folder: Path, *, batch_s: float = 0.1, options: ThrottleOptions | None = None
                   ) -> tuple[list[ThrottleChange], object]:
    """Every change the classifier emits for the recording in ``folder``, fed causally, one
    item at a time (:func:`causal_items`). Returns ``(changes, SessionData)``."""
    items, data = causal_items(folder, batch_s=batch_s)
    clf = ThrottleClassifier(data.meta, sample_dt_s=data.sample_dt_s, options=options, origin_ns=data.start_ns)
    out: list[ThrottleChange] = []
    for item in items:
        if isinstance(item, Sample):
            out += clf.add_sample(item.t_ns, item.values)
        elif isinstance(item, LatencyBatch):
            out += clf.add_latency(item.t_end_ns, item.duration_ns)
        else:
            out += clf.add_event(item.t_ns, item.kind, item.details)
    out += clf.finish()
    return out, data


def compare(folder: Path) -> tuple[list[dict], list[dict]]:
    """``(offline episodes, online episodes)`` as comparable dicts (domain, start/end in s from the
    session start, cause, causes, evidence), each sorted by (start, domain)."""
    from edgemon.analysis.summary import AnalysisOptions, analyze

    changes, data = online_changes(folder)
    offline = analyze(open_recording(folder), AnalysisOptions())["throttling"]
    off = [{"domain": e["domain"], "start_s": round(e["start_s"], 6), "end_s": round(e["end_s"], 6),
            "cause": e["cause"], "causes": list(e["causes"]), "evidence": list(e["evidence"])}
           for e in offline.get("episodes", [])]
    begins = {(c.domain, c.start_ns) for c in changes if c.kind == "begin"}
    on = []
    for c in changes:
        if c.kind != "end":
            continue
        assert (c.domain, c.start_ns) in begins, f"an end without its begin: {c}"
        on.append({"domain": c.domain, "start_s": round(data.rel_s(c.start_ns), 6),
                   "end_s": round(data.rel_s(c.end_ns), 6), "cause": c.cause, "causes": list(c.causes),
                   "evidence": list(c.evidence)})
    key = lambda e: (e["start_s"], e["domain"])  # noqa: E731 - a sort key, used twice
    return sorted(off, key=key), sorted(on, key=key)
