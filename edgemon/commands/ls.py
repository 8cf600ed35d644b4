"""`edgemon ls`: this user's sessions wherever they record (or those under given folders) and
their state. Standard library only at module level.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from edgemon.help_format import HelpFormatter


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "ls", help="list your sessions: running, ended, crashed, died",
        description="Every session you started, wherever it records (the per-user session index, "
        "plus ./recordings): running first, then newest first, with state, start time, workload, "
        "duration, size and absolute folder. 'died' means the session process was killed "
        "(`edgemon recover DIR` makes its recording whole); 'gone' means the folder was moved or "
        "deleted (`--prune` forgets it). With folders given, only the sessions under them.",
        formatter_class=HelpFormatter,
        epilog="examples:\n"
        "  edgemon ls                  # every session of yours, running first\n"
        "  edgemon ls /data/runs       # only the recordings under /data/runs\n"
        "  edgemon ls --prune          # forget index entries whose folder is gone\n"
        "  edgemon ls --json | jq '.[] | select(.state == \"running\") | .path'")
    p.add_argument("folders", nargs="*", metavar="DIR",
                   help="recordings folders or recordings to list (default: all of your sessions)")
    p.add_argument("--prune", action="store_true",
                   help="remove index entries whose folder no longer exists (or that are corrupt); "
                   "recordings are never deleted")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    return p


def run(args: argparse.Namespace) -> int:
    import json
    import os

    from edgemon.recording.index import index_dir
    from edgemon.recording.listing import check_roots, format_table, list_sessions, user_sessions

    if args.folders:
        roots = [Path(f) for f in args.folders]
        check_roots(roots)
        infos = list_sessions(roots)
        where = ", ".join(os.path.abspath(r) for r in roots)
    else:
        infos, bad = user_sessions([Path("recordings")], warn=(lambda _m: None) if args.prune else None)
        where = f"the session index ({index_dir()}) or {os.path.abspath('recordings')}"
        if args.prune:
            from edgemon.recording.index import forget

            stale = [i for i in infos if i.state == "gone" and i.index_file]
            removed = forget([i.index_file for i in stale] + [b.file for b in bad])
            infos = [i for i in infos if i not in stale]
            print(f"pruned {removed} index entr{'y' if removed == 1 else 'ies'} "
                  f"({len(stale)} gone, {len(bad)} corrupt); no recording was touched")
    if args.json:
        print(json.dumps([i.to_dict() for i in infos], indent=2))
    elif not infos:
        print(f"no sessions in {where}")
    else:
        print(format_table(infos))
    return 0
