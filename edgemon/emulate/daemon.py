"""The emulator's physics loop, in its own process so its CPU time is not the monitor's.

``python -m edgemon.emulate.daemon --root R --board B [--opts "tau=2,trip=60"] [--parent-pid P]``

Ticks at ``hz`` (default 10) with a fixed delay after each tick (never piling
up), holding the tree's lock while it writes. Exits on SIGTERM/SIGINT, or when
the parent process is gone (so a crashed test leaves no daemon behind). A
worker it was stopping (SIGSTOP duty cycle) is continued before it exits.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import signal
import sys
import time
from pathlib import Path

from edgemon.emulate import tree, workload
from edgemon.emulate.boards import get_board
from edgemon.emulate.physics import Physics, parse_options, write_state


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run(root: Path, board_name: str, opts_text: str, parent_pid: int | None, host_proc: Path) -> int:
    board = get_board(board_name)
    physics = Physics(board, root, parse_options(opts_text), host_proc=host_proc)
    period = 1.0 / physics.opt.hz
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    physics.duty = workload.DutyCycle()
    try:
        _loop(root, physics, period, stop, parent_pid)
    finally:
        physics.duty.close()
    return 0


def _loop(root: Path, physics: Physics, period: float, stop: list, parent_pid: int | None) -> None:
    with open(root / tree.LOCK_FILE, "a+") as lock:
        while not stop:
            started = time.monotonic()
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                state = physics.tick(started)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
            write_state(root, state)
            if parent_pid is not None and not _alive(parent_pid):
                break
            if not (root / tree.BOARD_FILE).exists():
                break             # the tree was removed under us
            time.sleep(max(0.01, period - (time.monotonic() - started)))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m edgemon.emulate.daemon", description=__doc__.splitlines()[0])
    ap.add_argument("--root", required=True, type=Path)
    ap.add_argument("--board", required=True)
    ap.add_argument("--opts", default="")
    ap.add_argument("--parent-pid", type=int, default=None)
    ap.add_argument("--host-proc", type=Path, default=Path("/proc"))
    args = ap.parse_args(argv)
    try:
        return run(args.root, args.board, args.opts, args.parent_pid, args.host_proc)
    except KeyboardInterrupt:
        return 0
    except FileNotFoundError as exc:
        print(f"edgemon emulator: tree vanished: {exc}", file=sys.stderr)
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
