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
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

LEVEL_MIN_ROWS = 50


def _smooth(hist: np.ndarray, sigma_bins: float) -> np.ndarray:
    r = int(max(1, math.ceil(4 * sigma_bins)))
    x = np.arange(-r, r + 1)
    k = np.exp(-0.5 * (x / sigma_bins) ** 2)
    k /= k.sum()
    return np.convolve(hist, k, mode="same")


@dataclass
class LevelPlan:
    """What the histogram says about the levels; the values at ``ranks`` finish them."""

    n: int                                   # positive latencies
    zeros: int                               # measured rows with duration 0 (ranks 0..zeros-1)
    cuts: list[int] = field(default_factory=list)   # level boundaries as ranks among the positive rows
    bandwidth: float = 0.0
    note: str | None = None
    single: bool = False

    @property
    def ranks(self) -> list[int]:
        """Ranks (among all measured rows) whose values :func:`finish_levels` reads."""
        if self.note is not None:
            return []
        z, out = self.zeros, set()
        for a, b in zip(self.cuts[:-1], self.cuts[1:]):
            if b > a:
                m = b - a
                out.update({z + a, z + b - 1, z + a + m // 2})
                if m % 2 == 0:
                    out.add(z + a + m // 2 - 1)
        out.update(z + c for c in self.cuts[1:-1] if c < self.n)
        return sorted(out)


def plan_levels(hist: np.ndarray, b0: int, bits: int, n_measured: int, zeros: int, *, min_share: float = 0.02,
                valley_ratio: float = 0.5, bandwidth_dec: float | None = None) -> LevelPlan:
    """Levels from a log-linear histogram of the measured durations (ns; see
    :mod:`edgemon.analysis.selection`), in memory independent of the number of rows. The
    smoothing grid is snapped to histogram bucket edges, so each count below a cut is exact."""
    from edgemon.analysis.selection import bucket_lo, bucket_los

    pos = hist.astype(np.int64).copy()
    pos[0] -= zeros
    n = int(n_measured - zeros)
    plan = LevelPlan(n=n, zeros=zeros)
    if n < LEVEL_MIN_ROWS:
        plan.note = f"needs at least {LEVEL_MIN_ROWS} measured iterations"
        return plan
    cum = np.cumsum(pos)
    below = np.concatenate([[0], cum])            # rows in the buckets before index j
    nz = np.flatnonzero(pos)
    lo_ns = np.maximum(bucket_los(b0 + nz, bits), 1.0)
    hi_ns = np.maximum(bucket_los(b0 + nz + 1, bits) - 1, lo_ns)
    mids = np.log10((lo_ns + hi_ns) / 2.0 / 1e6)
    w = pos[nz].astype(np.float64)
    mean = float(np.average(mids, weights=w))
    probe_std = float(np.sqrt(np.average((mids - mean) ** 2, weights=w)))

    def q(f: float) -> float:                      # log10 ms at the bucket holding rank int(f * n)
        r = min(n - 1, int(f * n))
        j = int(np.searchsorted(cum, r, side="right"))
        return math.log10(max(bucket_lo(b0 + j, bits), 1) / 1e6)

    lo, hi = q(0.0005), q(0.9995)
    spread = min(probe_std, (q(0.75) - q(0.25)) / 1.349) or probe_std
    if bandwidth_dec is None:
        # half of Silverman's rule (it over-smooths multi-modal data), at least 0.01 decade (2.3 %)
        bandwidth_dec = max(0.01, 0.5 * 0.9 * spread * n ** (-0.2))
    plan.bandwidth = bandwidth_dec
    width = hi - lo
    if width <= 0:
        plan.single, plan.cuts = True, [0, n]
        return plan
    bin_w = bandwidth_dec / 4
    pad = 4 * bandwidth_dec
    nbins = int(min(20_000, math.ceil((width + 2 * pad) / bin_w)))
    edges = np.linspace(lo - pad, hi + pad, nbins + 1)
    # each grid edge snaps to the bucket edge at or below it: rows below it are counted exactly
    from edgemon.analysis.selection import buckets

    edge_ns = np.ceil(10.0 ** edges * 1e6).astype(np.int64)
    j = np.clip(buckets(edge_ns, bits) - b0, 0, pos.shape[0])
    ranks = below[j]
    counts = np.diff(ranks).astype(np.float64)
    dens = _smooth(counts, bandwidth_dec / (edges[1] - edges[0]))
    # local maxima (plateaus count once, at their left end)
    up = np.concatenate([[True], dens[1:] > dens[:-1]])
    down = np.concatenate([dens[:-1] >= dens[1:], [True]])
    peaks = [int(x) for x in np.flatnonzero(up & down & (dens > 0))]
    if not peaks:
        plan.single, plan.cuts = True, [0, n]
        return plan

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

    def cut_rows(pk: list[int]) -> list[int]:
        """Ranks where each level ends (the valley edges)."""
        idx = [valley(a, b) + 1 for a, b in zip(pk[:-1], pk[1:])]
        return [0] + [int(ranks[i]) for i in idx] + [n]

    # drop levels below min_share: merge into the neighbour across the lower valley
    while len(peaks) > 1:
        counts_lv = np.diff(np.asarray(cut_rows(peaks), dtype=np.int64))
        k = int(np.argmin(counts_lv))
        if counts_lv[k] >= min_share * n:
            break
        if k == 0:
            peaks.pop(0)
        elif k == len(peaks) - 1:
            peaks.pop()
        else:
            peaks.pop(k)  # the new cut is the deeper of its two valleys: its rows join across the shallower
    plan.cuts = cut_rows(peaks)
    return plan


def finish_levels(plan: LevelPlan, value_ns: Callable[[int], int]) -> dict[str, Any]:
    """``latency_levels``'s result from a plan and the values at its ranks (ns)."""
    if plan.note is not None:
        return {"count": 0, "levels": [], "note": plan.note}
    z, n = plan.zeros, plan.n
    levels = []
    for a, b in zip(plan.cuts[:-1], plan.cuts[1:]):
        if b <= a:
            continue
        m = b - a
        mid = z + a + m // 2
        median = value_ns(mid) / 1e6 if m % 2 else (value_ns(mid - 1) + value_ns(mid)) / 2.0 / 1e6
        levels.append({"median_ms": float(median), "lo_ms": value_ns(z + a) / 1e6, "hi_ms": value_ns(z + b - 1) / 1e6,
                       "count": m, "share": m / n})
    out: dict[str, Any] = {"count": len(levels), "levels": levels, "bandwidth_decades": plan.bandwidth,
                           "split_ms": [value_ns(z + c) / 1e6 for c in plan.cuts[1:-1] if c < n]}
    return out


def latency_levels(
    dur_ms: np.ndarray, *, min_share: float = 0.02, valley_ratio: float = 0.5, bandwidth_dec: float | None = None,
    is_sorted: bool = False,
) -> dict[str, Any]:
    """``{"count": K, "levels": [{"median_ms", "lo_ms", "hi_ms", "share", "count"}], ...}`` of an
    array of latencies in ms (nanosecond resolution); the same computation `analyze` streams."""
    from edgemon.analysis.selection import FINE_BITS, buckets, n_buckets

    d = np.asarray(dur_ms, dtype=np.float64)
    d = d[np.isfinite(d) & (d > 0)]
    ns = np.maximum(np.round(d * 1e6), 1).astype(np.int64)
    ns.sort()
    hist = np.bincount(buckets(ns, FINE_BITS), minlength=n_buckets(FINE_BITS))
    plan = plan_levels(hist, 0, FINE_BITS, int(ns.shape[0]), 0, min_share=min_share, valley_ratio=valley_ratio,
                       bandwidth_dec=bandwidth_dec)
    return finish_levels(plan, lambda r: int(ns[r]))


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


def find_change_points(windows: list[dict[str, Any]], *, min_change_pct: float = 5.0, min_windows: int = 3,
                       max_points: int = 10) -> list[dict[str, Any]]:
    """Candidate steps in the per-window medians: ``[{"at_s", "windows": (first before, first after,
    one past the last after)}]`` (window indices); their before/after medians come from the rows."""
    # a log needs a positive median (a corrupt recording may have windows of zero latencies)
    rows = [(k, w) for k, w in enumerate(windows) if w["count"] >= 5 and np.isfinite(w["p50_ms"]) and w["p50_ms"] > 0]
    if len(rows) < 2 * min_windows:
        return []
    y = np.log([w["p50_ms"] for _, w in rows])
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
    edges = [0] + found + [len(rows)]
    out = []
    for idx, cut in enumerate(found):
        out.append({"at_s": rows[cut][1]["start_s"],
                    "windows": (rows[edges[idx]][0], rows[cut][0], rows[edges[idx + 2] - 1][0] + 1)})
    return out


def finish_change_points(points: list[dict[str, Any]], *, min_change_pct: float = 5.0,
                         note: str | None = None) -> dict[str, Any]:
    """The ``change_points`` block from candidates with their ``before_median_ms``/``after_median_ms``."""
    if note is not None:
        return {"points": [], "note": note}
    out = []
    for p in points:
        before, after = p["before_median_ms"], p["after_median_ms"]
        change = (after / before - 1.0) * 100.0 if before and before > 0 else float("nan")
        if not abs(change) >= min_change_pct:
            continue  # on the raw rows of its neighbouring segments the step is too small to report
        out.append({"at_s": p["at_s"], "before_median_ms": before, "after_median_ms": after, "change_pct": change})
    return {"points": out, "method": "binary segmentation of window medians (log), BIC-style penalty",
            "min_change_pct": min_change_pct}


def change_points_note(windows: list[dict[str, Any]], min_windows: int = 3) -> str | None:
    rows = [w for w in windows if w["count"] >= 5 and np.isfinite(w["p50_ms"])]
    if len(rows) < 2 * min_windows:
        return f"needs at least {2 * min_windows} windows with 5 or more iterations"
    return None
