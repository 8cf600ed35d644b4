"""Latency and throughput per time window of the measured iterations.

Windows are ``window_s`` long from the first measured iteration's start; a row belongs
to the window its ``t_end_ns`` falls in (an end exactly on an edge closes the earlier
window). The default width is adaptive: the smallest
round width that gives at most ~120 windows (1 s for a 100 s run, 2 min for 3 h), so a
table and a plot stay readable and per-window percentiles rest on many rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgemon.analysis.latency import nearest_ranks

NICE_WIDTHS_S = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400)
MAX_WINDOWS = 120


MAX_GIVEN_WINDOWS = 100_000


def choose_window_s(span_s: float, max_windows: int = MAX_WINDOWS) -> float:
    for w in NICE_WIDTHS_S:
        if span_s / w <= max_windows:
            return float(w)
    return float(NICE_WIDTHS_S[-1])


def window_stats(data, window_s: float | None = None) -> dict[str, Any]:
    """``{"window_s", "adaptive", "windows": [{start_s, end_s, count, items, throughput_ips,
    mean_ms, p50_ms, p90_ms, p99_ms, max_ms}]}``; times in seconds from the session start."""
    m = data.measured()
    t_end, dur, items = m["t_end"], m["dur"], m["items"]
    if t_end.shape[0] == 0:
        return {"window_s": window_s, "adaptive": window_s is None, "windows": []}
    t0 = data.measured_start_ns
    t1 = int(t_end[-1])
    span_s = max((t1 - t0) / 1e9, 1e-9)
    adaptive = window_s is None
    w = choose_window_s(span_s) if adaptive else float(window_s)
    w_ns = max(1, int(round(w * 1e9)))
    n_win = max(1, -(-(t1 - t0) // w_ns))
    if n_win > MAX_GIVEN_WINDOWS:   # a --window far too short for the recording would exhaust memory
        raise ValueError(f"--window {w:g}s cuts the {span_s:.0f} s measured into {n_win:,} windows "
                         f"(at most {MAX_GIVEN_WINDOWS:,}); pass a longer --window")
    edges = t0 + np.arange(n_win + 1, dtype=np.int64) * w_ns
    if n_win > 1 and t1 - edges[-2] < w_ns // 2:
        # a last window shorter than half a width joins the one before (its rate would be noise)
        edges = np.delete(edges, -2)
        n_win -= 1
    # window k holds the rows ending in (edge k, edge k+1]: a row ending on an edge closes its window
    cuts = np.searchsorted(t_end, edges, side="right")
    cuts[0], cuts[-1] = 0, t_end.shape[0]
    cum_items = np.concatenate([[0], np.cumsum(items, dtype=np.int64)])
    out = []
    for k in range(n_win):
        a, b = int(cuts[k]), int(cuts[k + 1])
        lo, hi = int(edges[k]), int(min(edges[k + 1], t1))
        span = max(hi - lo, 1) / 1e9
        row: dict[str, Any] = {
            "start_s": data.rel_s(lo),
            "end_s": data.rel_s(hi),
            "count": b - a,
            "items": int(cum_items[b] - cum_items[a]),
        }
        row["throughput_ips"] = row["items"] / span
        if b > a:
            s = dur[a:b]
            p50, p90, p99, top = nearest_ranks(s, (50.0, 90.0, 99.0, 100.0))
            row.update(mean_ms=float(s.mean()) / 1e6, p50_ms=p50 / 1e6, p90_ms=p90 / 1e6, p99_ms=p99 / 1e6,
                       max_ms=top / 1e6)
        else:
            row.update(mean_ms=float("nan"), p50_ms=float("nan"), p90_ms=float("nan"),
                       p99_ms=float("nan"), max_ms=float("nan"))
        out.append(row)
    return {"window_s": w, "adaptive": adaptive, "windows": out}
