"""Textual dashboard. Importing this package is cheap; Textual loads only in ``run_dashboard``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edgemon.feeds.base import Feed


def run_dashboard(feed: "Feed", *, ascii: bool = False) -> int:
    """Show the dashboard on ``feed`` until the user quits; returns an exit status."""
    from edgemon.tui.app import DashboardApp

    app = DashboardApp(feed, ascii=ascii)
    result = app.run()
    return int(result or 0)
