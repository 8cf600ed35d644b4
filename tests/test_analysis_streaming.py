"""The streaming analysis (edgemon.analysis.scan/selection) against numpy on sessions that fit in
memory: every percentile is the exact nearest-rank value, and memory does not grow with rows."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest

from analysis_helpers import analyze_folder, build_session
from edgemon.analysis.latency import nearest_rank_index
from edgemon.analysis.levels import latency_levels
from edgemon.analysis.selection import Family, Rows, one_pass
from edgemon.recording import segments

CEIL = {"cpu0_freq_mhz": 1479, "gpu_freq_mhz": 921.6, "emc_freq_mhz": 1600}
TRIPS = {"temp_cpu_c": 99.0}
HOT = (30.0, 45.0)


def _sample(t):
    hot = HOT[0] <= t < HOT[1]
    return {"cpu0_freq_mhz": 1036.0 if hot else 1479.0, "gpu_freq_mhz": 921.6, "emc_freq_mhz": 1600.0,
            "temp_cpu_c": 98.0 if hot else 70.0, "proc_worker_cpu_pct": 100.0, "power_total_mw": 5000.0}


def _rows(n, seed=7):
    """Back-to-back iterations with ties (whole microseconds), two levels, a slow stretch, outliers."""
    rng = np.random.default_rng(seed)
    us = np.where(rng.random(n) < 0.7, rng.normal(800, 30, n), rng.normal(1400, 40, n))
    us = np.round(np.clip(us, 100, None))
    us[rng.random(n) < 0.002] = 20_000                       # rare long ones
    dur_ms = us / 1000.0
    t_end = np.cumsum(dur_ms / 1000.0 + 0.0001)
    dur_ms = np.where((t_end >= 60) & (t_end < 80), dur_ms * 1.5, dur_ms)   # a slow stretch: a change point
    t_end = np.cumsum(dur_ms / 1000.0 + 0.0001)
    return t_end, dur_ms


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """~100 s, ~95,000 rows in row groups of 4096 (many pieces), 200 warm-up rows."""
    mp = pytest.MonkeyPatch()
    mp.setattr(segments, "ROW_GROUP_ROWS", 4096)
    try:
        t_end, dur_ms = _rows(95_000)
        keep = t_end <= 100.0
        t_end, dur_ms = t_end[keep], dur_ms[keep]
        folder = build_session(tmp_path_factory.mktemp("stream") / "s", meta={"clock_ceilings": CEIL,
                               "trip_points": TRIPS}, sample=_sample, duration_s=100.0,
                               latency=(t_end, dur_ms), warmup_rows=200, batch_rows=1000)
    finally:
        mp.undo()
    return folder, t_end, dur_ms


def _ns(ms):
    return np.round(np.asarray(ms) * 1e6).astype(np.int64)


def test_latency_statistics_equal_numpy(session):
    folder, t_end, dur_ms = session
    result = analyze_folder(folder)
    from edgemon.recording.reader import open_recording

    assert len(open_recording(folder).latency_chunks().pieces) > 10          # really streamed in pieces
    d = np.sort(_ns(dur_ms[200:])) / 1e6
    n = d.shape[0]
    lat = result["latency_ms"]
    assert lat["count"] == n
    for key, p in (("p90", 90.0), ("p95", 95.0), ("p99", 99.0), ("p999", 99.9)):
        assert lat[key] == d[nearest_rank_index(n, p)], key
    assert lat["median"] == (d[n // 2] if n % 2 else (d[n // 2 - 1] + d[n // 2]) / 2)
    assert (lat["min"], lat["max"]) == (d[0], d[-1])
    assert lat["mean"] == pytest.approx(float(d.mean()), rel=1e-12)
    assert lat["std"] == pytest.approx(float(d.std()), rel=1e-9)
    ml = result["mlperf"]
    assert (ml["p90_ms"], ml["p99_ms"]) == (d[int(n * 0.9)], d[int(n * 0.99)])
    # levels: the same computation as on the array in memory
    assert result["levels"] == latency_levels(d)
    assert result["levels"]["count"] == 4          # 0.8 and 1.4 ms, and both 1.5x slower for 20 s


def test_windows_episodes_and_change_points_equal_numpy(session):
    folder, t_end, dur_ms = session
    result = analyze_folder(folder, window_s=5.0)
    te, d = t_end[200:], _ns(dur_ms[200:])
    start0 = te[0] - dur_ms[200] / 1000.0
    ws = result["windows"]["windows"]
    assert len(ws) == 20
    for k, w in enumerate(ws):
        lo, hi = start0 + 5.0 * k, start0 + 5.0 * (k + 1)
        sel = np.ones(te.shape, bool)
        if k:
            sel &= te > lo + 1e-7
        if k < len(ws) - 1:
            sel &= te <= hi + 1e-7
        s = np.sort(d[sel])
        c = s.shape[0]
        assert w["count"] == c, k
        assert [w["p50_ms"], w["p90_ms"], w["p99_ms"], w["max_ms"]] == \
            [s[nearest_rank_index(c, p)] / 1e6 for p in (50.0, 90.0, 99.0)] + [s[-1] / 1e6], k
        assert w["mean_ms"] == pytest.approx(s.mean() / 1e6, rel=1e-12)
    th = result["throttling"]
    (ep,) = th["episodes"]
    assert (ep["start_s"], ep["end_s"]) == pytest.approx(HOT, abs=1e-6)
    inside = (te >= HOT[0]) & (te < HOT[1])
    for block, sel in ((th["inside"], inside), (th["outside"], ~inside)):
        s = np.sort(d[sel])
        assert block["count"] == s.shape[0]
        assert [block["p50_ms"], block["p90_ms"], block["p99_ms"]] == \
            [s[nearest_rank_index(s.shape[0], p)] / 1e6 for p in (50.0, 90.0, 99.0)]
    assert ep["latency_p50_ms"] == th["inside"]["p50_ms"]
    points = result["change_points"]["points"]
    assert [p["at_s"] for p in points] == pytest.approx([60.0, 80.0], abs=5.5)   # slower from 60 s to 80 s
    cuts = [-1e9] + [p["at_s"] for p in points] + [1e9]
    for i, cp in enumerate(points):       # before: since the previous change point, after: until the next
        def rows(a, b):
            return (te > a + 1e-7) & (te <= b + 1e-7)
        assert cp["before_median_ms"] == np.median(d[rows(cuts[i], cuts[i + 1])]) / 1e6
        assert cp["after_median_ms"] == np.median(d[rows(cuts[i + 1], cuts[i + 2])]) / 1e6


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_selection_engine_against_numpy(seed):
    """Random groups, ranks, ties, zeros and huge values: every rank is exact."""
    rng = np.random.default_rng(seed)
    n = 30_000
    t = np.sort(rng.integers(0, 10**9, n))
    v = rng.lognormal(np.log(5e4), 1.5, n).astype(np.int64)
    v[rng.random(n) < 0.01] = 0
    v[rng.random(n) < 0.001] = rng.integers(1 << 41, 1 << 50, int((rng.random(n) < 0.001).sum()) or 1)[0]
    v[:500] = 123_456                                            # many ties
    edges = np.unique(rng.integers(1, 10**9, 7))
    starts = np.concatenate([[0], edges])
    ends = np.concatenate([edges, [10**9]])
    fam = Family("f", starts, ends, value_range=None, bits=int(rng.integers(4, 13)))
    whole = Family("all", [0], [10**9], moments=True)

    def rows(spans, active=(), full=True):
        for a in range(0, n, 7_000):
            tt, vv = t[a:a + 7_000], v[a:a + 7_000]
            yield Rows(vv, tt, np.ones(tt.shape, np.int32), tt - vv)

    one_pass(rows, [fam, whole], everything=True)
    wanted = {}
    for g in range(fam.n):
        c = int(fam.count[g])
        wanted[g] = sorted({0, c - 1, c // 2, int(c * 0.9), int(rng.integers(0, c))})
        fam.want(g, wanted[g])
    whole.want(0, range(0, n, 2999))
    passes = 1
    while one_pass(rows, [fam, whole]):
        passes += 1
    assert passes <= 8
    for g in range(fam.n):
        sel = (t >= starts[g]) & (t < ends[g])
        s = np.sort(v[sel])
        assert fam.values(g, wanted[g]) == [int(s[r]) for r in wanted[g]]
    s = np.sort(v)
    assert whole.values(0, range(0, n, 2999)) == [int(s[r]) for r in range(0, n, 2999)]
    assert whole.std(0) == pytest.approx(float(v.astype(np.float64).std()), rel=1e-6)


def test_memory_does_not_grow_with_the_number_of_rows(tmp_path, monkeypatch):
    """numpy memory at the analysis' peak: 4x the rows may not cost more than a few pieces more."""
    monkeypatch.setattr(segments, "ROW_GROUP_ROWS", 20_000)
    peaks = []
    for n in (60_000, 240_000):
        t_end = np.arange(1, n + 1) * 0.001
        dur = np.full(n, 0.9) + (np.arange(n) % 7) * 0.01
        folder = build_session(tmp_path / f"s{n}", sample=_sample, duration_s=float(t_end[-1]),
                               latency=(t_end, dur), meta={"clock_ceilings": CEIL, "trip_points": TRIPS},
                               batch_rows=2000)
        tracemalloc.start()
        result = analyze_folder(folder)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert result["latency_ms"]["count"] == n
    # the rows are 21 bytes each: loading them all would add ~3.8 MB for the 180,000 more
    assert peaks[1] - peaks[0] < 1.5e6, [p / 1e6 for p in peaks]
    assert not math.isnan(result["throughput_ips"])
