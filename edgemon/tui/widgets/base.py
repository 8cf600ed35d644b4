"""What every dashboard panel gets each redraw, and the panel base class."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.text import Text
from textual.widget import Widget

from edgemon.tui.glyphs import bar
from edgemon.view.feed import FeedStatus, MachineView
from edgemon.view.model import DashboardModel


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


class Panel(Widget):
    """A bordered panel that re-renders from the latest :class:`ViewState` at its current size."""

    DEFAULT_CLASSES = "panel"
    TITLE = ""

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self.view: ViewState | None = None
        self.border_title = self.TITLE
        self._cache: tuple[tuple[int, int], Text] | None = None
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
        """Take a new snapshot; repaint only if the text at the current size changed.

        Painting is most of the dashboard's cost, and many panels (events, memory,
        header) are unchanged on most polls.
        """
        self.view = view
        size = (self.size.width, self.size.height)
        if size[0] <= 0 or size[1] <= 0:   # hidden or not laid out yet: render() computes on layout
            self._cache = None
            return
        text = self.render_panel(view, *size)
        if self._cache is not None and self._cache[0] == size and self._cache[1] == text:
            return
        self._cache = (size, text)
        self.refresh()

    def render(self) -> Text:
        if self.view is None:
            return Text("waiting for data ...", style="dim")
        size = (self.size.width, self.size.height)
        if size[0] <= 0 or size[1] <= 0:
            return Text("")
        if self._cache is None or self._cache[0] != size:   # resized since the last poll
            self._cache = (size, self.render_panel(self.view, *size))
        return self._cache[1]

    def render_panel(self, view: ViewState, width: int, height: int) -> Text:
        raise NotImplementedError


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
