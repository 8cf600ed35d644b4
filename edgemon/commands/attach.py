"""`edgemon attach`: the dashboard on a session running in the background (and the dashboard
that `edgemon run` opens on the session process it started). Standard library only at module level.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from edgemon.commands.common import resolve_running_session, session_arg
from edgemon.commands.serve import SERVED_ENV
from edgemon.help_format import HelpFormatter


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("attach", help="open the dashboard on a session running in the background",
                       description="Attach the dashboard to a detached session (`edgemon run --detach`, or "
                       "one whose dashboard was closed with 'detach'). Quitting asks whether to detach "
                       "(the session goes on) or stop it.", formatter_class=HelpFormatter)
    session_arg(p, optional=True)
    p.add_argument("--ascii", action="store_true", help="plain ASCII graphs")
    return p


def run(args: argparse.Namespace) -> int:
    return dashboard_on(resolve_running_session(args.session), ascii=args.ascii)


def dashboard_on(folder: Path, *, ascii: bool, owner: bool = False) -> int:
    """The dashboard on a detached session; afterwards say whether it goes on or where it was recorded.

    ``owner`` (``edgemon run``): SIGINT/SIGTERM sent to this process stop the session, as they
    did when it ran in-process, so a script that kills `edgemon run` leaves nothing behind.
    A hang-up (SSH drop) or a dead terminal only detaches. ``edgemon attach`` only ever detaches.
    """
    import signal

    from edgemon.feeds.commands import Stop
    from edgemon.feeds.remote import open_remote

    feed = open_remote(folder)
    code = 0
    interrupted: list[int] = []

    def on_signal(signum, _frame):
        interrupted.append(signum)
        raise KeyboardInterrupt

    previous = {}
    if owner:
        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    # A dashboard goes with its terminal, even when started from a shell that ignores
    # hang-ups (nohup): the session is another process and carries on.
    if signal.getsignal(signal.SIGHUP) is signal.SIG_IGN:
        previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, signal.SIG_DFL)
    try:
        from edgemon.tui import run_dashboard

        code = run_dashboard(feed, ascii=ascii)
    except KeyboardInterrupt:
        code = 130
        if owner and not feed.ended:
            feed.command(Stop())
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
        if feed.stop_requested or feed.ended:
            feed.wait_end(60.0)     # the session closes its recording, then says "end"
        else:
            feed.close()            # detach: the terminal went away, or the user chose to leave it running
        status = feed.status()
        if status.state in ("ended", "crashed"):
            text = f"recording: {folder} ({status.state}{': ' + status.message if status.message else ''})"
        else:
            text = (f"the session goes on in the background: {folder}\n"
                    f"  watch:  edgemon attach {folder}\n  stop:   edgemon stop {folder}")
        try:
            if not os.environ.get(SERVED_ENV):   # a browser tab's dashboard: its stdout is the page's pipe
                print(text)
        except OSError:             # the terminal is gone (SSH drop): nobody to tell
            pass
    return 1 if status.state == "crashed" else code
