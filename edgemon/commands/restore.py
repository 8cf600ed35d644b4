"""`edgemon restore`: put the machine back the way a session found it (after a crash). Standard
library only at module level.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from edgemon.commands.common import resolve_session, session_arg
from edgemon.errors import UserError
from edgemon.help_format import HelpFormatter


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("restore", help="restore power mode, cores, clocks and fan saved by a session",
                       description="Put the machine back the way a session found it (after a crash).",
                       formatter_class=HelpFormatter)
    session_arg(p, optional=True)
    p.add_argument("--sysfs-root", default="/", metavar="DIR", help=argparse.SUPPRESS)
    return p


def run(args: argparse.Namespace) -> int:
    import json

    path = resolve_session(args.session)
    meta_path = path / "session.json"
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError) as exc:
        raise UserError(f"{meta_path}: cannot read session description ({exc})") from None
    state = meta.get("restore")
    if not state:
        print(f"{path}: the session saved no machine state (not a Jetson, or controls unavailable); nothing to do")
        return 0
    from edgemon.control import Controls
    from edgemon.control.snapshot import MachineState

    if meta.get("emulated"):
        print(f"{path}: an emulated board; it was discarded with its session, nothing to restore")
        return 0
    root = Path(args.sysfs_root if args.sysfs_root != "/" else meta.get("sysfs_root", "/"))
    controls = Controls(root, dict(meta.get("executables") or {}))
    results = controls.restore(MachineState.from_dict(state))
    failed = False
    for r in results:
        print(("ok    " if r.ok else "FAILED ") + r.message)
        failed |= not r.ok
    return 1 if failed else 0
