"""RAM and swap bars (``memory_lines``) and the panel that shows them above the temperatures."""

from __future__ import annotations

from rich.text import Text

from edgemon.tui.widgets.base import Panel, ViewState, gauge, level_style
from edgemon.tui.widgets.thermal import temperature_lines
from edgemon.view import fmt


def memory_lines(view: ViewState, width: int) -> list[Text]:
    v = view.model.latest
    rows = []
    for label, used, total in (("ram ", v.get("ram_used_mb"), v.get("ram_total_mb")),
                               ("swap", v.get("swap_used_mb"), v.get("swap_total_mb"))):
        if used is not None:
            rows.append((label, used / total if total else 0.0, f"{fmt.megabytes(used)}/{fmt.megabytes(total)}"))
    right_w = max((len(r[2]) for r in rows), default=0)
    lines = []
    for label, frac, right in rows:
        line = Text()
        gauge(line, label, frac, width, view.ascii, level_style(frac), right, right_w)
        lines.append(line)
    return lines


class SystemPanel(Panel):
    """Memory first (two lines), then as many temperatures as fit, hottest-to-trip chosen first."""

    TITLE = "memory / temperature"

    def render_panel(self, view: ViewState, width: int, height: int) -> Text:
        lines = memory_lines(view, width)
        room = height - len(lines)
        if room > 0:
            temps = temperature_lines(view, width, room)
            lines += temps
        if not lines:
            return Text("no memory or temperature data", style="dim")
        return Text("\n").join(lines[:height])
