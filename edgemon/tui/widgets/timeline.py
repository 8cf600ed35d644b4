"""Timeline strip under the header: the whole session (live: so far), throttled stretches shaded
by cause (letter + colour), event marks and, in replay, the playhead.

Two lines when there is room (marks above the track), one on short terminals (marks drawn
on the track). What each cell shows comes from ``edgemon.view.timeline``.
"""

from __future__ import annotations

from rich.text import Text

from edgemon.tui.glyphs import timeline_chars
from edgemon.tui.widgets.base import Panel, ViewState
from edgemon.view.timeline import CAUSE_LETTERS, Cell, Timeline, cells, playhead_cell

CAUSE_STYLES = {
    "thermal": "red",
    "power": "yellow",
    "thermal_or_power": "dark_orange",
    "power_mode": "magenta",
    "user_action": "cyan",
    "unknown": "grey62",
}
MARK_STYLES = {"crash": "bold red", "mode": "bold magenta", "mark": "bold cyan", "control": "magenta"}
NOTES = {"analysing": "analysing the recording ...", "unavailable": "no throttling analysis"}


class TimelineStrip(Panel):
    DEFAULT_CLASSES = ""

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self._cells: tuple[Timeline | None, int, list[Cell]] | None = None
        self._cells_made = 0     # cell rows computed so far: a new row, a new key

    def _cells_for(self, timeline: Timeline, width: int) -> list[Cell]:
        # A Timeline is immutable and the feed hands out the same object until it changes. Live,
        # a new one comes with every redraw (its length grows), but with neither episodes nor
        # marks its cells are all bare track, whatever its length: the same row serves.
        shape = timeline if timeline.episodes or timeline.marks else None
        if self._cells is None or self._cells[0] is not shape or self._cells[1] != width:
            self._cells = (shape, width, cells(timeline, width))
            self._cells_made += 1
        return self._cells[2]

    def render_key(self, view: ViewState):
        """Live, the strip only moves when its cells do (replay: the playhead moves; always drawn)."""
        timeline = view.timeline
        if view.is_replay:
            return None
        if timeline is None:
            return "none", view.ascii
        self._cells_for(timeline, self.size.width)
        return self._cells_made, timeline.state, view.ascii

    def render_panel(self, view: ViewState, width: int, height: int) -> Text:
        timeline = view.timeline
        if timeline is None or width <= 0:
            return Text("")
        g = timeline_chars(view.ascii)
        row = self._cells_for(timeline, width)
        # Live, the strip is the session so far, growing to the right: no playhead.
        head = playhead_cell(view.status.position_s, timeline.length_s, width) if view.is_replay else -1
        track_cells: list[tuple[str, str]] = []
        for i, cell in enumerate(row):
            if i == head:
                track_cells.append((g["head"], "bold white"))
            elif height < 2 and cell.mark is not None:
                style = MARK_STYLES.get(cell.mark, "bold")
                if cell.cause is not None:
                    style += f" on {_dark(cell.cause)}"
                track_cells.append((g.get(cell.mark, "*"), style))
            elif cell.cause is not None:
                colour = CAUSE_STYLES.get(cell.cause, "grey62")
                if cell.start:
                    track_cells.append((CAUSE_LETTERS.get(cell.cause, "?"), f"bold black on {colour}"))
                else:
                    track_cells.append((g["shade"], colour))
            elif i < head:
                track_cells.append((g["done"], "magenta"))
            else:
                track_cells.append((g["track"], "grey50"))
        track = _runs(track_cells)
        if height < 2:
            return track
        marks = _runs([(g.get(c.mark, "*"), MARK_STYLES.get(c.mark, "bold")) if c.mark else (" ", "")
                       for c in row])
        note = NOTES.get(timeline.state, "")
        if note and not marks.plain[-len(note) - 2:].strip():
            marks = marks[:width - len(note) - 1]
            marks.append(" " + note, style="dim italic")
        return Text("\n").join([marks, track])


def _dark(cause: str) -> str:
    """A background for a mark sitting in a throttled stretch (one-line strip)."""
    return {"thermal": "dark_red", "power": "yellow4", "thermal_or_power": "orange4",
            "power_mode": "purple4", "user_action": "dark_cyan"}.get(cause, "grey30")


def _runs(cells: list[tuple[str, str]]) -> Text:
    """One span per run of equal style: fewer escape sequences on the wire (SSH)."""
    out = Text()
    start = 0
    for i in range(1, len(cells) + 1):
        if i == len(cells) or cells[i][1] != cells[start][1]:
            out.append("".join(ch for ch, _ in cells[start:i]), style=cells[start][1] or None)
            start = i
    return out
