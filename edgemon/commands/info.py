"""`edgemon info`: platform, telemetry sources and runners available here. Standard library only at
module level.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from edgemon.errors import UserError
from edgemon.help_format import HelpFormatter


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("info", help="platform, telemetry sources and runners available here",
                       description="What edgemon can see on this machine, and why a source or runner is "
                       "unavailable.",
                       epilog="examples:\n"
                       "  edgemon info\n"
                       "  edgemon info --json | jq '.sources[] | select(.available | not)'",
                       formatter_class=HelpFormatter)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--sysfs-root", default="/", metavar="DIR", help="read the machine under DIR")
    return p


def run(args: argparse.Namespace) -> int:
    import json

    from edgemon.info import collect_info, format_info

    root = Path(args.sysfs_root)
    if not root.is_dir():
        raise UserError(f"--sysfs-root {args.sysfs_root}: not a folder")
    data = collect_info(root)
    print(json.dumps(data, indent=2, default=str) if args.json else format_info(data))
    return 0
