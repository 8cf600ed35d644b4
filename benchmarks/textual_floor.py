#!/usr/bin/env python3
"""The least a Textual app costs that redraws at the dashboard's rate: the floor under edgemon's dashboard.

A bare Textual app (the same pinned Textual as the dashboard, the same line API the panels
use, the same terminal driver) fills the terminal with static text and, --hz times a second, changes --lines of its
lines and refreshes only those. No data, no feed, no layout change: what is left is Textual's
own cost of an app that is running (its input thread, its timers, its event loop) and of a
redraw (the compositor and the ANSI output of the changed lines). `monitor_cost.py` measures
it in a pseudo-terminal beside btop and the dashboard, so that the dashboard's own share (its
panels and its feed) is the difference in the same round.

    python benchmarks/textual_floor.py                   # 1 line changed, 2 Hz; q quits
    python benchmarks/textual_floor.py --lines 8 --hz 2
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

from rich.segment import Segment
from rich.style import Style
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

_STYLE = Style(color="green")


class Lines(Widget):
    """Static text whose first ``changing`` lines get a new counter at every ``tick``."""

    def __init__(self, changing: int) -> None:
        super().__init__()
        self.changing = changing
        self.counter = itertools.count()
        self.stamps: list[int] = [0] * changing

    def tick(self) -> None:
        n = next(self.counter)
        self.stamps = [n + y for y in range(self.changing)]
        width = self.size.width
        self.refresh(*(Region(0, y, width, 1) for y in range(self.changing)))

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        text = f"line {y:3d} redraw {self.stamps[y]:8d}" if y < self.changing else f"line {y:3d} static"
        text = text[:width].ljust(width)
        return Strip([Segment(text, _STYLE)], width)


class FloorApp(App):
    CSS = "Lines { height: 1fr; }"
    BINDINGS = [("q", "quit", "quit")]

    def __init__(self, lines: int, hz: float, stock_driver: bool) -> None:
        self.stock_driver = stock_driver
        super().__init__()
        self.lines = Lines(lines)
        self.period_s = 1.0 / hz

    def get_driver_class(self):
        """The dashboard's driver (its input thread sleeps until input), unless --stock-driver."""
        from edgemon.tui.driver import terminal_driver

        chosen = super().get_driver_class()
        return chosen if self.stock_driver else terminal_driver(chosen)

    def compose(self) -> ComposeResult:
        yield self.lines

    def on_mount(self) -> None:
        self.set_interval(self.period_s, self.lines.tick)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=1, help="lines changed at each redraw (default 1)")
    ap.add_argument("--hz", type=float, default=2.0, help="redraws a second (default 2, the dashboard's)")
    ap.add_argument("--stock-driver", action="store_true",
                    help="Textual's own Linux driver (its input thread wakes 10 times a second) "
                         "instead of the dashboard's")
    args = ap.parse_args()
    if args.lines < 0 or not args.hz > 0:
        ap.error("--lines must be 0 or more and --hz above 0")
    FloorApp(args.lines, args.hz, args.stock_driver).run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
