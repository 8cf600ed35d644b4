"""What every dashboard panel gets each redraw, and the panel base class."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Hashable

from rich.segment import Segment
from rich.text import Span, Text
from textual.content import Content
from textual.geometry import Region
from textual.strip import Strip
from textual.style import Style
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
    dashboard_cpu_pct: float | None = None  # this dashboard's own CPU when the session is another process


class Panel(Widget):
    """A bordered panel that re-renders from the latest :class:`ViewState` at its current size.

    Painting is most of the dashboard's cost, so a panel repaints as little as it can:
    nothing when its text is unchanged, only the lines that changed otherwise, and each
    line is turned into a Textual ``Strip`` once (``render_line`` serves cached strips,
    instead of Textual re-rendering the whole text on every refresh). A changed line that
    fits the panel becomes a strip in :meth:`_fast_strip` (4-5x cheaper than Textual's
    general ``Visual.to_strips``, with the same cells and styles).
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
        self._render_key: Hashable | None = None     # render_key() of the text in ``_lines``
        self._painting = False                         # the text is being rendered from render_line
        self._styles: dict[tuple, Style] = {}          # (panel style, span style) -> combined style
        self._offset_styles: dict[tuple, Any] = {}     # (combined style, x) -> Rich style with its offset
        self._rich_styles: dict[Any, Any] = {}         # span style (a string or a Rich style) -> Rich style

    def set_titles(self, title: str | None = None, subtitle: str | None = None) -> None:
        """Set the border title/subtitle, only on change, repainting only the border's row."""
        new = (self._titles[0] if title is None else title, self._titles[1] if subtitle is None else subtitle)
        if new[0] != self._titles[0]:
            self._set_border_text("border_title", new[0], top=True)
        if new[1] != self._titles[1]:
            self._set_border_text("border_subtitle", new[1], top=False)
        self._titles = new

    def _set_border_text(self, name: str, text: str, *, top: bool) -> None:
        """Textual's setter stores the text and repaints the whole panel, border and all: every
        line of it through Textual's line rendering, which made a panel whose subtitle changed
        every redraw (the latency panel's outlier counts early in a session) cost as much as
        repainting all of it. The setter's whole-panel refresh is held back and the border's
        row alone is repainted (its region in content coordinates)."""
        outer = self.outer_size
        if self._painting or not self.is_mounted or not outer.width or not outer.height:
            # Not laid out yet, or called while Textual paints this panel (a resize renders the
            # text from render_line): Textual may have drawn the border's row already in this
            # paint and would keep it, so its own setter repaints the panel again.
            setattr(self, name, text)
            return
        self.refresh = _no_refresh.__get__(self)      # type: ignore[method-assign]  # this one assignment
        try:
            setattr(self, name, text)
        finally:
            del self.refresh
        offset = self.content_offset
        row = 0 if top else outer.height - 1
        self.refresh(Region(-offset.x, row - offset.y, outer.width, 1))

    def render_key(self, view: ViewState) -> Hashable | None:
        """What the panel's text depends on besides its size, when that is cheap to say: a
        redraw whose key equals the last one's renders nothing. None (the default): always render."""
        return None

    def show(self, view: ViewState) -> None:
        """Take a new snapshot; repaint only the lines whose text at the current size changed."""
        self.view = view
        size = (self.size.width, self.size.height)
        if size[0] <= 0 or size[1] <= 0:   # hidden or not laid out yet: render_line computes on layout
            self._lines = None
            return
        key = self.render_key(view)
        if key is not None and key == self._render_key and self._lines is not None and self._text_size == size:
            return
        lines = _split(self.render_panel(view, *size), size[1])
        old = self._lines if self._text_size == size else None
        self._text_size, self._lines, self._render_key = size, lines, key
        if old is None:
            self.refresh()
            return
        changed = [y for y in range(size[1]) if lines[y] != old[y]]
        if len(changed) == size[1]:
            self.refresh(Region(0, 0, *size))   # the content only: the border did not change
        elif changed:
            self.refresh(*(Region(0, y, size[0], 1) for y in changed))

    def _current_lines(self) -> list[Text | None]:
        size = (self.size.width, self.size.height)
        if self.view is None:
            return _split(_WAITING, max(size[1], 1))
        if size[0] <= 0 or size[1] <= 0:
            return []
        if self._lines is None or self._text_size != size:   # resized (or first laid out) since the last poll
            self._painting = True
            try:
                self._text_size, self._lines = size, _split(self.render_panel(self.view, *size), size[1])
            finally:
                self._painting = False
            self._render_key = self.render_key(self.view)
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
        strip = self._fast_strip(line, width, style)
        if strip is None:
            strips = Visual.to_strips(self, Content.from_rich_text(line, console=self.app.console), width, 1, style)
            strip = strips[0] if strips else Strip.blank(width, style.rich_style)
        self._strips[y] = (line, (width, style), strip)
        return strip

    def _fast_strip(self, line: Text, width: int, style: Style) -> Strip | None:
        """What ``Visual.to_strips`` makes of a line that fits (None: it does not, or has tabs).

        The same segments as Textual's path: each run's style is the panel style plus the
        span's (``Style.from_rich_style`` with the app's ANSI theme), with the run's x offset
        in the meta (text selection). Combined styles and offset styles are cached, since the
        panel's styles and columns repeat from redraw to redraw."""
        if line.cell_len > width or "\t" in line.plain:
            return None
        if len(self._offset_styles) > 8192:     # a theme or layout change left old entries
            self._styles.clear()
            self._offset_styles.clear()
        styles, offsets = self._styles, self._offset_styles
        theme = self.app.ansi_theme
        segments = []
        x = 0
        for text, rich_style in self._runs(line):
            combined = styles.get((style, rich_style))
            if combined is None:
                combined = styles[(style, rich_style)] = (
                    style + Style.from_rich_style(rich_style, theme) if rich_style else style)
            with_offset = offsets.get((combined, x))
            if with_offset is None:
                with_offset = offsets[(combined, x)] = combined.rich_style_with_offset(x, 0)
            segments.append(Segment(text, with_offset))
            x += len(text)
        return Strip(segments, line.cell_len)

    def _runs(self, line: Text) -> list[tuple[str, Any]]:
        """``(text, Rich style)`` runs of a line, as ``Text.render`` gives them.

        Panel lines are plain appends (spans in order, none overlapping, no base style): for
        those the runs are cut here directly; anything else goes through Rich."""
        plain = line.plain
        runs: list[tuple[str, Any]] = []
        if not line.style:
            parsed = self._rich_styles
            pos = 0
            for start, end, span_style in line.spans:
                if start < pos:
                    break              # overlapping spans: Rich combines them
                if start > pos:
                    runs.append((plain[pos:start], None))
                if end > start:
                    rich_style = parsed.get(span_style)
                    if rich_style is None:
                        if len(parsed) > 1024:
                            parsed.clear()
                        rich_style = parsed[span_style] = self.app.console.get_style(span_style, default="")
                    runs.append((plain[start:end], rich_style))
                pos = max(pos, end)
            else:
                if pos < len(plain):
                    runs.append((plain[pos:], None))
                return runs
        return [(text, style) for text, style, _ in line.render(self.app.console, end="")]

    def render_panel(self, view: ViewState, width: int, height: int) -> Text:
        raise NotImplementedError


def _no_refresh(self, *regions, **kwargs):
    """Stands in for ``Widget.refresh`` while a border title is set (Panel._set_border_text)."""
    return self


def _split(text: Text, height: int) -> list[Text | None]:
    """``height`` entries: the text's lines (extra ones dropped), then None for each missing one.

    What ``text.split("\n", allow_blank=True)`` gives, cut here for the usual panel text (no
    base style, spans in order): Rich's general split costs as much as drawing the panel."""
    if text.style or any(a.start > b.start for a, b in zip(text.spans, text.spans[1:])):
        lines: list[Text | None] = [*text.split("\n", allow_blank=True)][:height]
        return lines + [None] * (height - len(lines))
    plain = text.plain
    spans = text.spans
    out: list[Text | None] = []
    i = 0
    start = 0
    for piece in plain.split("\n")[:height]:
        end = start + len(piece)
        while i < len(spans) and spans[i].end <= start:
            i += 1
        line_spans = []
        j = i
        while j < len(spans) and spans[j].start < end:
            sp = spans[j]
            if sp.end > start:
                line_spans.append(Span(max(sp.start, start) - start, min(sp.end, end) - start, sp.style))
            j += 1
        out.append(Text(piece, spans=line_spans, end=""))
        start = end + 1
    return out + [None] * (height - len(out))


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
