"""Per-core load bars with clock MHz; offline cores say "off"; more cores than rows wrap into columns."""

from __future__ import annotations

import math

from rich.text import Text

from edgemon.tui.widgets.base import Panel, ViewState, gauge, level_style
from edgemon.view.metric_groups import Core, cores
from edgemon.view.throttle import clock_ceiling


class CpuPanel(Panel):
    TITLE = "cpu"

    def render_panel(self, view: ViewState, width: int, height: int) -> Text:
        values = view.model.latest
        found = cores(values)
        out = Text()
        if not found:
            out.append("no per-core data", style="dim")
            return out
        mean = values.get("cpu_util_pct")
        online = sum(1 for c in found if c.online)
        ceilings = {c.index: clock_ceiling(f"cpu{c.index}_freq_mhz", view.meta, view.model) for c in found}
        common = set(ceilings.values())
        title = f"cpu {online}/{len(found)} online" + (f", {mean:.0f}%" if mean is not None else "")
        if len(common) == 1 and None not in common:   # one ceiling for all: in the title, if it fits
            longer = title + f", max {common.pop():.0f}"
            title = longer if len(longer) + 4 <= width else title
        self.set_titles(title=title)
        throttled = "cpu" in view.model.throttled
        columns = max(1, math.ceil(len(found) / max(height, 1)))
        col_w = max(8, (width - (columns - 1)) // columns)
        rows = math.ceil(len(found) / columns)
        label_w = len(str(found[-1].index)) + (3 if col_w >= 20 else 0)
        for r in range(rows):
            if r:
                out.append("\n")
            for c in range(columns):
                i = c * rows + r
                if i >= len(found):
                    break
                if c:
                    out.append(" ")
                out.append_text(_core_cell(found[i], col_w, label_w, view.ascii, ceilings.get(found[i].index),
                                           throttled))
        return out


def _core_cell(core: Core, width: int, label_w: int, ascii: bool, ceiling: float | None = None,
               throttled: bool = False) -> Text:
    """``cpu0 ████ 100% 1510/1728``: the clock against its ceiling where there is room, in
    yellow below it (red while the cpu domain is in a throttling episode)."""
    prefix = "cpu" if label_w > len(str(core.index)) + 2 else ""
    label = f"{prefix}{core.index}".rjust(label_w)
    cell = Text()
    if not core.online:
        cell.append(label + " ")
        cell.append("off".ljust(max(0, width - len(label) - 1)), style="dim")
        return cell
    util = core.util_pct or 0.0
    clock, style = "", ""
    if core.freq_mhz is not None and width >= 22:
        clock = f" {core.freq_mhz:4.0f}"
        if ceiling is not None:
            if width >= 30:
                clock += f"/{ceiling:.0f}"
            if core.freq_mhz < ceiling * 0.99:
                style = "bold red" if throttled else "yellow"
    gauge(cell, label, util / 100.0, width - len(clock), ascii, level_style(util / 100.0), f"{util:3.0f}%")
    cell.append(clock, style=style)
    return cell
