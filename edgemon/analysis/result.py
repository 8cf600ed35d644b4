"""The analysis of one recording, typed: what ``edgemon analyze --json`` prints.

:func:`edgemon.analysis.summary.analyze` builds the JSON object (its keys are a public
interface: scripts and fleet tools read them); :class:`AnalysisResult` is the same object
as dataclasses (:func:`analyze_result`), which is what the dashboard's
analysis screen, the replay timeline and the demo feed read. ``AnalysisResult.from_dict(d)
.to_dict() == d`` for every analysis, and a key this version does not know is kept in
``extra`` (see :mod:`edgemon.records`). docs/analysis.md is generated from the field docs
(``python -m edgemon.analysis.result --write``); ``tests/test_analysis_result.py`` fails when
a real analysis has a key no field describes, or the docs are stale.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edgemon.records import Record, many, mapping, one, schema_rows, value


@dataclass
class LatencyStats(Record):
    """Per-iteration latency in ms over measured (non-warm-up) iterations; NaN (null) when none."""

    count: int = value("measured iterations")
    min: float = value("fastest iteration")
    mean: float = value("arithmetic mean")
    median: float = value("median (the mean of the two middle values for an even count)")
    p90: float = value("90th percentile, nearest rank (trtexec)")
    p95: float = value("95th percentile, nearest rank")
    p99: float = value("99th percentile, nearest rank")
    p999: float = value("99.9th percentile, nearest rank")
    max: float = value("slowest iteration")
    std: float = value("population standard deviation")
    cov_pct: float = value("coefficient of variation, std / mean in %")


@dataclass
class LatencyBlock(Record):
    """Latency and throughput of the iterations inside (or outside) throttled stretches."""

    count: int = value("iterations")
    seconds: float = value("wall time the block covers")
    mean_ms: float = value("mean latency")
    p50_ms: float = value("median latency, nearest rank")
    p90_ms: float = value("90th percentile, nearest rank")
    p99_ms: float = value("99th percentile, nearest rank")
    throughput_ips: float = value("items / seconds")


@dataclass
class ThrottleEpisode(Record):
    """One stretch of a clock domain below its ceiling while the worker was busy."""

    domain: str = value("cpu, gpu or emc")
    clocks: list[str] = value("the clock metrics throttled in it, e.g. cpu0_freq_mhz")
    start_s: float = value("start, seconds from the session start")
    end_s: float = value("end, seconds from the session start")
    duration_s: float = value("end - start")
    ceiling_mhz: float = value("the ceiling of the clock that fell furthest (median over the episode)")
    clock_mhz: float = value("that clock's median in the episode")
    min_clock_mhz: float = value("that clock's lowest value in the episode")
    drop_mhz: float = value("ceiling - clock")
    drop_pct: float = value("(ceiling - clock) / ceiling in %")
    cause: str = value("the likely cause: power_mode, user_action, power, thermal, thermal_or_power or unknown")
    causes: list[str] = value("every cause with evidence, strongest first")
    evidence: list[str] = value("what points at each cause, one line each")
    latency_p50_ms: float = value("median latency of the iterations in the episode (with latency rows only)")
    throughput_ips: float = value("throughput in the episode (with latency rows only)")


@dataclass
class Throttling(Record):
    """Clocks below what the power mode allows while busy (edgemon/analysis/throttling.py)."""

    options: dict[str, Any] = mapping("the ThrottleOptions used (thresholds, margins, minimum episode)")
    available: bool = value("False when there were no clocks to analyse")
    reason: str = value("why not available")
    ceilings: list[dict[str, Any]] = value(
        "per power-mode segment: from_s, mode, source, mhz {clock: ceiling}, sources {clock: where from}")
    ceiling_note: str = value("present when a clock had no recorded ceiling and its observed maximum stood in")
    ceiling_changes: list[dict[str, Any]] = value("each power-mode change: at_s, mode, source")
    busy_s: float = value("seconds the workload was busy (see busy_from)")
    busy_from: str = value("what busy means here: worker (a runner's CPU or its iterations), command (also the "
                           "GPU load), machine (no worker, as in watch and imported recordings: CPU or GPU load)")
    episodes: list[ThrottleEpisode] = many(ThrottleEpisode, "the episodes in time order")
    episode_count: int = value("number of episodes")
    throttled_s: dict[str, float] = mapping("seconds throttled per domain (cpu, gpu, emc)")
    share_throttled: dict[str, float] = mapping("share of busy time throttled, per domain (0..1)")
    share_by_clock: dict[str, float] = mapping("share of busy time throttled, per clock metric")
    throttled_any_s: float = value("seconds any clock was throttled")
    share_throttled_any: float = value("throttled_any_s / busy_s")
    time_to_first_throttle_s: float | None = value("seconds from the origin to the first episode; null: none",
                                                   nullable=True)
    time_to_first_throttle_from: str = value("the origin: first iteration, or session start without latency")
    inside: LatencyBlock = one(LatencyBlock, "latency inside throttled stretches (with latency rows only)")
    outside: LatencyBlock = one(LatencyBlock, "latency outside them")


@dataclass
class LatencyLevel(Record):
    median_ms: float = value("the level's median latency")
    lo_ms: float = value("its fastest iteration")
    hi_ms: float = value("its slowest iteration")
    count: int = value("iterations in it")
    share: float = value("count / all measured iterations")


@dataclass
class Levels(Record):
    """Distinct latency levels (modes of the distribution; a throttled clock makes a second one)."""

    count: int = value("number of levels")
    levels: list[LatencyLevel] = many(LatencyLevel, "the levels, fastest first")
    bandwidth_decades: float = value("kernel density bandwidth used, in decades of latency")
    split_ms: list[float] = value("latencies that separate the levels")
    note: str = value("why there are no levels (too few iterations)")


@dataclass
class ChangePoint(Record):
    at_s: float = value("seconds from the session start")
    before_median_ms: float = value("median latency before it")
    after_median_ms: float = value("median latency after it")
    change_pct: float = value("after / before - 1, in %")


@dataclass
class ChangePoints(Record):
    """Moments the window medians shifted for good."""

    points: list[ChangePoint] = many(ChangePoint, "in time order")
    method: str = value("how they were found")
    min_change_pct: float = value("smallest change reported")
    note: str = value("why there are none (too few windows)")


@dataclass
class Energy(Record):
    """Energy per inference from the total power over the measured window."""

    available: bool = value("False without power_total_mw or measured iterations")
    reason: str = value("why not available")
    metric: str = value("the power metric integrated (power_total_mw)")
    window_s: float = value("the measured time the energy covers")
    items: int = value("items in it")
    energy_j: float = value("integral of power over the window (trapezoid)")
    avg_power_mw: float = value("energy / window")
    mj_per_item: float = value("energy per item, mJ")
    method: str = value("how the integral was taken")
    baseline_mw: float | None = value("idle power (an idle_baseline phase or session.json); null: none",
                                      nullable=True)
    baseline_source: str | None = value("where the baseline came from", nullable=True)
    baseline_span: dict[str, float] = mapping("from_s, to_s of the idle phase the baseline was measured in")
    energy_above_baseline_j: float = value("energy minus baseline x window")
    mj_per_item_above_baseline: float = value("the same per item")
    rails_avg_mw: dict[str, float] = mapping("average power of each rail over the window")


@dataclass
class Repetitions(Record):
    """Profiles with repetitions: each repetition's numbers and their spread per workload."""

    count: int = value("repetitions")
    runs: list[dict[str, Any]] = value(
        "per repetition: index, item, label, start_s, duration_s, outcome, count, items, "
        "latency_ms {min, mean, median, p90, p99, max, std}, throughput_ips, mj_per_item")
    workloads: list[dict[str, Any]] = value(
        "per workload: item, label, runs, runs_with_data, and the spread (n, median, min, max, iqr, std, "
        "cov_pct) of latency_median_ms, latency_mean_ms, latency_p99_ms, throughput_ips, mj_per_item")
    spread: str = value("what the spread statistics are")


@dataclass
class AnalysisResult(Record):
    """Statistics of one session (``edgemon analyze --json``)."""

    session: str = value("the recording folder")
    host: str | None = value("host name", nullable=True)
    board: str | None = value("board or platform", nullable=True)
    runner: str | None = value("runner of the workload", nullable=True)
    model: str | None = value("model of the workload", nullable=True)
    batch: int | None = value("batch size", nullable=True)
    state: str | None = value("ended, crashed, or running (never closed)", nullable=True)
    end_reason: str | None = value("why the session ended", nullable=True)
    percentile_method: str = value("how percentiles are taken: nearest-rank (trtexec)")
    warmup_iterations: int = value("warm-up iterations, left out of the statistics (with latency rows only)")
    first_inference_ms: float = value("latency of the very first iteration, always a warm-up row (with warm-up only)")
    latency_ms: LatencyStats = one(LatencyStats, "latency of the measured iterations")
    throughput_ips: float = value("items / measured time")
    measured_s: float = value("measured time: each worker run's first measured start to its last end, without "
                              "paused time or the time between worker runs (rests, cool-down, idle baseline)")
    items: int = value("items in the measured iterations")
    duration_s: float = value("first to last moment with data")
    telemetry_samples: int = value("telemetry rows")
    telemetry: dict[str, dict[str, float]] = mapping(
        "headline metrics and every temperature: {metric: {mean, max, min}}")
    events: dict[str, int] = mapping("events by kind")
    worker_crashed: list[str] = value("why each worker crashed (a hung worker the watchdog replaced is not counted)")
    mlperf: dict[str, Any] = mapping(
        "MLPerf SingleStream view: p90_ms, p99_ms (LoadGen percentile rule), early_stopping_p90/_p99 "
        "{percentile, confidence, queries, min_queries, ok, estimate_ms, discarded}, percentile_rule")
    windows: dict[str, Any] = mapping(
        "per-window latency: window_s, adaptive, windows [{start_s, end_s, count, items, throughput_ips, "
        "mean_ms, p50_ms, p90_ms, p99_ms, max_ms}]")
    throttling: Throttling = one(Throttling, "throttling episodes and their causes")
    levels: Levels = one(Levels, "latency levels")
    change_points: ChangePoints = one(ChangePoints, "latency change points")
    energy: Energy = one(Energy, "energy per item")
    repetitions: Repetitions = one(Repetitions, "profiles: per-repetition statistics")
    problems: list[str] = value("what could not be analysed or should be read with care, one line each")


def analyze_result(recording, options=None, *, data=None) -> AnalysisResult:
    """:func:`edgemon.analysis.summary.analyze`, typed."""
    from edgemon.analysis.summary import analyze

    return AnalysisResult.from_dict(analyze(recording, options, data=data))


# ---------------------------------------------------------------------------- docs


def markdown_table() -> str:
    """docs/analysis.md's table: every key of the JSON object, nested keys as paths."""
    rows = ["| key | type | meaning |", "|---|---|---|"]
    for path, kind, doc in schema_rows(AnalysisResult):
        rows.append(f"| `{path}` | {kind.replace('|', 'or')} | {doc} |")
    return "\n".join(rows) + "\n"


def render_doc(text: str) -> str:
    """``text`` (docs/analysis.md) with the generated table brought up to date."""
    from edgemon.docgen import render

    return render(text, "edgemon.analysis.result", markdown_table())


def main(argv: list[str] | None = None) -> int:
    from edgemon.docgen import main as docgen_main

    return docgen_main("edgemon.analysis.result", "analysis.md", markdown_table, argv)


if __name__ == "__main__":
    raise SystemExit(main())
