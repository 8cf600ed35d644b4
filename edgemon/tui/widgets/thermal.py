"""Temperature bars against trip points (``meta["trip_points"] = {metric: trip_c}``)."""

from __future__ import annotations

from rich.text import Text

from edgemon.tui.widgets.base import ViewState, gauge
from edgemon.view.metric_groups import temperatures

TEMP_FLOOR_C = 20.0      # bars start here; an idle board is not "30 % hot"
DEFAULT_TRIP_C = 100.0   # scale when no trip point is known


def temperature_lines(view: ViewState, width: int, max_lines: int) -> list[Text]:
    """At most ``max_lines`` zones: those closest to their trip point, shown in name order."""
    temps = temperatures(view.model.latest)
    if not temps or max_lines <= 0:
        return []
    trips = view.meta.get("trip_points") or {}

    def headroom(zone: str) -> float:
        return float(trips.get(f"temp_{zone}_c", DEFAULT_TRIP_C)) - temps[zone]

    zones = sorted(sorted(temps, key=headroom)[:max_lines])  # stable rows between redraws
    label_w = min(max(len(z) for z in zones), 10)
    rows = []
    for zone in zones:
        value = temps[zone]
        trip = trips.get(f"temp_{zone}_c")
        top = float(trip) if trip else DEFAULT_TRIP_C
        frac = (value - TEMP_FLOOR_C) / max(top - TEMP_FLOOR_C, 1.0)
        room = top - value
        style = "red" if room <= 5 else ("yellow" if room <= 15 else "green")
        rows.append((zone, frac, style, f"{value:.1f}C" + (f"/{top:.0f}" if trip else "")))
    right_w = max(len(r[3]) for r in rows)
    lines = []
    for zone, frac, style, right in rows:
        line = Text()
        gauge(line, zone[:label_w].ljust(label_w), frac, width, view.ascii, style, right.ljust(right_w))
        lines.append(line)
    return lines
