"""Latency histogram: horizontal bars over log buckets, with count (3 figures) and p50/p90/p99/p99.9."""

from __future__ import annotations

import numpy as np
from rich.text import Text

from edgemon.tui.glyphs import bar
from edgemon.tui.widgets.base import Panel, ViewState
from edgemon.view import fmt
from edgemon.view.histogram import LogHistogram
from edgemon.view.meta import latency_hint


class LatencyPanel(Panel):
    TITLE = "latency"

    def render_panel(self, view: ViewState, width: int, height: int) -> Text:
        model = view.model
        if view.latency_window:
            hist: LogHistogram = model.latency_window.histogram()
            self.set_titles(title=f"latency, last {model.latency_window.window_s:g} s")
        else:
            hist = model.latency_all
            self.set_titles(title="latency, whole session")
        stats = hist.stats()
        out = Text()
        if stats.count == 0:
            if model.warmup_iterations:
                out.append(f"warm-up: {fmt.count(model.warmup_iterations)} iterations (left out)", style="dim")
            else:
                out.append(latency_hint(view.meta), style="dim")
            return out
        head = _headline(stats, width)
        out.append_text(head)
        rows = height - 1
        if rows <= 0:
            return out
        lower, upper, counts, below, above = hist.display_bins(rows)
        peak = max(int(counts.max()) if counts.size else 0, 1)
        marks: dict[int, str] = {}
        for label, value in (("p50", stats.p50_ms), ("p99", stats.p99_ms)):
            idx = int(np.searchsorted(upper / 1e6, value, side="left"))
            if 0 <= idx < counts.size:
                marks.setdefault(idx, label)
        label_w = 7
        shown = [fmt.count_short(int(c)) for c in counts]   # 3 figures: a bin's text changes rarely
        count_w = max((len(c) for c in shown), default=1) + 1
        mark_w = 4
        bar_w = max(1, width - label_w - count_w - mark_w - 2)
        for i in range(counts.size):
            out.append("\n")
            edge = max(lower[i], hist.min_ns or 0) / 1e6
            out.append(f"{fmt.ms(edge):>{label_w - 1}} ", style="dim")
            filled, empty = bar(counts[i] / peak, bar_w, view.ascii)
            style = "yellow" if upper[i] / 1e6 > stats.p99_ms else "green"
            out.append(filled, style=style)
            out.append(" " * len(empty))
            out.append(f" {shown[i]:>{count_w - 1}}", style="dim")
            mark = marks.get(i)
            if mark:
                out.append(f" {mark}", style="bold")
        # 3 figures, as the bins: a new subtitle repaints the whole panel, border and all, and an
        # exact count of outliers would change at every redraw
        outside = []
        if below and counts.size:
            outside.append(f"{fmt.count_short(below)} < {fmt.ms(lower[0] / 1e6)}")
        if above and counts.size:
            outside.append(f"{fmt.count_short(above)} > {fmt.ms(upper[-1] / 1e6)}")
        self.set_titles(subtitle=(" ".join(outside) + " ms") if outside else "")
        return out


def _headline(stats, width: int) -> Text:
    """Count and percentiles; p90, then the count label, are dropped when the panel is narrow."""
    wanted = [("p50", stats.p50_ms, "green"), ("p90", stats.p90_ms, "cyan"),
              ("p99", stats.p99_ms, "yellow"), ("p99.9", stats.p999_ms, "red")]
    for drop in ((), ("p90",), ("p90", "p99.9")):
        head = Text()
        head.append(f"n {fmt.count(stats.count)}", style="bold")
        for label, value, style in wanted:
            if label in drop:
                continue
            head.append(f"  {label} ")
            head.append(fmt.ms(value), style=f"bold {style}")
        head.append(" ms", style="dim")
        if len(head) <= width:
            return head
    head.truncate(width, overflow="ellipsis")
    return head
