"""Screenshots of edgemon in a real browser (headless Chromium): `edgemon serve` on a live session,
and `edgemon report` with the figures of `edgemon plot`; and the plot figures themselves.

    python benchmarks/browser_views.py [--out benchmarks/results] [--seconds 45]

1. Records a session on an emulated Orin Nano that heats fast (EDGEMON_EMULATE_OPTS) with a
   schedule: a mark, a power-mode change and jetson_clocks; so the figures have throttling
   episodes, causes and events to show.
2. `edgemon plot` of it -> ``plot-<figure>.png``; `edgemon report` -> its HTML, and a
   screenshot of the report's figures in Chromium -> ``report_figures.png``.
3. Starts a detached session, `edgemon serve attach` on it, opens the page in Chromium,
   waits past the dashboard's terminal check, screenshots it -> ``serve_attach.png``, closes
   the tab and checks that the session is still running, detached, and the only one.

Prints what it did and checked; exit 1 when a check fails. Needs chromium, matplotlib and
textual-serve. Talks to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _fleet_tree  # noqa: E402 - after the sys.path lines above, which make it importable
from _localhost import dashboards, session_state, start_server, stop_server, wait_for  # noqa: E402 - the same
from _report import Report  # noqa: E402 - the same

PROFILE = """\
name = "browser views"
board = "orin-nano"
duration = "{seconds}s"

[workload]
runner = "numpy"
model = "mnist_1d"
warmup = "50"

[[schedule]]
at = "5s"
mark = "fan blocked"

[[schedule]]
at = "{mode_at}s"
power_mode = "15W"

[[schedule]]
at = "{clocks_at}s"
jetson_clocks = true
"""


def _edgemon(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    r = subprocess.run([sys.executable, "-m", "edgemon", *args], cwd=str(cwd), env=_fleet_tree.child_env(env),
                       capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"edgemon {' '.join(args)} failed ({r.returncode}):\n{r.stdout}{r.stderr}")
    return r.stdout


def figures_and_report(work: Path, out: Path, seconds: int, chromium, log) -> bool:
    profile = work / "views.toml"
    profile.write_text(PROFILE.format(seconds=seconds, mode_at=seconds // 2, clocks_at=seconds * 3 // 4))
    rec = work / "hot"
    _edgemon("run", "--profile", str(profile), "--emulate", "orin-nano", "--headless", "--record", str(rec),
             cwd=work, env={"EDGEMON_EMULATE_OPTS": "tau=10,trip=50,hyst=30,r=20,start=25"}, timeout=seconds + 300)
    log(f"recorded {seconds} s on an emulated Orin Nano: {rec}")
    summary = json.loads(_edgemon("analyze", str(rec), "--json", cwd=work))
    episodes = (summary.get("throttling") or {}).get("episodes") or []
    log(f"analysis: {len(episodes)} throttling episode(s), causes "
        f"{sorted({e['cause'] for e in episodes}) or 'none'}; events {summary.get('events')}")
    plotted = _edgemon("plot", str(rec), "--out", str(out / "plot.png"), cwd=work)
    log("edgemon plot: " + ", ".join(Path(line.split(None, 1)[1]).name for line in plotted.splitlines()))
    report = work / "report.html"
    _edgemon("report", str(rec), "--out", str(report), cwd=work)
    with chromium.Chromium(1280, 1500) as browser:
        tab = browser.open(report.as_uri())
        ok = wait_for(lambda: browser.evaluate(tab, "document.readyState") == "complete", 60)
        figures = browser.evaluate(tab, "document.querySelectorAll('figure.mpl svg').length")
        browser.evaluate(tab, "document.getElementById('figure-latency').scrollIntoView()")
        browser.screenshot(tab, out / "report_figures.png")
    log(f"report in Chromium: {figures} inline SVG figures, screenshot report_figures.png")
    return ok and figures == 5


def serve_attach(work: Path, out: Path, chromium, log) -> bool:
    from edgemon.tui.app import TERMINAL_CHECK_S

    folder = work / "recordings" / "live"
    _edgemon("run", "--detach", "--emulate", "orin-nano", "--duration", "10m", "--record", str(folder), cwd=work)
    server = None
    ok = True
    try:
        if not wait_for(lambda: session_state(folder) == "running", 60):
            raise RuntimeError("the detached session did not start")
        server, port = start_server(work, _fleet_tree.child_env(), "attach", str(folder))

        def tabs():
            return dashboards(server.pid, "attach", folder)

        with chromium.Chromium(1280, 820) as browser:
            tab = browser.open(f"http://127.0.0.1:{port}/")
            wait_for(tabs, 60)
            time.sleep(TERMINAL_CHECK_S * 2 + 2)
            alive = [p for p in tabs() if p.is_running()]
            ok &= len(alive) == 1
            log(f"served dashboard alive {TERMINAL_CHECK_S * 2 + 2:.0f} s after the page opened "
                f"(terminal check every {TERMINAL_CHECK_S:g} s): {'yes' if alive else 'NO'}")
            browser.screenshot(tab, out / "serve_attach.png")
            browser.close_tab(tab)
            gone = wait_for(lambda: not any(p.is_running() for p in alive), 60)
            ok &= gone
            log(f"tab closed: its dashboard process ended: {'yes' if gone else 'NO'}")
        running = session_state(folder) == "running"
        sessions = sorted(p.name for p in (work / "recordings").iterdir())
        ok &= running and sessions == ["live"]
        log(f"after the tab closed: session state {session_state(folder)!r}, session folders {sessions}")
    finally:
        if server is not None:
            stop_server(server)
        _edgemon("stop", str(folder), cwd=work)
    log(f"stopped: session state {session_state(folder)!r}")
    return ok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    ap.add_argument("--seconds", type=int, default=45, help="length of the recorded session (default: 45)")
    args = ap.parse_args(argv)
    import _chromium as chromium
    if chromium.find_browser() is None:
        print("needs chromium: apt-get install chromium", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    log = Report()
    with tempfile.TemporaryDirectory(prefix="edgemon-views-") as tmp:
        ok = figures_and_report(Path(tmp), args.out, args.seconds, chromium, log)
        ok &= serve_attach(Path(tmp), args.out, chromium, log)
    log("result: " + ("every check passed" if ok else "A CHECK FAILED"))
    log.write(args.out / "browser_views.txt")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
