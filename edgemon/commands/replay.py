"""`edgemon replay`: play a recording back in the dashboard. Standard library only at module level.
"""

from __future__ import annotations

import argparse

from edgemon.commands.common import resolve_session, session_arg
from edgemon.errors import UserError
from edgemon.help_format import HelpFormatter


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("replay", help="play a recording back in the dashboard",
                       description="Replay a recording: space play/pause, + and - speed (1x to 1000x), "
                       "left/right seek 10 s, [ and ] seek 1 min, home/end, n/N next/previous event, "
                       "t/T next/previous throttling episode, a analysis of the whole recording. A timeline "
                       "strip under the header shows throttled stretches and marks.",
                       epilog="examples:\n"
                       "  edgemon replay                   # the newest session\n"
                       "  edgemon replay /data/runs/night-1 --ascii",
                       formatter_class=HelpFormatter)
    session_arg(p, optional=True)
    p.add_argument("--speed", type=float, default=1.0, help="initial speed, 1 to 1000 (default: 1)")
    p.add_argument("--ascii", action="store_true", help="plain ASCII graphs")
    return p


def run(args: argparse.Namespace) -> int:
    from edgemon.feeds.commands import Speed
    from edgemon.feeds.replay import ReplayFeed
    from edgemon.recording.reader import open_recording
    from edgemon.tui import run_dashboard

    if not 1 <= args.speed <= 1000:
        raise UserError(f"--speed must be between 1 and 1000, got {args.speed:g}")
    rec = open_recording(resolve_session(args.session))
    feed = ReplayFeed(rec, analysis_process=True)
    feed.command(Speed(factor=args.speed))
    try:
        return run_dashboard(feed, ascii=args.ascii)
    finally:
        feed.close()
