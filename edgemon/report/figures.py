"""Figures of a recording for a paper: ``edgemon plot`` writes them, ``edgemon report`` embeds them.

One figure per subject (:data:`SUBJECTS`), drawn with matplotlib (the ``plot`` extra) on its
object API (``matplotlib.figure.Figure``: no pyplot, no display, no global state):

* **latency**: windowed p50 and p99 (and the window maximum) over time on a log axis, the
  latency distribution beside it on the same axis, throughput per window under it;
* **clocks**: one small panel per clock (each CPU core, GPU, EMC) with the power mode's
  ceiling dashed and the unit's load shaded behind it;
* **thermal**: temperatures over time with their trip points, and clock against temperature;
* **power**: the power rails over time and the energy used so far (trapezoid), with the
  energy per inference;
* **memory**: RAM, swap, worker RSS and GPU memory over time.

Every time axis shades the throttling episodes (colour and label = cause) and labels the
events that change the machine or the run (power mode, cores, jetson_clocks, fan, marks,
crashes, hangs, pauses) in the figure itself, not in a tooltip; legends sit outside the data.

What they draw comes from :func:`edgemon.analysis.summary.analyze` (windows, episodes,
change points, energy, all of which stream the latency rows) and the telemetry and events
(small: a 3-hour session at 10 Hz is 108,000 samples). No figure touches the latency rows
themselves, so a 160-million-row recording plots in the memory of its analysis.
"""

from __future__ import annotations

import math
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from edgemon.errors import UserError
from edgemon.report.svg import CAUSE_COLORS

SUBJECTS = ("latency", "clocks", "thermal", "power", "memory")
FORMATS = (".png", ".svg", ".pdf")
INSTALL_HINT = "figures need matplotlib: pip install 'edgemon[plot]'"

WIDTH_IN = 7.0             # a two-column figure in most journals; text stays 7-8 pt
MAX_LINE_POINTS = 1500     # per telemetry line: min/mean/max per bucket beyond that
PANEL_POINTS = 400         # per line in a small multiple (1.6 inches wide)
MAX_EVENT_LABELS = 14
PNG_DPI = 200

# Okabe-Ito: tells apart under every common colour-vision deficiency, prints in grey.
OKABE_ITO = ("#0072B2", "#D55E00", "#009E73", "#E69F00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
CAUSE_LABELS = {"thermal": "thermal", "power": "power cap", "power_mode": "power mode", "user_action": "user",
                "thermal_or_power": "thermal/power", "unknown": "unknown"}
CPU_FREQ = re.compile(r"^cpu(\d+)_freq_mhz$")


def require_matplotlib():
    """matplotlib's Figure class; UserError with the install hint when it is missing."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise UserError(INSTALL_HINT) from None
    return Figure


# ---------------------------------------------------------------------------- input


@dataclass
class FigureInput:
    """What the figures draw: the analysis result and the session's telemetry and events."""

    result: dict[str, Any]
    data: Any                          # edgemon.analysis.data.SessionData
    _cache: dict[str, Any] = field(default_factory=dict)

    @property
    def span_s(self) -> float:
        return max(self.data.rel_s(self.data.end_ns), 1e-3)

    @property
    def time_unit(self) -> tuple[str, float]:
        """(axis label, divisor from seconds): minutes past 3 minutes, hours past 3 hours."""
        if self.span_s > 3 * 3600:
            return "time since start (h)", 3600.0
        if self.span_s > 180:
            return "time since start (min)", 60.0
        return "time since start (s)", 1.0

    def t(self) -> np.ndarray:
        """Telemetry sample times in the axis unit."""
        if "t" not in self._cache:
            self._cache["t"] = (self.data.tel_t - self.data.start_ns) / 1e9 / self.time_unit[1]
        return self._cache["t"]

    def has(self, metric: str) -> bool:
        return self.data.has(metric) and bool(np.isfinite(self.data.metric(metric)).any())

    def metrics(self, pattern: str) -> list[str]:
        rx = re.compile(pattern)
        return [m for m in self.data.tel_names if rx.fullmatch(m) and self.has(m)]

    @property
    def windows(self) -> list[dict[str, Any]]:
        return [w for w in ((self.result.get("windows") or {}).get("windows") or []) if w.get("count")]

    @property
    def episodes(self) -> list[dict[str, Any]]:
        th = self.result.get("throttling") or {}
        return list(th.get("episodes") or []) if th.get("available") else []

    def cpu_clocks(self) -> list[str]:
        return sorted(self.metrics(r"cpu\d+_freq_mhz"), key=lambda m: int(m[3:-len("_freq_mhz")]))

    def clocks(self) -> list[str]:
        return self.cpu_clocks() + [m for m in ("gpu_freq_mhz", "emc_freq_mhz") if self.has(m)]

    def heat_clock(self) -> str | None:
        """The clock to set against temperature: the one thermal episodes held down longest,
        else any episode, else the GPU's, the first core's or the memory's."""
        for thermal_only in (True, False):
            held: dict[str, float] = {}
            for ep in self.episodes:
                clocks = [c for c in ep.get("clocks") or [] if self.has(c)]
                if clocks and (not thermal_only or ep.get("cause") in ("thermal", "thermal_or_power")):
                    held[clocks[0]] = held.get(clocks[0], 0.0) + float(ep.get("duration_s") or 0.0)
            if held:
                return max(held, key=lambda c: held[c])
        cores = self.cpu_clocks()
        return next((m for m in ("gpu_freq_mhz", "cpu0_freq_mhz", "emc_freq_mhz") if self.has(m)),
                    cores[0] if cores else None)

    def temperatures(self) -> list[str]:
        return self.metrics(r"temp_\w+_c")

    def rails(self) -> list[str]:
        """Power rails, the total first; a rail that is the total (the board's input rail) once."""
        rails = [m for m in self.metrics(r"power_\w+_mw") if not m.endswith("_avg_mw")]
        if "power_total_mw" in rails:
            total = self.data.metric("power_total_mw")
            rails = [m for m in rails if m == "power_total_mw"
                     or not np.array_equal(self.data.metric(m), total, equal_nan=True)]
        return sorted(rails, key=lambda m: (m != "power_total_mw", m))

    def memory(self) -> list[str]:
        return [m for m in ("ram_used_mb", "swap_used_mb", "proc_worker_rss_mb", "gpu_mem_used_mb") if self.has(m)]


def missing(inp: FigureInput, subject: str) -> str | None:
    """Why ``subject`` cannot be drawn from this recording (None when it can)."""
    if subject == "latency":
        return None if inp.windows else "no measured latency rows"
    if inp.data.tel_t.shape[0] == 0:
        return "no telemetry rows"
    if subject == "clocks":
        return None if inp.clocks() else "no clock was recorded"
    if subject == "thermal":
        return None if inp.temperatures() else "no temperature was recorded"
    if subject == "power":
        return None if inp.rails() else "no power rail was recorded"
    if subject == "memory":
        return None if inp.memory() else "no memory use was recorded"
    raise ValueError(subject)


# ---------------------------------------------------------------------------- series helpers


def buckets(t: np.ndarray, v: np.ndarray, n: int = MAX_LINE_POINTS):
    """(t, mean, min, max) over ``n`` equal runs of samples; the series itself when it is short.

    min/max keep a one-sample clock dip visible after a 3-hour series becomes 2000 points.
    """
    t = np.asarray(t, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    if t.shape[0] <= n:
        return t, v, v, v
    edges = np.linspace(0, t.shape[0], n + 1).astype(np.int64)[:-1]
    ok = np.isfinite(v)
    cnt = np.add.reduceat(ok.astype(np.int64), edges)
    sizes = np.diff(np.append(edges, t.shape[0]))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(cnt > 0, np.add.reduceat(np.where(ok, v, 0.0), edges) / np.maximum(cnt, 1), np.nan)
        lo = np.where(cnt > 0, np.minimum.reduceat(np.where(ok, v, np.inf), edges), np.nan)
        hi = np.where(cnt > 0, np.maximum.reduceat(np.where(ok, v, -np.inf), edges), np.nan)
    return np.add.reduceat(t, edges) / sizes, mean, lo, hi


def cumulative_energy_j(t_ns: np.ndarray, p_mw: np.ndarray) -> np.ndarray:
    """Energy used since the first sample, J, at each sample (trapezoid, gaps skipped)."""
    p = np.asarray(p_mw, dtype=np.float64)
    ok = np.isfinite(p)
    dt = np.diff(t_ns.astype(np.float64)) / 1e9
    seg = np.where(ok[1:] & ok[:-1], (p[1:] + p[:-1]) * 0.5 * dt / 1000.0, 0.0)
    return np.concatenate([[0.0], np.cumsum(seg)])


# ---------------------------------------------------------------------------- decoration


def _new_figure(height_in: float):
    """An empty figure of the paper's width with the layout every figure uses."""
    fig = require_matplotlib()(figsize=(WIDTH_IN, height_in))
    fig.set_layout_engine("constrained")
    return fig


def _plain_log_labels(axis, lo: float, hi: float) -> None:
    """Ticks written as plain numbers (0.05, 2, 40), not 4 x 10^1: at 1, 2, 5 x 10^k, at every
    digit when the axis spans about a decade or less, at powers of ten when it spans many."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    decades = math.log10(max(hi / lo, 1.0001))
    subs = tuple(range(1, 10)) if decades < 1.3 else (1.0, 2.0, 5.0) if decades < 4 else (1.0,)
    axis.set_major_locator(LogLocator(base=10, subs=subs))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def _axes_style(ax) -> None:
    ax.grid(True, which="major", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


_EVENT_TEXT: dict[str, Callable[[dict], str]] = {
    "power_mode": lambda d: f"power mode {d.get('name') or d.get('to_id', '')}".strip(),
    "core_online": lambda d: f"cpu{d.get('cpu', '?')} {'on' if d.get('online', d.get('to')) else 'off'}",
    "jetson_clocks": lambda d: f"jetson_clocks {'on' if d.get('to', d.get('on')) else 'off'}",   # control/ events
    "fan": lambda d: f"fan {d.get('to', d.get('pct', '?'))}%",
    "mark": lambda d: f"mark: {str(d.get('note', ''))[:24]}",
    "worker_crashed": lambda d: "worker crashed",
    "worker_hung": lambda d: "worker hung",
    "worker_restarted": lambda d: "worker restarted",
    "pause": lambda d: "paused",
    "resume": lambda d: "resumed",
    "recording_error": lambda d: "recording stopped",
}


def event_marks(inp: FigureInput) -> list[tuple[float, str]]:
    """(time in axis units, label) of the events worth a line in a figure; at most
    :data:`MAX_EVENT_LABELS`, the rest counted in a last label."""
    unit = inp.time_unit[1]
    out = []
    for ev in inp.data.events:
        text = _EVENT_TEXT.get(ev.kind)
        if text is None or (ev.kind == "power_mode" and ev.details.get("ok") is False):
            continue
        out.append((inp.data.rel_s(ev.t_ns) / unit, text(ev.details)))
    if len(out) > MAX_EVENT_LABELS:
        rest = len(out) - (MAX_EVENT_LABELS - 1)
        out = out[:MAX_EVENT_LABELS - 1] + [(out[MAX_EVENT_LABELS - 1][0], f"+{rest} more events")]
    return out


def decorate(ax, inp: FigureInput, *, domain: str | None = None, labels: bool = True) -> set[str]:
    """Shade throttling episodes (of ``domain`` only, when given) and draw event lines; with
    ``labels``, write the cause on wide episodes and the event text at the top. Returns the
    causes drawn (for the legend)."""
    unit = inp.time_unit[1]
    causes = set()
    ax.set_xlim(0, inp.span_s / unit)
    trans = ax.get_xaxis_transform()
    for ep in inp.episodes:
        if domain is not None and ep.get("domain") != domain:
            continue
        cause = str(ep.get("cause") or "unknown")
        color = CAUSE_COLORS.get(cause, CAUSE_COLORS["unknown"])
        a, b = float(ep["start_s"]) / unit, float(ep["end_s"]) / unit
        ax.axvspan(a, b, color=color, alpha=0.22, linewidth=0, zorder=0)
        causes.add(cause)
        if labels and (b - a) >= 0.06 * (inp.span_s / unit):
            ax.text((a + b) / 2, 0.02, CAUSE_LABELS.get(cause, cause), transform=trans, ha="center", va="bottom",
                    fontsize=6.5, color=color, clip_on=True)
    right = 0.8 * inp.span_s / unit
    for k, (x, text) in enumerate(event_marks(inp)):
        ax.axvline(x, color="#444444", linewidth=0.7, linestyle=(0, (2, 2)), zorder=1)
        if labels:
            y = 0.98 - 0.16 * (k % 3)        # three rows, so that neighbouring labels do not collide
            late = x > right                 # near the right edge: the label goes to the line's left
            ax.text(x, y, text + " " if late else " " + text, transform=trans, rotation=0,
                    ha="right" if late else "left", va="top", fontsize=6.5,
                    color="#222222", clip_on=False,
                    bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.75})
    return causes


def _cause_handles(causes: set[str]):
    from matplotlib.patches import Patch

    return [Patch(facecolor=CAUSE_COLORS.get(c, "#999999"), alpha=0.35, label=f"throttled: {CAUSE_LABELS.get(c, c)}")
            for c in sorted(causes)]


def _legend_below(fig, handles, ncol: int = 4, where: str = "outside lower center") -> None:
    if handles:
        fig.legend(handles=handles, loc=where, ncol=min(ncol, len(handles)), frameon=False, fontsize=7)


# ---------------------------------------------------------------------------- figures


def latency_figure(inp: FigureInput):
    """Windowed p50/p99/max on a log axis with the distribution beside it, throughput under it."""
    fig = _new_figure(4.2)
    grid = fig.add_gridspec(2, 2, width_ratios=(6, 1), height_ratios=(2.2, 1))
    ax = fig.add_subplot(grid[0, 0])
    side = fig.add_subplot(grid[0, 1], sharey=ax)
    thr = fig.add_subplot(grid[1, 0], sharex=ax)
    label, unit = inp.time_unit
    ws = inp.windows
    mid = np.array([(w["start_s"] + w["end_s"]) / 2 for w in ws]) / unit
    p50 = np.array([w["p50_ms"] for w in ws])
    p99 = np.array([w["p99_ms"] for w in ws])
    top = np.array([w["max_ms"] for w in ws])
    width_s = (inp.result.get("windows") or {}).get("window_s")
    ax.plot(mid, top, linestyle="none", marker="v", markersize=2.5, color="#999999", label="window max")
    ax.plot(mid, p99, color=OKABE_ITO[1], linewidth=1.2, label="p99")
    ax.plot(mid, p50, color=OKABE_ITO[0], linewidth=1.6, label="p50")
    ax.set_yscale("log")
    ax.set_ylabel("latency (ms)")
    lo = np.nanmin(p50[p50 > 0]) if np.any(p50 > 0) else 1e-3
    ax.set_ylim(lo / 1.6, max(np.nanmax(top), lo) * 1.6)
    _plain_log_labels(ax.yaxis, *ax.get_ylim())
    _axes_style(ax)
    causes = decorate(ax, inp)
    for p in (inp.result.get("change_points") or {}).get("points", []) or []:
        x = float(p["at_s"]) / unit
        ax.axvline(x, color="#000000", linewidth=0.9)
        ax.annotate(f"change {p.get('change_pct', 0):+.0f}%", (x, 0.5), xycoords=("data", "axes fraction"),
                    fontsize=6.5, xytext=(2, 0), textcoords="offset points", rotation=90, va="center")
    ax.tick_params(labelbottom=False)
    _tail(side, inp)
    thr.plot(mid, [w["throughput_ips"] for w in ws], color=OKABE_ITO[2], linewidth=1.2)
    thr.set_ylabel("items/s")
    thr.set_xlabel(label)
    thr.set_ylim(bottom=0)
    _axes_style(thr)
    decorate(thr, inp, labels=False)
    lat = inp.result.get("latency_ms") or {}
    title = "Latency per window"
    if width_s:
        title += f" ({width_s:g} s)"
    if lat.get("count"):
        title += f"; whole run: median {lat['median']:.3g} ms, p99 {lat['p99']:.3g} ms, {lat['count']:,} iterations"
    fig.suptitle(title, fontsize=8.5, x=0.01, ha="left")
    handles, _ = ax.get_legend_handles_labels()
    _legend_below(fig, handles[::-1] + _cause_handles(causes), ncol=6)
    return fig


def _tail(ax, inp: FigureInput) -> None:
    """The whole run's latency tail on the shared log axis: the share of iterations slower than
    each latency (p50 at 0.5, p99 at 0.01, ..., the maximum at 1/N), from the analysis'
    percentiles (never from the rows)."""
    lat = inp.result.get("latency_ms") or {}
    n = int(lat.get("count") or 0)
    points = [(share, lat.get(key)) for share, key in ((1.0, "min"), (0.5, "median"), (0.1, "p90"), (0.05, "p95"),
                                                       (0.01, "p99"), (0.001, "p999"))
              if share * n >= 1] + ([(1.0 / n, lat.get("max"))] if n else [])
    points = [(x, y) for x, y in points if isinstance(y, (int, float)) and y > 0 and math.isfinite(y)]
    _axes_style(ax)
    ax.tick_params(labelleft=False)
    if points:
        xs, ys = zip(*points)
        ax.plot(xs, ys, color="#000000", linewidth=1.0, marker="o", markersize=2.5, drawstyle="steps-post")
        for x, y, name in zip(xs, ys, ("min", "p50", "p90", "p95", "p99", "p99.9")[:len(xs) - 1] + ("max",)):
            if name in ("p50", "p99", "max"):
                ax.annotate(name, (x, y), fontsize=6.5, xytext=(3, -2), textcoords="offset points", va="top")
        ax.set_xscale("log")
        ax.set_xlim(1.3, min(xs) / 1.5)
    ax.set_xlabel("share slower", fontsize=7)
    ax.set_title("whole run", fontsize=7.5)


def clocks_figure(inp: FigureInput):
    """Small multiples: one panel per clock, ceiling dashed, the unit's load shaded behind."""
    clocks = inp.clocks()
    cols = min(4, len(clocks))
    rows = -(-len(clocks) // cols)
    fig = _new_figure(0.2 + 1.45 * rows)
    axes = fig.subplots(rows, cols, sharex=True, squeeze=False)
    label, _ = inp.time_unit
    ceilings = _first_ceilings(inp.result)
    cpu_top = max([np.nanmax(inp.data.metric(m)) for m in inp.cpu_clocks()] + [ceilings.get(m, 0) for m in
                                                                              inp.cpu_clocks()] + [1.0])
    marks = event_marks(inp)
    causes: set[str] = set()
    for k, metric in enumerate(clocks):
        ax = axes[k // cols][k % cols]
        name = metric[:-len("_freq_mhz")]
        domain = "cpu" if metric.startswith("cpu") else name
        util = f"{name}_util_pct"
        if inp.has(util):
            load = ax.twinx()
            tx, mean, _, _ = buckets(inp.t(), inp.data.metric(util), PANEL_POINTS)
            load.fill_between(tx, 0, mean, color="#cccccc", alpha=0.35, linewidth=0, step="mid")
            load.set_ylim(0, 100)
            load.set_yticks([])
            load.set_zorder(ax.get_zorder() - 1)
            ax.patch.set_visible(False)
        tx, mean, lo, hi = buckets(inp.t(), inp.data.metric(metric), PANEL_POINTS)
        ax.fill_between(tx, lo, hi, color=OKABE_ITO[0], alpha=0.25, linewidth=0)
        ax.plot(tx, mean, color=OKABE_ITO[0], linewidth=1.0, label=f"{name} clock")
        steps = ceiling_steps(inp, metric)
        if steps:
            xs, ys = zip(*steps)
            ax.step(xs, ys, where="post", color="#000000", linewidth=0.8, linestyle=(0, (4, 2)))
        causes |= decorate(ax, inp, domain=domain, labels=False)
        ax.set_title(name, fontsize=7.5, loc="left", pad=2)
        ax.set_ylim(0, (cpu_top if domain == "cpu" else max(np.nanmax(hi), ceilings.get(metric, 0))) * 1.08)
        _axes_style(ax)
        if k % cols == 0:
            ax.set_ylabel("MHz", fontsize=7)
        ax.tick_params(labelsize=6.5)
    for k in range(len(clocks), rows * cols):
        axes[k // cols][k % cols].set_visible(False)
    for c in range(cols):   # the time axis under the lowest panel of each column
        r = (len(clocks) - 1 - c) // cols
        axes[r][c].tick_params(labelbottom=True)
        axes[r][c].set_xlabel(label, fontsize=7)
    unit_name = label.rsplit("(", 1)[-1].rstrip(")")
    events = "events (dotted lines): " + "; ".join(f"{x:.4g} {unit_name}: {t}" for x, t in marks)
    fig.suptitle("\n".join(["Clocks (line: mean, band: min-max per plotted point; grey: the unit's load)"]
                           + (textwrap.wrap(events, 110) if marks else [])),
                 fontsize=8, x=0.01, ha="left", linespacing=1.4)
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color="#000000", linestyle=(0, (4, 2)), label="power-mode ceiling")]
    _legend_below(fig, handles + _cause_handles(causes))
    return fig


def ceiling_steps(inp: FigureInput, metric: str) -> list[tuple[float, float]]:
    """(time in axis units, MHz) where the power mode's ceiling of ``metric`` starts, ending at
    the session's end: a power-mode change moves it."""
    unit = inp.time_unit[1]
    out = [(float(seg.get("from_s") or 0.0) / unit, float(seg["mhz"][metric]))
           for seg in (inp.result.get("throttling") or {}).get("ceilings", []) or []
           if (seg.get("mhz") or {}).get(metric) is not None]
    return out + [(inp.span_s / unit, out[-1][1])] if out else []


def _first_ceilings(result: dict[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    for seg in (result.get("throttling") or {}).get("ceilings", []) or []:
        for metric, v in (seg.get("mhz") or {}).items():
            if v is not None and metric not in out:
                out[metric] = float(v)
    return out


def thermal_figure(inp: FigureInput):
    """Temperatures over time with trip points; a clock against the hottest temperature."""
    fig = _new_figure(2.8)
    ax, scatter = fig.subplots(1, 2, gridspec_kw={"width_ratios": (1.7, 1)})
    label, _ = inp.time_unit
    temps = inp.temperatures()
    trips = inp.data.meta.get("trip_points") if isinstance(inp.data.meta.get("trip_points"), dict) else {}
    drawn_trips: set[float] = set()
    for k, metric in enumerate(temps[:8]):
        color = OKABE_ITO[k % len(OKABE_ITO)]
        tx, mean, _, _ = buckets(inp.t(), inp.data.metric(metric))
        ax.plot(tx, mean, color=color, linewidth=1.0, label=metric[5:-2])
        trip = trips.get(metric)
        if isinstance(trip, (int, float)) and float(trip) not in drawn_trips:
            drawn_trips.add(float(trip))
            ax.axhline(trip, color=color, linewidth=0.8, linestyle=(0, (4, 2)))
            ax.annotate(f"trip {metric[5:-2]} {trip:g}", (0.0, trip), xycoords=("axes fraction", "data"),
                        fontsize=6.5, color=color, va="bottom")
    ax.set_ylabel("°C")
    ax.set_xlabel(label)
    _axes_style(ax)
    causes = decorate(ax, inp)
    ax.set_title("Temperatures (dashed: trip points)", fontsize=8.5, loc="left")
    handles, _ = ax.get_legend_handles_labels()
    hot = max(temps, key=lambda m: np.nanmax(inp.data.metric(m)))
    clock = inp.heat_clock()
    if clock is not None:
        x, y = inp.data.metric(hot), inp.data.metric(clock)
        ok = np.isfinite(x) & np.isfinite(y)
        step = max(1, int(ok.sum()) // 4000)
        points = scatter.scatter(x[ok][::step], y[ok][::step], c=inp.t()[ok][::step], s=3, cmap="viridis",
                                 linewidths=0, rasterized=True)
        bar = fig.colorbar(points, ax=scatter, pad=0.01)
        bar.set_label(label, fontsize=7)
        bar.ax.tick_params(labelsize=6.5)
        scatter.set_xlabel(f"{hot[5:-2]} temperature (°C)")
        scatter.set_ylabel(f"{clock[:-len('_freq_mhz')]} clock (MHz)")
        scatter.set_title("Clock against temperature", fontsize=8.5, loc="left")
        ceiling = _first_ceilings(inp.result).get(clock)
        if ceiling:
            scatter.axhline(ceiling, color="#000000", linewidth=0.8, linestyle=(0, (4, 2)))
        if isinstance(trips.get(hot), (int, float)):
            scatter.axvline(trips[hot], color="#D55E00", linewidth=0.8, linestyle=(0, (4, 2)))
        _axes_style(scatter)
    else:
        scatter.set_visible(False)
    _legend_below(fig, handles + _cause_handles(causes), ncol=6)
    return fig


def _lines_figure(inp: FigureInput, height: float, series: list[tuple[str, float, str]], ylabel: str):
    """One time axis with each (metric, scale, label) as a line (mean per plotted point), from
    0, episodes shaded and events labelled: (figure, axes, causes drawn)."""
    fig = _new_figure(height)
    ax = fig.add_subplot()
    for k, (metric, scale, name) in enumerate(series):
        tx, mean, _, _ = buckets(inp.t(), inp.data.metric(metric) * scale)
        ax.plot(tx, mean, color=OKABE_ITO[k % len(OKABE_ITO)], linewidth=1.5 if k == 0 else 1.0, label=name)
    ax.set_ylabel(ylabel)
    ax.set_xlabel(inp.time_unit[0])
    ax.set_ylim(bottom=0)
    _axes_style(ax)
    return fig, ax, decorate(ax, inp)


def power_figure(inp: FigureInput):
    """Power rails over time and the energy used so far; the energy per inference in the title."""
    rails = inp.rails()
    fig, ax, causes = _lines_figure(inp, 2.9, [(m, 1e-3, "total" if m == "power_total_mw" else m[6:-3])
                                               for m in rails[:7]], "power (W)")
    total = "power_total_mw" if "power_total_mw" in rails else rails[0]
    energy = ax.twinx()
    joules = cumulative_energy_j(inp.data.tel_t, inp.data.metric(total))
    tx, mean, _, _ = buckets(inp.t(), joules)
    energy.plot(tx, mean, color="#000000", linewidth=1.0, linestyle=(0, (5, 2)), label="energy so far")
    energy.set_ylabel("energy (J)")
    energy.set_ylim(bottom=0)
    energy.spines["top"].set_visible(False)
    en = inp.result.get("energy") or {}
    title = f"Power ({total[6:-3]}: {np.nanmean(inp.data.metric(total)) / 1000:.2f} W mean) and energy"
    if en.get("available"):
        title += (f": {en['energy_j']:.1f} J over the measured {en['window_s']:.0f} s, "
                  f"{en['mj_per_item']:.3g} mJ per item")
    ax.set_title(title, fontsize=8.5, loc="left")
    h1, _ = ax.get_legend_handles_labels()
    h2, _ = energy.get_legend_handles_labels()
    _legend_below(fig, h1 + h2 + _cause_handles(causes), ncol=5)
    return fig


def memory_figure(inp: FigureInput):
    """RAM, swap, worker RSS and GPU memory over time, GiB."""
    names = {"ram_used_mb": "RAM used", "swap_used_mb": "swap used", "proc_worker_rss_mb": "worker RSS",
             "gpu_mem_used_mb": "GPU memory"}
    fig, ax, causes = _lines_figure(inp, 2.5, [(m, 1 / 1024.0, names[m]) for m in inp.memory()], "GiB")
    if inp.has("ram_total_mb"):
        total = float(np.nanmax(inp.data.metric("ram_total_mb"))) / 1024.0
        ax.axhline(total, color="#000000", linewidth=0.8, linestyle=(0, (4, 2)))
        ax.annotate(f"RAM {total:.1f} GiB", (0.0, total), xycoords=("axes fraction", "data"), fontsize=6.5,
                    va="bottom")
    ax.set_title("Memory", fontsize=8.5, loc="left")
    handles, _ = ax.get_legend_handles_labels()
    _legend_below(fig, handles + _cause_handles(causes), ncol=6)
    return fig


BUILDERS = {"latency": latency_figure, "clocks": clocks_figure, "thermal": thermal_figure, "power": power_figure,
            "memory": memory_figure}


# ---------------------------------------------------------------------------- entry points


def _rc():
    """Publication defaults, applied per figure (rc_context), never globally."""
    return {"font.size": 8, "axes.titlesize": 8.5, "axes.labelsize": 8, "xtick.labelsize": 7, "ytick.labelsize": 7,
            "legend.fontsize": 7, "svg.fonttype": "none", "pdf.fonttype": 42, "axes.linewidth": 0.6}


def build(subject: str, inp: FigureInput):
    """The matplotlib Figure of ``subject`` (caller checked :func:`missing` first)."""
    import matplotlib

    with matplotlib.rc_context(_rc()):
        return BUILDERS[subject](inp)


def save(fig, path: Path) -> None:
    import matplotlib

    with matplotlib.rc_context(_rc()):
        fig.savefig(str(path), dpi=PNG_DPI, metadata=_metadata(path.suffix))


def _metadata(suffix: str) -> dict[str, Any]:
    from edgemon import __version__

    return {"Software" if suffix == ".png" else "Creator": f"edgemon {__version__} (matplotlib)"}


def svg_text(fig) -> str:
    """The figure as an ``<svg>`` element for inlining into HTML (no XML prologue)."""
    import io

    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context(_rc()):
        # no RDF metadata block: the page stays free of links (and of a date that changes every run)
        fig.savefig(buf, format="svg", metadata={"Creator": None, "Date": None, "Format": None, "Type": None})
    text = buf.getvalue()
    return text[text.index("<svg"):].rstrip()


def figure_input(recording, options=None) -> FigureInput:
    """Analyse ``recording`` once for every figure."""
    from edgemon.analysis.data import load
    from edgemon.analysis.summary import analyze

    data = load(recording)
    return FigureInput(analyze(recording, options, data=data), data)


def parse_subjects(text: str | None) -> list[str] | None:
    """``"latency,clocks"`` -> the list; None for all; UserError naming an unknown one."""
    if text is None:
        return None
    wanted = [w.strip() for w in text.split(",") if w.strip()]
    bad = [w for w in wanted if w not in SUBJECTS]
    if bad or not wanted:
        raise UserError(f"--what: unknown figure {', '.join(bad) or repr(text)}; choose from {', '.join(SUBJECTS)} "
                        "(comma-separated)")
    return list(dict.fromkeys(wanted))


def output_paths(out: Path, subjects: list[str]) -> dict[str, Path]:
    """One figure: ``out`` itself; several: ``<stem>-<subject><suffix>`` beside it."""
    if len(subjects) == 1:
        return {subjects[0]: out}
    return {s: out.with_name(f"{out.stem}-{s}{out.suffix}") for s in subjects}


def write_figures(recording, out: Path | str, subjects: list[str] | None = None, options=None) -> list[Path]:
    """Write the figures of ``recording``; returns the files written. UserError for bad input
    (an unknown format, a subject this recording cannot give, nothing to plot at all)."""
    out = Path(out).expanduser()
    if out.suffix.lower() not in FORMATS:
        raise UserError(f"--out {out}: write a .png, .svg or .pdf file, e.g. --out latency.pdf")
    require_matplotlib()
    inp = figure_input(recording, options)
    why = {s: missing(inp, s) for s in SUBJECTS}
    if subjects is None:
        subjects = [s for s in SUBJECTS if why[s] is None]
        if not subjects:
            raise UserError(f"{recording.path}: nothing to plot ({why['latency']}; {why['clocks']}); "
                            "record a session with `edgemon run` first")
    else:
        bad = [s for s in subjects if why[s] is not None]
        if bad:
            raise UserError(f"{recording.path}: cannot plot {bad[0]}: {why[bad[0]]}"
                            + (f" (and {', '.join(bad[1:])})" if bad[1:] else ""))
    paths = output_paths(out, subjects)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        for subject, path in paths.items():
            save(build(subject, inp), path)
    except OSError as e:
        raise UserError(f"cannot write {e.filename or out}: {e.strerror or e}; pass a writable --out") from None
    return list(paths.values())
