"""The analysis of a recording (``edgemon.analysis.summary.analyze``'s dict) as short lines for
the dashboard's analysis screen: headline numbers, then the throttling episodes as table rows.

Headless (no Textual); each line is ``(kind, text)`` with kind ``head`` (a section title),
``text`` or ``note``, and the screen picks the styles.
"""

from __future__ import annotations

import math
from typing import Any

from edgemon.view.timeline import CAUSE_LETTERS

EPISODE_COLUMNS = ("#", "from", "to", "dur s", "clock", "MHz", "ceiling", "fall %", "cause")


def _f(v: Any, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _pct(v: Any) -> str:
    return "-" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v * 100:.1f}%"


def _clock(seconds: Any) -> str:
    if seconds is None or not isinstance(seconds, (int, float)) or not math.isfinite(seconds):
        return "-"
    s = int(seconds)
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m:02d}:{sec:02d}"


def summary_lines(result: dict[str, Any]) -> list[tuple[str, str]]:
    """Latency, throughput, throttling summary, levels, change points, energy and notes."""
    out: list[tuple[str, str]] = []
    add = out.append
    add(("text", f"{result.get('runner') or '?'} / {result.get('model') or '?'} on {result.get('host') or '?'}"
                 f", {result.get('duration_s', 0.0):.1f} s ({result.get('state') or '?'})"))
    lat = result.get("latency_ms") or {}
    add(("head", "latency (ms, warm-up left out, nearest-rank percentiles)"))
    if lat.get("count"):
        add(("text", f"  n {lat['count']:,}  min {_f(lat.get('min'))}  mean {_f(lat.get('mean'))}  "
                     f"p50 {_f(lat.get('median'))}  p90 {_f(lat.get('p90'))}  p99 {_f(lat.get('p99'))}  "
                     f"p99.9 {_f(lat.get('p999'))}  max {_f(lat.get('max'))}  CoV {_f(lat.get('cov_pct'), 1)}%"))
    else:
        add(("note", "  no measured iterations"))
    add(("text", f"  throughput {_f(result.get('throughput_ips'), 1)} items/s over {result.get('items', 0):,} items"
                 f" in {_f(result.get('measured_s'), 1)} s"))

    th = result.get("throttling") or {}
    add(("head", "throttling (clock below its power-mode ceiling while busy)"))
    if th.get("available"):
        shares = ", ".join(f"{d} {_pct(v)}" for d, v in (th.get("share_throttled") or {}).items())
        add(("text", f"  share of busy time throttled: {shares}; any clock {_pct(th.get('share_throttled_any'))}"))
        first = th.get("time_to_first_throttle_s")
        if first is not None:
            add(("text", f"  first throttle {first:.1f} s after the {th.get('time_to_first_throttle_from')}"))
        ins, outs = th.get("inside"), th.get("outside")
        if ins and outs and ins.get("count"):
            add(("text", f"  inside episodes  p50 {_f(ins.get('p50_ms'))} ms  p99 {_f(ins.get('p99_ms'))} ms  "
                         f"{_f(ins.get('throughput_ips'), 1)} items/s"))
            add(("text", f"  outside episodes p50 {_f(outs.get('p50_ms'))} ms  p99 {_f(outs.get('p99_ms'))} ms  "
                         f"{_f(outs.get('throughput_ips'), 1)} items/s"))
        n = len(th.get("episodes") or [])
        add(("text", f"  {n} episode{'s' if n != 1 else ''}" + (" (table below; Enter jumps there)" if n else "")))
    else:
        add(("note", f"  not analysed: {th.get('reason') or 'no result'}"))

    lev = result.get("levels") or {}
    if lev.get("levels"):
        parts = ", ".join(f"{lv['median_ms']:.3f} ms ({_pct(lv.get('share'))})" for lv in lev["levels"])
        add(("head", f"latency levels: {lev.get('count', len(lev['levels']))}"))
        add(("text", f"  {parts}"))
    cp = result.get("change_points") or {}
    if cp.get("points"):
        add(("head", "change points"))
        for p in cp["points"]:
            add(("text", f"  at {_clock(p.get('at_s'))}: {_f(p.get('before_median_ms'))} -> "
                         f"{_f(p.get('after_median_ms'))} ms ({p.get('change_pct', 0.0):+.1f}%)"))
    en = result.get("energy") or {}
    if en.get("available"):
        add(("head", "energy"))
        line = (f"  average {en['avg_power_mw'] / 1000:.2f} W, {en['energy_j']:.1f} J over {en['window_s']:.1f} s, "
                f"{_f(en.get('mj_per_item'))} mJ per item")
        if en.get("baseline_mw") is not None:
            line += f" ({_f(en.get('mj_per_item_above_baseline'))} above the idle baseline)"
        add(("text", line))
    for problem in result.get("problems") or []:
        add(("note", f"note: {problem}"))
    return out


def episode_rows(result: dict[str, Any]) -> list[tuple[str, ...]]:
    """One row per throttling episode, in :data:`EPISODE_COLUMNS` order."""
    th = result.get("throttling") or {}
    rows = []
    for n, ep in enumerate(th.get("episodes") or [], 1):
        cause = str(ep.get("cause") or "unknown")
        clocks = ep.get("clocks") or [ep.get("domain", "?")]
        rows.append((
            str(n), _clock(ep.get("start_s")), _clock(ep.get("end_s")), _f(ep.get("duration_s"), 1),
            str(clocks[0]).replace("_freq_mhz", ""), _f(ep.get("clock_mhz"), 0), _f(ep.get("ceiling_mhz"), 0),
            _f(ep.get("drop_pct"), 1), f"{CAUSE_LETTERS.get(cause, '?')} {cause}",
        ))
    return rows


def episode_starts(result: dict[str, Any]) -> list[float]:
    """Start of each episode in seconds from the session start (row order of :func:`episode_rows`)."""
    th = result.get("throttling") or {}
    return [float(ep.get("start_s") or 0.0) for ep in th.get("episodes") or []]
