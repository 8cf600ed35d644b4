"""Throughput over time: items per second (measured bright, warm-up dim), newest at the right.

Below the graph, where the panel has room, one-line histories of the CPU and GPU clocks,
the hottest temperature and total power on the same time axis: the second the clocks
dropped lines up with the second the throughput did.
"""

from __future__ import annotations

import numpy as np
from rich.text import Text

from edgemon.tui.glyphs import graph_rows, spark, truncate
from edgemon.tui.widgets.base import Panel, ViewState
from edgemon.view import fmt
from edgemon.view.series import NS
from edgemon.view.trend import TRENDS, dropped, levels, trends

MIN_GRAPH_ROWS = 3        # trends only take rows the throughput graph can spare
GRAPH_LABEL_W = 6
TREND_LABEL_W = 10        # "cpu 1208M "
TREND_STYLES = {"clock": "cyan", "temp": "red", "power": "magenta"}
DROP_STYLE = "bold yellow"


class ThroughputPanel(Panel):
    TITLE = "throughput"

    def render_panel(self, view: ViewState, width: int, height: int) -> Text:
        model = view.model
        now, warm = model.throughput_now()
        mean = model.throughput_mean()
        out = Text()
        if warm and not now:
            out.append(f"warm-up {fmt.rate(warm)}/s", style="dim bold")
        else:
            out.append(f"now {fmt.rate(now)}/s", style="bold cyan")
        out.append(f"  mean {fmt.rate(mean)}/s", style="bold")
        out.append(f"  {fmt.count(model.items)} items", style="dim")
        truncate(out, width, view.ascii)
        rows = height - 1
        if rows <= 0 or not model.now_ns:
            return out
        per_cell = 1 if view.ascii else 2
        room = max(0, min(len(TRENDS), rows - MIN_GRAPH_ROWS))
        label_w = TREND_LABEL_W if room and width >= TREND_LABEL_W + 20 else GRAPH_LABEL_W
        if label_w == GRAPH_LABEL_W:
            room = 0
        cols = max(1, width - label_w)
        seconds = cols * per_cell
        # the graph's seconds are the complete ones before now (ThroughputSeries.window)
        lo_ns = (int(model.now_ns) // NS - seconds) * NS
        shown = trends(model.history, model.latest, lo_ns, per_cell * NS, cols, limit=room) if room else []
        graph_h = rows - len(shown)
        measured, warmup, valid = model.throughput.window(model.now_ns, seconds)
        total = measured + warmup
        top = float(total[valid].max()) if valid.any() else 0.0
        top = _nice_ceiling(top)
        graph = graph_rows(total, graph_h, top, view.ascii)
        # a cell is dim when its seconds are warm-up only
        warm_cells = (warmup > 0) & (measured == 0)
        warm_cells = warm_cells.reshape(-1, per_cell).any(axis=1) if per_cell > 1 else warm_cells
        self.set_titles(subtitle=f"{seconds} s, items/s")
        for r, line in enumerate(graph):
            out.append("\n")
            label = fmt.rate(top) if r == 0 else ("0" if r == graph_h - 1 else "")
            out.append(f"{label:>{label_w - 1}} ", style="dim")
            _append_runs(out, line, warm_cells, ("cyan", "grey50"))
        for trend in shown:
            out.append("\n")
            out.append(f"{trend.label:<{label_w - 1}} ", style="dim")
            style = TREND_STYLES.get(trend.kind, "cyan")
            marked = dropped(trend.values) if trend.kind == "clock" else np.zeros(cols, dtype=bool)
            _append_runs(out, spark(levels(trend.values), view.ascii), marked, (style, DROP_STYLE))
        return out


def _append_runs(out: Text, line: str, flags: np.ndarray, styles: tuple[str, str]) -> None:
    """Append ``line`` styled per cell (``styles[1]`` where ``flags``) in as few spans as possible."""
    start = 0
    n = len(line)
    marks = flags.tolist()[:n] + [False] * max(0, n - flags.size)
    for i in range(1, n + 1):
        if i == n or marks[i] != marks[start]:
            out.append(line[start:i], style=styles[1] if marks[start] else styles[0])
            start = i


def _nice_ceiling(value: float) -> float:
    """Round the graph's top up to a few steps per decade so the scale does not jitter every second."""
    if value <= 0:
        return 1.0
    exp = 10 ** np.floor(np.log10(value))
    for m in (1, 1.5, 2, 3, 4, 5, 6, 8, 10):
        if value <= m * exp:
            return float(m * exp)
    return float(10 * exp)
