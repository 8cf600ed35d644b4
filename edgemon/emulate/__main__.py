"""``python -m edgemon.emulate BOARD [WORKDIR]``: run an emulated board until Ctrl-C (for manual tries)."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    from edgemon.emulate import BOARDS, EmulatedBoard
    from edgemon.errors import UserError

    if not argv or argv[0] in ("-h", "--help"):
        print(f"usage: python -m edgemon.emulate BOARD [WORKDIR]   (BOARD: {', '.join(BOARDS)})")
        return 0 if argv else 2
    try:
        board = EmulatedBoard(argv[0], Path(argv[1]) if len(argv) > 1 else None).start()
    except UserError as exc:
        print(f"edgemon: {exc}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        print(f"emulated {board.name}: --sysfs-root {board.root}")
        print(f"tools: export PATH={board.bin_dir}:$PATH")
        print("Ctrl-C to stop", flush=True)
        while board.is_running():
            time.sleep(0.5)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        board.stop()


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
