"""Event log, newest at the bottom, coloured by kind; the unavailable-sources strip."""

from __future__ import annotations

from rich.text import Text

from edgemon.datatypes import EventKind
from edgemon.tui.glyphs import truncate
from edgemon.tui.widgets.base import Panel, ViewState
from edgemon.view import fmt

EVENT_STYLES = {
    EventKind.WORKER_CRASHED: "bold red",
    EventKind.WORKER_HUNG: "bold red",
    EventKind.ERROR: "red",
    EventKind.RECORDING_ERROR: "red",
    EventKind.CONTROL_FAILED: "red",
    EventKind.SOURCE_UNAVAILABLE: "yellow",
    EventKind.THROTTLE_BEGIN: "bold yellow",
    EventKind.THROTTLE_END: "yellow",
    EventKind.MARK: "bold cyan",
    EventKind.POWER_MODE: "magenta",
    EventKind.CORE_ONLINE: "magenta",
    EventKind.JETSON_CLOCKS: "magenta",
    EventKind.FAN: "magenta",
    EventKind.WARMUP_DONE: "green",
    EventKind.PAUSE: "yellow",
    EventKind.RESUME: "green",
}


class EventLog(Panel):
    TITLE = "events"

    def render_key(self, view: ViewState):
        """The events shown, their clock's origin and the glyphs: nothing else moves the log."""
        return view.model.event_version, view.model.origin_ns, view.ascii

    def render_panel(self, view: ViewState, width: int, height: int) -> Text:
        model = view.model
        out = Text()
        events = list(model.events)[-height:] if height > 0 else []
        total = sum(model.event_counts.values())
        self.set_titles(subtitle=f"last {len(model.events)} of {total}" if total > len(model.events) else "")
        if not events:
            out.append("no events yet", style="dim")
            return out
        for i, event in enumerate(events):
            if i:
                out.append("\n")
            rel = model.relative_s(event.t_ns)
            if rel is not None and -1.0 < rel < 0.0:   # events stamped just before the clock's origin
                rel = 0.0
            stamp = fmt.clock(rel) if rel is not None else "--:--"
            line = Text(f"{stamp:>7} ", style="dim")
            line.append(fmt.event_summary(event.kind, event.details), style=EVENT_STYLES.get(event.kind, ""))
            truncate(line, width, view.ascii)
            out.append_text(line)
        return out


class StatusStrip(Panel):
    """One line: what is unavailable here and why (details in the help screen)."""

    DEFAULT_CLASSES = ""

    def render_panel(self, view: ViewState, width: int, height: int) -> Text:
        out = Text()
        if not view.unavailable:
            return out
        out.append(" unavailable: ", style="bold yellow")
        out.append("; ".join(f"{name} ({reason})" for name, reason in view.unavailable), style="yellow")
        out.append("  ? for details", style="dim")
        truncate(out, width, view.ascii)
        return out
