"""A 3-hour session at the rate the default model really runs: analyze, report and replay
against DuckDB's exact quantile query over the same files, side by side.

    .venv/bin/python benchmarks/real_rate.py [--rate N | --measure-s 30] [--hours 3]
                                             [--dir DIR] [--reuse] [--out FILE]

1. The rate: ``edgemon run --headless --no-record --duration 30s`` of the default model
   (numpy mnist_1d) on this machine, its summary's items/s (``--rate`` skips this). Below
   15,000/s (a busy machine) the script uses 15,000/s and says so.
2. A recording of ``--hours`` at that rate, written by edgemon's own Recorder (Arrow IPC
   tails rolled into zstd Parquet segments every 5 minutes of recording time, row groups of
   a million rows, exactly as a session writes them): back-to-back iterations of a
   lognormal latency around the rate's period with rare long ones, 10 Hz telemetry of an
   emulated Jetson Nano's 40 metrics, thermal throttling that comes and goes (60 % clocks,
   1.4x slower iterations), a 1-second warm-up. About 190 million rows at 18,000/s.
3. Each in a fresh process, so one's memory never counts against another's:
   * ``edgemon analyze`` (the CLI's code path: open_recording + analyze): wall, peak RSS;
   * DuckDB (the default thread count: every core): ``quantile_disc`` of the measured
     latencies at 0.5/0.9/0.95/0.99/0.999 plus count/min/max/avg, over the same Parquet
     files: wall, peak RSS. ``quantile_disc`` picks the same rank as trtexec's nearest-rank
     rule, so p90..p99.9 must be equal to edgemon's (the script checks it);
   * ``edgemon report --out`` (HTML): wall, peak RSS;
   * ``ReplayFeed`` as ``edgemon replay`` opens it (its analysis of the whole recording in a
     niced child process): first frame, three seeks + the drain that refills the dashboard,
     peak RSS of the replay process and of the analysis child; and the same without analysis.

Targets (issue 11): analyze < 500 MB and within 3x of DuckDB's wall time; report < 500 MB;
replay open < 2 s, seek < 200 ms, RSS < 400 MB. The machine may be shared: both sides of
every ratio run in this one script, one after the other, and the load average is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import Report  # noqa: E402 - benchmarks/ is not a package
sys.path.insert(0, str(REPO))

S = 1_000_000_000
SEGMENT_S = 300
MIN_RATE = 15_000


# ----------------------------------------------------------------------------- the rate


def measure_rate(seconds: int) -> float:
    """items/s of ``edgemon run --headless`` of the default model (the summary's throughput)."""
    cmd = [sys.executable, "-m", "edgemon", "run", "--headless", "--no-record", "--duration", f"{seconds}s",
           "--status-every", "3600s"]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=str(REPO), timeout=seconds + 300)
    m = re.search(r"^throughput\s+([\d.]+) items/s", out.stdout, re.M)
    if out.returncode or not m:
        raise SystemExit(f"could not measure the rate:\n{out.stdout}\n{out.stderr}")
    return float(m.group(1))


# ----------------------------------------------------------------------------- the recording

NANO_CEILINGS = {"cpu0_freq_mhz": 1479.0, "cpu1_freq_mhz": 1479.0, "cpu2_freq_mhz": 1479.0,
                 "cpu3_freq_mhz": 1479.0, "gpu_freq_mhz": 921.6, "emc_freq_mhz": 1600.0}


def _throttled(t_s, start_s: float = 600.0, period_s: float = 240.0, length_s: float = 60.0):
    import numpy as np

    t_s = np.asarray(t_s, dtype=np.float64)
    return (t_s >= start_s) & (((t_s - start_s) % period_s) < length_s)


def _sample(t_s: float, hot: bool, rng) -> dict[str, float]:
    clock = 0.6 if hot else 1.0
    temp = 49.5 + rng.normal(0, 0.2) if hot else 44.0 + rng.normal(0, 0.3)
    v = {f"cpu{i}_freq_mhz": 1479.0 * clock for i in range(4)}
    v.update({f"cpu{i}_util_pct": 90.0 + rng.normal(0, 3) for i in range(4)})
    v.update({f"cpu{i}_online": 1.0 for i in range(4)})
    v.update({"cpu_util_pct": 55.0 + rng.normal(0, 3), "gpu_freq_mhz": 921.6 * clock, "gpu_util_pct": 50.0,
              "emc_freq_mhz": 1600.0, "emc_util_pct": 20.0, "temp_cpu_c": temp, "temp_gpu_c": temp - 3,
              "temp_ao_c": temp + 6, "temp_pll_c": temp + 2, "temp_thermal_c": temp - 1,
              "power_pom_5v_in_mw": (5200.0 if hot else 8900.0) + rng.normal(0, 50), "power_pom_5v_cpu_mw": 2400.0,
              "power_pom_5v_gpu_mw": 400.0, "power_total_mw": (5200.0 if hot else 8900.0) + rng.normal(0, 50),
              "ram_used_mb": 1900.0, "ram_total_mb": 3964.0, "swap_used_mb": 0.0, "swap_total_mb": 1982.0,
              "load1": 2.0, "fan0_pwm_pct": 0.0, "proc_worker_cpu_pct": 99.0 + rng.normal(0, 1),
              "proc_worker_rss_mb": 60.0, "proc_monitor_cpu_pct": 3.0, "iram_used_kb": 0.0})
    return v


def generate(folder: Path, hours: float, rate: float, hz: float = 10.0, seed: int = 1) -> dict:
    """Write the recording with edgemon's Recorder; returns what was written."""
    import numpy as np

    from edgemon.datatypes import Event, LatencyBatch, Sample
    from edgemon.recording.writer import Recorder

    rng = np.random.default_rng(seed)
    meta = {"host": "bench", "workload": {"runner": "numpy", "model": "mnist_1d", "batch": 1},
            "emulated": True, "emulated_board": "nano", "clock_ceilings": NANO_CEILINGS,
            "trip_points": {"temp_cpu_c": 50.0, "temp_gpu_c": 50.0}, "duration_s": hours * 3600.0}
    rec = Recorder(folder, meta, flush_s=3600, roll_s=1e9, fsync=False, max_buffered_rows=50_000_000).open()
    t0 = int(rec.meta["clock"]["monotonic_ns"])
    total_s = hours * 3600.0
    gap_ns = 7_000
    base_ns = max(1_000.0, S / rate - gap_ns)
    sigma = 0.12
    mu = np.log(base_ns) - sigma * sigma / 2          # lognormal with mean base_ns
    rec.on_event(Event(t0 + S // 10, "worker_hello", {"runner": "numpy", "model": "mnist_1d"}))
    t_next = t0 + S // 5                               # end of the previous iteration (ns)
    rows = warm_rows = 0
    block_s = 10.0
    k_block = 0
    warm_until = t0 + int(1.2 * S)
    while True:
        lo = t0 + int(k_block * block_s * S)
        hi = min(t0 + int(total_s * S), lo + int(block_s * S))
        if lo >= hi:
            break
        # telemetry of the block
        ts = np.arange(k_block * block_s, min(total_s, (k_block + 1) * block_s), 1.0 / hz)
        hot = _throttled(ts)
        for t_s, h in zip(ts.tolist(), hot.tolist()):
            rec.on_sample(Sample(t0 + int(round(t_s * S)), _sample(t_s, h, rng)))
        # back-to-back iterations until the block ends
        n = int((hi - t_next) / (S / rate) * 1.6) + 16
        dur = rng.lognormal(mu, sigma, n)
        spikes = rng.random(n)
        dur = np.where(spikes < 2e-3, dur + rng.exponential(300_000.0, n), dur)
        dur = np.where(spikes < 2e-6, dur + 10_000_000.0, dur)
        period = dur + gap_ns + rng.exponential(500.0, n)
        ends = t_next + np.cumsum(period)
        slow = _throttled((ends - t0) / S)
        dur = np.where(slow, dur * 1.4, dur)
        period = np.where(slow, period + dur * 0.4 / 1.4, period)
        ends = (t_next + np.cumsum(period)).astype(np.int64)
        keep = int(np.searchsorted(ends, hi, side="right"))
        ends, dur = ends[:keep], dur[:keep].astype(np.int64)
        if keep:
            t_next = int(ends[-1])
            warm = ends <= warm_until
            nw = int(warm.sum())
            items = np.ones(keep, np.int32)
            if nw:
                rec.on_latency(LatencyBatch(ends[:nw], dur[:nw], items[:nw], True))
                if k_block == 0:
                    rec.on_event(Event(int(ends[nw - 1]), "warmup_done", {"iterations": nw, "seconds": 1.0}))
            if keep > nw:
                rec.on_latency(LatencyBatch(ends[nw:], dur[nw:], items[nw:], False))
            rows += keep
            warm_rows += nw
        rec.flush()
        k_block += 1
        if (k_block * block_s) % SEGMENT_S == 0 or hi >= t0 + int(total_s * S):
            with rec._io_lock:                        # roll as a session does every 5 minutes
                for kind in ("telemetry", "latency", "events"):
                    if rec._tails[kind].is_open:
                        rec._roll(kind)
    rec.close({"reason": "duration reached"})
    path = folder / "session.json"
    session = json.loads(path.read_text())
    session["ended_monotonic_ns"] = t0 + int(total_s * S)   # recording time, not the generator's
    path.write_text(json.dumps(session, indent=2))
    return {"rows": rows, "warmup_rows": warm_rows}


# ----------------------------------------------------------------------------- the children

_PRELUDE = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[2])
t0 = time.perf_counter()
def done(**kw):
    kw["wall_s"] = time.perf_counter() - t0
    ru = resource.getrusage(resource.RUSAGE_SELF)
    kw["maxrss_mb"] = ru.ru_maxrss / 1024
    kw["cpu_s"] = ru.ru_utime + ru.ru_stime
    print(json.dumps(kw))
"""

CHILD_ANALYZE = _PRELUDE + r"""
from edgemon.recording.reader import open_recording
from edgemon.analysis.summary import analyze
r = analyze(open_recording(sys.argv[1]))
lat = r["latency_ms"]
done(count=lat["count"], p={k: lat[k] for k in ("median", "p90", "p95", "p99", "p999", "min", "max", "mean")},
     episodes=r["throttling"].get("episode_count"), levels=r["levels"]["count"],
     change_points=len(r["change_points"]["points"]), problems=r["problems"])
"""

CHILD_DUCKDB = _PRELUDE + r"""
import duckdb
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
q = (f"SELECT count(*), min(duration_ns), max(duration_ns), avg(duration_ns), "
     f"quantile_disc(duration_ns, [0.5, 0.9, 0.95, 0.99, 0.999]) "
     f"FROM read_parquet('{sys.argv[1]}/latency/*.parquet') WHERE NOT warmup")
n, lo, hi, mean, qs = con.execute(q).fetchone()
threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
done(count=n, p={"min": lo / 1e6, "max": hi / 1e6, "mean": mean / 1e6, "q50": qs[0] / 1e6, "p90": qs[1] / 1e6,
                 "p95": qs[2] / 1e6, "p99": qs[3] / 1e6, "p999": qs[4] / 1e6}, threads=threads)
"""

CHILD_REPORT = _PRELUDE + r"""
from edgemon.recording.reader import open_recording
from edgemon.report.html import write_report
path = write_report(open_recording(sys.argv[1]), sys.argv[3])
import os
done(bytes=os.path.getsize(path))
"""

CHILD_REPLAY = _PRELUDE + r"""
from edgemon.recording.reader import open_recording
from edgemon.feeds.replay import ReplayFeed
analyze = sys.argv[3] == "1"
rec = open_recording(sys.argv[1])
feed = ReplayFeed(rec, playing=False, analyze=analyze, analysis_process=analyze)
first = feed.drain()
open_s = time.perf_counter() - t0
seeks = []
for to in (feed.length_s / 2, feed.length_s * 0.9, 60.0):
    t = time.perf_counter()
    feed.command("seek", to=to)
    up = feed.drain()
    seeks.append({"to_s": round(to), "ms": (time.perf_counter() - t) * 1000, "samples": len(up.samples),
                  "rows": sum(len(b) for b in up.latency)})
t = time.perf_counter()
ok = feed.wait_loaded(3600)
child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
done(open_s=open_s, first_rows=sum(len(b) for b in first.latency), seeks=seeks,
     analysis_s=(time.perf_counter() - t) if analyze else None, analysis_state=feed.analysis_state,
     analysis_child_mb=child_mb)
"""


def _child(code: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"child failed:\n{out.stderr}")
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    return json.loads(lines[-1])


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (5 min {five:.1f}) on {os.cpu_count()} CPUs"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=None, help="inferences per second (default: measure it)")
    ap.add_argument("--measure-s", type=int, default=30, help="length of the rate measurement (default: 30)")
    ap.add_argument("--hours", type=float, default=3.0)
    ap.add_argument("--dir", type=Path, default=None, help="where the recording goes (default: a temp dir, removed)")
    ap.add_argument("--reuse", action="store_true", help="use the recording already in --dir")
    ap.add_argument("--out", type=Path, default=None, help="also write this report to FILE")
    args = ap.parse_args(argv)

    say = Report()

    import tempfile

    base = args.dir or Path(tempfile.mkdtemp(prefix="edgemon-real-rate-"))
    folder = base / "session"
    say(f"edgemon real-rate benchmark, {time.strftime('%Y-%m-%d %H:%M')}; {_load()} at the start")
    if args.reuse and (folder / "session.json").exists():
        info = json.loads((base / "generated.json").read_text()) if (base / "generated.json").exists() else {}
        say(f"recording: {folder} (reused; {info.get('note', '')})")
    else:
        if args.rate is None:
            measured = measure_rate(args.measure_s)
            rate = max(measured, MIN_RATE)
            note = (f"rate measured with `edgemon run --headless --duration {args.measure_s}s` of the default "
                    f"model: {measured:,.0f} items/s" + (f"; below {MIN_RATE:,}/s (a busy machine), "
                                                        f"{MIN_RATE:,}/s used" if measured < MIN_RATE else ""))
        else:
            rate = args.rate
            note = f"rate given: {rate:,.0f} items/s"
        say(note)
        if folder.exists():
            shutil.rmtree(folder)
        t = time.perf_counter()
        info = generate(folder, args.hours, rate)
        info["note"] = note
        base.mkdir(parents=True, exist_ok=True)
        (base / "generated.json").write_text(json.dumps(info))
        say(f"recording: {folder}, written by edgemon's Recorder in {time.perf_counter() - t:.0f} s")
    lat_bytes = sum(p.stat().st_size for p in (folder / "latency").glob("*"))
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    say(f"  {info.get('rows', 0):,} latency rows ({info.get('warmup_rows', 0):,} warm-up) over {args.hours:g} h; "
        f"{size / 2**30:.2f} GiB on disk ({lat_bytes / 2**30:.2f} GiB latency)")
    say()
    a = _child(CHILD_ANALYZE, str(folder), str(REPO))
    say(f"analyze done: {a['wall_s']:.1f} s, {a['maxrss_mb']:.0f} MB ({_load()})")
    d = _child(CHILD_DUCKDB, str(folder), str(REPO))
    say(f"duckdb done: {d['wall_s']:.1f} s, {d['maxrss_mb']:.0f} MB ({_load()})")
    html = base / "report.html"
    r = _child(CHILD_REPORT, str(folder), str(REPO), str(html))
    say(f"report done ({_load()})")
    rp = _child(CHILD_REPLAY, str(folder), str(REPO), "1")
    rp0 = _child(CHILD_REPLAY, str(folder), str(REPO), "0")
    say(f"replay done ({_load()})")
    say()
    say(f"{'':34}{'edgemon':>14}{'DuckDB':>14}{'target':>22}")
    say(f"{'analyze: measured iterations':34}{a['count']:>14,}{d['count']:>14,}")
    ratio = f"< 3x DuckDB ({a['wall_s'] / d['wall_s']:.2f}x)"
    say(f"{'analyze: wall s':34}{a['wall_s']:>14.1f}{d['wall_s']:>14.1f}{ratio:>22}")
    say(f"{'analyze: CPU s (user + sys)':34}{a['cpu_s']:>14.1f}{d['cpu_s']:>14.1f}")
    say(f"{'analyze: peak RSS MB':34}{a['maxrss_mb']:>14.0f}{d['maxrss_mb']:>14.0f}{'< 500':>22}")
    for key, dk in (("p90", "p90"), ("p95", "p95"), ("p99", "p99"), ("p999", "p999"), ("min", "min"), ("max", "max")):
        same = "equal" if abs(a["p"][key] - d["p"][dk]) < 1e-9 else "DIFFERENT"
        say(f"{'  ' + key + ' ms':34}{a['p'][key]:>14.6f}{d['p'][dk]:>14.6f}{same:>22}")
    say(f"{'  median ms (trtexec: mean of 2 middle)':34}{a['p']['median']:>14.6f}{d['p']['q50']:>14.6f}"
        f"{'(quantile_disc 0.5)':>22}")
    say(f"{'  mean ms':34}{a['p']['mean']:>14.6f}{d['p']['mean']:>14.6f}")
    say(f"  DuckDB threads: {d['threads']}; edgemon: {a['episodes']} throttling episodes, {a['levels']} latency "
        f"levels, {a['change_points']} change points; problems: {a['problems'] or 'none'}")
    say(f"{'report --out: wall s':34}{r['wall_s']:>14.1f}{'':>14}")
    say(f"{'report --out: peak RSS MB':34}{r['maxrss_mb']:>14.0f}{'':>14}{'< 500':>22}")
    say(f"{'replay: first frame s':34}{rp['open_s']:>14.2f}{'':>14}{'< 2':>22}")
    for s in rp["seeks"]:
        label = f"replay: seek to {s['to_s']} s + drain ms"
        say(f"{label:34}{s['ms']:>14.0f}{'':>14}{'< 200':>22}   ({s['samples']} samples, {s['rows']:,} rows)")
    say(f"{'replay: peak RSS MB':34}{rp['maxrss_mb']:>14.0f}{'':>14}{'< 400':>22}"
        f"   (its analysis ready {rp['analysis_s']:.0f} s after the seeks: {rp['analysis_state']})")
    say(f"{'replay: analysis child peak RSS MB':34}{rp['analysis_child_mb']:>14.0f}{'':>14}{'(< 500 as analyze)':>22}")
    seeks0 = ", ".join(f"{s['ms']:.0f}" for s in rp0["seeks"])
    say(f"{'replay: peak RSS MB (no analysis)':34}{rp0['maxrss_mb']:>14.0f}{'':>14}{'< 400':>22}"
        f"   (first frame {rp0['open_s']:.2f} s, seeks {seeks0} ms)")
    say(f"{_load()} at the end")
    say.write(args.out)
    if args.dir is None:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
