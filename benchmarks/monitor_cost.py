#!/usr/bin/env python3
"""What edgemon's monitor costs while it measures, next to btop in the same run.

Every measurement runs the default workload (the numpy runner, mnist_1d, batch 1) and
takes the CPU time of one process over --seconds, as % of one core (user + system, from
/proc/PID/stat; the workload is never counted). One round measures, one after another:

  btop WxH       btop in a pseudo-terminal of that size at its default refresh (a fresh
                 config: update_ms 2000), the workload started beside it on its own;
  headless       `edgemon run --headless` (sampling at --hz, recording on): the session
                 process, whose child is the workload;
  dashboard WxH  `edgemon run` in a pseudo-terminal of that size (redraw at the default
                 2 Hz): the dashboard process and the session process it attaches to;
  textual WxH    benchmarks/textual_floor.py in a pseudo-terminal of that size: a bare app
                 of the dashboard's Textual, redrawing one line at 2 Hz, the workload beside
                 it (the floor under any Textual dashboard at that rate: what is Textual's
                 and what is edgemon's in the dashboard's figure).

Rounds repeat (--rounds) and each starts at a different point of the list, so that
load from other work on the machine falls on edgemon and btop alike; the summary gives
the range over rounds. --compare-tree DIR adds the headless and dashboard turns of the
edgemon in another source tree (e.g. an older commit, `git archive REV | tar -x -C DIR`),
labelled "(DIR name)", to each round. btop comes from the distribution (`apt-get install btop`); a
missing btop is reported, not guessed. glances (`pip install glances`), where installed,
is measured once per round for scale. Memory: each process's RSS at the end of its turn.

    python benchmarks/monitor_cost.py                        # 3 rounds of 60 s turns
    python benchmarks/monitor_cost.py --rounds 5 --seconds 90 --sizes 80x24,120x40
    python benchmarks/monitor_cost.py --only headless,btop   # skip the dashboard turns
    python benchmarks/monitor_cost.py --compare-tree /tmp/edgemon-old   # before/after a change
    python benchmarks/monitor_cost.py --only btop,headless --also-hz 2   # and headless at 2 Hz, for scale
    python benchmarks/monitor_cost.py --only btop,dashboard,textual --sizes 80x24
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import re
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
EDGEMON = [sys.executable, "-m", "edgemon"]
WORKLOAD = [sys.executable, str(ROOT / "runners" / "numpy_runner.py"), "--model", "mnist_1d", "--batch", "1"]
TEXTUAL_FLOOR = [sys.executable, str(ROOT / "benchmarks" / "textual_floor.py"), "--lines", "1", "--hz", "2"]
SETTLE_S = 6.0          # start-up (imports, first layout) is not the steady state measured


@dataclass
class Turn:
    """One process measured for one turn."""

    name: str
    round: int
    cpu_pct: float
    rss_mb: float
    terminal_kib_s: float | None = None


@dataclass
class Results:
    turns: list[Turn] = field(default_factory=list)

    def add(self, *turns: Turn) -> None:
        for t in turns:
            self.turns.append(t)
            extra = f", terminal {t.terminal_kib_s:.1f} KiB/s" if t.terminal_kib_s is not None else ""
            print(f"  round {t.round}: {t.name:<34} {t.cpu_pct:6.2f} % of one core, RSS {t.rss_mb:6.1f} MB{extra}",
                  flush=True)

    def by_name(self) -> dict[str, list[Turn]]:
        out: dict[str, list[Turn]] = {}
        for t in self.turns:
            out.setdefault(t.name, []).append(t)
        return out

    def cpu(self, name: str) -> dict[int, float]:
        return {t.round: t.cpu_pct for t in self.turns if t.name == name}


# ---------------------------------------------------------------------------- measuring

def cpu_seconds(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return t.user + t.system


def measure(procs: dict[str, psutil.Process], seconds: float) -> dict[str, tuple[float, float]]:
    """``{name: (CPU % of one core, RSS MB at the end)}`` for each process over the same window."""
    c0 = {k: cpu_seconds(p) for k, p in procs.items()}
    t0 = time.monotonic()
    time.sleep(seconds)
    wall = time.monotonic() - t0
    out = {}
    for k, p in procs.items():
        if not _alive(p):      # a dead process reads 0 % and must not pass for a cheap one
            raise SystemExit(f"{k} (pid {p.pid}) ended during its turn: its figure would be meaningless")
        out[k] = (100.0 * (cpu_seconds(p) - c0[k]) / wall, p.memory_info().rss / 2**20)
    return out


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


class Pty:
    """A child in a pseudo-terminal of a given size, with a reader that takes everything it writes."""

    def __init__(self, argv: list[str], cols: int, rows: int, env: dict[str, str] | None = None,
                 cwd: Path | None = None):
        pid, fd = pty.fork()
        if pid == 0:   # the child: the terminal has its size before the program starts
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
            os.environ["TERM"] = "xterm-256color"
            os.environ.update(env or {})
            if cwd is not None:
                os.chdir(cwd)
            try:
                os.execvp(argv[0], argv)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        self.received = 0
        self._since = time.monotonic()
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        while True:
            try:
                data = os.read(self.fd, 65536)
            except OSError:
                return
            if not data:
                return
            self.received += len(data)

    def rate_reset(self) -> None:
        self.received, self._since = 0, time.monotonic()

    def kib_per_s(self) -> float:
        return self.received / 1024 / max(1e-9, time.monotonic() - self._since)

    def send(self, data: bytes) -> None:
        try:
            os.write(self.fd, data)
        except OSError:
            pass

    def stop(self, wait_s: float = 15.0) -> None:
        stop_pid(self.pid, wait_s)
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass
        try:
            os.close(self.fd)
        except OSError:
            pass


def stop_pid(pid: int, wait_s: float = 15.0, sig: int = signal.SIGINT) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return
        except psutil.NoSuchProcess:
            return
        time.sleep(0.2)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def size_of(text: str) -> tuple[int, int]:
    cols, rows = (int(x) for x in text.lower().split("x"))
    return cols, rows


# ---------------------------------------------------------------------------- the turns

def turn_btop(args, rnd: int, size: str, tmp: Path) -> list[Turn]:
    home = tmp / f"btop-home-{rnd}-{size}"
    home.mkdir()
    try:
        return turn_beside_workload(f"btop {size}", [args.btop], size, rnd, args.seconds,
                                    {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")})
    finally:
        note_btop_refresh(home)


def turn_textual(args, rnd: int, size: str) -> list[Turn]:
    """A bare Textual app redrawing one line at the dashboard's 2 Hz (benchmarks/textual_floor.py)."""
    return turn_beside_workload(f"textual floor {size}", TEXTUAL_FLOOR, size, rnd, args.seconds)


def turn_beside_workload(name: str, argv: list[str], size: str, rnd: int, seconds: float,
                         env: dict[str, str] | None = None) -> list[Turn]:
    """``argv`` in a pseudo-terminal of ``size`` (quit with q), the workload started beside it on its own."""
    cols, rows = size_of(size)
    workload = subprocess.Popen(WORKLOAD, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
    term = Pty(argv, cols, rows, env=env)
    try:
        time.sleep(SETTLE_S)
        term.rate_reset()
        (cpu, rss), = measure({name: psutil.Process(term.pid)}, seconds).values()
        return [Turn(name, rnd, cpu, rss, term.kib_per_s())]
    finally:
        term.send(b"q")
        time.sleep(1.0)
        term.stop(5.0)
        workload.stdin.close()      # EOF on stdin: the runner stops
        try:
            workload.wait(15)
        except subprocess.TimeoutExpired:
            workload.kill()
            workload.wait()


_BTOP_REFRESH: set[str] = set()


def note_btop_refresh(home: Path) -> None:
    """Keep update_ms from the config btop wrote: the refresh really measured."""
    conf = home / ".config" / "btop" / "btop.conf"
    try:
        m = re.search(r"^update_ms\s*=\s*(\d+)", conf.read_text(), re.M)
    except OSError:
        return
    if m:
        _BTOP_REFRESH.add(m.group(1))


def tree_env(tree: Path | None) -> tuple[dict[str, str] | None, str]:
    """Environment and label suffix that make ``python -m edgemon`` the one in ``tree``."""
    if tree is None:
        return None, ""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(tree)
    return env, f" ({tree.name})"


def turn_headless(args, rnd: int, tmp: Path, tree: Path | None = None, hz: float | None = None) -> list[Turn]:
    """``hz``: a rate other than ``--hz`` (an --also-hz turn, labelled with its rate)."""
    env, label = tree_env(tree)
    if hz is not None:
        label += " " + _at_rate(hz)
    rec = tmp / f"headless-{rnd}{label.strip(' ()').replace(' ', '-')}"
    p = subprocess.Popen([*EDGEMON, "run", "--headless", "--sample-hz", str(hz or args.hz), "--record", str(rec),
                          "--status-every", "1h"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         env=env, cwd=tree)
    try:
        time.sleep(SETTLE_S)
        (cpu, rss), = measure({"headless": psutil.Process(p.pid)}, args.seconds).values()
        return [Turn("edgemon headless" + label, rnd, cpu, rss)]
    finally:
        stop_pid(p.pid, 30.0)
        p.wait()
        shutil.rmtree(rec, ignore_errors=True)


def is_session_process(proc: psutil.Process) -> bool:
    """The detached session's process (``python -m edgemon.<...>daemon<...> --config``)."""
    try:
        return any(part.startswith("edgemon.") and "daemon" in part for part in proc.cmdline())
    except psutil.Error:
        return False


def turn_dashboard(args, rnd: int, size: str, tmp: Path, tree: Path | None = None) -> list[Turn]:
    cols, rows = size_of(size)
    _env, label = tree_env(tree)
    rec = tmp / f"dashboard-{rnd}-{size}{label.strip(' ()')}"
    term = Pty([*EDGEMON, "run", "--sample-hz", str(args.hz), "--record", str(rec)], cols, rows,
               env=None if tree is None else {"PYTHONPATH": str(tree)}, cwd=tree)
    try:
        dash = psutil.Process(term.pid)
        session = None
        deadline = time.monotonic() + 60
        while session is None and time.monotonic() < deadline:   # the detached session process
            session = next((c for c in dash.children(recursive=True) if is_session_process(c)), None)
            time.sleep(0.2)
        if session is None:
            raise SystemExit("the dashboard's session process did not start")
        time.sleep(SETTLE_S)
        term.rate_reset()
        m = measure({"dash": dash, "session": session}, args.seconds)
        kib = term.kib_per_s()
        return [Turn(f"dashboard {size}{label}", rnd, m["dash"][0], m["dash"][1], kib),
                Turn(f"  its session process {size}{label}", rnd, m["session"][0], m["session"][1]),
                Turn(f"dashboard + session {size}{label}", rnd, m["dash"][0] + m["session"][0],
                     m["dash"][1] + m["session"][1])]
    finally:
        term.send(b"q")
        time.sleep(1.0)
        term.send(b"s")      # the quit dialog: stop the session (d would detach)
        deadline = time.monotonic() + 30
        while psutil.pid_exists(term.pid) and time.monotonic() < deadline:
            try:
                if psutil.Process(term.pid).status() == psutil.STATUS_ZOMBIE:
                    break
            except psutil.NoSuchProcess:
                break
            time.sleep(0.2)
        term.stop(10.0)
        shutil.rmtree(rec, ignore_errors=True)


def turn_glances(args, rnd: int) -> list[Turn]:
    exe = shutil.which("glances")
    if not exe:
        return []
    p = subprocess.Popen([exe, "--stdout", "cpu.total,mem.used,load", "-t", str(1.0 / args.hz)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(SETTLE_S)
        (cpu, rss), = measure({"glances": psutil.Process(p.pid)}, args.seconds).values()
        return [Turn("glances --stdout", rnd, cpu, rss)]
    finally:
        stop_pid(p.pid)
        p.wait()


def help_time() -> float:
    best = float("inf")
    for _ in range(10):
        t = time.perf_counter()
        subprocess.run([*EDGEMON, "--help"], stdout=subprocess.DEVNULL, check=True)
        best = min(best, time.perf_counter() - t)
    return best


# ---------------------------------------------------------------------------- summary

def span(values: list[float]) -> str:
    return f"{min(values):.2f}-{max(values):.2f}" if len(values) > 1 else f"{values[0]:.2f}"


def summary(res: Results, args) -> None:
    print(f"\nsummary over {args.rounds} round(s) of {args.seconds:g} s turns "
          f"(CPU % of one core: range, median; RSS at the end of the turn)")
    for name, turns in res.by_name().items():
        cpus = [t.cpu_pct for t in turns]
        rss = [t.rss_mb for t in turns]
        print(f"  {name:<34} {span(cpus):>12} %  median {statistics.median(cpus):5.2f} %   "
              f"RSS {min(rss):.0f}-{max(rss):.0f} MB")
    floor_lines = []
    for size in args.sizes:
        floor = res.cpu(f"textual floor {size}")
        dash = res.cpu(f"dashboard {size}")
        above = [dash[r] - floor[r] for r in dash if r in floor]
        if above:
            floor_lines.append(f"  dashboard {size:<8} above the textual floor {span(above):>12} % of one core")
    if floor_lines:
        print("\nthe dashboard process against Textual's floor of the same round (edgemon's own share):")
        print("\n".join(floor_lines))
    btop = {size: res.cpu(f"btop {size}") for size in args.sizes}
    if not any(btop.values()):
        return
    print("\nedgemon against btop of the same round (the ratio per round, then its range):")
    checks = [("edgemon headless", size, 1.0) for size in args.sizes if "headless" in args.only]
    checks += [(f"dashboard + session {size}", size, 3.0) for size in args.sizes if "dashboard" in args.only]
    for name, size, limit in checks:
        ours = res.cpu(name)
        ratios = [ours[r] / btop[size][r] for r in ours if btop[size].get(r)]
        if not ratios:
            continue
        over = sum(r > limit for r in ratios)
        verdict = "within it in every round" if not over else f"OVER it in {over} of {len(ratios)} rounds"
        print(f"  {name:<30} / btop {size:<8} {span(ratios):>10} x   target <= {limit:g}x: {verdict}")
    for size in args.sizes:           # Textual's floor: for scale, and what of the dashboard is Textual's
        floor = res.cpu(f"textual floor {size}")
        ratios = [floor[r] / btop[size][r] for r in floor if btop[size].get(r)]
        if ratios:
            print(f"  {'textual floor ' + size:<30} / btop {size:<8} {span(ratios):>10} x   (for scale)")
    for hz in args.also_hz:           # for scale: no target applies to another rate
        name = f"edgemon headless {_at_rate(hz)}"
        ours = res.cpu(name)
        for size in args.sizes:
            ratios = [ours[r] / btop[size][r] for r in ours if btop[size].get(r)]
            if ratios:
                print(f"  {name:<30} / btop {size:<8} {span(ratios):>10} x   (for scale)")


def _at_rate(hz: float) -> str:
    """How a headless turn at another sample rate is labelled."""
    return f"at {hz:g} Hz"


def _turn_name(kind: str, arg, tree: Path | None) -> str:
    if kind == "headless" and arg is not None:
        arg = _at_rate(arg)
    return " ".join(str(x) for x in (kind, arg, tree and tree.name) if x)


def _rates(text: str) -> list[float]:
    """``--also-hz``: comma-separated positive sample rates."""
    try:
        rates = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of rates: {text!r} (for example 2 or 1,2)") from None
    if any(not r > 0 for r in rates):
        raise argparse.ArgumentTypeError(f"rates must be above 0: {text!r}")
    return rates


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60, help="length of one turn (default 60)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of every turn (default 3)")
    ap.add_argument("--hz", type=float, default=10, help="edgemon's sample rate (default 10, the default)")
    ap.add_argument("--also-hz", type=_rates, default=[], metavar="LIST",
                    help="also run headless turns at these sample rates, e.g. 2 (for scale; default: none)")
    ap.add_argument("--sizes", default="80x24,120x40", help="terminal sizes COLSxROWS (default 80x24,120x40)")
    ap.add_argument("--only", default="btop,headless,dashboard,textual,glances",
                    help="comma-separated turns to run (default: all)")
    ap.add_argument("--btop", default=shutil.which("btop") or "btop", help="btop executable")
    ap.add_argument("--compare-tree", type=Path, default=None, metavar="DIR",
                    help="also measure the edgemon in this source tree (before/after a change)")
    args = ap.parse_args()
    args.sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    args.only = {s.strip() for s in args.only.split(",")}
    have_btop = shutil.which(args.btop) is not None
    btop_version = ""
    if have_btop:
        btop_version = subprocess.run([args.btop, "--version"], capture_output=True, text=True).stdout.strip()
    print(f"machine: {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, "
          f"python {sys.version.split()[0]}; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{args.rounds} round(s) of {args.seconds:g} s turns; edgemon samples at {args.hz:g} Hz; "
          f"{btop_version or 'btop: not installed (apt-get install btop)'}")
    turns = []
    for size in args.sizes:
        if "btop" in args.only and have_btop:
            turns.append(("btop", size, None))
    trees = [None] + ([args.compare_tree.resolve()] if args.compare_tree else [])
    if "headless" in args.only:
        for tree in reversed(trees):
            turns.insert(1 if turns else 0, ("headless", None, tree))
        for hz in args.also_hz:
            turns.insert(2 if len(turns) > 1 else len(turns), ("headless", hz, None))
    for size in args.sizes:
        if "dashboard" in args.only:
            turns += [("dashboard", size, tree) for tree in trees]
        if "textual" in args.only:
            turns.append(("textual", size, None))
    if "glances" in args.only and shutil.which("glances"):
        turns.append(("glances", None, None))
    res = Results()
    with tempfile.TemporaryDirectory(prefix="edgemon-monitor-cost-") as tmp_name:
        tmp = Path(tmp_name)
        for rnd in range(1, args.rounds + 1):
            k = (rnd - 1) % len(turns)
            order = turns[k:] + turns[:k]     # each round starts elsewhere: load falls on all alike
            names = ", ".join(_turn_name(kind, arg, tree) for kind, arg, tree in order)
            print(f"round {rnd}: {names}", flush=True)
            for kind, arg, tree in order:     # arg: the terminal size, or a headless turn's other rate
                if kind == "btop":
                    res.add(*turn_btop(args, rnd, arg, tmp))
                elif kind == "headless":
                    res.add(*turn_headless(args, rnd, tmp, tree, arg))
                elif kind == "dashboard":
                    res.add(*turn_dashboard(args, rnd, arg, tmp, tree))
                elif kind == "textual":
                    res.add(*turn_textual(args, rnd, arg))
                else:
                    res.add(*turn_glances(args, rnd))
    if _BTOP_REFRESH:
        print(f"btop's refresh (update_ms in the config it wrote): {', '.join(sorted(_BTOP_REFRESH))} ms")
    summary(res, args)
    print(f"\nload average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"`edgemon --help`: {help_time() * 1000:.0f} ms (best of 10)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
