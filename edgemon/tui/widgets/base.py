"""What every dashboard panel gets each redraw, and the panel base class."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from textual.content import Content
from textual.geometry import Region
from textual.strip import Strip
from textual.visual import Visual
from textual.widget import Widget

from edgemon.control.machine_view import MachineView
from edgemon.feeds.base import FeedStatus
from edgemon.tui.glyphs import bar
from edgemon.view.model import DashboardModel
from edgemon.view.timeline import Timeline

_WAITING = Text("waiting for data ...", style="dim")


@dataclass
class ViewState:
    """One consistent snapshot for a redraw; panels read it and never call the feed."""

    model: DashboardModel
    status: FeedStatus
    meta: dict[str, Any]
    machine: MachineView | None = None
    is_replay: bool = False
    ascii: bool = False
    latency_window: bool = False           # latency panel: last N s instead of the whole session
    unavailable: list[tuple[str, str]] = field(default_factory=list)   # (name, reason)
    feed_error: str = ""                   # the feed itself failed; the dashboard stays up
    timeline: Timeline | None = None       # replay: the whole session (episodes, marks)


class Panel(Widget):
    """A bordered panel that re-renders from the latest :class:`ViewState` at its current size.

    Painting is most of the dashboard's cost, so a panel repaints as little as it can:
    nothing when its text is unchanged, only the lines that changed otherwise, and each
    line is turned into a Textual ``Strip`` once (``render_line`` serves cached strips,
    instead of Textual re-rendering the whole text on every refresh).
    """

    DEFAULT_CLASSES = "panel"
    TITLE = ""

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self.view: ViewState | None = None
        self.border_title = self.TITLE
        self._text_size = (0, 0)
        self._lines: list[Text | None] | None = None      # the text at ``_text_size`` by line (None: past its end)
        self._strips: dict[int, tuple[Text, Any, Strip]] = {}   # y -> (line, (width, style), strip)
        self._titles = (self.TITLE, "")

    def set_titles(self, title: str | None = None, subtitle: str | None = None) -> None:
        """Set the border title/subtitle; Textual repaints on every assignment, so only on change."""
        new = (self._titles[0] if title is None else title, self._titles[1] if subtitle is None else subtitle)
        if new[0] != self._titles[0]:
            self.border_title = new[0]
        if new[1] != self._titles[1]:
            self.border_subtitle = new[1]
        self._titles = new

    def show(self, view: ViewState) -> None:
        """Take a new snapshot; repaint only the lines whose text at the current size changed."""
        self.view = view
        size = (self.size.width, self.size.height)
        if size[0] <= 0 or size[1] <= 0:   # hidden or not laid out yet: render_line computes on layout
            self._lines = None
            return
        lines = _split(self.render_panel(view, *size), size[1])
        old = self._lines if self._text_size == size else None
        self._text_size, self._lines = size, lines
        if old is None:
            self.refresh()
            return
        changed = [y for y in range(size[1]) if lines[y] != old[y]]
        if len(changed) == size[1]:
            self.refresh()
        elif changed:
            self.refresh(*(Region(0, y, size[0], 1) for y in changed))

    def _current_lines(self) -> list[Text | None]:
        size = (self.size.width, self.size.height)
        if self.view is None:
            return _split(_WAITING, max(size[1], 1))
        if size[0] <= 0 or size[1] <= 0:
            return []
        if self._lines is None or self._text_size != size:   # resized (or first laid out) since the last poll
            self._text_size, self._lines = size, _split(self.render_panel(self.view, *size), size[1])
        return self._lines

    def render(self) -> Text:
        """The whole panel as one Text (tests and text selection; painting uses render_line)."""
        return Text("\n").join(line for line in self._current_lines() if line is not None)

    def render_line(self, y: int) -> Strip:
        lines = self._current_lines()
        width = self.size.width
        line = lines[y] if 0 <= y < len(lines) else None
        style = self.visual_style
        if line is None:    # below the text: what Widget.render_line gives there
            return Strip.blank(width, style.rich_style)
        cached = self._strips.get(y)
        if cached is not None and cached[1] == (width, style) and cached[0] == line:
            return cached[2]
        strips = Visual.to_strips(self, Content.from_rich_text(line, console=self.app.console), width, 1, style)
        strip = strips[0] if strips else Strip.blank(width, style.rich_style)
        self._strips[y] = (line, (width, style), strip)
        return strip

    def render_panel(self, view: ViewState, width: int, height: int) -> Text:
        raise NotImplementedError


def _split(text: Text, height: int) -> list[Text | None]:
    """``height`` entries: the text's lines (extra ones dropped), then None for each missing one."""
    lines: list[Text | None] = [*text.split("\n", allow_blank=True)][:height]
    return lines + [None] * (height - len(lines))


def gauge(text: Text, label: str, fraction: float, width: int, ascii: bool, style: str, right: str = "",
          right_w: int = 0) -> None:
    """Append ``label [bar] right`` filling ``width`` cells (bar shrinks first).

    ``right_w`` pads the right-hand text so bars in one column line up.
    """
    right = right.rjust(right_w)
    bar_w = max(0, width - len(label) - len(right) - 2)
    filled, empty = bar(fraction, bar_w, ascii)
    text.append(label + " ")
    text.append(filled, style=style)
    text.append(empty, style="grey35")
    text.append(" " + right)


def level_style(fraction: float) -> str:
    """Green below 60 %, yellow below 85 %, red above (utilisation, memory)."""
    if fraction >= 0.85:
        return "red"
    if fraction >= 0.6:
        return "yellow"
    return "green"
