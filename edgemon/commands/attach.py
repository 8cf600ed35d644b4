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
                       "(the session goes on) or stop it.",
                       epilog="examples:\n"
                       "  edgemon attach                   # the newest one running in the background\n"
                       "  edgemon attach /data/x --ascii   # a session started with --record /data/x",
                       formatter_class=HelpFormatter)
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
    from edgemon.view.model import DashboardModel

    feed = open_remote(folder)
    model = DashboardModel()
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

        code = run_dashboard(feed, ascii=ascii, model=model)
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
            # The dashboard ended the session (or saw it end): the headless summary, as `--headless` gives it.
            text = ended_summary(model, feed, status, folder)
        else:
            text = (f"the session goes on in the background: {folder}\n"
                    f"  watch:  edgemon attach {folder}\n  stop:   edgemon stop {folder}")
        try:
            if not os.environ.get(SERVED_ENV):   # a browser tab's dashboard: its stdout is the page's pipe
                print(text)
        except OSError:             # the terminal is gone (SSH drop): nobody to tell
            pass
    if owner and status.recording_level == "fail":
        from edgemon.recording.faults import EXIT_RECORDING_FAILED

        return EXIT_RECORDING_FAILED
    return 1 if status.state == "crashed" else code


def ended_summary(model, feed, status, folder) -> str:
    """The summary table of a session that ended under the dashboard, with its recording's folder.
    What the dashboard had not drained yet (the last second, the end) is taken in first."""
    from edgemon.view.status_line import summary_table

    try:
        model.apply(feed.drain())
    except Exception:  # noqa: BLE001 - a summary of what arrived beats none
        pass
    model.observe(status)
    where = f"recording: {folder} ({status.state}{': ' + status.message if status.message else ''})"
    if status.recording_level == "fail":
        where = f"recording: {status.recording} -- what was recorded before is kept in {folder}"
    return f"{summary_table(model, status, getattr(feed, 'meta', None))}\n{where}"
