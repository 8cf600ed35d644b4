"""Energy per inference: the integral of ``power_total_mw`` over the measured window / items.

Trapezoid rule over the samples inside the window, with the power at the window's edges
interpolated from the neighbouring samples: integrate, never quote one sample
(docs/architecture.md "Analysis vocabulary").
The idle baseline is the mean power over an ``idle_baseline`` phase (a ``phase``
event with ``name`` "idle_baseline": from ``start_ns``/``end_ns`` in its details, or from
the event to the next ``phase`` event or the first iteration), else
``session.json["idle_baseline_mw"]``. Energy above the baseline = energy - baseline x time.
"""

from __future__ import annotations

from typing import Any

import numpy as np

POWER_TOTAL = "power_total_mw"


def integrate_mw(t_ns: np.ndarray, p_mw: np.ndarray, lo: int, hi: int) -> tuple[float, float] | None:
    """(mJ, seconds covered) of the piecewise-linear power between ``lo`` and ``hi`` ns; None without data.

    Outside the sampled span the power is held at the first/last sample (the sampler starts
    and stops a moment apart from the worker).
    """
    ok = np.isfinite(p_mw)
    t, p = t_ns[ok], p_mw[ok]
    if t.shape[0] == 0 or hi <= lo:
        return None
    a = int(np.searchsorted(t, lo, side="right"))
    b = int(np.searchsorted(t, hi, side="left"))
    ts = t[a:b].astype(np.float64)
    ps = p[a:b]
    p_lo = float(np.interp(lo, t, p))
    p_hi = float(np.interp(hi, t, p))
    xs = np.concatenate([[float(lo)], ts, [float(hi)]])
    ys = np.concatenate([[p_lo], ps, [p_hi]])
    mj = float(np.sum((ys[1:] + ys[:-1]) * 0.5 * np.diff(xs))) / 1e9
    return mj, (hi - lo) / 1e9


def _baseline(data, first_start_ns: int | None) -> tuple[float | None, str | None, dict[str, Any] | None]:
    phases = data.events_of("phase")
    for k, ev in enumerate(phases):
        if ev.details.get("name") != "idle_baseline":
            continue
        d = ev.details
        lo = d.get("start_ns") if isinstance(d.get("start_ns"), int) else ev.t_ns
        hi = d.get("end_ns") if isinstance(d.get("end_ns"), int) else None
        if hi is None:
            later = [p.t_ns for p in phases[k + 1:] if p.t_ns > lo]
            if later:
                hi = later[0]
            elif first_start_ns is not None:
                hi = first_start_ns if first_start_ns > lo else None
        if hi is None or hi <= lo or not data.has(POWER_TOTAL):
            continue
        got = integrate_mw(data.tel_t, data.metric(POWER_TOTAL), lo, hi)
        if got is None:
            continue
        mj, s = got
        return mj / s, "idle_baseline phase", {"from_s": data.rel_s(lo), "to_s": data.rel_s(hi)}
    v = data.meta.get("idle_baseline_mw")
    if isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0:
        return float(v), "session.json idle_baseline_mw", None
    return None, None, None


def integrate_over(t_ns: np.ndarray, p_mw: np.ndarray, spans: list[tuple[int, int]]) -> tuple[float, float] | None:
    """:func:`integrate_mw` summed over several spans (mJ, seconds); None without data."""
    parts = [g for g in (integrate_mw(t_ns, p_mw, lo, hi) for lo, hi in spans) if g is not None]
    if not parts:
        return None
    return sum(g[0] for g in parts), sum(g[1] for g in parts)


def energy(data, scan) -> dict[str, Any]:
    """``{"available", "avg_power_mw", "energy_j", "mj_per_item", "baseline_mw", "mj_per_item_above_baseline",
    "rails_avg_mw", ...}`` over the time measured iterations ran (``scan``: the recording's
    :class:`edgemon.analysis.scan.LatencyScan`; paused time and the time between worker runs
    are left out, as for throughput)."""
    if not data.has(POWER_TOTAL):
        return {"available": False, "reason": f"no {POWER_TOTAL} in the telemetry: power was not measured here"}
    if not scan.count:
        return {"available": False, "reason": "no measured iterations: nothing to divide the energy by"}
    spans = scan.active_intervals()
    got = integrate_over(data.tel_t, data.metric(POWER_TOTAL), spans)
    if got is None:
        return {"available": False, "reason": f"no {POWER_TOTAL} samples in the measured window"}
    mj, seconds = got
    items = scan.items
    out: dict[str, Any] = {
        "available": True,
        "metric": POWER_TOTAL,
        "window_s": seconds,
        "items": items,
        "energy_j": mj / 1000.0,
        "avg_power_mw": mj / seconds,
        "mj_per_item": mj / items if items else float("nan"),
        "method": "trapezoid over power_total_mw, edges interpolated",
    }
    base, source, span = _baseline(data, scan.first_start_ns)
    out["baseline_mw"] = base
    out["baseline_source"] = source
    if span:
        out["baseline_span"] = span
    if base is not None:
        above = mj - base * seconds
        out["energy_above_baseline_j"] = above / 1000.0
        out["mj_per_item_above_baseline"] = above / items if items else float("nan")
    rails = {}
    for name in data.tel_names:
        if name.startswith("power_") and name.endswith("_mw") and not name.endswith("_avg_mw") and name != POWER_TOTAL:
            r = integrate_over(data.tel_t, data.metric(name), spans)
            if r is not None and r[1] > 0:
                rails[name] = r[0] / r[1]
    out["rails_avg_mw"] = rails
    return out
