"""Shared helpers for the dashboard tests: the scripted FakeFeed (lives in edgemon.feeds.demo)."""

from __future__ import annotations

from edgemon.feeds.demo import SCENARIOS, T0_NS, FakeFeed

__all__ = ["FakeFeed", "SCENARIOS", "T0_NS", "make_app", "run_async"]


def make_app(scenario: str = "linux", *, ascii: bool = False, **feed_kw):
    """A DashboardApp on a FakeFeed with 60 s of scripted data."""
    from edgemon.tui.app import DashboardApp

    feed = FakeFeed(scenario, **feed_kw)
    return DashboardApp(feed, ascii=ascii), feed


def run_async(fn):
    """Run an ``async def`` test with asyncio.run (no pytest-asyncio plugin needed)."""
    import asyncio
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return asyncio.run(fn(*args, **kwargs))

    return wrapper
