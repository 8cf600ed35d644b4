"""Latency and throughput per time window of the measured iterations.

Windows are ``window_s`` long from the first measured iteration's start; a row belongs
to the window its ``t_end_ns`` falls in (an end exactly on an edge closes the earlier
window). The default width is adaptive: the smallest
round width that gives at most ~120 windows (1 s for a 100 s run, 2 min for 3 h), so a
table and a plot stay readable and per-window percentiles rest on many rows. A window's
rate divides its items by the time in it when measured iterations ran (paused time and the
time between worker runs do not count). The statistics are computed by
:class:`edgemon.analysis.scan.LatencyScan`.
"""

from __future__ import annotations

import numpy as np

NICE_WIDTHS_S = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400)
MAX_WINDOWS = 120


def choose_window_s(span_s: float, max_windows: int = MAX_WINDOWS) -> float:
    for w in NICE_WIDTHS_S:
        if span_s / w <= max_windows:
            return float(w)
    return float(NICE_WIDTHS_S[-1])


def window_edges(t0: int, t1: int, window_s: float | None,
                 max_windows: int) -> tuple[float, bool, np.ndarray, str | None]:
    """(width s, adaptive, edges ns, note): windows from ``t0`` (first measured start) to ``t1``
    (last measured end). A width giving more than ``max_windows`` windows is widened to the
    next round width that does not (the note says so)."""
    span_s = max((t1 - t0) / 1e9, 1e-9)
    adaptive = window_s is None
    w = choose_window_s(span_s) if window_s is None else float(window_s)
    note = None
    if span_s / w > max_windows:
        wider = choose_window_s(span_s, max_windows)
        note = (f"--window {w:g}s gives {span_s / w:,.0f} windows; at most {max_windows:,} are kept: "
                f"{wider:g} s windows instead")
        w = wider
    w_ns = max(1, int(round(w * 1e9)))
    n_win = max(1, -(-(t1 - t0) // w_ns))
    edges = t0 + np.arange(n_win + 1, dtype=np.int64) * w_ns
    if n_win > 1 and t1 - edges[-2] < w_ns // 2:
        # a last window shorter than half a width joins the one before (its rate would be noise)
        edges = np.delete(edges, -2)
    return w, adaptive, edges, note
