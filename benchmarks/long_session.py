"""Peak memory of `analyze`, `report` and `replay` on a real recording, as a user runs them.

    .venv/bin/python benchmarks/long_session.py DIR [--replay-s 120] [--out FILE]

Each command runs as the CLI in a fresh process (``python -m edgemon ...``), and its peak RSS
and CPU come from the kernel's accounting of that child (``os.wait4``):

* ``edgemon analyze DIR --json``;
* ``edgemon report DIR --out <tmp>/report.html``;
* ``edgemon replay DIR`` in an 80x24 pseudo-terminal: after 3 s it seeks (``]`` one minute
  three times, ``end``, ``home``), jumps to the next throttling episode (``t``), opens the
  analysis screen (``a``), stays up ``--replay-s`` seconds (long enough for its background
  analysis of the whole recording to finish; the script waits at least as long as analyze took)
  and quits (``q``). The replay process' own peak comes from /proc (VmHWM) before it quits;
  ``wait4`` reports the larger of it and its analysis child's.

Made for issue 11's "3-hour path tried as a user would": run it on the recording of a real
`edgemon run --headless --duration 3h`. The machine may be shared: it prints the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import Report  # noqa: E402 - benchmarks/ is not a package


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _timed(cmd: list[str], stdout=subprocess.DEVNULL) -> dict:
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.PIPE, env=_env(), cwd=str(REPO))
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
    return {"rc": os.waitstatus_to_exitcode(status), "wall_s": wall, "maxrss_mb": ru.ru_maxrss / 1024,
            "cpu_s": ru.ru_utime + ru.ru_stime, "stderr": err[-2000:]}


def _replay(folder: Path, seconds: float) -> dict:
    import fcntl
    import pty
    import struct
    import termios

    t0 = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(str(REPO))
        os.environ.update(_env(), TERM="xterm-256color")
        os.execv(sys.executable, [sys.executable, "-m", "edgemon", "replay", str(folder)])
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    screen = bytearray()

    def pump(s: float) -> None:
        end = time.monotonic() + s
        while time.monotonic() < end:
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    return
                screen.extend(chunk)
                del screen[:-200_000]

    pump(3.0)
    first_output_s = time.perf_counter() - t0
    for key in (b"]", b"]", b"]", b"\x1b[F", b"\x1b[H", b"t", b"a"):   # ], ], ], end, home, t, a
        os.write(fd, key)
        pump(1.0)
    pump(max(0.0, seconds - 10.0))
    own_peak = _vm_hwm(pid)                     # the replay process alone (wait4 adds its children)
    os.write(fd, b"\x1b")                       # close the analysis screen
    pump(0.5)
    os.write(fd, b"q")
    pump(2.0)
    try:
        _, status, ru = os.wait4(pid, os.WNOHANG)
        if _ == 0:
            os.kill(pid, 15)
            _, status, ru = os.wait4(pid, 0)
    except ChildProcessError:
        return {"rc": None, "wall_s": time.perf_counter() - t0, "maxrss_mb": float("nan"), "cpu_s": float("nan")}
    text = screen.decode("utf-8", "replace")
    return {"rc": os.waitstatus_to_exitcode(status), "wall_s": time.perf_counter() - t0,
            "maxrss_mb": ru.ru_maxrss / 1024, "own_peak_mb": own_peak, "cpu_s": ru.ru_utime + ru.ru_stime,
            "first_output_s": first_output_s, "traceback": "Traceback" in text}


def _vm_hwm(pid: int) -> float:
    """Peak resident memory of one process so far (MB), from /proc (NaN when unreadable)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--replay-s", type=float, default=120.0, help="how long replay stays up (default: 120)")
    ap.add_argument("--out", type=Path, default=None, help="also write the report to FILE")
    args = ap.parse_args(argv)
    say = Report()

    folder = args.folder.resolve()
    meta = json.loads((folder / "session.json").read_text())
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    say(f"recording {folder}: {meta.get('argv')}, state {meta.get('state')}, {size / 2**30:.2f} GiB on disk; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="edgemon-long-") as tmp:
        out_json = Path(tmp) / "analysis.json"
        with open(out_json, "wb") as f:
            a = _timed([sys.executable, "-m", "edgemon", "analyze", str(folder), "--json"], stdout=f)
        result = json.loads(out_json.read_text()) if a["rc"] == 0 else {}
        lat = result.get("latency_ms") or {}
        th = result.get("throttling") or {}
        say(f"analyze: rc {a['rc']}, {a['wall_s']:.1f} s wall, {a['cpu_s']:.1f} s CPU, peak RSS {a['maxrss_mb']:.0f} MB")
        say(f"  {lat.get('count', 0):,} measured iterations ({result.get('warmup_iterations', 0):,} warm-up, "
            f"first inference {result.get('first_inference_ms')} ms) over {result.get('measured_s', 0):.0f} s, "
            f"{result.get('throughput_ips', 0):,.0f} items/s; p50 {lat.get('median')} p99 {lat.get('p99')} "
            f"max {lat.get('max')} ms")
        say(f"  {th.get('episode_count')} throttling episodes, share throttled {th.get('share_throttled_any')}, "
            f"first after {th.get('time_to_first_throttle_s')} s; problems: {result.get('problems')}")
        r = _timed([sys.executable, "-m", "edgemon", "report", str(folder), "--out", str(Path(tmp) / "report.html")])
        html = Path(tmp) / "report.html"
        say(f"report --out: rc {r['rc']}, {r['wall_s']:.1f} s wall, peak RSS {r['maxrss_mb']:.0f} MB, "
            f"{html.stat().st_size / 1e6 if html.exists() else 0:.1f} MB of HTML")
    rp = _replay(folder, max(args.replay_s, a["wall_s"] * 1.5 + 10))
    say(f"replay (80x24 pty, seeks, episode jump, analysis screen, {rp['wall_s']:.0f} s up): rc {rp['rc']}, "
        f"peak RSS of the replay process {rp.get('own_peak_mb', float('nan')):.0f} MB, with its analysis child "
        f"{rp['maxrss_mb']:.0f} MB (the larger of the two), {rp['cpu_s']:.1f} s CPU, "
        f"traceback on screen: {rp.get('traceback')}")
    say(f"load average {os.getloadavg()[0]:.1f} at the end")
    for d in (a, r):
        if d["rc"]:
            say("stderr: " + d["stderr"])
    say.write(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
