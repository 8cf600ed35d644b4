"""Feed a recording through the live throttling classifier in the order a session sees it, and
line its episodes up against ``edgemon analyze``'s."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgemon.analysis.data import load
from edgemon.analysis.throttle_online import ThrottleChange, ThrottleClassifier
from edgemon.analysis.throttling import ThrottleOptions
from edgemon.recording.reader import open_recording


def online_changes(folder: Path, *, batch_s: float = 0.1, options: ThrottleOptions | None = None
                   ) -> tuple[list[ThrottleChange], object]:
    """Every change the classifier emits for the recording in ``folder``, fed causally: at each
    sample, first the events up to it and the latency rows that ended up to it (in runner-sized
    batches), then the sample. Returns ``(changes, SessionData)``."""
    rec = open_recording(folder)
    data = load(rec)
    lat = rec.latency()
    lat_t_end = np.asarray(lat.column("t_end_ns").to_numpy(), dtype=np.int64)
    lat_dur = np.asarray(lat.column("duration_ns").to_numpy(), dtype=np.int64)
    clf = ThrottleClassifier(data.meta, sample_dt_s=data.sample_dt_s, options=options, origin_ns=data.start_ns)
    events = sorted(data.events, key=lambda e: e.t_ns)
    out: list[ThrottleChange] = []
    ei = li = 0
    step = int(batch_s * 1e9)
    n_lat = lat_t_end.shape[0]
    names = data.tel_names
    cols = [data.metric(m) for m in names]
    for k, t in enumerate(data.tel_t.tolist()):
        while ei < len(events) and events[ei].t_ns <= t:
            out += clf.add_event(events[ei].t_ns, events[ei].kind, events[ei].details)
            ei += 1
        while li < n_lat and lat_t_end[li] <= t:
            hi = int(np.searchsorted(lat_t_end, min(t, int(lat_t_end[li]) + step), side="right"))
            out += clf.add_latency(lat_t_end[li:hi], lat_dur[li:hi])
            li = hi
        values = {m: float(c[k]) for m, c in zip(names, cols) if np.isfinite(c[k])}
        out += clf.add_sample(t, values)
    if li < n_lat:
        out += clf.add_latency(lat_t_end[li:], lat_dur[li:])
    for ev in events[ei:]:
        out += clf.add_event(ev.t_ns, ev.kind, ev.details)
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
