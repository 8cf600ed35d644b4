"""`edgemon ls`: the sessions under ./recordings (or given folders) and their state. Standard library only
at module level.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from edgemon.help_format import HelpFormatter


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("ls", help="list sessions: running, ended, crashed, died",
                       description="Sessions under ./recordings (or the folders given): state, start time, "
                       "workload, duration and size. 'died' means the session process was killed; "
                       "`edgemon recover DIR` makes its recording whole.", formatter_class=HelpFormatter)
    p.add_argument("folders", nargs="*", metavar="DIR",
                   help="recordings folders or recordings to list (default: ./recordings)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    return p


def run(args: argparse.Namespace) -> int:
    import json

    from edgemon.recording.listing import check_roots, format_table, list_sessions

    roots = [Path(f) for f in args.folders] or [Path("recordings")]
    if args.folders:
        check_roots(roots)
    infos = list_sessions(roots)
    if args.json:
        print(json.dumps([i.to_dict() for i in infos], indent=2))
    elif not infos:
        print(f"no sessions under {', '.join(str(r) for r in roots)}")
    else:
        print(format_table(infos))
    return 0
