"""`edgemon run --headless`: a status line every few seconds, a summary table at the end."""

from __future__ import annotations

import signal
import sys
import time

from edgemon.datatypes import EventKind
from edgemon.feeds.commands import Stop
from edgemon.session.live import LiveSession, at_once_line
from edgemon.session.recording_watch import summary_lines

# The longest the loop lets samples and latency rows wait (a long --status-every must not make
# one drain hold minutes of rows).
APPLY_EVERY_S = 5.0


def run_headless(session: LiveSession, *, status_every_s: float = 5.0, out=None) -> int:
    """Drive a started session until its worker ends. Exit code: 0 success, 1 the workload failed,
    2 a command that ended at once (one line on stderr, no summary), 3 the recording stopped early
    (README "Exit codes"; 3 wins over 1: the data is incomplete)."""
    from edgemon.view.model import DashboardModel
    from edgemon.view.status_line import status_line, summary_table

    out = out or sys.stdout
    model = DashboardModel()
    stop_requested: list[int] = []

    def on_signal(signum, _frame):
        # First signal: stop gracefully (recording closed, machine restored); second: hurry.
        if stop_requested:
            raise KeyboardInterrupt
        stop_requested.append(signum)
        session.command(Stop())

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    failed = False
    try:
        # The loop wakes for a status line, or for an event (a crash is said at once) and the end;
        # samples and latency rows wait for the next of those: one wake-up every few seconds.
        next_status = time.monotonic() + status_every_s
        while True:
            session.wait_news(min(APPLY_EVERY_S, max(0.0, next_status - time.monotonic())))
            if session.wait(0):
                break
            failed |= _apply(model, session, out)
            if time.monotonic() >= next_status:
                next_status += status_every_s
                status = session.status()
                model.observe(status)  # "now" for the rates in the status line
                print(status_line(model, status), file=out, flush=True)
        failed |= _apply(model, session, out)
    finally:
        session.close()
        for s, h in previous.items():
            signal.signal(s, h)
    failed |= _apply(model, session, out)
    exit_event = session.exit_event
    line = at_once_line(exit_event.details, session.meta.get("record_path")) if exit_event is not None else None
    if line is not None:
        print(f"edgemon: {line}", file=sys.stderr, flush=True)
        return 2
    status = session.status()
    model.observe(status)
    print(summary_table(model, status, session.meta), file=out, flush=True)
    for text in summary_lines(session.recorder, session.meta.get("record_path"), status.elapsed_s):
        print(text, file=out, flush=True)
    return exit_code(session, failed or status.state == "crashed")


def exit_code(session: LiveSession, workload_failed: bool) -> int:
    """0 success, 1 the workload failed, 3 the recording stopped early (it wins: the data is short)."""
    from edgemon.recording.faults import EXIT_RECORDING_FAILED

    if session.recording_failed:
        return EXIT_RECORDING_FAILED
    return 1 if workload_failed else 0


def _apply(model, session: LiveSession, out) -> bool:
    """Feed the model; print crash/error events at once. True if the workload failed."""
    update = session.drain()
    model.apply(update)
    failed = False
    command = session.config.workload.is_command
    for ev in update.events:
        if ev.kind == EventKind.WORKER_CRASHED:
            if ev.details.get("at_once"):
                failed = True           # said in one line at the end
                continue
            what = "command failed" if command else "worker crashed"
            print(f"edgemon: {what}: {ev.details.get('reason', '')}", file=out, flush=True)
            # a runner that reported its error has said why; its traceback is in the recording
            tail = [] if ev.details.get("runner_error") else ev.details.get("stderr_tail") or []
            for line in list(tail)[-5:]:
                print(f"  | {line}", file=out)
            failed = True
        elif ev.kind == EventKind.ERROR:
            print(f"edgemon: runner error: {ev.details.get('reason') or ev.details.get('message', '')}",
                  file=out, flush=True)
            failed = True
        elif ev.kind in (EventKind.RECORDING_ERROR, EventKind.CONTROL_FAILED, EventKind.DISK_LOW):
            print(f"edgemon: {ev.kind.replace('_', ' ')}: {ev.details.get('message', '')}", file=out, flush=True)
        elif ev.kind == EventKind.DISK_SPACE:
            print(f"edgemon: {ev.details.get('message', '')}", file=out, flush=True)
    return failed
