"""`edgemon report DIR` without --out: the analysis tables plus plotext charts in the terminal.

plotext changed its API in 6.x (``plt.figure.signal(...)`` / ``draw`` / ``build().string()``)
from 5.x (``plt.plot`` / ``plt.build()``); both are handled. Throttling episodes are marked
with vertical lines at their start and end (a terminal has no shading).
"""

from __future__ import annotations

import math
from typing import Any

WIDTH, HEIGHT = 100, 16


def _series(result: dict[str, Any], data) -> list[tuple[str, list[tuple[str, list[float], list[float]]]]]:
    """``[(title, [(label, x, y)])]`` for the terminal charts."""
    from edgemon.report.html import bucket

    charts = []
    ws = (result.get("windows") or {}).get("windows") or []
    if ws:
        mids = [(w["start_s"] + w["end_s"]) / 2 for w in ws]
        lat = [_points("p50 ms", mids, [w["p50_ms"] for w in ws]), _points("p99 ms", mids, [w["p99_ms"] for w in ws])]
        if any(y for _, _, y in lat):
            charts.append(("latency per window (ms)", [line for line in lat if line[2]]))
        tp = _points("items/s", mids, [w["throughput_ips"] for w in ws])
        if tp[2]:
            charts.append(("throughput per window (items/s)", [tp]))
    t = (data.tel_t - data.start_ns) / 1e9
    groups = [
        ("clocks (MHz)", [n for n in data.tel_names if n in ("gpu_freq_mhz", "emc_freq_mhz")
                          or (n.startswith("cpu") and n.endswith("_freq_mhz"))][:6]),
        ("temperatures (C)", [n for n in data.tel_names if n.startswith("temp_") and n.endswith("_c")][:6]),
        ("power (mW)", [n for n in data.tel_names if n.startswith("power_") and n.endswith("_mw")
                        and not n.endswith("_avg_mw")][:6]),
    ]
    for title, names in groups:
        lines = []
        for n in names:
            x, y = bucket(t, data.metric(n), WIDTH * 2)
            line = _points(n, x.tolist(), y.tolist())
            if line[2]:
                lines.append(line)
        if lines:
            charts.append((title, lines))
    return charts


def _points(label: str, x: list, y: list) -> tuple[str, list[float], list[float]]:
    """The points with a finite value (a window without rows has none; plotext aborts the
    process on a NaN among numbers)."""
    keep = [(a, float(b)) for a, b in zip(x, y) if isinstance(b, (int, float)) and math.isfinite(b)]
    return label, [a for a, _ in keep], [b for _, b in keep]


def _marks(result: dict[str, Any]) -> list[float]:
    eps = (result.get("throttling") or {}).get("episodes") or []
    out = []
    for e in eps[:20]:
        out += [e["start_s"], e["end_s"]]
    return out


def render_charts(result: dict[str, Any], data, *, width: int = WIDTH, height: int = HEIGHT,
                  color: bool = False) -> str:
    """The charts as text; empty when plotext cannot draw here (then a one-line note)."""
    try:
        import plotext as plt
    except ImportError:
        return "(plotext is not installed: no terminal charts)"
    marks = _marks(result)
    out = []
    for title, lines in _series(result, data):
        try:
            if hasattr(plt, "plot") and hasattr(plt, "build"):      # plotext 5.x
                plt.clear_figure()
                plt.plotsize(width, height)
                for label, x, y in lines:
                    plt.plot(x, y, label=label)
                for m in marks:
                    plt.vline(m, "red")
                plt.title(title + ("  (red: throttling episode start/end)" if marks else ""))
                text = plt.build()
                if not color:
                    text = plt.uncolorize(text)
            else:                                                     # plotext 6.x
                f = plt.figure
                f.clear()
                f.plot_size(width, height)
                for label, x, y in lines:
                    f.draw(f.signal(x, y).label(label).lines(True))
                # vertical marks as two-point signals (figure.event() re-ranges the x axis to the marks)
                ys = [v for _, _, y in lines for v in y]
                for k, m in enumerate(marks):
                    sig = f.signal([m, m], [min(ys), max(ys)]).lines(True)
                    f.draw(sig.label("throttling start/end") if k == 0 else sig)
                f.title(title)
                text = f.build().string(not color)
        except Exception as e:  # noqa: BLE001 - charts are a bonus; the tables above carry the numbers
            return f"(terminal charts unavailable: {type(e).__name__}: {e})"
        out.append(text)
    return "\n".join(out)
