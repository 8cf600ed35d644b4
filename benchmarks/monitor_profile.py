"""Where the monitor's CPU goes: per source, per thread, and (with py-spy) per function.

Three parts, each on the default workload (numpy runner, mnist_1d):

  sources    every telemetry source read the way the sampler reads it (one read per 100 ms,
             so caches are as cold as in a real session): CPU microseconds per read;
  headless   `edgemon run --headless`: the CPU of each thread of the session process
             (the kernel's per-thread run time, /proc/PID/task/TID/schedstat, nanoseconds);
  dashboard  `edgemon run` in a pseudo-terminal: the dashboard process and its session
             process, thread by thread.

Thread names come from `py-spy dump` when py-spy is installed (`pip install py-spy`, root or
ptrace rights needed); without it threads are listed by id. --py-spy-seconds N also records
N seconds of each process with `py-spy record --nonblocking` and lists the functions that
most samples were in. py-spy cannot tell a thread blocked in the kernel from a working one:
stacks that end in a wait are left out, but a blocking call made from a Python line that also
works (the recorder's fsync after its write) still counts; the per-thread kernel figures are
the measure of CPU, py-spy only says where inside a thread. --tree DIR profiles the edgemon in another source
tree (an older commit) instead of this one.

    python benchmarks/monitor_profile.py
    python benchmarks/monitor_profile.py --seconds 60 --size 120x40 --py-spy-seconds 30
    python benchmarks/monitor_profile.py --only sources,headless --tree /tmp/edgemon-old
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from monitor_cost import EDGEMON, SETTLE_S, Pty, is_session_process, size_of, stop_pid  # noqa: E402 - benchmarks/ is put on sys.path just above

# A stack whose innermost frame is one of these is a thread waiting, not working (py-spy sees
# no frame for a C call, so a thread blocked in sleep or read shows the Python frame around it).
_WAITING = re.compile(r"(\.wait |\bwait \(|select \(|poll \(|sleep \(|_sleep_until|_read_exact|\bread \(|readinto"
                      r"|recv|accept|FrameReader\.__iter__|Queue\.get|_try_wait|Popen\._wait"
                      r"|_run_once \(asyncio/base_events\.py:\d+\)$)")


def thread_names(pid: int) -> dict[int, str]:
    spy = shutil.which("py-spy")
    if not spy:
        return {}
    out = subprocess.run([spy, "dump", "--nonblocking", "--pid", str(pid)], capture_output=True, text=True,
                         check=False).stdout
    return {int(m.group(1), 0): m.group(2) for m in re.finditer(r'Thread (\S+) \(\w+\): "([^"]+)"', out)}


def thread_cpu_ns(pid: int) -> dict[int, int]:
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                out[int(tid)] = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return out


def per_thread(procs: dict[str, int], seconds: float, spy_seconds: float, tmp: Path) -> None:
    """Print each process's threads by CPU over the same ``seconds``; optionally a py-spy summary."""
    names = {label: thread_names(pid) for label, pid in procs.items()}
    before = {label: thread_cpu_ns(pid) for label, pid in procs.items()}
    spies = []
    spy = shutil.which("py-spy")
    if spy_seconds > 0 and spy:
        for label, pid in procs.items():
            out = tmp / f"{label}.txt"
            spies.append((label, out, subprocess.Popen(
                [spy, "record", "--nonblocking", "--threads", "--format", "raw", "--rate", "200",
                 "--duration", str(int(spy_seconds)), "--pid", str(pid), "--output", str(out)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)))
    t0 = time.monotonic()
    time.sleep(seconds)
    wall = time.monotonic() - t0
    for label, pid in procs.items():
        after = thread_cpu_ns(pid)
        names[label].update(thread_names(pid))
        rows = sorted(((after[t] - before[label].get(t, 0), t) for t in after), reverse=True)
        total = sum(d for d, _ in rows)
        print(f"\n{label} (pid {pid}): {100 * total / 1e9 / wall:.3f} % of one core over {wall:.0f} s")
        for d, tid in rows:
            if d > 0:
                print(f"  {names[label].get(tid, f'thread {tid}'):<30} {100 * d / 1e9 / wall:7.3f} %")
    for label, out, proc in spies:
        try:
            proc.wait(spy_seconds + 60)
        except subprocess.TimeoutExpired:
            proc.kill()
        if out.exists():
            summarise_spy(label, out)
    if spy_seconds > 0 and not spy:
        print("\n(py-spy not installed: no function profile; pip install py-spy)")


# Where a working sample is, by the first of these its stack contains (innermost-first order of
# concerns: a panel's text is part of a poll, a line's strip part of Textual's repaint).
CATEGORIES = (
    ("dashboard: panels' text (render_panel, line diff)", r"Panel\.show|render_panel"),
    ("dashboard: model (histograms, rings)", r"DashboardModel\."),
    ("dashboard: poll, other (feed drain, status)", r"DashboardApp\.poll"),
    ("dashboard: a line to a Textual strip", r"Panel\.render_line"),
    ("dashboard: ANSI output to the terminal", r"App\._display|WriterThread"),
    ("dashboard: Textual repaint (compositor, borders)", r"_compositor_refresh"),
    ("dashboard: control-socket reader", r"RemoteFeed\._read_loop"),
    ("sampler: sources", r"Source\.read|\.read \(edgemon/telemetry/"),
    ("sampler: tick, hand-over", r"Sampler\."),
    ("recorder (Arrow IPC, fsync)", r"Recorder\."),
    ("worker pipe (read, decode, deliver)", r"Worker\.|FrameReader"),
    ("control-socket fan-out", r"SessionServer\.|_Client\."),
    ("headless loop (model, status)", r"run_headless|_apply"),
)


def summarise_spy(label: str, path: Path, top: int = 25) -> None:
    """Share of the non-waiting samples per category and per function, from py-spy's raw output."""
    inclusive: collections.Counter[str] = collections.Counter()
    by_category: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if len(frames) < 2 or _WAITING.search(frames[-1]):
            continue
        n = int(count)
        total += n
        for frame in {re.sub(r":\d+\)", ")", f) for f in frames[1:]}:
            inclusive[frame] += n
        by_category[next((name for name, pattern in CATEGORIES if re.search(pattern, stack)), "other")] += n
    print(f"\n{label}: py-spy, {total} samples in working (not waiting) stacks; by part")
    for name, n in by_category.most_common():
        print(f"  {100 * n / max(total, 1):5.1f} %  {name}")
    print("by function (inclusive)")
    shown = 0
    for frame, n in inclusive.most_common():
        if re.match(r"(_run_module_as_main|_run_code|<module>|Thread\._bootstrap|Thread\.run|run \(asyncio)", frame):
            continue
        print(f"  {100 * n / max(total, 1):5.1f} %  {frame}")
        shown += 1
        if shown >= top:
            break


def part_sources(args) -> None:
    """Every source as the sampler reads it: once per 100 ms, CPU per read (this thread's clock)."""
    from edgemon.platform.detect import detect
    from edgemon.telemetry.base import SourceContext
    from edgemon.telemetry.registry import build_sources

    workload = subprocess.Popen(workload_argv(args), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    try:
        ctx = SourceContext(root=Path("/"), sample_hz=args.hz)
        ctx.worker_pid = workload.pid
        sources, _statuses = build_sources(ctx, detect(Path("/")))
        for src in sources:
            src.read()
        cost = dict.fromkeys((s.name for s in sources), 0)
        reads = int(args.source_reads)
        for _ in range(reads):
            time.sleep(1.0 / args.hz)
            for src in sources:
                t = time.thread_time_ns()
                src.read()
                cost[src.name] += time.thread_time_ns() - t
        print(f"sources: CPU per read, {reads} reads each at {args.hz:g} Hz (cold, as in a session)")
        for name, ns in sorted(cost.items(), key=lambda kv: -kv[1]):
            print(f"  {name:<14} {ns / reads / 1000:8.1f} us   = {ns / reads * args.hz / 1e7:6.3f} % of one core at "
                  f"{args.hz:g} Hz")
        print(f"  {'all':<14} {sum(cost.values()) / reads / 1000:8.1f} us   = "
              f"{sum(cost.values()) / reads * args.hz / 1e7:6.3f} %")
        for src in sources:
            src.close()
    finally:
        workload.stdin.close()
        workload.wait(30)


def workload_argv(args) -> list[str]:
    """The default workload, run on its own (stdin closed = stop)."""
    tree = args.tree or HERE.parent
    return [sys.executable, str(tree / "runners" / "numpy_runner.py"), "--model", "mnist_1d", "--batch", "1"]


def part_headless(args, tmp: Path) -> None:
    rec = tmp / "headless"
    p = subprocess.Popen([*EDGEMON, "run", "--headless", "--sample-hz", str(args.hz), "--record", str(rec),
                          "--status-every", "1h"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         env=args.env, cwd=args.tree)
    try:
        time.sleep(SETTLE_S)
        per_thread({"headless session": p.pid}, args.seconds, args.py_spy_seconds, tmp)
    finally:
        stop_pid(p.pid, 30.0)
        p.wait()


def part_dashboard(args, tmp: Path) -> None:
    cols, rows = size_of(args.size)
    term = Pty([*EDGEMON, "run", "--sample-hz", str(args.hz), "--record", str(tmp / "dashboard")], cols, rows,
               env=None if args.tree is None else {"PYTHONPATH": str(args.tree)}, cwd=args.tree)
    try:
        dash = psutil.Process(term.pid)
        session = None
        deadline = time.monotonic() + 60
        while session is None and time.monotonic() < deadline:
            session = next((c for c in dash.children(recursive=True) if is_session_process(c)), None)
            time.sleep(0.2)
        if session is None:
            raise SystemExit("the dashboard's session process did not start")
        time.sleep(SETTLE_S)
        per_thread({f"dashboard {args.size}": term.pid, "its session process": session.pid},
                   args.seconds, args.py_spy_seconds, tmp)
    finally:
        term.send(b"q")
        time.sleep(1.0)
        term.send(b"s")
        time.sleep(5.0)
        term.stop(10.0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=30.0, help="per-thread window (default 30)")
    ap.add_argument("--hz", type=float, default=10.0)
    ap.add_argument("--size", default="80x24", help="dashboard terminal COLSxROWS (default 80x24)")
    ap.add_argument("--source-reads", type=int, default=200, help="reads per source (default 200)")
    ap.add_argument("--py-spy-seconds", type=float, default=0.0, help="also record this long with py-spy")
    ap.add_argument("--only", default="sources,headless,dashboard")
    ap.add_argument("--tree", type=Path, default=None, help="profile the edgemon in this source tree")
    args = ap.parse_args()
    args.only = {s.strip() for s in args.only.split(",")}
    args.env = None
    if args.tree is not None:
        args.tree = args.tree.resolve()
        sys.path.insert(0, str(args.tree))
        args.env = {**os.environ, "PYTHONPATH": str(args.tree)}
    import edgemon

    print(f"edgemon from {Path(edgemon.__file__).parent}; {os.cpu_count()} cores, python {sys.version.split()[0]}, "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="edgemon-profile-") as name:
        tmp = Path(name)
        if "sources" in args.only:
            part_sources(args)
        if "headless" in args.only:
            part_headless(args, tmp)
        if "dashboard" in args.only:
            part_dashboard(args, tmp)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
