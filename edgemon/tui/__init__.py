"""Textual dashboard. Importing this package is cheap; Textual loads only in ``run_dashboard``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edgemon.feeds.base import Feed
    from edgemon.view.model import DashboardModel


def run_dashboard(feed: "Feed", *, ascii: bool = False, model: "DashboardModel | None" = None) -> int:
    """Show the dashboard on ``feed`` until the user quits; returns an exit status. ``model``:
    the caller's, to read what the dashboard saw afterwards (the end-of-session summary).
    A SIGINT or SIGTERM closes the dashboard cleanly, then raises KeyboardInterrupt here."""
    from edgemon.tui.app import DashboardApp
    from edgemon.tui.signals import exit_on_signals

    app = DashboardApp(feed, ascii=ascii, model=model)
    with exit_on_signals(app):
        result = app.run()
    return int(result or 0)
