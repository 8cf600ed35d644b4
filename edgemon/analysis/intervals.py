"""Sets of half-open time intervals ``[start_ns, end_ns)``: union, overlap, clipping.

Throttling episodes, paused spans and the stretches when measured iterations ran are such
sets; the analysis adds and intersects them.
"""

from __future__ import annotations


def union(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, disjoint intervals covering the same time (touching ones merge)."""
    out: list[list[int]] = []
    for s, e in sorted(intervals):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


def overlap_s(intervals: list[tuple[int, int]], lo: int, hi: int) -> float:
    """Seconds of ``[lo, hi)`` that disjoint ``intervals`` cover."""
    return sum(max(0, min(e, hi) - max(s, lo)) for s, e in intervals) / 1e9


def clip(intervals: list[tuple[int, int]], within: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of ``intervals`` inside ``within`` (both disjoint)."""
    out = []
    for s, e in intervals:
        for a, b in within:
            lo, hi = max(s, a), min(e, b)
            if hi > lo:
                out.append((lo, hi))
    return out
