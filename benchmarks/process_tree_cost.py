"""CPU of one listing of the worker's process tree: /proc/PID/task/TID/children vs psutil.

The process source lists the worker's tree every 2 s (``telemetry/process.py``). psutil's
``children(recursive=True)`` reads the stat file of every process on the machine; the
children files read only the tree's own tasks. Both list the same tree (``sh -c`` with one
Python child) in the same run; the figure is process CPU time per listing.

    python benchmarks/process_tree_cost.py [--listings N] [--rounds R]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import psutil

from edgemon.telemetry.process import TREE_EVERY_S, process_tree


def cpu_ms(listing, n: int) -> tuple[float, list[int]]:
    t = time.process_time_ns()
    for _ in range(n):
        pids = listing()
    return (time.process_time_ns() - t) / n / 1e6, sorted(pids)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--listings", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    tree = subprocess.Popen(["sh", "-c", f'{sys.executable} -c "import time; time.sleep(600)"; true'],
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while len(process_tree(tree.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)

        def by_psutil() -> list[int]:
            return [tree.pid] + [c.pid for c in psutil.Process(tree.pid).children(recursive=True)]

        print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; one listing every {TREE_EVERY_S:g} s")
        for r in range(1, args.rounds + 1):
            a, pa = cpu_ms(by_psutil, args.listings)
            b, pb = cpu_ms(lambda: process_tree(tree.pid), args.listings)
            share = 100.0 / (TREE_EVERY_S * 1000.0)
            print(f"round {r}: {len(psutil.pids())} processes on the machine, tree {pa} / {pb}: "
                  f"psutil {a:.3f} ms ({a * share:.3f} % of a core), "
                  f"children files {b:.3f} ms ({b * share:.4f} %) per listing")
    finally:
        os.killpg(tree.pid, 9)
        tree.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
