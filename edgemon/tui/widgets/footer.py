"""The footer: every key the dashboard takes here, pairs on one entry (``t/T throttling``),
disabled ones dimmed; it wraps onto a second line when one line cannot hold them all (a replay
at 80 columns), so no key is ever cut off."""

from __future__ import annotations

from rich.text import Text
from textual.dom import NoScreen
from textual.widget import Widget

SEP = "  "


class KeyFooter(Widget):
    DEFAULT_CSS = """
    KeyFooter {
        height: 1;
        width: 1fr;
        background: $panel;
        color: $text-muted;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self.entries: list[tuple[str, str, bool]] = []
        self.ascii = False
        self.lines = 1
        self._shown: tuple | None = None

    def set_entries(self, entries: list[tuple[str, str, bool]], *, ascii: bool = False) -> None:
        """Redraw (and change height) only when the keys or the width changed."""
        key = (tuple(entries), ascii, self.size.width)
        if key == self._shown:
            return
        self._shown = key
        self.entries, self.ascii = entries, ascii
        lines = len(self._wrap(self.size.width)) if self.size.width > 0 else 1
        if lines != self.lines:
            self.lines = lines
            self.styles.height = lines
        if self.is_mounted:    # the layout gives the event log's line to a second footer line
            try:
                self.screen.set_class(lines > 1, "-footer2")
            except NoScreen:   # shutting down, or between screens: the next poll sets it
                pass
        self.refresh()

    def on_resize(self) -> None:
        self.set_entries(self.entries, ascii=self.ascii)

    def _label(self, keys: str) -> str:
        if self.ascii:
            return keys.replace("←/→", "<-/->").replace("space", "spc")
        return keys

    def _wrap(self, width: int) -> list[list[tuple[str, str, bool]]]:
        lines: list[list[tuple[str, str, bool]]] = [[]]
        used = 0
        for keys, what, enabled in self.entries:
            size = len(self._label(keys)) + 1 + len(what) + len(SEP)
            if lines[-1] and used + size - len(SEP) > width - 1:
                lines.append([])
                used = 0
            lines[-1].append((keys, what, enabled))
            used += size
        return lines

    def render(self) -> Text:
        out = Text()
        for n, line in enumerate(self._wrap(max(self.size.width, 1))):
            if n:
                out.append("\n")
            out.append(" ")
            for i, (keys, what, enabled) in enumerate(line):
                if i:
                    out.append(SEP)
                out.append(self._label(keys), style="bold" if enabled else "dim")
                out.append(" " + what, style="" if enabled else "dim strike")
        return out
