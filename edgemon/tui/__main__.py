"""``python -m edgemon.tui [linux|jetson|crashed|replay] [--ascii] [--rows=N]``: the dashboard on
the scripted demo feed (:class:`edgemon.feeds.demo.FakeFeed`) in real time."""

from __future__ import annotations

import sys

from edgemon.feeds.demo import SCENARIOS, FakeFeed
from edgemon.tui import run_dashboard


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    scenario = next((a for a in args if a in SCENARIOS), "linux")
    rows = next((float(a.split("=", 1)[1]) for a in args if a.startswith("--rows=")), 120.0)
    feed = FakeFeed(scenario, seconds=0.0, realtime=True, rows_per_s=rows,
                    duration_s=None if scenario == "replay" else 600.0)
    return run_dashboard(feed, ascii="--ascii" in args)


if __name__ == "__main__":
    raise SystemExit(main())
