"""`edgemon recover`: make a crashed session's recording whole again. Standard library only at module
level.
"""

from __future__ import annotations

import argparse

from edgemon.commands.common import resolve_session, session_arg
from edgemon.help_format import HelpFormatter


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("recover", help="make a crashed session's recording whole again",
                       description="Turn the live tail a killed session left behind into Parquet. "
                       "Any edgemon command that opens a session does this by itself.",
                       epilog="examples:\n"
                       "  edgemon recover ~/bench/recordings/<session>\n"
                       "  edgemon ls                       # a died session names its recover command",
                       formatter_class=HelpFormatter)
    session_arg(p)
    return p


def run(args: argparse.Namespace) -> int:
    from edgemon.recording.recover import recover

    report = recover(resolve_session(args.session))
    print(report.summary() if hasattr(report, "summary") else report)
    return 0
