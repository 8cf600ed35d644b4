"""Latency levels (how many distinct speeds the device ran at) and change points over time.

Levels: a kernel-smoothed histogram of log10(latency) (a KDE evaluated on a grid, so ten
million rows cost one ``np.histogram``). Each local maximum is a candidate level; the
minimum between two neighbours splits them. Neighbours merge while the valley between
them is higher than ``valley_ratio`` x the lower peak (not a real dip), and a level
holding less than ``min_share`` of the iterations merges into its neighbour. Every
iteration is then assigned to the level whose valley bounds enclose it: shares are
counts, not areas.

Change points: binary segmentation of the per-window medians (log scale, least squares,
a BIC-style penalty from the noise level the window-to-window differences show); a split
is kept when the medians on either side differ by at least ``min_change_pct``. Before /
after medians are computed from the raw rows of each segment.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

LEVEL_MIN_ROWS = 50


def _smooth(hist: np.ndarray, sigma_bins: float) -> np.ndarray:
    r = int(max(1, math.ceil(4 * sigma_bins)))
    x = np.arange(-r, r + 1)
    k = np.exp(-0.5 * (x / sigma_bins) ** 2)
    k /= k.sum()
    return np.convolve(hist, k, mode="same")


def latency_levels(
    dur_ms: np.ndarray, *, min_share: float = 0.02, valley_ratio: float = 0.5, bandwidth_dec: float | None = None,
    is_sorted: bool = False,
) -> dict[str, Any]:
    """``{"count": K, "levels": [{"median_ms", "lo_ms", "hi_ms", "share", "count"}], ...}``.

    ``is_sorted``: ``dur_ms`` is ascending already (analyze passes its sorted latencies); then
    the histogram and the level counts are binary searches, not passes over every row.
    """
    d = np.asarray(dur_ms, dtype=np.float64)
    if not is_sorted:
        d = np.sort(d)
    lo_i = int(np.searchsorted(d, 0.0, side="right"))   # latencies <= 0 (and NaN at the end) carry no level
    hi_i = int(np.searchsorted(d, np.inf, side="left"))
    d = d[lo_i:hi_i]
    n = int(d.shape[0])
    if n < LEVEL_MIN_ROWS:
        return {"count": 0, "levels": [], "note": f"needs at least {LEVEL_MIN_ROWS} measured iterations"}
    # a strided sample of 200k is plenty for the spread
    probe = np.log10(d if n <= 200_000 else d[:: n // 200_000])
    q = lambda f: float(np.log10(d[min(n - 1, int(f * n))]))  # noqa: E731 - quantile of the sorted rows
    lo, hi = q(0.0005), q(0.9995)
    spread = min(float(probe.std()), (q(0.75) - q(0.25)) / 1.349) or float(probe.std())
    if bandwidth_dec is None:
        # half of Silverman's rule (it over-smooths multi-modal data), at least 0.01 decade (2.3 %)
        bandwidth_dec = max(0.01, 0.5 * 0.9 * spread * n ** (-0.2))
    width = hi - lo
    if width <= 0:
        return _single(d, bandwidth_dec)
    bin_w = bandwidth_dec / 4
    pad = 4 * bandwidth_dec
    nbins = int(min(20_000, math.ceil((width + 2 * pad) / bin_w)))
    edges = np.linspace(lo - pad, hi + pad, nbins + 1)
    # histogram of log10(d) = differences of the ranks of the bin edges (in ms) in the sorted rows
    ranks = np.searchsorted(d, 10.0 ** edges, side="left")
    hist = np.diff(ranks).astype(np.float64)
    dens = _smooth(hist, bandwidth_dec / (edges[1] - edges[0]))
    # local maxima (plateaus count once, at their left end)
    up = np.concatenate([[True], dens[1:] > dens[:-1]])
    down = np.concatenate([dens[:-1] >= dens[1:], [True]])
    peaks = list(np.flatnonzero(up & down & (dens > 0)))
    if not peaks:
        return _single(d, bandwidth_dec)

    def valley(a: int, b: int) -> int:
        return a + int(np.argmin(dens[a : b + 1]))

    # merge shallow neighbours: repeatedly the pair whose valley is relatively highest
    while len(peaks) > 1:
        ratios = []
        for a, b in zip(peaks[:-1], peaks[1:]):
            v = dens[valley(a, b)]
            ratios.append(v / min(dens[a], dens[b]))
        k = int(np.argmax(ratios))
        if ratios[k] <= valley_ratio:
            break
        a, b = peaks[k], peaks[k + 1]
        peaks[k : k + 2] = [a if dens[a] >= dens[b] else b]

    def cut_rows(pk: list[int]) -> np.ndarray:
        """Row indices where each level ends (the valley edges, as ranks in the sorted rows)."""
        cut_ms = 10.0 ** edges[np.array([valley(a, b) for a, b in zip(pk[:-1], pk[1:])], dtype=np.int64) + 1]
        return np.concatenate([[0], np.searchsorted(d, cut_ms, side="left"), [n]])

    # drop levels below min_share: merge into the neighbour across the lower valley
    while len(peaks) > 1:
        counts = np.diff(cut_rows(peaks))
        k = int(np.argmin(counts))
        if counts[k] >= min_share * n:
            break
        if k == 0:
            peaks.pop(0)
        elif k == len(peaks) - 1:
            peaks.pop()
        else:
            peaks.pop(k)  # the new cut is the deeper of its two valleys: its rows join across the shallower
    cuts = cut_rows(peaks)
    levels = []
    for a, b in zip(cuts[:-1].tolist(), cuts[1:].tolist()):
        if b <= a:
            continue
        sel = d[a:b]
        m = b - a
        median = float(sel[m // 2]) if m % 2 else float((sel[m // 2 - 1] + sel[m // 2]) / 2.0)
        levels.append({"median_ms": median, "lo_ms": float(sel[0]), "hi_ms": float(sel[-1]), "count": m,
                       "share": m / n})
    return {"count": len(levels), "levels": levels, "bandwidth_decades": bandwidth_dec,
            "split_ms": [float(d[c]) for c in cuts[1:-1].tolist() if c < n]}


def _single(d: np.ndarray, bw: float) -> dict[str, Any]:
    return {"count": 1, "levels": [{"median_ms": float(np.median(d)), "lo_ms": float(d.min()), "hi_ms": float(d.max()),
                                    "count": int(d.size), "share": 1.0}], "bandwidth_decades": bw, "split_ms": []}


# ------------------------------------------------------------------ change points


def _best_split(y: np.ndarray, min_len: int) -> tuple[int, float]:
    """Split index and the drop in squared error it gives (mean-shift model)."""
    n = y.shape[0]
    if n < 2 * min_len:
        return -1, 0.0
    c = np.cumsum(y)
    c2 = float(np.sum(y * y))
    total = c2 - c[-1] ** 2 / n
    k = np.arange(min_len, n - min_len + 1)
    left = c[k - 1]
    right = c[-1] - left
    sse = c2 - left ** 2 / k - right ** 2 / (n - k)
    j = int(np.argmin(sse))
    return int(k[j]), float(total - sse[j])


def change_points(data, windows: list[dict[str, Any]], *, min_change_pct: float = 5.0, min_windows: int = 3,
                  max_points: int = 10) -> dict[str, Any]:
    """Times where median latency stepped, from the per-window medians of ``window_stats``."""
    rows = [w for w in windows if w["count"] >= 5 and np.isfinite(w["p50_ms"])]
    if len(rows) < 2 * min_windows:
        return {"points": [], "note": f"needs at least {2 * min_windows} windows with 5 or more iterations"}
    y = np.log([w["p50_ms"] for w in rows])
    diffs = np.diff(y)
    sigma = float(np.median(np.abs(diffs - np.median(diffs)))) * 1.4826 / math.sqrt(2) if diffs.size else 0.0
    sigma = max(sigma, 1e-4)
    penalty = 3.0 * sigma ** 2 * math.log(len(y))
    found: list[int] = []
    stack = [(0, len(y))]
    while stack and len(found) < max_points:
        a, b = stack.pop()
        k, gain = _best_split(y[a:b], min_windows)
        if k < 0 or gain <= penalty:
            continue
        left, right = y[a : a + k], y[a + k : b]
        if abs(math.exp(np.median(right) - np.median(left)) - 1.0) * 100 < min_change_pct:
            continue
        found.append(a + k)
        stack += [(a, a + k), (a + k, b)]
    found.sort()
    m = data.measured()
    edges = [0] + found + [len(rows)]
    points = []
    for idx, cut in enumerate(found):
        t_cut = rows[cut]["start_s"]
        before = _median_between(data, m, rows[edges[idx]]["start_s"], t_cut)
        after = _median_between(data, m, t_cut, rows[edges[idx + 2] - 1]["end_s"])
        change = (after / before - 1.0) * 100.0 if before and before > 0 else float("nan")
        if not abs(change) >= min_change_pct:
            continue  # on the raw rows of its neighbouring segments the step is too small to report
        points.append({"at_s": t_cut, "before_median_ms": before, "after_median_ms": after, "change_pct": change})
    return {"points": points, "method": "binary segmentation of window medians (log), BIC-style penalty",
            "min_change_pct": min_change_pct}


def _median_between(data, m, lo_s: float, hi_s: float) -> float:
    lo = data.start_ns + int(lo_s * 1e9)
    hi = data.start_ns + int(hi_s * 1e9)
    a = int(np.searchsorted(m["t_end"], lo, side="left"))
    b = int(np.searchsorted(m["t_end"], hi, side="right"))
    if b <= a:
        return float("nan")
    return float(np.median(m["dur"][a:b])) / 1e6
