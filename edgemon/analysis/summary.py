"""`edgemon analyze`: what a recording says, as a dict (``--json``) or a readable table."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Callable

# Telemetry worth a line in the summary when present: (metric, label, unit).
_HEADLINE_METRICS = (
    ("cpu_util_pct", "CPU load", "%"),
    ("gpu_util_pct", "GPU load", "%"),
    ("gpu_freq_mhz", "GPU clock", "MHz"),
    ("ram_used_mb", "RAM used", "MB"),
    ("swap_used_mb", "swap used", "MB"),
    ("power_total_mw", "power (total)", "mW"),
    ("proc_worker_cpu_pct", "worker CPU", "%"),
    ("proc_worker_rss_mb", "worker RSS", "MB"),
    ("proc_monitor_cpu_pct", "monitor CPU", "%"),
)


@dataclass
class AnalysisOptions:
    """What `edgemon analyze` / `report` / `compare` let the user tune (see commands.py)."""

    window_s: float | None = None          # None: adaptive (at most ~120 windows)
    busy_cpu_pct: float = 25.0             # worker CPU above this = busy
    thermal_margin_c: float = 3.0
    min_episode_s: float = 1.0
    level_min_share: float = 0.02
    min_change_pct: float = 5.0
    extras: dict[str, Any] = field(default_factory=dict)


def _column(table, name: str):
    col = table.column(name)
    return col.to_numpy(zero_copy_only=False)


def _guard(name: str, fn: Callable[[], Any], problems: list[str]) -> Any:
    """Run one part of the analysis; a failure is named in problems and the rest goes on."""
    try:
        return fn()
    except Exception as e:  # noqa: BLE001 - one broken part must not hide the others
        problems.append(f"{name} analysis failed ({type(e).__name__}: {' '.join(str(e).split())[:200]}); "
                        "the rest of the report is unaffected")
        return None


def analyze(recording, options: AnalysisOptions | None = None, *, data=None) -> dict[str, Any]:
    """Statistics of one session. ``recording`` is an ``edgemon.recording.reader.Recording``;
    ``data``: its :func:`edgemon.analysis.data.load` when the caller has it already (the report,
    which then finds the latency scan in ``data.scan``). Memory does not grow with the number
    of latency rows (:mod:`edgemon.analysis.scan`)."""
    from edgemon.analysis import data as _data
    from edgemon.analysis.scan import LatencyScan
    from edgemon.recording.layout import board_of

    opts = options or AnalysisOptions()
    meta = recording.meta
    data = data if data is not None else _data.load(recording)
    problems = list(data.problems)
    result: dict[str, Any] = {
        "session": str(recording.path),
        "host": meta.get("host"),
        "board": board_of(meta),
        "runner": (meta.get("workload") or {}).get("runner"),
        "model": (meta.get("workload") or {}).get("model"),
        "batch": (meta.get("workload") or {}).get("batch"),
        "state": meta.get("state"),
        "end_reason": (meta.get("end") or {}).get("reason"),
        "percentile_method": "nearest-rank (trtexec)",
    }
    scan = _guard("latency", lambda: LatencyScan(data, window_s=opts.window_s, level_min_share=opts.level_min_share),
                  problems)
    data.scan = scan
    # throttling needs the telemetry and when the worker ran: set up from the latency files'
    # time ranges before pass 1, checked against the rows after it
    thr = None
    if scan is not None:
        thr = _guard("throttling", lambda: _throttling(data, scan, opts, scan.provisional_activity()), problems)
        if _guard("latency", scan.first_pass, problems) is False:
            scan = None
    if scan is not None:
        problems += [p for p in scan.problems if p not in problems]
        _guard("latency", scan.want_standard, problems)
        busy = _busy_changed(data, scan, opts, thr)
        if busy:
            thr = _guard("throttling", lambda: _throttling(data, scan, opts, scan.activity.mask()), problems)
    facts = scan.facts if scan is not None else None
    n = scan.count if scan is not None else 0
    if facts is not None and facts.rows:
        result["warmup_iterations"] = facts.warmup_rows
        if facts.warmup_rows and facts.first_dur is not None:
            result["first_inference_ms"] = facts.first_dur / 1e6
    if not n:
        if facts is not None and facts.rows:
            problems.append(_no_measured(data, facts))
        elif scan is not None:
            problems.append(_no_rows(meta))

    tel = recording.telemetry()
    start_ns, end_ns = _session_span(data, scan)
    result["duration_s"] = (end_ns - start_ns) / 1e9 if end_ns > start_ns else 0.0
    telemetry: dict[str, dict[str, float]] = {}
    if tel.num_rows:
        import numpy as np

        for name, _label, _unit in _HEADLINE_METRICS:
            if name in tel.column_names:
                v = _column(tel, name).astype(np.float64)
                v = v[~np.isnan(v)]
                if v.size:
                    telemetry[name] = {"mean": float(v.mean()), "max": float(v.max()), "min": float(v.min())}
        temps = [c for c in tel.column_names if c.startswith("temp_") and c.endswith("_c")]
        for name in temps:
            v = _column(tel, name).astype(np.float64)
            v = v[~np.isnan(v)]
            if v.size:
                telemetry[name] = {"mean": float(v.mean()), "max": float(v.max()), "min": float(v.min())}
        result["telemetry_samples"] = int(tel.num_rows)
    else:
        result["telemetry_samples"] = 0
        problems.append("no telemetry rows: machine state was not recorded")
    result["telemetry"] = telemetry

    ev = recording.events()
    kinds: dict[str, int] = {}
    crashes = []
    if ev.num_rows:
        for kind, details in zip(ev.column("kind").to_pylist(), ev.column("details").to_pylist()):
            kinds[kind] = kinds.get(kind, 0) + 1
            if kind == "worker_crashed":
                try:
                    d = json.loads(details or "{}")
                except ValueError:
                    crashes.append(str(details))
                    continue
                if not isinstance(d, dict):
                    crashes.append(str(details))
                elif not d.get("replaced"):  # a hung worker the watchdog replaced is not the end
                    crashes.append(d.get("reason", ""))
    result["events"] = kinds
    if crashes:
        result["worker_crashed"] = crashes

    # the remaining passes: refinement until every rank is exact
    if scan is not None and n:
        if scan.windows is not None:
            _guard("change-point", lambda: scan.want_change_points(min_change_pct=opts.min_change_pct), problems)
        _guard("latency", scan.resolve, problems)
    # the latency sections, each from the resolved scan
    lat_ok = scan is not None and n and all(f.done for f in scan.families)
    from edgemon.analysis.latency import stats_from

    result["latency_ms"] = _guard("latency", scan.latency_ms, problems) if lat_ok else None
    if result["latency_ms"] is None:
        result["latency_ms"] = stats_from(0, lambda r: float("nan"), float("nan"), float("nan"))
    if lat_ok:
        active = scan.active_s()
        result["throughput_ips"] = scan.items / active if active > 0 else float("nan")
        result["measured_s"] = active
        result["items"] = scan.items
        paused = _paused_note(data, scan)
        if paused:
            problems.append(paused)
    else:
        result["throughput_ips"] = float("nan")
        result["measured_s"] = 0.0
        result["items"] = 0
    _extended(data, scan if lat_ok else None, thr, result, opts, problems)
    if scan is not None and not n:   # the sections stay in the output, empty, with their notes
        from edgemon.analysis.levels import LEVEL_MIN_ROWS, change_points_note

        result["windows"] = scan.windows_result()
        result["levels"] = {"count": 0, "levels": [], "note": f"needs at least {LEVEL_MIN_ROWS} measured iterations"}
        result["change_points"] = {"points": [], "note": change_points_note([])}
    # Profiles (edgemon/plan/runner.py): per-repetition statistics and their spread.
    reps = _guard("repetition", lambda: repetition_summary(data, scan), problems) if lat_ok else None
    if reps:
        result["repetitions"] = reps
        if len(reps["workloads"]) > 1:
            problems.append(f"this recording holds {len(reps['workloads'])} workloads (a suite): the overall "
                            "latency and throughput mix them; see the repetitions table per workload")
    if scan is not None:
        problems += [p for p in scan.chunks.problems if p not in problems]
    result["problems"] = problems
    return result


def _no_measured(data, facts) -> str:
    """Why a recording with latency rows has no measured iteration, in one line."""
    parts = []
    if facts.warmup_rows:
        parts.append(f"{facts.warmup_rows} warm-up")
    if facts.train_rows:
        parts.append(f"{facts.train_rows} training")
    if facts.invalid_negative or facts.invalid_after_end:
        parts.append(f"{facts.invalid_negative + facts.invalid_after_end} inconsistent")
    what = ", ".join(parts) or "no usable"
    hint = ""
    warm = (data.meta.get("workload") or {}).get("warmup_s")
    duration = data.meta.get("duration_s")
    if facts.warmup_rows and isinstance(warm, (int, float)) and isinstance(duration, (int, float)) and warm >= duration:
        hint = f" (the warm-up, {warm:g} s, is as long as --duration {duration:g} s, which includes it)"
    return (f"no measured iterations: {facts.rows} latency rows, all {what}{hint}; "
            "latency, throughput and energy need measured iterations")


def _paused_note(data, scan) -> str | None:
    from edgemon.analysis.scan import overlap_s, paused_intervals

    paused = paused_intervals(data)
    if not paused or not scan.count:
        return None
    s = overlap_s(paused, scan.measured_start_ns, scan.measured_end_ns)
    if s <= 0:
        return None
    return f"the worker was paused for {s:.1f} s: throughput, per-window rates and energy leave that time out"


def _throttle_options(opts: AnalysisOptions):
    from edgemon.analysis.throttling import ThrottleOptions

    return ThrottleOptions(busy_cpu_pct=opts.busy_cpu_pct, thermal_margin_c=opts.thermal_margin_c,
                           min_episode_s=opts.min_episode_s)


def _throttling(data, scan, opts: AnalysisOptions, activity):
    """The throttling analysis for this activity; its episodes become the scan's families."""
    from edgemon.analysis.throttling import analyze_throttling

    thr = analyze_throttling(data, _throttle_options(opts), activity=activity,
                             first_iteration_ns=None if scan._first else scan.first_start_ns)
    thr["_activity"] = activity
    scan.set_episodes(thr.get("_by_domain") or {}, thr.get("_union") or []) if thr.get("available") else \
        scan.set_episodes({}, [])
    return thr


def _busy_changed(data, scan, opts: AnalysisOptions, thr) -> bool:
    """Did pass 1's activity change what counts as busy (so the throttling must be redone)?
    The time to first throttle needs the first iteration, known only now: redone as well."""
    import numpy as np

    from edgemon.analysis.throttling import busy_mask

    if thr is None:
        return True
    before = thr.get("_activity")
    if before is None:
        return True
    t_opts = _throttle_options(opts)
    same = np.array_equal(busy_mask(data, t_opts, before), busy_mask(data, t_opts, scan.activity.mask()))
    if same:
        _first_throttle(thr, data, scan)
    return not same


def _first_throttle(thr, data, scan) -> None:
    """Time to the first throttle from the first iteration (now that pass 1 knows it)."""
    eps = thr.get("episodes") or []
    first = scan.first_start_ns
    if not eps:
        return
    start = eps[0]["start_ns"]
    origin, name = data.start_ns, "session start"
    if first is not None and start >= first:
        origin, name = first, "first iteration"
    thr["time_to_first_throttle_s"] = max(0.0, (start - origin) / 1e9)
    thr["time_to_first_throttle_from"] = name


def _extended(data, scan, thr, result: dict[str, Any], opts: AnalysisOptions, problems: list[str]) -> None:
    """MLPerf p90, windows, throttling, levels, change points, energy (each guarded)."""
    from edgemon.analysis.energy import energy
    from edgemon.analysis.levels import change_points_note, finish_change_points
    from edgemon.analysis.throttling import add_latency

    if scan is not None:
        result["mlperf"] = _guard("MLPerf early-stopping", scan.mlperf, problems)
        win = _guard("per-window", scan.windows_result, problems)
        if win is not None:
            result["windows"] = win
    else:
        win = None
    if thr is not None:
        _guard("throttling", lambda: add_latency(thr, scan), problems)
        for ep in thr.get("episodes", []):   # private keys of an unfinished analysis never reach the output
            for key in ("start_ns", "_end_ns", "_group"):
                ep.pop(key, None)
        thr.pop("_union", None)
        thr.pop("_by_domain", None)
        thr.pop("_activity", None)
        result["throttling"] = thr
        if not thr.get("available"):
            problems.append(f"throttling not analysed: {thr.get('reason')}")
        elif thr.get("ceiling_note"):
            problems.append(thr["ceiling_note"])
    if scan is not None:
        lev = _guard("latency level", scan.levels, problems)
        if lev is not None:
            result["levels"] = lev
    if win is not None:
        cp = _guard("change-point", lambda: finish_change_points(
            scan.change_points(), min_change_pct=opts.min_change_pct, note=change_points_note(win["windows"])),
            problems)
        if cp is not None:
            result["change_points"] = cp
    en = _guard("energy", lambda: energy(data, scan) if scan is not None else
                {"available": False, "reason": "no measured iterations: nothing to divide the energy by"}, problems)
    if en is not None:
        result["energy"] = en
        if not en.get("available"):
            problems.append(f"energy not computed: {en.get('reason')}")


def _session_span(data, scan) -> tuple[int, int]:
    """First and last moment with data: telemetry samples, iteration starts and ends."""

    starts, ends = [], []
    if data.tel_t.shape[0]:
        starts.append(int(data.tel_t[0]))
        ends.append(int(data.tel_t[-1]))
    if scan is not None and scan.facts.first_start is not None:
        starts.append(scan.facts.first_start)
        ends.append(scan.facts.last_end)
    if not starts:
        return 0, 0
    return min(starts), max(ends)


def _fmt(v: Any, digits: int = 3) -> str:
    """``digits`` decimals; a small positive value at the default 3 (milliseconds, millijoules)
    keeps 3 significant figures instead: a loop of 312 ns is 0.000312 ms, not 0.000."""
    if isinstance(v, float):
        if math.isnan(v):
            return "-"
        if digits == 3 and 0 < v < 0.1:
            from edgemon.view.fmt import ms

            return ms(v)
        return f"{v:.{digits}f}"
    return str(v)


def format_analysis(result: dict[str, Any]) -> str:
    """A plain-text report: header, latency table, throughput, telemetry, events, problems."""
    lines = [
        f"session   {result['session']}",
        f"workload  {result.get('runner')} / {result.get('model')}  batch {result.get('batch')}"
        f"   host {result.get('host')}" + (f"  board {result['board']}" if result.get("board") else ""),
        f"state     {result.get('state')}" + (f" ({result['end_reason']})" if result.get("end_reason") else "")
        + f"   duration {result['duration_s']:.1f} s   measured {result['measured_s']:.1f} s",
        "",
        "latency (ms, warm-up excluded; percentiles nearest-rank as trtexec)",
    ]
    lat = result["latency_ms"]
    keys = ["count", "min", "mean", "median", "p90", "p95", "p99", "p999", "max", "std", "cov_pct"]
    head = ["count", "min", "mean", "median", "p90", "p95", "p99", "p99.9", "max", "std", "CoV %"]
    cells = [str(lat["count"])] + [_fmt(lat[k]) for k in keys[1:]]
    widths = [max(len(h), len(c)) for h, c in zip(head, cells)]
    lines.append("  " + "  ".join(h.rjust(w) for h, w in zip(head, widths)))
    lines.append("  " + "  ".join(c.rjust(w) for c, w in zip(cells, widths)))
    lines.append("")
    lines.append(f"throughput  {_fmt(result['throughput_ips'], 1)} items/s over {result['items']} items")
    if "first_inference_ms" in result:
        lines.append(
            f"warm-up     {result['warmup_iterations']} iterations, "
            f"first inference {result['first_inference_ms']:.3f} ms"
        )
    if result["telemetry"]:
        lines.append("")
        lines.append(f"telemetry ({result['telemetry_samples']} samples)   mean / max")
        labels = {n: (lab, u) for n, lab, u in _HEADLINE_METRICS}
        for name, st in result["telemetry"].items():
            label, unit = labels.get(name, (name, "C" if name.startswith("temp_") else ""))
            lines.append(f"  {label:<28} {st['mean']:10.1f} / {st['max']:10.1f} {unit}")
    lines += format_extended(result)
    lines += format_repetitions(result)
    if result["events"]:
        lines.append("")
        lines.append("events  " + ", ".join(f"{k} x{v}" for k, v in sorted(result["events"].items())))
    for reason in result.get("worker_crashed", []):
        lines.append(f"WORKER CRASHED: {reason}")
    for p in result["problems"]:
        lines.append(f"note: {p}")
    return "\n".join(lines)


def _table(head: list[str], rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(head)]
    out = [indent + "  ".join(h.rjust(w) for h, w in zip(head, widths))]
    out += [indent + "  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in rows]
    return out


def _pct(v: Any) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v * 100:.1f}%"


MAX_WINDOW_ROWS = 24


def format_extended(result: dict[str, Any]) -> list[str]:
    """Text lines for the MLPerf, window, throttling, level, change-point and energy sections."""
    lines: list[str] = []
    ml = result.get("mlperf")
    if ml:
        es = ml["early_stopping_p90"]
        lines += ["", f"MLPerf SingleStream  p90 {_fmt(ml['p90_ms'])} ms  p99 {_fmt(ml['p99_ms'])} ms  "
                      "(sorted[int(N*p)], as LoadGen)"]
        if es["ok"]:
            lines.append(f"  early stopping: p90 estimate {_fmt(es['estimate_ms'])} ms, would discard "
                         f"{es['discarded']} highest latency queries of {es['queries']} (needs >= {es['min_queries']})")
        else:
            lines.append(f"  early stopping: only {es['queries']} queries; needs at least {es['min_queries']} for p90")
        es99 = ml["early_stopping_p99"]
        if es99["ok"]:
            lines.append(f"  early stopping: p99 estimate {_fmt(es99['estimate_ms'])} ms, would discard "
                         f"{es99['discarded']}")

    win = result.get("windows")
    if win and win["windows"]:
        ws = win["windows"]
        thr = sorted(w["throughput_ips"] for w in ws)
        lines += ["", f"per window  {len(ws)} x {win['window_s']:g} s{' (adaptive)' if win['adaptive'] else ''}:  "
                      f"throughput min {thr[0]:.1f} / median {thr[len(thr) // 2]:.1f} / max {thr[-1]:.1f} items/s"]
        step = max(1, math.ceil(len(ws) / MAX_WINDOW_ROWS))
        rows = [[f"{w['start_s']:.1f}", str(w["count"]), _fmt(w["throughput_ips"], 1), _fmt(w["p50_ms"]),
                 _fmt(w["p90_ms"]), _fmt(w["p99_ms"]), _fmt(w["max_ms"])] for w in ws[::step]]
        if step > 1:
            lines.append(f"  (every {step}th window shown; all of them are in --json)")
        lines += _table(["from s", "count", "items/s", "p50", "p90", "p99", "max ms"], rows)

    th = result.get("throttling")
    if th and th.get("available"):
        lines += ["", "throttling (clock below its power-mode ceiling while the worker was busy)"]
        shares = ", ".join(f"{d} {_pct(v)}" for d, v in th["share_throttled"].items())
        lines.append(f"  share of busy time throttled: {shares}; any clock {_pct(th['share_throttled_any'])}")
        if th["time_to_first_throttle_s"] is not None:
            lines.append(f"  first throttle {th['time_to_first_throttle_s']:.1f} s after the "
                         f"{th['time_to_first_throttle_from']}")
        for ch in th.get("ceiling_changes", []):
            lines.append(f"  ceiling moved at {ch['at_s']:.1f} s: power mode {ch['mode']} ({ch['source']})")
        from edgemon.analysis.throttling import merged_episodes

        eps = merged_episodes(th["episodes"])
        if eps:
            rows = [[f"{e['start_s']:.1f}", f"{e['end_s']:.1f}", f"{e['duration_s']:.1f}", e["clocks_text"],
                     f"{e['clock_mhz']:.0f}", f"{e['ceiling_mhz']:.0f}", f"{e['drop_pct']:.1f}",
                     "/".join(e["causes"]) or e["cause"]] for e in eps[:50]]
            lines += _table(["from s", "to s", "dur s", "clocks", "MHz", "ceiling", "drop %", "cause"], rows)
            lines.append("  (MHz, ceiling, drop %: the clock that dropped most; one line per episode, "
                         "--json has one per clock domain)")
            if len(eps) > 50:
                lines.append(f"  ... {len(eps) - 50} more episodes in --json")
            for e in eps[:10]:
                if e["evidence"]:
                    lines.append(f"  {e['start_s']:.1f} s: " + "; ".join(e["evidence"][:3]))
        else:
            lines.append("  no throttling episodes")
        ins, outs = th.get("inside"), th.get("outside")
        if ins and outs and ins["count"]:
            lines.append(f"  inside episodes : p50 {_fmt(ins['p50_ms'])} ms  p99 {_fmt(ins['p99_ms'])} ms  "
                         f"{_fmt(ins['throughput_ips'], 1)} items/s over {ins['seconds']:.1f} s")
            lines.append(f"  outside episodes: p50 {_fmt(outs['p50_ms'])} ms  p99 {_fmt(outs['p99_ms'])} ms  "
                         f"{_fmt(outs['throughput_ips'], 1)} items/s over {outs['seconds']:.1f} s")

    lev = result.get("levels")
    if lev and lev.get("levels"):
        parts = [f"{lv['median_ms']:.3f} ms ({_pct(lv['share'])})" for lv in lev["levels"]]
        lines += ["", f"latency levels  {lev['count']}: " + ", ".join(parts)]
    cp = result.get("change_points")
    if cp and cp.get("points"):
        lines.append("change points   " + "; ".join(
            f"at {p['at_s']:.0f} s {_fmt(p['before_median_ms'])} -> {_fmt(p['after_median_ms'])} ms "
            f"({p['change_pct']:+.1f}%)" for p in cp["points"]))

    en = result.get("energy")
    if en and en.get("available"):
        line = (f"energy  average {en['avg_power_mw'] / 1000:.2f} W, {en['energy_j']:.1f} J "
                f"over {en['window_s']:.1f} s, {_fmt(en['mj_per_item'])} mJ per item")
        if en.get("baseline_mw") is not None:
            line += (f"; {_fmt(en['mj_per_item_above_baseline'])} mJ above the idle baseline "
                     f"{en['baseline_mw'] / 1000:.2f} W ({en['baseline_source']})")
        lines += ["", line]
    return lines


# ------------------------------------------------------------------ repetitions (profiles)
# A profile runs its workload N times in fresh workers; each run is a span between a pair of
# `phase` events {name: "repetition", at: "start"/"end", index, start_ns, end_ns} (plan.py).
# Study 000 reported the median of five runs; we add the spread (min/max, IQR, std).

_SPREAD_OF = (("latency_median_ms", "median latency", "ms"), ("latency_p99_ms", "p99 latency", "ms"),
              ("throughput_ips", "throughput", "items/s"), ("mj_per_item", "energy", "mJ/item"))


def _spread(values: list[float]) -> dict[str, float]:
    """Median, min, max, IQR (numpy's linear quartiles), sample std and CoV of per-run values."""
    import numpy as np

    v = np.asarray([x for x in values if x is not None and not math.isnan(x)], dtype=np.float64)
    if not v.size:
        return {"n": 0, "median": float("nan"), "min": float("nan"), "max": float("nan"), "iqr": float("nan"),
                "std": float("nan"), "cov_pct": float("nan")}
    q1, q3 = np.percentile(v, [25, 75])
    std = float(v.std(ddof=1)) if v.size > 1 else 0.0
    mean = float(v.mean())
    return {"n": int(v.size), "median": float(np.median(v)), "min": float(v.min()), "max": float(v.max()),
            "iqr": float(q3 - q1), "std": std, "cov_pct": std / mean * 100.0 if mean else float("nan")}


def repetition_summary(data, scan) -> dict[str, Any] | None:
    """Per-repetition latency/throughput (warm-up excluded) and, per workload, the spread across
    repetitions; None when the recording has no repetition phases."""
    from edgemon.analysis.energy import POWER_TOTAL, integrate_mw
    from edgemon.analysis.latency import stats_from
    from edgemon.analysis.scan import overlap_s, paused_intervals

    runs = scan.rep_spans
    fam = scan.reps
    if not runs or fam is None:
        return None
    power = data.metric(POWER_TOTAL) if data.has(POWER_TOTAL) else None
    paused = paused_intervals(data)
    out_runs = []
    for i, r in enumerate(runs):
        lo = int(r["start_ns"])
        span_end = int(r["end_ns"]) if isinstance(r.get("end_ns"), int) else data.end_ns  # killed mid-run
        c = int(fam.count[i])
        if c:
            st = stats_from(c, scan.value_ms(fam, i), fam.average(i) / 1e6, fam.std(i) / 1e6)
            first, last = int(fam.first_start[i]), int(fam.last_end[i])
            wall = (last - first) / 1e9 - overlap_s(paused, first, last)
        else:
            st = stats_from(0, lambda r: float("nan"), float("nan"), float("nan"))
            first = last = lo
            wall = 0.0
        n_items = int(fam.items[i])
        # energy of this repetition's measured window (the rests between repetitions are not in it)
        got = integrate_mw(data.tel_t, power, first, last) if power is not None and c else None
        wl = r.get("workload") or {}
        out_runs.append({
            "index": r["index"],
            "item": r.get("item", 1),
            "label": r.get("label") or f"{wl.get('runner')}/{wl.get('model')}",
            "start_s": data.rel_s(lo),
            "duration_s": (span_end - lo) / 1e9,
            "outcome": r.get("outcome", "incomplete"),
            "count": int(st["count"]),
            "items": n_items,
            "latency_ms": {k: st[k] for k in ("min", "mean", "median", "p90", "p99", "max", "std")},
            "throughput_ips": n_items / wall if wall > 0 else float("nan"),
            "mj_per_item": got[0] / n_items if got is not None and n_items else None,
        })
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in out_runs:
        groups.setdefault((r["item"], r["label"]), []).append(r)
    workloads = []
    for (item, label), rs in sorted(groups.items(), key=lambda kv: kv[0][0]):
        counted = [r for r in rs if r["count"] > 0]
        workloads.append({
            "item": item,
            "label": label,
            "runs": len(rs),
            "runs_with_data": len(counted),
            "latency_median_ms": _spread([r["latency_ms"]["median"] for r in counted]),
            "latency_mean_ms": _spread([r["latency_ms"]["mean"] for r in counted]),
            "latency_p99_ms": _spread([r["latency_ms"]["p99"] for r in counted]),
            "throughput_ips": _spread([r["throughput_ips"] for r in counted]),
            "mj_per_item": _spread([r["mj_per_item"] for r in counted if r["mj_per_item"] is not None]),
        })
    return {"count": len(out_runs), "runs": out_runs, "workloads": workloads,
            "spread": "median, min, max, IQR (linear quartiles) and sample std across repetitions"}


def format_repetitions(result: dict[str, Any]) -> list[str]:
    reps = result.get("repetitions")
    if not reps:
        return []
    lines = ["", f"repetitions  {reps['count']}, each in a fresh worker (warm-up excluded)"]
    energy = any(r.get("mj_per_item") is not None for r in reps["runs"])
    rows = [[str(r["index"]), r["label"], f"{r['start_s']:.1f}", f"{r['duration_s']:.1f}", str(r["count"]),
             _fmt(r["latency_ms"]["median"]), _fmt(r["latency_ms"]["p99"]), _fmt(r["throughput_ips"], 1)]
            + ([_fmt(r["mj_per_item"]) if r.get("mj_per_item") is not None else "-"] if energy else [])
            + [r["outcome"]] for r in reps["runs"]]
    lines += _table(["#", "workload", "from s", "dur s", "count", "median ms", "p99 ms", "items/s"]
                    + (["mJ/item"] if energy else []) + ["outcome"], rows)
    lines += ["", "across repetitions"]
    rows = []
    for w in reps["workloads"]:
        for key, label, unit in _SPREAD_OF:
            sp = w[key]
            if not sp["n"]:
                continue
            digits = 1 if unit == "items/s" else 3
            rows.append([w["label"] if key == _SPREAD_OF[0][0] else "", f"{label} {unit}", str(sp["n"]),
                         _fmt(sp["median"], digits), _fmt(sp["min"], digits), _fmt(sp["max"], digits),
                         _fmt(sp["iqr"], digits), _fmt(sp["std"], digits), _fmt(sp["cov_pct"], 1)])
    lines += _table(["workload", "statistic", "runs", "median", "min", "max", "IQR", "std", "CoV %"], rows)
    return lines


def to_json(result: dict[str, Any]) -> str:
    def clean(o):
        if isinstance(o, float) and (math.isnan(o) or math.isinf(o)):
            return None
        if isinstance(o, dict):
            return {k: clean(v) for k, v in o.items()}
        if isinstance(o, list):
            return [clean(v) for v in o]
        return o

    return json.dumps(clean(result), indent=2, sort_keys=True)


def _no_rows(meta: Any) -> str:
    from edgemon.workload.spec import latency_source_hint, session_kind

    if session_kind(meta) == "runner":
        return "no latency rows: the worker recorded no iterations"
    return latency_source_hint(meta).replace(" yet", "")
