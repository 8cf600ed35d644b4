"""One-line histories (sparklines) of the metrics that explain a throughput drop.

CPU clock (the fastest online core), GPU clock, the hottest temperature and total
power, averaged into the same buckets as the throughput graph so that a clock drop
and the throughput drop it causes line up on screen. Headless (no Textual): the
dashboard turns :func:`levels` into glyphs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgemon.telemetry import catalogue
from edgemon.view.metric_groups import is_temperature
from edgemon.view.series import MetricHistory, RingSeries

# name shown, how its metrics are picked, unit; in the order rows are given out
TRENDS = ("cpu", "gpu", "temp", "pwr")


@dataclass(frozen=True)
class Trend:
    name: str                   # cpu, gpu, temp, pwr
    kind: str                   # clock, temp, power
    values: np.ndarray          # one value per bucket, oldest first; NaN where there was no sample
    now: float | None           # the latest value (for the label)

    @property
    def label(self) -> str:
        """E.g. ``cpu 1208M``, ``temp 83C``, ``pwr 9.4W`` (at most 9 characters)."""
        if self.now is None or not np.isfinite(self.now):
            value = "-"
        elif self.kind == "clock":
            value = f"{self.now:.0f}M"
        elif self.kind == "temp":
            value = f"{self.now:.0f}C"
        else:
            watts = self.now / 1000.0
            value = f"{watts:.1f}W" if watts < 100 else f"{watts:.0f}W"
        return f"{self.name:<4}{value:>5}"


def bucket_means(ring: RingSeries, lo_ns: int, bucket_ns: int, n: int) -> np.ndarray:
    """Mean of the ring's values in ``n`` buckets of ``bucket_ns`` from ``lo_ns``; NaN where empty."""
    out = np.full(n, np.nan)
    if n <= 0 or bucket_ns <= 0 or len(ring) == 0:
        return out
    t, v = ring.since(lo_ns)
    if t.size == 0:
        return out
    idx = (t - lo_ns) // bucket_ns
    keep = (idx < n) & np.isfinite(v)
    if not keep.any():
        return out
    idx, v = idx[keep], v[keep]
    sums = np.bincount(idx, weights=v, minlength=n)[:n]
    counts = np.bincount(idx, minlength=n)[:n]
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / counts
    return np.where(counts > 0, means, np.nan)


def _highest(history: MetricHistory, names: list[str], lo_ns: int, bucket_ns: int, n: int) -> np.ndarray:
    """Per bucket the highest of several metrics' means (NaN only where none had a sample)."""
    out = np.full(n, np.nan)
    for name in names:
        ring = history.get(name)
        if ring is not None:
            out = np.fmax(out, bucket_means(ring, lo_ns, bucket_ns, n))
    return out


def _latest_max(latest: dict[str, float], names: list[str]) -> float | None:
    vals = [latest[n] for n in names if n in latest and np.isfinite(latest[n])]
    return max(vals) if vals else None


def trends(history: MetricHistory, latest: dict[str, float], lo_ns: int, bucket_ns: int, n: int,
           limit: int = len(TRENDS)) -> list[Trend]:
    """Up to ``limit`` trends that have data, in :data:`TRENDS` order."""
    if limit <= 0:
        return []
    names = list(history.series)
    picks = (
        ("cpu", "clock", [m for m, _ in catalogue.of_family(names, catalogue.CPU_FREQ)]),
        ("gpu", "clock", [catalogue.GPU_FREQ.pattern] if catalogue.GPU_FREQ.pattern in history else []),
        ("temp", "temp", [m for m, _ in catalogue.of_family(names, catalogue.TEMP)]),
        ("pwr", "power", [catalogue.POWER_TOTAL.pattern] if catalogue.POWER_TOTAL.pattern in history else []),
    )
    out = []
    for name, kind, metrics in picks:
        if not metrics:
            continue
        if kind == "clock":   # offline cores report no clock; a 0 MHz reading is "off", not a level
            now = _latest_max({m: v for m, v in latest.items() if m in metrics and v > 0}, metrics)
        elif kind == "temp":  # a sensor that is off (-256 C, a power-gated 0.0 C) is no temperature
            now = _latest_max({m: v for m, v in latest.items() if m in metrics and is_temperature(v)}, metrics)
        else:
            now = _latest_max(latest, metrics)
        out.append(Trend(name, kind, _highest(history, metrics, lo_ns, bucket_ns, n), now))
        if len(out) >= limit:
            break
    return out


def levels(values: np.ndarray, n_levels: int = 8, flat_rel: float = 0.01) -> np.ndarray:
    """Each value as a level ``0 .. n_levels - 1`` scaled between the window's min and max
    (-1 where NaN). A series that moves less than ``flat_rel`` of its size is drawn flat in
    the middle, so sensor noise on a steady clock does not look like a drop."""
    v = np.asarray(values, dtype=np.float64)
    out = np.full(v.shape, -1, dtype=np.int64)
    finite = np.isfinite(v)
    if not finite.any():
        return out
    lo, hi = float(v[finite].min()), float(v[finite].max())
    if hi - lo <= flat_rel * max(abs(hi), abs(lo), 1e-12):
        out[finite] = n_levels // 2
        return out
    scaled = (v[finite] - lo) / (hi - lo) * (n_levels - 1)
    out[finite] = np.clip(np.rint(scaled), 0, n_levels - 1).astype(np.int64)
    return out


def dropped(values: np.ndarray, rel: float = 0.03) -> np.ndarray:
    """Buckets more than ``rel`` below the window's highest value (a clock that fell)."""
    v = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(v)
    if not finite.any():
        return np.zeros(v.shape, dtype=bool)
    hi = float(v[finite].max())
    with np.errstate(invalid="ignore"):
        return finite & (v < hi * (1.0 - rel))
