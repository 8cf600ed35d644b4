"""`edgemon restore`: put the machine back the way a session found it (after a crash). Standard
library only at module level.

A recording is data, never a source of programs or paths (docs/architecture.md "Recording
layout"): the tools are found exactly as a live session finds them on this machine (PATH, the
fixed L4T locations, or inside the ``--sysfs-root`` given here), and only a recording made on
this machine during this boot is restored.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from edgemon.commands.common import resolve_session, session_arg
from edgemon.errors import UserError
from edgemon.help_format import HelpFormatter

STORE_NAME = "l4t_dfs.conf"   # where a session keeps `jetson_clocks --store` (control/__init__.py)


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("restore", help="restore power mode, cores, clocks and fan saved by a session",
                       description="Put the machine back the way a session found it (after a crash). Only a "
                       "session recorded on this machine during this boot is restored; its tools are found on "
                       "this machine (PATH, /usr/sbin, /usr/bin), never taken from the recording.",
                       epilog="examples:\n"
                       "  edgemon restore                  # what the newest session found\n"
                       "  edgemon restore ~/bench/recordings/<session>\n"
                       "  edgemon restore DIR --sysfs-root /mnt/board   # a session run with that --sysfs-root",
                       formatter_class=HelpFormatter)
    session_arg(p, optional=True)
    p.add_argument("--sysfs-root", default="/", metavar="DIR",
                   help="the --sysfs-root the session ran with (its tools are looked up inside it); default /")
    return p


def run(args: argparse.Namespace) -> int:
    from edgemon.recording.layout import load_session_json, recording_folder
    from edgemon.recording.meta_check import checked_meta

    path = recording_folder(resolve_session(args.session))
    meta, _ = checked_meta(load_session_json(path))
    state = meta.get("restore")
    if not state:
        print(f"{path.absolute()}: the session saved no machine state (not a Jetson, or controls unavailable); "
              "nothing to do")
        return 0
    if meta.get("emulated"):
        print(f"{path.absolute()}: an emulated board; it was discarded with its session, nothing to restore")
        return 0
    from edgemon.control import Controls
    from edgemon.control.snapshot import MachineState

    saved = MachineState.from_dict(state)
    check_same_boot(path, meta, saved)
    root = Path(args.sysfs_root)
    recorded_root = str(meta.get("sysfs_root") or "/")
    if Path(recorded_root) != root:
        raise UserError(f"{path.absolute()} was recorded with --sysfs-root {recorded_root}; pass "
                        f"`--sysfs-root {recorded_root}` to restore that tree (tools are looked up under the root "
                        "you give, never taken from the recording)")
    saved.jetson_clocks_store = trusted_store(path, saved.jetson_clocks_store)
    controls = Controls(root, {})   # no executables from the recording: resolved here, as a live session does
    results = controls.restore(saved)
    failed = False
    for r in results:
        print(("ok    " if r.ok else "FAILED ") + r.message)
        failed |= not r.ok
    return 1 if failed else 0


def check_same_boot(path: Path, meta: dict, saved) -> None:
    """UserError unless ``meta`` was recorded on this machine during this boot."""
    from edgemon.platform.identity import boot_id, machine_id

    hint = (f"; set it by hand if needed, e.g. `sudo nvpmodel -m {saved.power_mode_id}`"
            if saved.power_mode_id is not None else "")
    recorded = meta.get("machine") or {}
    rec_boot, rec_machine = recorded.get("boot_id"), recorded.get("machine_id")
    now_boot, now_machine = boot_id(), machine_id()
    where = path.absolute()
    if not rec_boot:
        raise UserError(f"{where} does not say which machine and boot it was recorded on (an older edgemon, or "
                        f"an edited session.json); restore only undoes a session of this boot{hint}")
    if now_boot is None:
        raise UserError(f"cannot read this machine's boot id (/proc/sys/kernel/random/boot_id), so {where} "
                        f"cannot be matched to this boot; nothing restored{hint}")
    if rec_boot == now_boot:
        return
    if rec_machine and now_machine and rec_machine != now_machine:
        raise UserError(f"{where} was recorded on another machine (machine id {rec_machine[:12]}, this one is "
                        f"{now_machine[:12]}); restore only undoes a session of this machine{hint}")
    raise UserError(f"{where} was recorded during an earlier boot of this machine; the state it saved no longer "
                    f"applies (a reboot resets cores, clocks and fan){hint}")


def trusted_store(folder: Path, recorded: str | None) -> str | None:
    """The jetson_clocks store to restore from: only ``<folder>/l4t_dfs.conf``, a regular file
    (not a link) owned by root or by you and writable by no one else -- `jetson_clocks
    --restore` runs as root and writes whatever the file lists. Anything else: None (restore
    then resets the clocks through the power mode)."""
    import os
    import stat

    if not recorded:
        return None
    candidate = folder / STORE_NAME
    if Path(recorded).name != STORE_NAME:
        return None
    try:
        st = os.lstat(candidate)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode) or st.st_uid not in (0, os.geteuid()):
        return None
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return None
    return str(candidate.absolute())
