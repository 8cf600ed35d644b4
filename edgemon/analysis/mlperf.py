"""MLPerf LoadGen SingleStream numbers: its p90 and its early-stopping estimate.

LoadGen (``mlcommons/inference:loadgen/results.cc``) indexes the sorted latencies at
``int(N * p)`` (so p90 of 1..10 is 10, where trtexec's nearest rank says 9), and its
early-stopping test (``early_stopping.cc``) asks: with confidence ``c`` = 0.99, how many
of the highest latencies could be over the true p90? It finds the smallest ``h`` with
``P(at most t over-latency queries in h + t) < 1 - c`` for the overlatency chance
``1 - p``; the estimate is the ``t``-th highest latency for the largest ``t`` with
``h(t) + t <= N``, and it "would discard ``t - 1`` highest latency queries".

Because ``P`` falls as ``h`` grows, ``h(t) <= N - t`` holds exactly when the binomial CDF
``P(Bin(N, 1 - p) <= t) < 1 - c``; so one pass over the CDF of ``Bin(N, 1 - p)`` finds
``t``, where LoadGen loops over every ``t`` with a binary search each (minutes for ten
million queries). The CDF is summed in log space around its lower tail, where all of its
mass below 1 % lies (terms more than 40 standard deviations below the mean are < e^-800).
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable

import numpy as np


def mlperf_percentile(sorted_values: np.ndarray, p: float) -> float:
    """LoadGen's percentile of an ascending array: ``sorted[int(N * p)]`` with ``p`` in [0, 1)."""
    n = int(sorted_values.shape[0])
    if n == 0:
        return float("nan")
    return float(sorted_values[_percentile_rank(n, p)])


def _log_binom_pmf(n: int, q: float, x: np.ndarray) -> np.ndarray:
    """log P(Bin(n, q) = k) for consecutive k in ``x``: lgamma at the first, then the ratio of
    neighbours (``pmf(k+1)/pmf(k) = (n-k)/(k+1) * q/(1-q)``) summed up: O(len(x)) numpy, not
    one lgamma per term (a 3-hour session has 10^5 terms in the range)."""
    lg = math.lgamma
    lq, l1q = math.log(q), math.log1p(-q)
    k0 = int(x[0])
    first = lg(n + 1) - lg(k0 + 1) - lg(n - k0 + 1) + k0 * lq + (n - k0) * l1q
    k = x[:-1].astype(np.float64)
    steps = np.log((n - k) / (k + 1.0)) + (lq - l1q)
    return first + np.concatenate([[0.0], np.cumsum(steps)])


@functools.lru_cache(maxsize=64)
def overlatency_allowance(n: int, p: float = 0.9, confidence: float = 0.99) -> int:
    """LoadGen's ``t``: the largest t with ``P(Bin(n, 1 - p) <= t) < 1 - confidence`` (0 if none).

    ``t >= 1`` means there are enough queries for early stopping.
    """
    if n <= 0:
        return 0
    q = 1.0 - p
    limit = math.log(1.0 - confidence)
    mean, sd = n * q, math.sqrt(n * q * p)
    lo = max(0, int(mean - 40.0 * sd) - 2)
    hi = min(n, int(mean + 10.0 * sd) + 2)
    x = np.arange(lo, hi + 1)
    log_cdf = np.logaddexp.accumulate(_log_binom_pmf(n, q, x))
    below = np.flatnonzero(log_cdf < limit)
    if below.size == 0:
        return 0
    # the CDF rises with t, so the passing t's are a prefix of x
    return int(x[below[-1]])


def min_queries(p: float = 0.9, confidence: float = 0.99) -> int:
    """The fewest queries for which early stopping gives an estimate (64 for p90, 662 for p99)."""
    n = 1
    while overlatency_allowance(n, p, confidence) < 1:
        n += 1
    return n


def early_stopping(sorted_ms: np.ndarray, p: float = 0.9, confidence: float = 0.99) -> dict[str, Any]:
    """LoadGen SingleStream early stopping over ascending latencies (ms).

    Keys: ``percentile`` (e.g. 90), ``queries``, ``min_queries``, ``ok``, ``estimate_ms``
    (None when there are too few queries), ``discarded`` (highest latencies it would discard).
    """
    return early_stopping_at(int(sorted_ms.shape[0]), lambda r: float(sorted_ms[r]), p, confidence)


def early_stopping_at(n: int, value_at: Callable[[int], float], p: float = 0.9,
                      confidence: float = 0.99) -> dict[str, Any]:
    """:func:`early_stopping` of ``n`` latencies given the value at a rank (ms)."""
    t = overlatency_allowance(n, p, confidence)
    out: dict[str, Any] = {
        "percentile": round(p * 100, 6),
        "confidence": confidence,
        "queries": n,
        "min_queries": _MIN_QUERIES.get((p, confidence)) or min_queries(p, confidence),
        "ok": t >= 1,
        "estimate_ms": None,
        "discarded": None,
    }
    if t >= 1:
        out["estimate_ms"] = float(value_at(n - t))
        out["discarded"] = t - 1
    return out


_MIN_QUERIES = {(0.9, 0.99): 64, (0.99, 0.99): 662}


def singlestream(sorted_ms: np.ndarray) -> dict[str, Any]:
    """The SingleStream block of ``analyze``: LoadGen's p90 (and p99), early-stopping p90 and p99."""
    return singlestream_at(int(sorted_ms.shape[0]), lambda r: float(sorted_ms[r]))


def _percentile_rank(n: int, p: float) -> int:
    return min(int(n * p), n - 1)


def singlestream_ranks(n: int) -> list[int]:
    """The ranks :func:`singlestream_at` reads."""
    if n <= 0:
        return []
    ranks = [_percentile_rank(n, 0.9), _percentile_rank(n, 0.99)]
    for p in (0.9, 0.99):
        t = overlatency_allowance(n, p, 0.99)
        if t >= 1:
            ranks.append(n - t)
    return ranks


def singlestream_at(n: int, value_at: Callable[[int], float]) -> dict[str, Any]:
    """:func:`singlestream` of ``n`` latencies given the value at a rank (ms)."""
    return {
        "p90_ms": float(value_at(_percentile_rank(n, 0.9))) if n else float("nan"),
        "p99_ms": float(value_at(_percentile_rank(n, 0.99))) if n else float("nan"),
        "early_stopping_p90": early_stopping_at(n, value_at, 0.9),
        "early_stopping_p99": early_stopping_at(n, value_at, 0.99),
        "percentile_rule": "sorted[int(N * p)] (MLPerf LoadGen)",
    }
