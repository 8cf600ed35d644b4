"""`edgemon report DIR --out PATH`: one self-contained HTML file with plots and tables.

The plots are the figures of ``edgemon plot`` (:mod:`edgemon.report.figures`, matplotlib,
the ``plot`` extra) inlined as SVG: one file to mail or attach to an issue, vector graphics
that stay sharp when zoomed, text that a browser can search. Without matplotlib the report
falls back to the simpler charts of :mod:`edgemon.report.svg` (no dependency; events and
episodes named on hover only) and says how to get the figures.
"""

from __future__ import annotations

import datetime as _dt
import html
import math
import re
from pathlib import Path
from typing import Any, Sequence

from edgemon.recording.layout import section
from edgemon.report.svg import CAUSE_COLORS, CSS as SVG_CSS, PALETTE, Chart

MAX_POINTS = 1500          # per telemetry line
MAX_SCATTER = 6000         # latency points in the scatter
EVENT_KINDS = {            # kind -> colour of its marker
    "power_mode": "#9467bd", "core_online": "#2ca02c", "jetson_clocks": "#2ca02c", "fan": "#2ca02c",
    "mark": "#1f77b4", "worker_crashed": "#d62728", "worker_hung": "#d62728", "error": "#d62728",
    "warmup_done": "#7f7f7f", "phase": "#17becf", "pause": "#bcbd22", "resume": "#bcbd22",
    "recording_error": "#d62728",
}

PAGE_CSS = """
body { font-family: sans-serif; margin: 24px auto; max-width: 1140px; color: #222; padding: 0 12px; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; margin-top: 28px; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 8px 0 14px; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
th { background: #f4f4f4; } td.l, th.l { text-align: left; }
.note { color: #a33; font-size: 13px; } .muted { color: #777; font-size: 12px; }
.legend span { display: inline-block; margin-right: 14px; font-size: 12px; }
.legend i { display: inline-block; width: 12px; height: 12px; margin-right: 4px; vertical-align: -2px; }
details { margin: 8px 0; } summary { cursor: pointer; }
figure.mpl { margin: 14px 0; } figure.mpl svg { max-width: 100%; height: auto; }
"""


def _e(v: Any) -> str:
    return html.escape(str(v), quote=True)


def _f(v: Any, digits: int = 3) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            return "-"
        return f"{v:.{digits}f}"
    return _e(v)


def _table(head: list[str], rows: list[list[Any]], left: int = 0) -> str:
    """HTML table; the first ``left`` columns are left-aligned (names)."""
    th = "".join(f'<th class="{"l" if i < left else ""}">{_e(h)}</th>' for i, h in enumerate(head))
    body = []
    for r in rows:
        body.append("<tr>" + "".join(f'<td class="{"l" if i < left else ""}">{c if isinstance(c, _Raw) else _f(c)}</td>'
                                     for i, c in enumerate(r)) + "</tr>")
    return f"<table><tr>{th}</tr>{''.join(body)}</table>"


class _Raw(str):
    """Already-escaped HTML for a table cell."""


# ------------------------------------------------------------------ data shaping


def bucket(t_s, v, n: int = MAX_POINTS):
    """Mean of ``v`` (and of ``t_s``) over ``n`` equal runs of samples: a 3-hour 10 Hz series
    becomes 1500 points; NaN where a run has no value."""
    import numpy as np

    t_s = np.asarray(t_s, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    if t_s.shape[0] <= n:
        return t_s, v
    edges = np.linspace(0, t_s.shape[0], n + 1).astype(np.int64)[:-1]
    ok = np.isfinite(v)
    sums = np.add.reduceat(np.where(ok, v, 0.0), edges)
    cnt = np.add.reduceat(ok.astype(np.int64), edges)
    sizes = np.diff(np.append(edges, t_s.shape[0]))
    ts = np.add.reduceat(t_s, edges) / sizes
    with np.errstate(invalid="ignore", divide="ignore"):
        return ts, np.where(cnt > 0, sums / np.maximum(cnt, 1), np.nan)


def _decorate(chart: Chart, result: dict[str, Any], data, *, events: bool = True) -> Chart:
    """Episodes as shaded spans, events as vertical lines (every time axis gets both)."""
    th = result.get("throttling") or {}
    for ep in th.get("episodes", []) or []:
        tip = (f"{ep['domain']} throttled {ep['start_s']:.1f}-{ep['end_s']:.1f} s: {ep['clock_mhz']:.0f} of "
               f"{ep['ceiling_mhz']:.0f} MHz (-{ep['drop_pct']:.1f}%), cause {ep['cause']}")
        if ep.get("evidence"):
            tip += ": " + "; ".join(ep["evidence"][:3])
        chart.span(ep["start_s"], ep["end_s"], CAUSE_COLORS.get(ep["cause"], "#7f7f7f"), tip)
    if events:
        for ev in data.events:
            color = EVENT_KINDS.get(ev.kind)
            if color is None:
                continue
            brief = ", ".join(f"{k}={v}" for k, v in list(ev.details.items())[:4] if k != "stderr_tail")
            chart.vline(data.rel_s(ev.t_ns), color, f"{ev.kind} at {data.rel_s(ev.t_ns):.1f} s {brief}"[:300])
    return chart


def _time_chart(result, data, title: str, metrics: list[tuple[str, str]], y_label: str, *, scale: float = 1.0,
                right: Sequence[tuple[str, str]] = (), y2_label: str | None = None, y_min: float | None = None,
                dashed: dict[str, float] | None = None) -> Chart | None:
    present = [(m, lab) for m, lab in metrics if data.has(m)]
    present_r = [(m, lab) for m, lab in right if data.has(m)]
    if not present and not present_r:
        return None
    t = (data.tel_t - data.start_ns) / 1e9
    x_range = _x_range(result, data)
    c = Chart(title, y_label=y_label, y2_label=y2_label if present_r else None, y_min=y_min, x_range=x_range)
    for k, (m, lab) in enumerate(present):
        x, y = bucket(t, data.metric(m) * scale)
        c.line(x, y, lab, color=PALETTE[k % len(PALETTE)])
    for k, (m, lab) in enumerate(present_r):
        x, y = bucket(t, data.metric(m))
        c.line(x, y, lab, color=PALETTE[(len(present) + k) % len(PALETTE)], axis="right", width=1.1)
    for name, value in (dashed or {}).items():
        c.line(list(x_range), [value * scale, value * scale], name, color="#999", dash="6,4", width=1.0)
    return _decorate(c, result, data)


def _x_range(result, data) -> tuple[float, float]:
    return 0.0, max(data.rel_s(data.end_ns), 1e-3)


def _ceiling_lines(result) -> dict[str, float]:
    out = {}
    for seg in (result.get("throttling") or {}).get("ceilings", []) or []:
        for m, v in (seg.get("mhz") or {}).items():
            if v is not None and m not in out:
                out[m] = v
    return out


def charts(result: dict[str, Any], data) -> list[tuple[str, Chart | None, str]]:
    """``[(section title, chart or None, note when absent)]`` in report order."""

    out: list[tuple[str, Chart | None, str]] = []
    scan = data.scan
    xr = _x_range(result, data)
    # latency over time
    if scan is not None and scan.count and (result.get("latency_ms") or {}).get("count"):
        st_t, st_d = scan.scatter()
        p999 = (result.get("latency_ms") or {}).get("p999")
        top = float(result["latency_ms"]["max"])
        clip = 1.5 * p999 if isinstance(p999, float) and p999 == p999 and top > 1.5 * p999 else None
        c = Chart("Latency per iteration (dots: sample; lines: window p50, p99)"
                  + (f", axis cut at {clip:.3g} ms (max {top:.3g} ms)" if clip else ""),
                  y_label="latency (ms)", x_range=xr, height=300, y_max=clip, y_min=0.0)
        step = max(1, st_t.shape[0] // MAX_SCATTER)
        c.scatter((st_t[::step] - data.start_ns) / 1e9, st_d[::step] / 1e6, "iterations", color="#1f77b4")
        ws = (result.get("windows") or {}).get("windows") or []
        if ws:
            mids = [(w["start_s"] + w["end_s"]) / 2 for w in ws]
            c.line(mids, [w["p50_ms"] for w in ws], "p50", color="#111", width=1.8)
            c.line(mids, [w["p99_ms"] for w in ws], "p99", color="#d62728", width=1.2)
        for p in (result.get("change_points") or {}).get("points", []):
            c.vline(p["at_s"], "#000", f"change point at {p['at_s']:.0f} s: {_f(p['before_median_ms'])} -> "
                                       f"{_f(p['after_median_ms'])} ms", dash=None)
        out.append(("Latency over time", _decorate(c, result, data), ""))
        # histogram on a log axis, levels marked
        if top > 0:   # a log axis needs positive latencies (a corrupt recording may have none)
            lo, hi = scan.approx_ms(0.0005), top
            if hi <= lo:
                lo, hi = lo * 0.9, hi * 1.1 + 1e-9
            edges, counts = scan.histogram_ms(lo, hi, 80)
            h = Chart("Latency histogram (log scale)", x_label="latency (ms)", y_label="iterations", log_x=True)
            h.bars(edges.tolist(), counts.tolist(), "iterations")
            for lv in (result.get("levels") or {}).get("levels", []):
                h.vline(lv["median_ms"], "#d62728", f"level {lv['median_ms']:.3f} ms, {lv['share'] * 100:.1f}%")
            out.append(("Latency histogram", h, ""))
        if ws:
            tc = Chart("Throughput per window", y_label="items/s", x_range=xr, y_min=0.0)
            tc.line(mids, [w["throughput_ips"] for w in ws], "items/s", color="#2ca02c", width=1.8)
            out.append(("Throughput", _decorate(tc, result, data), ""))
    else:
        out.append(("Latency over time", None, "no measured iterations in this recording"))

    cores = sorted({int(mt.group(1)) for name in data.tel_names if (mt := re.match(r"^cpu(\d+)_util_pct$", name))})
    freqs = sorted({int(mt.group(1)) for name in data.tel_names if (mt := re.match(r"^cpu(\d+)_freq_mhz$", name))})
    ceil = _ceiling_lines(result)
    out.append(("CPU load per core", _time_chart(
        result, data, "CPU load per core", [(f"cpu{n}_util_pct", f"cpu{n}") for n in cores]
        + [("proc_worker_cpu_pct", "worker (% of one core)")], "%", y_min=0.0), "no per-core CPU load recorded"))
    cpu_ceil = {f"ceiling cpu{n}": ceil[f"cpu{n}_freq_mhz"] for n in freqs if f"cpu{n}_freq_mhz" in ceil}
    if len(set(cpu_ceil.values())) == 1:
        cpu_ceil = {"ceiling": next(iter(cpu_ceil.values()))}
    out.append(("CPU clock per core", _time_chart(
        result, data, "CPU clock per core (dashed: power-mode ceiling at the start)",
        [(f"cpu{n}_freq_mhz", f"cpu{n}") for n in freqs], "MHz", dashed=cpu_ceil), "no CPU clock recorded"))
    temps = [n for n in data.tel_names if n.startswith("temp_") and n.endswith("_c")]
    gpu_right = [("temp_gpu_c", "GPU temp (C)")] if "temp_gpu_c" in temps else [(n, n) for n in temps[:1]]
    out.append(("GPU clock against temperature", _time_chart(
        result, data, "GPU and memory clock against temperature",
        [("gpu_freq_mhz", "GPU MHz"), ("emc_freq_mhz", "EMC MHz")], "MHz", right=gpu_right, y2_label="C",
        dashed={k: v for k, v in (("GPU ceiling", ceil.get("gpu_freq_mhz")),) if v}),
        "no GPU clock recorded"))
    out.append(("GPU and memory-controller load", _time_chart(
        result, data, "GPU / EMC load", [("gpu_util_pct", "GPU"), ("emc_util_pct", "EMC")], "%", y_min=0.0),
        "no GPU load recorded"))
    trips = {f"trip {k[5:-2]}": v for k, v in section(data.meta, "trip_points").items()
             if isinstance(v, (int, float)) and data.has(k)}
    out.append(("Temperatures", _time_chart(
        result, data, "Temperatures (dashed: trip points)", [(n, n[5:-2]) for n in temps], "C", dashed=trips),
        "no temperature recorded"))
    rails = [n for n in data.tel_names if n.startswith("power_") and n.endswith("_mw") and not n.endswith("_avg_mw")]
    rails.sort(key=lambda n: (n != "power_total_mw", n))
    out.append(("Power rails", _time_chart(
        result, data, "Power rails", [(n, n[6:-3]) for n in rails] + [("gpu_power_mw", "gpu (NVML)")], "W",
        scale=0.001, y_min=0.0), "no power rails recorded"))
    out.append(("Memory and swap", _time_chart(
        result, data, "Memory and swap", [("ram_used_mb", "RAM used"), ("swap_used_mb", "swap used"),
                                          ("proc_worker_rss_mb", "worker RSS"), ("gpu_mem_used_mb", "GPU memory")],
        "MB", y_min=0.0), "no memory use recorded"))
    return out


# ------------------------------------------------------------------ tables


def _tables(result: dict[str, Any]) -> list[str]:
    parts: list[str] = []
    lat = result["latency_ms"]
    parts.append("<h2>Latency and throughput</h2>")
    parts.append(_table(["count", "min", "mean", "median", "p90", "p95", "p99", "p99.9", "max", "std", "CoV %"],
                        [[lat["count"], lat["min"], lat["mean"], lat["median"], lat["p90"], lat["p95"], lat["p99"],
                          lat["p999"], lat["max"], lat["std"], lat["cov_pct"]]]))
    parts.append('<p class="muted">milliseconds; warm-up excluded; percentiles nearest-rank as trtexec '
                 '(sorted[N-1-int((1-p)N)]); population std.</p>')
    rows = [["throughput", f"{_f(result['throughput_ips'], 2)} items/s over {result['items']} items in "
                           f"{_f(result['measured_s'], 1)} s"]]
    if "first_inference_ms" in result:
        rows.append(["warm-up", f"{result['warmup_iterations']} iterations, first inference "
                                f"{_f(result['first_inference_ms'])} ms"])
    ml = result.get("mlperf")
    if ml:
        es = ml["early_stopping_p90"]
        rows.append(["MLPerf SingleStream p90 / p99", f"{_f(ml['p90_ms'])} / {_f(ml['p99_ms'])} ms (sorted[int(N*p)])"])
        rows.append(["early-stopping p90 estimate",
                     f"{_f(es['estimate_ms'])} ms, would discard {es['discarded']} highest of {es['queries']}"
                     if es["ok"] else f"needs at least {es['min_queries']} queries, has {es['queries']}"])
        es99 = ml["early_stopping_p99"]
        if es99["ok"]:
            rows.append(["early-stopping p99 estimate", f"{_f(es99['estimate_ms'])} ms"])
    en = result.get("energy") or {}
    if en.get("available"):
        rows.append(["average power", f"{en['avg_power_mw'] / 1000:.3f} W ({en['metric']})"])
        rows.append(["energy per item", f"{_f(en['mj_per_item'])} mJ ({en['energy_j']:.2f} J over "
                                        f"{en['window_s']:.1f} s, trapezoid)"])
        if en.get("baseline_mw") is not None:
            rows.append(["energy per item above idle",
                         f"{_f(en['mj_per_item_above_baseline'])} mJ (idle baseline "
                         f"{en['baseline_mw'] / 1000:.3f} W from {en['baseline_source']})"])
    elif en:
        rows.append(["energy", en.get("reason", "not available")])
    parts.append(_table(["", ""], rows, left=2))

    lev = result.get("levels") or {}
    if lev.get("levels"):
        parts.append("<h2>Latency levels</h2>")
        parts.append(_table(["level", "median ms", "range ms", "iterations", "share"],
                            [[k + 1, lv["median_ms"], f"{lv['lo_ms']:.3f} - {lv['hi_ms']:.3f}", lv["count"],
                              f"{lv['share'] * 100:.1f}%"] for k, lv in enumerate(lev["levels"])]))
    cp = result.get("change_points") or {}
    if cp.get("points"):
        parts.append("<h2>Change points</h2>")
        parts.append(_table(["at s", "median before ms", "median after ms", "change"],
                            [[p["at_s"], p["before_median_ms"], p["after_median_ms"], f"{p['change_pct']:+.1f}%"]
                             for p in cp["points"]]))
        parts.append(f'<p class="muted">{_e(cp.get("method", ""))}</p>')

    th = result.get("throttling") or {}
    parts.append("<h2>Throttling</h2>")
    if not th.get("available"):
        parts.append(f"<p>{_e(th.get('reason', 'not analysed'))}</p>")
    else:
        legend = "".join(f'<span><i style="background:{c};opacity:.4"></i>{_e(k)}</span>'
                         for k, c in CAUSE_COLORS.items())
        parts.append(f'<p class="legend">shaded spans on the time axes, by cause: {legend}</p>')
        shares = [[d, f"{v * 100:.1f}%", f"{th['throttled_s'].get(d, 0.0):.1f}"]
                  for d, v in th["share_throttled"].items()]
        shares.append(["any clock", f"{th['share_throttled_any'] * 100:.1f}%", f"{th['throttled_any_s']:.1f}"])
        parts.append(_table(["clock", "share of busy time", "throttled s"], shares, left=1))
        if th.get("time_to_first_throttle_s") is not None:
            parts.append(f"<p>first throttle {th['time_to_first_throttle_s']:.1f} s after the "
                         f"{_e(th['time_to_first_throttle_from'])}</p>")
        if th.get("ceiling_note"):
            parts.append(f'<p class="note">{_e(th["ceiling_note"])}</p>')
        if th.get("ceilings"):
            parts.append(_table(["from s", "power mode", "ceilings MHz", "from"],
                                [[s["from_s"], s["mode"] if s["mode"] is not None else "-",
                                  ", ".join(f"{k[:-9]} {v:g}" for k, v in s["mhz"].items() if v is not None),
                                  s["source"]] for s in th["ceilings"]], left=0))
        from edgemon.analysis.throttling import merged_episodes

        eps = merged_episodes(th.get("episodes") or [])
        if eps:
            parts.append(_table(["from s", "to s", "s", "clocks", "MHz", "ceiling", "drop MHz", "drop %", "cause",
                                 "evidence", "p50 ms", "items/s"],
                                [[e["start_s"], e["end_s"], e["duration_s"], _Raw(_e(e["clocks_text"])), e["clock_mhz"],
                                  e["ceiling_mhz"], e["drop_mhz"], e["drop_pct"], _Raw(_e("/".join(e["causes"]))),
                                  _Raw(_e("; ".join(e["evidence"][:3]))), e.get("latency_p50_ms"),
                                  e.get("throughput_ips")] for e in eps[:200]]))
            if len(eps) > 200:
                parts.append(f'<p class="muted">{len(eps) - 200} more episodes in `edgemon analyze --json`</p>')
        else:
            parts.append("<p>no throttling episodes: every clock stayed at its ceiling while the worker was busy</p>")
        ins, outs = th.get("inside"), th.get("outside")
        if ins and outs:
            parts.append(_table(["", "iterations", "p50 ms", "p90 ms", "p99 ms", "items/s", "seconds"],
                                [[_Raw("inside episodes"), ins["count"], ins["p50_ms"], ins["p90_ms"], ins["p99_ms"],
                                  ins["throughput_ips"], ins["seconds"]],
                                 [_Raw("outside episodes"), outs["count"], outs["p50_ms"], outs["p90_ms"],
                                  outs["p99_ms"], outs["throughput_ips"], outs["seconds"]]], left=1))

    ws = (result.get("windows") or {}).get("windows") or []
    if ws:
        parts.append(f"<details><summary>per-window statistics ({len(ws)} windows of "
                     f"{result['windows']['window_s']:g} s)</summary>")
        parts.append(_table(["from s", "to s", "iterations", "items/s", "mean", "p50", "p90", "p99", "max ms"],
                            [[w["start_s"], w["end_s"], w["count"], w["throughput_ips"], w["mean_ms"], w["p50_ms"],
                              w["p90_ms"], w["p99_ms"], w["max_ms"]] for w in ws]))
        parts.append("</details>")
    tel = result.get("telemetry") or {}
    if tel:
        parts.append("<h2>Telemetry</h2>")
        parts.append(_table(["metric", "min", "mean", "max"],
                            [[_Raw(_e(k)), v["min"], v["mean"], v["max"]] for k, v in tel.items()], left=1))
    return parts


def _events_table(data) -> str:
    rows = []
    for ev in data.events[:500]:
        d = ", ".join(f"{k}={v}" for k, v in ev.details.items() if k != "stderr_tail")
        rows.append([data.rel_s(ev.t_ns), _Raw(_e(ev.kind)), _Raw(_e(d[:240]))])
    more = f" (first 500 of {len(data.events)})" if len(data.events) > 500 else ""
    return (f"<details><summary>events{more}</summary>" + _table(["at s", "kind", "details"], rows) + "</details>")


def _figures(result: dict[str, Any], data) -> list[str] | None:
    """The ``edgemon plot`` figures as inline SVG (a note for each one this recording cannot
    give); None when matplotlib is not installed."""
    try:
        from edgemon.report import figures
        figures.require_matplotlib()
    except Exception:  # noqa: BLE001 - UserError (missing) or a broken matplotlib: the fallback charts
        return None
    inp = figures.FigureInput(result, data)
    out = []
    for subject in figures.SUBJECTS:
        why = figures.missing(inp, subject)
        if why:
            out.append(f'<p class="muted">{_e(subject)}: {_e(why)}</p>')
        else:
            out.append(f'<figure class="mpl" id="figure-{subject}">{figures.svg_text(figures.build(subject, inp))}'
                       '</figure>')
    return out


def render_html(result: dict[str, Any], data) -> str:
    meta = data.meta
    title = f"edgemon report: {Path(result['session']).name}"
    wl = meta.get("workload") or {}
    wall = (meta.get("clock") or {}).get("wall_time")
    head_rows = [
        ["session", result["session"]], ["started", wall or "-"],
        ["host / board", f"{result.get('host')} / {result.get('board') or '-'}"
                         + (" (emulated)" if meta.get("emulated") else "")],
        ["workload", f"{wl.get('runner')} / {wl.get('model')}, batch {wl.get('batch')}"],
        ["state", f"{result.get('state')}" + (f" ({result['end_reason']})" if result.get("end_reason") else "")
                  + f", {result['duration_s']:.1f} s recorded, {result['measured_s']:.1f} s measured"],
    ]
    body = [f"<h1>{_e(title)}</h1>", _table(["", ""], head_rows, left=2)]
    for crash in result.get("worker_crashed", []) or []:
        body.append(f'<p class="note">WORKER CRASHED: {_e(crash)}</p>')
    if result.get("problems"):
        body.append("<h2>What could not be used</h2><ul>" +
                    "".join(f'<li class="note">{_e(p)}</li>' for p in result["problems"]) + "</ul>")
    body += _tables(result)
    body.append("<h2>Plots</h2>")
    figures = _figures(result, data)
    if figures is not None:
        body.append('<p class="muted">the figures of <code>edgemon plot</code>: shaded spans are throttling '
                    'episodes, labelled by cause; dotted lines are events, labelled in the figure.</p>')
        body += figures
    else:
        body.append('<p class="muted">install matplotlib (<code>pip install \'edgemon[plot]\'</code>) for the '
                    'figures of <code>edgemon plot</code>; these are simpler. Time axes: seconds since the session '
                    'start; shaded spans are throttling episodes (hover for clock, cause and evidence), vertical '
                    'lines are events (hover for details).</p>')
        for name, chart, note in charts(result, data):
            if chart is None or chart.empty:
                body.append(f'<p class="muted">{_e(name)}: {_e(note or "nothing recorded")}</p>')
            else:
                body.append(chart.render())
    body.append(_events_table(data))
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    drawn = "matplotlib" if figures is not None else "edgemon (no plotting library)"
    body.append(f'<p class="muted">generated {stamp} by edgemon {meta.get("edgemon_version", "")}; plots are inline '
                f'SVG drawn by {drawn}.</p>')
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{_e(title)}</title><style>{PAGE_CSS}{SVG_CSS}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")


def write_report(recording, out: Path | str, options=None) -> Path:
    """Analyse ``recording`` and write its HTML report; returns the file written.

    ``out``: a file name (``.html`` added when it has no suffix) or an existing folder
    (``report.html`` inside it).
    """
    from edgemon.analysis.data import load
    from edgemon.analysis.summary import analyze
    from edgemon.errors import UserError

    out = Path(out).expanduser()
    if out.is_dir():
        out = out / "report.html"
    elif not out.suffix:
        out = out.with_suffix(".html")
    data = load(recording)
    result = analyze(recording, options, data=data)
    text = render_html(result, data)
    try:
        from edgemon.recording.layout import atomic_file

        out.parent.mkdir(parents=True, exist_ok=True)
        # out may be inside a recording folder: its temporary name is created without following links
        with atomic_file(out, fsync=False) as tmp:
            tmp.write_text(text, encoding="utf-8")
    except OSError as e:
        raise UserError(f"cannot write the report to {out}: {e.strerror or e}; "
                        "pass a writable path with --out") from None
    return out
