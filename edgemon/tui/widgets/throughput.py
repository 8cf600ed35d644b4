"""Throughput over time: items per second (measured bright, warm-up dim), newest at the right."""

from __future__ import annotations

import numpy as np
from rich.text import Text

from edgemon.tui.glyphs import graph_rows
from edgemon.tui.widgets.base import Panel, ViewState
from edgemon.view import fmt


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
        out.truncate(width, overflow="ellipsis")
        rows = height - 1
        if rows <= 0 or not model.now_ns:
            return out
        label_w = 6
        cols = max(1, width - label_w)
        per_cell = 1 if view.ascii else 2
        measured, warmup, valid = model.throughput.window(model.now_ns, cols * per_cell)
        total = measured + warmup
        top = float(total[valid].max()) if valid.any() else 0.0
        top = _nice_ceiling(top)
        graph = graph_rows(total, rows, top, view.ascii)
        # a cell is dim when its seconds are warm-up only
        warm_cells = (warmup > 0) & (measured == 0)
        warm_cells = warm_cells.reshape(-1, per_cell).any(axis=1) if per_cell > 1 else warm_cells
        self.set_titles(subtitle=f"{cols * per_cell} s, items/s")
        for r, line in enumerate(graph):
            out.append("\n")
            label = fmt.rate(top) if r == 0 else ("0" if r == rows - 1 else "")
            out.append(f"{label:>{label_w - 1}} ", style="dim")
            _append_runs(out, line, warm_cells)
        return out


def _append_runs(out: Text, line: str, dim: np.ndarray) -> None:
    """Append ``line`` styled per cell (cyan measured, dim warm-up) in as few spans as possible."""
    start = 0
    n = len(line)
    flags = dim.tolist()[:n] + [False] * max(0, n - dim.size)
    for i in range(1, n + 1):
        if i == n or flags[i] != flags[start]:
            out.append(line[start:i], style="grey50" if flags[start] else "cyan")
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
