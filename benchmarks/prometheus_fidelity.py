"""A real Prometheus server scrapes real sessions; its answers are compared with the recordings.

    python benchmarks/prometheus_fidelity.py [--seconds 60] [--scrape 5s] [--out FILE]

Two sessions on an emulated Orin Nano (so that power rails exist), one after the other, each
with ``--prometheus`` on 127.0.0.1: the default model (tens of microseconds) and a numpy
matmul sized to take about 100 ms. A Prometheus server (``prometheus`` on PATH: Debian's
package, or the release tarball) scrapes them every ``--scrape``. Once a session has ended,
its recording is read and compared with what Prometheus answers at its last scrape:

* ``histogram_quantile(q, sum by (le) (edgemon_latency_seconds_bucket))`` for p50 and p90
  against the exact quantiles of the same iterations (those that ended before that scrape);
* ``edgemon_energy_joules_total`` against the trapezoid of the recording's ``power_total_mw``
  up to that scrape, and what averaging the power gauge over the scrapes would have said.

Prints a table (and writes it to ``--out``); exit 1 when a quantile is 15 % off or more.
Talks to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _fleet_tree  # noqa: E402 - after the sys.path lines above, which make it importable
from _localhost import free_port, wait_for  # noqa: E402 - the same
from _report import Report  # noqa: E402 - the same
SESSIONS = (
    ("default model", []),
    ("numpy matmul 1000", ["--runner", "numpy", "--model", "matmul", "--opt", "size=1000", "--threads", "1"]),
)


def _query(prom: int, expr: str, at: float | None = None) -> list[dict]:
    params = {"query": expr}
    if at is not None:
        params["time"] = f"{at:.3f}"
    url = f"http://127.0.0.1:{prom}/api/v1/query?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url, timeout=30) as r:
        body = json.loads(r.read())
    if body.get("status") != "success":
        raise RuntimeError(f"{expr}: {body}")
    return body["data"]["result"]


def _ready(prom: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{prom}/-/ready", timeout=2):
            return True
    except OSError:
        return False


def _scalar(prom: int, expr: str, at: float) -> float | None:
    got = _query(prom, expr, at)
    return float(got[0]["value"][1]) if got else None


def run_session(work: Path, prom: int, name: str, extra: list[str], seconds: int, scrape_s: float,
                targets: Path) -> dict:
    """One session scraped by the running Prometheus; the comparison once it has ended."""
    from edgemon.recording.reader import open_recording

    port = free_port()
    folder = work / name.replace(" ", "_").replace("~", "")
    targets.write_text(json.dumps([{"targets": [f"127.0.0.1:{port}"], "labels": {"run": name}}]))
    argv = [sys.executable, "-m", "edgemon", "run", "--emulate", "orin-nano", "--headless", "--duration",
            f"{seconds}s", "--prometheus", f"127.0.0.1:{port}", "--record", str(folder), *extra]
    proc = subprocess.run(argv, cwd=str(work), env=_fleet_tree.child_env(), capture_output=True, text=True,
                          timeout=seconds + 300)
    if proc.returncode != 0:
        raise RuntimeError(f"{name}: edgemon run failed:\n{proc.stdout}{proc.stderr}")
    time.sleep(scrape_s * 2)          # let Prometheus see the target go down
    sel = f'{{run="{name}"}}'
    # the raw samples of one series: when the last scrape was (the series is stale now)
    raw = _query(prom, f"edgemon_items_total{sel}[1h]", time.time())
    if not raw or not raw[0]["values"]:
        raise RuntimeError(f"{name}: Prometheus never scraped the session")
    last = float(raw[0]["values"][-1][0])
    scrapes = len(raw[0]["values"])
    rec = open_recording(folder)
    clock = rec.meta["clock"]
    last_mono = clock["monotonic_ns"] + int((last * 1e9) - clock["unix_ns"])
    lat = rec.latency()
    t_end = lat.column("t_end_ns").to_numpy()
    warm = np.asarray(lat.column("warmup").to_numpy(zero_copy_only=False), dtype=bool)
    dur = lat.column("duration_ns").to_numpy()
    # the iterations the last scrape had seen (the exporter counts a batch when it arrives: ~0.1 s later)
    seen = ~warm & (t_end <= last_mono)
    counted = _scalar(prom, f"sum(edgemon_latency_seconds_count{sel})", last)
    d = np.sort(dur[seen].astype(np.float64)) / 1e9
    row = {"name": name, "scrapes": int(scrapes or 0), "iterations_recorded": int(seen.sum()),
           "iterations_prometheus": int(counted or 0), "quantiles": []}
    for q in (0.5, 0.9):
        est = _scalar(prom, f"histogram_quantile({q}, sum by (le) (edgemon_latency_seconds_bucket{sel}))", last)
        exact = float(np.percentile(d, q * 100))
        row["quantiles"].append((q, est, exact, est / exact - 1))
    tel = rec.telemetry()
    t = tel.column("t_ns").to_numpy()
    p = np.asarray(tel.column("power_total_mw").to_numpy(zero_copy_only=False), dtype=np.float64)
    ok = np.isfinite(p) & (t <= last_mono)
    exact_j = float(np.trapezoid(p[ok], t[ok] / 1e9)) / 1000.0
    counter_j = _scalar(prom, f"sum(edgemon_energy_joules_total{sel})", last)
    avg_w = _scalar(prom, f"avg_over_time(edgemon_power_total_watts{sel}[1h])", last)
    span_s = (t[ok][-1] - t[ok][0]) / 1e9
    row["energy"] = {"exact_j": exact_j, "counter_j": counter_j,
                     "scrape_average_j": None if avg_w is None else avg_w * span_s, "span_s": span_s}
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=int, default=60, help="length of each session (default: 60)")
    ap.add_argument("--scrape", default="5s", help="Prometheus scrape interval (default: 5s)")
    ap.add_argument("--out", type=Path, help="also write the report here")
    args = ap.parse_args(argv)
    exe = shutil.which("prometheus")
    if exe is None:
        print("needs a Prometheus server on PATH (apt-get install prometheus, or the release tarball)",
              file=sys.stderr)
        return 2
    scrape_s = float(args.scrape.rstrip("s"))
    log = Report()
    version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    with tempfile.TemporaryDirectory(prefix="edgemon-prom-") as tmp:
        work = Path(tmp)
        targets = work / "targets.json"
        targets.write_text("[]")
        (work / "prometheus.yml").write_text(
            f"global:\n  scrape_interval: {args.scrape}\n  evaluation_interval: {args.scrape}\n"
            f"scrape_configs:\n  - job_name: edgemon\n    file_sd_configs:\n      - files: ['{targets}']\n"
            f"        refresh_interval: 1s\n")
        prom = free_port()
        server = subprocess.Popen([exe, f"--config.file={work / 'prometheus.yml'}",
                                   f"--storage.tsdb.path={work / 'db'}", f"--web.listen-address=127.0.0.1:{prom}"], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            wait_for(lambda: _ready(prom), 60, step=0.5)
            log(f"{version}, scrape every {args.scrape}; sessions of {args.seconds} s on an emulated "
                "Orin Nano, one after the other")
            rows = [run_session(work, prom, name, extra, args.seconds, scrape_s, targets) for name, extra in SESSIONS]
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
    worst = 0.0
    log("")
    log(f"{'session':<18} {'q':>4} {'histogram_quantile':>19} {'exact':>12} {'error':>8}   iterations "
        "(recording / Prometheus), scrapes")
    for r in rows:
        for q, est, exact, err in r["quantiles"]:
            worst = max(worst, abs(err))
            log(f"{r['name']:<18} {q:>4} {est * 1e3:>16.4f} ms {exact * 1e3:>9.4f} ms {err * 100:>+7.2f}%   "
                f"{r['iterations_recorded']} / {r['iterations_prometheus']}, {r['scrapes']}")
    log("")
    log(f"{'session':<18} {'energy: recording':>18} {'_joules_total':>14} {'avg of scraped power x time':>28}")
    for r in rows:
        e = r["energy"]
        avg = e["scrape_average_j"]
        log(f"{r['name']:<18} {e['exact_j']:>16.2f} J {e['counter_j']:>12.2f} J "
            f"{avg:>26.2f} J   ({(e['counter_j'] / e['exact_j'] - 1) * 100:+.2f}% / "
            f"{(avg / e['exact_j'] - 1) * 100:+.2f}% over {e['span_s']:.0f} s)")
    log("")
    log(f"result: worst histogram_quantile error {worst * 100:.2f}% (target < 15%)")
    log.write(args.out)
    return 0 if worst < 0.15 else 1


if __name__ == "__main__":
    raise SystemExit(main())
