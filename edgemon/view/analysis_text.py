"""The analysis of a recording (:class:`edgemon.analysis.result.AnalysisResult`) as short lines for
the dashboard's analysis screen: headline numbers, then the throttling episodes as table rows.

Headless (no Textual); each line is ``(kind, text)`` with kind ``head`` (a section title),
``text`` or ``note``, and the screen picks the styles.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from edgemon.units import format_clock
from edgemon.view.timeline import CAUSE_LETTERS

if TYPE_CHECKING:
    from edgemon.analysis.result import AnalysisResult

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
    return format_clock(seconds, missing="-")


def summary_lines(result: AnalysisResult) -> list[tuple[str, str]]:
    """Latency, throughput, throttling summary, levels, change points, energy and notes."""
    out: list[tuple[str, str]] = []
    add = out.append
    add(("text", f"{result.runner or '?'} / {result.model or '?'} on {result.host or '?'}"
                 f", {result.duration_s or 0.0:.1f} s ({result.state or '?'})"))
    lat = result.latency_ms
    add(("head", "latency (ms, warm-up left out, nearest-rank percentiles)"))
    if lat is not None and lat.count:
        add(("text", f"  n {lat.count:,}  min {_f(lat.min)}  mean {_f(lat.mean)}  "
                     f"p50 {_f(lat.median)}  p90 {_f(lat.p90)}  p99 {_f(lat.p99)}  "
                     f"p99.9 {_f(lat.p999)}  max {_f(lat.max)}  CoV {_f(lat.cov_pct, 1)}%"))
    else:
        add(("note", "  no measured iterations"))
    add(("text", f"  throughput {_f(result.throughput_ips, 1)} items/s over {result.items or 0:,} items"
                 f" in {_f(result.measured_s, 1)} s"))

    th = result.throttling
    add(("head", "throttling (clock below its power-mode ceiling while busy)"))
    if th is not None and th.available:
        shares = ", ".join(f"{d} {_pct(v)}" for d, v in (th.share_throttled or {}).items())
        add(("text", f"  share of busy time throttled: {shares}; any clock {_pct(th.share_throttled_any)}"))
        first = th.time_to_first_throttle_s
        if first is not None:
            add(("text", f"  first throttle {first:.1f} s after the {th.time_to_first_throttle_from}"))
        ins, outs = th.inside, th.outside
        if ins is not None and outs is not None and ins.count:
            add(("text", f"  inside episodes  p50 {_f(ins.p50_ms)} ms  p99 {_f(ins.p99_ms)} ms  "
                         f"{_f(ins.throughput_ips, 1)} items/s"))
            add(("text", f"  outside episodes p50 {_f(outs.p50_ms)} ms  p99 {_f(outs.p99_ms)} ms  "
                         f"{_f(outs.throughput_ips, 1)} items/s"))
        n = len(th.episodes or [])
        add(("text", f"  {n} episode{'s' if n != 1 else ''}" + (" (table below; Enter jumps there)" if n else "")))
    else:
        add(("note", f"  not analysed: {(th.reason if th is not None else None) or 'no result'}"))

    lev = result.levels
    if lev is not None and lev.levels:
        parts = ", ".join(f"{lv.median_ms:.3f} ms ({_pct(lv.share)})" for lv in lev.levels)
        add(("head", f"latency levels: {lev.count if lev.count is not None else len(lev.levels)}"))
        add(("text", f"  {parts}"))
    cp = result.change_points
    if cp is not None and cp.points:
        add(("head", "change points"))
        for p in cp.points:
            add(("text", f"  at {_clock(p.at_s)}: {_f(p.before_median_ms)} -> "
                         f"{_f(p.after_median_ms)} ms ({p.change_pct or 0.0:+.1f}%)"))
    en = result.energy
    if en is not None and en.available:
        add(("head", "energy"))
        line = (f"  average {en.avg_power_mw / 1000:.2f} W, {en.energy_j:.1f} J over {en.window_s:.1f} s, "
                f"{_f(en.mj_per_item)} mJ per item")
        if en.baseline_mw is not None:
            line += f" ({_f(en.mj_per_item_above_baseline)} above the idle baseline)"
        add(("text", line))
    for problem in result.problems or []:
        add(("note", f"note: {problem}"))
    return out


def episode_rows(result: AnalysisResult) -> list[tuple[str, ...]]:
    """One row per throttling episode, in :data:`EPISODE_COLUMNS` order."""
    th = result.throttling
    rows: list[tuple[str, ...]] = []
    for n, ep in enumerate((th.episodes if th is not None else None) or [], 1):
        cause = str(ep.cause or "unknown")
        clocks = ep.clocks or [ep.domain or "?"]
        rows.append((
            str(n), _clock(ep.start_s), _clock(ep.end_s), _f(ep.duration_s, 1),
            str(clocks[0]).replace("_freq_mhz", ""), _f(ep.clock_mhz, 0), _f(ep.ceiling_mhz, 0),
            _f(ep.drop_pct, 1), f"{CAUSE_LETTERS.get(cause, '?')} {cause}",
        ))
    return rows


def episode_starts(result: AnalysisResult) -> list[float]:
    """Start of each episode in seconds from the session start (row order of :func:`episode_rows`)."""
    th = result.throttling
    return [float(ep.start_s or 0.0) for ep in (th.episodes if th is not None else None) or []]
