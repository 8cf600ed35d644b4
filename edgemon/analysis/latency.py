"""Latency statistics with one definition of every number (trtexec's set, MLPerf's p90 headline).

Percentiles default to trtexec's nearest-rank-from-the-top rule
(``exclude = int((1 - P/100) * N)``, value ``sorted[max(N-1-exclude, 0)]``): every
reported percentile is a latency that really happened, and the numbers match
trtexec's report of the same samples. ``method="linear"`` gives numpy's default.
The median is the middle value (mean of the two middle values for even N), as
trtexec and numpy both define it.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

PERCENTILES = {"p90": 90.0, "p95": 95.0, "p99": 99.0, "p999": 99.9}
KEYS = ("count", "min", "mean", "median", "p90", "p95", "p99", "p999", "max", "std", "cov_pct")


def nearest_rank(sorted_values: np.ndarray, p: float) -> float:
    """trtexec's percentile of an ascending array."""
    return float(sorted_values[nearest_rank_index(sorted_values.shape[0], p)])


def latency_stats(duration_ns: np.ndarray, *, method: str = "nearest") -> dict[str, float]:
    """Statistics in milliseconds over ``duration_ns``; population std; CoV in percent.

    An empty input gives ``count`` 0 and NaN for everything else.
    """
    d = np.asarray(duration_ns, dtype=np.float64) / 1e6
    return stats_of_sorted(np.sort(d), method=method)


def stats_of_sorted(s: np.ndarray, *, method: str = "nearest") -> dict[str, float]:
    """:func:`latency_stats` of an ascending float64 array already in milliseconds."""
    n = int(s.shape[0])
    if n == 0:
        return stats_from(0, lambda r: float("nan"), float("nan"), float("nan"))
    out = stats_from(n, lambda r: float(s[r]), float(s.mean()), float(s.std()))  # population std, as trtexec
    if method != "nearest":
        for key, p in PERCENTILES.items():
            out[key] = float(np.percentile(s, p))
    return out


def stat_ranks(n: int) -> list[int]:
    """The 0-based ranks :func:`stats_from` reads (min, max, the middle one or two, the percentiles)."""
    if n <= 0:
        return []
    ranks = {0, n - 1, n // 2}
    if n % 2 == 0:
        ranks.add(n // 2 - 1)
    ranks.update(nearest_rank_index(n, p) for p in PERCENTILES.values())
    return sorted(ranks)


def stats_from(n: int, value_at: Callable[[int], float], mean: float, std: float) -> dict[str, float]:
    """The statistics of ``n`` latencies given the value at each rank of :func:`stat_ranks` (ms),
    their mean and population std: the same numbers whether the ranks come from a sorted array
    or from the streaming selection of :mod:`edgemon.analysis.selection`."""
    if n == 0:
        empty = {k: float("nan") for k in KEYS}
        empty["count"] = 0
        return empty
    out: dict[str, float] = {
        "count": n,
        "min": float(value_at(0)),
        "mean": float(mean),
        # the middle value (mean of the two middle ones for even n), as np.median
        "median": float(value_at(n // 2)) if n % 2 else (float(value_at(n // 2 - 1)) + float(value_at(n // 2))) / 2.0,
        "max": float(value_at(n - 1)),
        "std": float(std),
        "cov_pct": (std / mean * 100.0) if mean > 0 else float("nan"),
    }
    for key, p in PERCENTILES.items():
        out[key] = float(value_at(nearest_rank_index(n, p)))
    return {k: out[k] for k in KEYS}


def throughput_ips(t_end_ns: np.ndarray, duration_ns: np.ndarray, items: np.ndarray) -> tuple[float, float]:
    """(items per second, measured wall time s) over the window from the first measured
    iteration's start to the last one's end: trtexec's "Total Host Walltime", not 1/mean latency."""
    if len(t_end_ns) == 0:
        return float("nan"), 0.0
    start = int(np.min(np.asarray(t_end_ns) - np.asarray(duration_ns)))
    end = int(np.max(t_end_ns))
    wall = (end - start) / 1e9
    total = float(np.sum(items, dtype=np.int64))
    return (total / wall if wall > 0 else float("nan")), wall


def nearest_rank_index(n: int, p: float) -> int:
    """The index into an ascending array of ``n`` values that :func:`nearest_rank` reads."""
    # (100 - p) * n / 100 instead of (1 - p/100) * n: 1 - 0.9 is 0.0999.. in binary, which
    # would round 10 samples' exclusion down to 0 (trtexec computes it in float, getting 1).
    exclude = int((100.0 - p) * n / 100.0 + 1e-9)
    return max(n - 1 - exclude, 0)


def nearest_ranks(values: np.ndarray, ps: tuple[float, ...], *, inplace: bool = False) -> list[float]:
    """:func:`nearest_rank` of an *unsorted* array for several ``p`` at once, in O(n).

    ``np.partition`` puts exactly the values a full sort would put at those indices, so the
    results equal ``nearest_rank(np.sort(values), p)``; per-window and per-episode blocks
    of a ten-million-row session need no full sort. ``inplace``: reorder ``values`` itself
    (a temporary the caller owns) instead of a copy.
    """
    n = int(values.shape[0])
    if n == 0:
        return [float("nan")] * len(ps)
    idx = [nearest_rank_index(n, p) for p in ps]
    kth = sorted(set(idx))
    if inplace:
        values.partition(kth)
        part = values
    else:
        part = np.partition(values, kth)
    return [float(part[i]) for i in idx]
