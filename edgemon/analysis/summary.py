"""`edgemon analyze`: what a recording says, as a dict (``--json``) or a readable table."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from edgemon.analysis.latency import latency_stats, throughput_ips

# Telemetry worth a line in the summary when present: (metric, label, unit).
_HEADLINE_METRICS = (
    ("cpu_util_pct", "CPU load", "%"),
    ("gpu_util_pct", "GPU load", "%"),
    ("gpu_freq_mhz", "GPU clock", "MHz"),
    ("ram_used_mb", "RAM used", "MB"),
    ("swap_used_mb", "swap used", "MB"),
    ("power_total_mw", "power (total)", "mW"),
    ("proc_worker_cpu_pct", "worker CPU", "%"),
    ("proc_worker_rss_mb", "worker RSS", "MB"),
    ("proc_monitor_cpu_pct", "monitor CPU", "%"),
)


def _column(table, name: str) -> np.ndarray:
    col = table.column(name)
    return col.to_numpy(zero_copy_only=False)


def analyze(recording) -> dict[str, Any]:
    """Statistics of one session. ``recording`` is an ``edgemon.recording.reader.Recording``."""
    meta = recording.meta
    problems = list(getattr(recording, "problems", []))
    lat = recording.latency()
    result: dict[str, Any] = {
        "session": str(recording.path),
        "host": meta.get("host"),
        "board": (meta.get("platform") or {}).get("board"),
        "runner": (meta.get("workload") or {}).get("runner"),
        "model": (meta.get("workload") or {}).get("model"),
        "batch": (meta.get("workload") or {}).get("batch"),
        "state": meta.get("state"),
        "end_reason": (meta.get("end") or {}).get("reason"),
        "percentile_method": "nearest-rank (trtexec)",
    }
    if lat.num_rows:
        warm = _column(lat, "warmup").astype(bool)
        t_end = _column(lat, "t_end_ns").astype(np.int64)
        dur = _column(lat, "duration_ns").astype(np.int64)
        items = _column(lat, "items").astype(np.int64)
        m = ~warm
        result["warmup_iterations"] = int(warm.sum())
        if warm.any():
            first = int(np.argmin(t_end))
            result["first_inference_ms"] = float(dur[first]) / 1e6
        result["latency_ms"] = latency_stats(dur[m])
        ips, wall = throughput_ips(t_end[m], dur[m], items[m])
        result["throughput_ips"] = ips
        result["measured_s"] = wall
        result["items"] = int(items[m].sum())
    else:
        result["latency_ms"] = latency_stats(np.empty(0, dtype=np.int64))
        result["throughput_ips"] = float("nan")
        result["measured_s"] = 0.0
        result["items"] = 0
        problems.append("no latency rows: the worker recorded no iterations")

    tel = recording.telemetry()
    start_ns, end_ns = _session_span(recording, tel, lat)
    result["duration_s"] = (end_ns - start_ns) / 1e9 if end_ns > start_ns else 0.0
    telemetry: dict[str, dict[str, float]] = {}
    if tel.num_rows:
        for name, _label, _unit in _HEADLINE_METRICS:
            if name in tel.column_names:
                v = _column(tel, name).astype(np.float64)
                v = v[~np.isnan(v)]
                if v.size:
                    telemetry[name] = {"mean": float(v.mean()), "max": float(v.max()), "min": float(v.min())}
        temps = [c for c in tel.column_names if c.startswith("temp_") and c.endswith("_c")]
        for name in temps:
            v = _column(tel, name).astype(np.float64)
            v = v[~np.isnan(v)]
            if v.size:
                telemetry[name] = {"mean": float(v.mean()), "max": float(v.max()), "min": float(v.min())}
        result["telemetry_samples"] = int(tel.num_rows)
    else:
        result["telemetry_samples"] = 0
        problems.append("no telemetry rows: machine state was not recorded")
    result["telemetry"] = telemetry

    ev = recording.events()
    kinds: dict[str, int] = {}
    crashes = []
    if ev.num_rows:
        for kind, details in zip(ev.column("kind").to_pylist(), ev.column("details").to_pylist()):
            kinds[kind] = kinds.get(kind, 0) + 1
            if kind == "worker_crashed":
                try:
                    crashes.append(json.loads(details or "{}").get("reason", ""))
                except ValueError:
                    crashes.append(str(details))
    result["events"] = kinds
    if crashes:
        result["worker_crashed"] = crashes
    result["problems"] = problems
    return result


def _session_span(recording, tel, lat) -> tuple[int, int]:
    starts, ends = [], []
    if tel.num_rows:
        t = _column(tel, "t_ns")
        starts.append(int(t.min()))
        ends.append(int(t.max()))
    if lat.num_rows:
        t = _column(lat, "t_end_ns")
        d = _column(lat, "duration_ns")
        starts.append(int((t - d).min()))
        ends.append(int(t.max()))
    if not starts:
        return 0, 0
    return min(starts), max(ends)


def _fmt(v: Any, digits: int = 3) -> str:
    if isinstance(v, float):
        if math.isnan(v):
            return "-"
        return f"{v:.{digits}f}"
    return str(v)


def format_analysis(result: dict[str, Any]) -> str:
    """A plain-text report: header, latency table, throughput, telemetry, events, problems."""
    lines = [
        f"session   {result['session']}",
        f"workload  {result.get('runner')} / {result.get('model')}  batch {result.get('batch')}"
        f"   host {result.get('host')}" + (f"  board {result['board']}" if result.get("board") else ""),
        f"state     {result.get('state')}" + (f" ({result['end_reason']})" if result.get("end_reason") else "")
        + f"   duration {result['duration_s']:.1f} s   measured {result['measured_s']:.1f} s",
        "",
        "latency (ms, warm-up excluded; percentiles nearest-rank as trtexec)",
    ]
    lat = result["latency_ms"]
    keys = ["count", "min", "mean", "median", "p90", "p95", "p99", "p999", "max", "std", "cov_pct"]
    head = ["count", "min", "mean", "median", "p90", "p95", "p99", "p99.9", "max", "std", "CoV %"]
    cells = [str(lat["count"])] + [_fmt(lat[k]) for k in keys[1:]]
    widths = [max(len(h), len(c)) for h, c in zip(head, cells)]
    lines.append("  " + "  ".join(h.rjust(w) for h, w in zip(head, widths)))
    lines.append("  " + "  ".join(c.rjust(w) for c, w in zip(cells, widths)))
    lines.append("")
    lines.append(f"throughput  {_fmt(result['throughput_ips'], 1)} items/s over {result['items']} items")
    if "first_inference_ms" in result:
        lines.append(
            f"warm-up     {result['warmup_iterations']} iterations, first inference {result['first_inference_ms']:.3f} ms"
        )
    if result["telemetry"]:
        lines.append("")
        lines.append(f"telemetry ({result['telemetry_samples']} samples)   mean / max")
        labels = {n: (lab, u) for n, lab, u in _HEADLINE_METRICS}
        for name, st in result["telemetry"].items():
            label, unit = labels.get(name, (name, "C" if name.startswith("temp_") else ""))
            lines.append(f"  {label:<28} {st['mean']:10.1f} / {st['max']:10.1f} {unit}")
    if result["events"]:
        lines.append("")
        lines.append("events  " + ", ".join(f"{k} x{v}" for k, v in sorted(result["events"].items())))
    for reason in result.get("worker_crashed", []):
        lines.append(f"WORKER CRASHED: {reason}")
    for p in result["problems"]:
        lines.append(f"note: {p}")
    return "\n".join(lines)


def to_json(result: dict[str, Any]) -> str:
    def clean(o):
        if isinstance(o, float) and (math.isnan(o) or math.isinf(o)):
            return None
        if isinstance(o, dict):
            return {k: clean(v) for k, v in o.items()}
        if isinstance(o, list):
            return [clean(v) for v in o]
        return o

    return json.dumps(clean(result), indent=2, sort_keys=True)
