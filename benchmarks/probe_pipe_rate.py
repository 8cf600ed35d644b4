#!/usr/bin/env python3
"""Does edgemon slow down a very fast loop it times? A user's own loop under edgemon_probe, next
to the same loop whose frames a bare reader drains, in the same run.

The loop (``for x in edgemon_probe.loop(...)`` around nothing: the fastest a Python loop can
produce rows, millions a second, 20 bytes each) counts its own iterations per second for
--seconds and writes the figure to a file. Each round runs it, one after another:

  bare reader   its frame pipe drained by a thread here that reads 1 MiB at a time and
                throws the bytes away: the most any monitor could let it run;
  edgemon       `edgemon run --headless --no-record -- python LOOP` (10 Hz sampling): the
                session reads, decodes and models every row; also its own CPU (% of one core);
  (DIR name)    the same with the edgemon in --compare-tree DIR (before/after a change).

Rounds rotate the order. A monitor that sleeps while the pipe is full makes the loop wait on
its writes: edgemon's rate then falls far below the bare reader's.

    python benchmarks/probe_pipe_rate.py                   # 3 rounds of 8 s
    python benchmarks/probe_pipe_rate.py --compare-tree /tmp/edgemon-old --out benchmarks/results/probe_pipe_rate.txt
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import Report  # noqa: E402 - after the sys.path line

REPO = Path(__file__).resolve().parent.parent
PROBE_DIR = REPO / "runners" / "probe"

LOOP = """\
import sys, time
import edgemon_probe

seconds, out = float(sys.argv[1]), sys.argv[2]

def forever():
    while True:
        yield None

n = 0
t0 = time.perf_counter()
end = t0 + seconds
for _ in edgemon_probe.loop(forever()):
    n += 1
    if not n & 4095 and time.perf_counter() > end:
        break
with open(out, "w") as f:
    f.write(str(n / (time.perf_counter() - t0)))
"""


def _rate(path: Path) -> float | None:
    try:
        return float(path.read_text())
    except (OSError, ValueError):
        return None


def bare(loop: Path, seconds: float, tmp: Path) -> tuple[float | None, None]:
    r, w = os.pipe()
    out = tmp / "bare.rate"

    def drain() -> None:
        while os.read(r, 1 << 20):
            pass

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    env = {**os.environ, "PYTHONPATH": str(PROBE_DIR), "EDGEMON_FRAMES_FD": str(w)}
    subprocess.run([sys.executable, str(loop), str(seconds), str(out)], env=env, pass_fds=(w,), check=True)
    os.close(w)
    reader.join(10)
    os.close(r)
    return _rate(out), None


# `python -m edgemon` from another tree, with that tree's runners: an editable install of this
# checkout maps edgemon._runners (the frame reader among them) to this checkout's runners/.
TREE_MAIN = """\
import importlib.util, runpy, sys
tree = sys.argv.pop(1)
spec = importlib.util.spec_from_file_location("edgemon._runners", tree + "/runners/__init__.py",
                                              submodule_search_locations=[tree + "/runners"])
module = importlib.util.module_from_spec(spec)
sys.modules["edgemon._runners"] = module
spec.loader.exec_module(module)
sys.argv[0] = "edgemon"
runpy.run_module("edgemon", run_name="__main__", alter_sys=True)
"""


def under_edgemon(loop: Path, seconds: float, tmp: Path, tree: Path | None) -> tuple[float | None, float | None]:
    out = tmp / "edgemon.rate"
    env = dict(os.environ)
    argv = [sys.executable, "-m", "edgemon"]
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
        argv = [sys.executable, "-c", TREE_MAIN, str(tree)]
    p = subprocess.run([*argv, "run", "--headless", "--no-record",
                        "--duration", f"{seconds + 30:g}s", "--", sys.executable, str(loop), str(seconds), str(out)],
                       env=env, cwd=tree or REPO, capture_output=True, text=True, timeout=seconds + 120)
    cpu = None
    for line in p.stdout.splitlines():
        if line.startswith("edgemon CPU"):
            try:
                cpu = float(line.split()[2])
            except (IndexError, ValueError):
                pass
    if p.returncode != 0:
        print(f"  edgemon exited {p.returncode}: {p.stderr.strip()[-300:]}", file=sys.stderr)
    return _rate(out), cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=8.0, help="length of each loop (default: 8)")
    ap.add_argument("--compare-tree", type=Path, default=None, metavar="DIR",
                    help="also measure the edgemon in this source tree (before/after a change)")
    ap.add_argument("--out", type=Path, default=None, help="also write the report to this file")
    args = ap.parse_args()
    report = Report()
    report(f"# probe_pipe_rate: {platform.node()} {platform.machine()}, Python {platform.python_version()}, "
           f"{os.cpu_count()} CPUs; {args.rounds} rounds of {args.seconds:g} s")
    turns: list[tuple[str, Path | None]] = [("bare reader", None), ("edgemon", None)]
    if args.compare_tree is not None:
        turns.append((f"({args.compare_tree.name})", args.compare_tree.resolve()))
    rates: dict[str, list[float]] = {name: [] for name, _ in turns}
    cpus: dict[str, list[float]] = {name: [] for name, _ in turns}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        loop = tmp / "fast_loop.py"
        loop.write_text(LOOP)
        for rnd in range(args.rounds):
            order = turns[rnd % len(turns):] + turns[:rnd % len(turns)]
            for name, tree in order:
                if name == "bare reader":
                    rate, cpu = bare(loop, args.seconds, tmp)
                else:
                    rate, cpu = under_edgemon(loop, args.seconds, tmp, tree)
                cpu_text = "" if cpu is None else f", monitor {cpu:.1f} % of a core"
                report(f"round {rnd + 1}  {name:<16} {rate or 0:>12,.0f} it/s{cpu_text}")
                if rate:
                    rates[name].append(rate)
                if cpu is not None:
                    cpus[name].append(cpu)
    report("")
    report(f"{'':<16} {'median it/s':>12} {'of bare':>8} {'monitor CPU':>12}")
    base = statistics.median(rates["bare reader"]) if rates["bare reader"] else None
    for name, _ in turns:
        if not rates[name]:
            report(f"{name:<16} {'no result':>12}")
            continue
        med = statistics.median(rates[name])
        share = f"{100 * med / base:.0f} %" if base else "?"
        cpu = f"{statistics.median(cpus[name]):.1f} %" if cpus[name] else "-"
        report(f"{name:<16} {med:>12,.0f} {share:>8} {cpu:>12}")
    report.write(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
