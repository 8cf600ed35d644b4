"""`edgemon stop`: ask a session running in the background to stop. Standard library only at module level.
"""

from __future__ import annotations

import argparse

from edgemon.commands.common import resolve_running_session, session_arg
from edgemon.help_format import HelpFormatter


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("stop", help="stop a session running in the background",
                       description="Ask a detached session to stop, wait until its recording is closed, "
                       "print where it is.",
                       epilog="examples:\n"
                       "  edgemon stop                     # the newest one running in the background\n"
                       "  edgemon stop ~/bench/recordings/<session> --timeout 5m",
                       formatter_class=HelpFormatter)
    session_arg(p, optional=True)
    p.add_argument("--timeout", default="120s", metavar="DURATION",
                   help="give up waiting after this long (default: 120s)")
    return p


def run(args: argparse.Namespace) -> int:
    from edgemon.feeds.remote import stop_remote
    from edgemon.units import parse_duration

    timeout = parse_duration(args.timeout, what="--timeout")
    stop_remote(resolve_running_session(args.session), timeout=timeout)
    return 0
