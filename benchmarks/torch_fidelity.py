#!/usr/bin/env python3
"""Does edgemon's torch runner measure what a hand-written PyTorch loop measures? And does the monitor disturb it?

Four measurements of the same model, batch, threads and duration, each in a fresh process:
  a. bare:            a plain loop, time.perf_counter_ns() around model(x) under torch.inference_mode()
  b. edgemon:         runners/torch_runner.py through edgemon.workload.Worker (no sampling)
  c1. bare + monitor: (a) while `edgemon run --headless` samples the machine at --hz and records,
                      beside it (its own workload: one cheap numpy call per second)
  c2. edgemon run:    `edgemon run --headless --runner torch` (sampling at --hz, recording), latency
                      read back from the recording; its --duration counts from session start, so it
                      gets --startup more seconds and its measured span is about as long as the others' 
Each prints throughput (items/s over the measured span) and median latency; then the differences
b vs a (target within 3 %), c1 vs a and c2 vs b (the monitor's effect, target within 2 %).
Warm-up (--warmup seconds) is left out of every statistic. With --rounds > 1 the order alternates
and the summary uses the median of the rounds. On a machine shared with other work, throughput
and median move with that load; the p10 latency (the fast end) is the steadier comparison.

    .venv/bin/python benchmarks/torch_fidelity.py --model resnet18 --batch 1 --threads 1 --seconds 20
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from edgemon.session.config import WorkloadSpec  # noqa: E402
from edgemon.workload import Worker  # noqa: E402
from edgemon.workload.worker import runner_env  # noqa: E402

EDGEMON = [sys.executable, "-m", "edgemon"]

# The bare loop, as a user would write it: same model code, seed and input as the runner.
BARE = r"""
import json, sys, time
sys.path.insert(0, {runners!r})
import numpy as np, torch
import _torch_models
model, batch, threads, warmup_s, seconds = {model!r}, {batch}, {threads}, {warmup}, {seconds}
torch.set_num_threads(threads)
torch.manual_seed(0)
net = _torch_models.build_model(model).eval()
x = torch.from_numpy(_torch_models.make_input(model, batch, np.random.RandomState(0)))
clock = time.perf_counter_ns
t0s, t1s = [], []
with torch.inference_mode():
    end = clock() + int(warmup_s * 1e9)
    while clock() < end:
        net(x)
    end = clock() + int(seconds * 1e9)
    while True:
        t0 = clock()
        net(x)
        t1 = clock()
        t0s.append(t0)
        t1s.append(t1)
        if t1 >= end:
            break
json.dump({{"t0": t0s, "t1": t1s}}, sys.stdout)
"""


def stats(t_start: np.ndarray, t_end: np.ndarray, items: np.ndarray) -> dict:
    dur = t_end - t_start
    span = (t_end[-1] - t_start[0]) / 1e9
    return {"n": int(len(dur)), "throughput": float(items.sum() / span), "median_ms": float(np.median(dur) / 1e6),
            "p90_ms": float(np.percentile(dur, 90) / 1e6), "min_ms": float(dur.min() / 1e6),
            "p10_ms": float(np.percentile(dur, 10) / 1e6), "span_s": span}


def spec_of(a) -> WorkloadSpec:
    return WorkloadSpec(runner="torch", model=a.model, batch=a.batch, threads=a.threads, warmup_s=a.warmup)


def bare(a) -> dict:
    code = BARE.format(runners=str(REPO / "runners"), model=a.model, batch=a.batch, threads=a.threads,
                       warmup=a.warmup, seconds=a.seconds)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env=runner_env(spec_of(a)), timeout=a.seconds + a.warmup + 300)
    if p.returncode != 0:
        raise SystemExit(f"bare loop failed:\n{p.stderr}")
    data = json.loads(p.stdout)
    t0 = np.array(data["t0"], dtype=np.int64)
    return stats(t0, np.array(data["t1"], dtype=np.int64), np.full(len(t0), a.batch))


def edgemon_worker(a) -> dict:
    batches = []
    w = Worker(spec_of(a), on_latency=batches.append, duration_s=a.warmup + a.seconds).start()
    if not w.wait(a.seconds + a.warmup + 300):
        w.stop()
        raise SystemExit("the torch runner did not finish")
    if w.exit_event.kind != "worker_exit":
        raise SystemExit(f"the torch runner failed: {w.exit_event.details.get('reason')}")
    measured = [b for b in batches if not b.warmup]
    t_end = np.concatenate([b.t_end_ns for b in measured])
    dur = np.concatenate([b.duration_ns for b in measured])
    items = np.concatenate([b.items for b in measured])
    return stats(t_end - dur, t_end, items)


def _monitor_cmd(a, record: Path, *workload: str, duration: float) -> list[str]:
    return [*EDGEMON, "run", "--headless", "--sample-hz", str(a.hz), "--record", str(record),
            "--status-every", "60s", "--duration", f"{duration:.0f}s", *workload]


def bare_with_monitor(a, tmp: Path) -> dict:
    cmd = _monitor_cmd(a, tmp / "beside", "--runner", "numpy", "--model", "mnist_1d", "--opt", "sleep_ms=1000",
                       duration=a.warmup + a.seconds + 600)
    mon = subprocess.Popen(cmd, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(a.settle)  # the monitor is up and sampling before the loop starts
        if mon.poll() is not None:
            raise SystemExit(f"edgemon run failed to start:\n{mon.stderr.read()}")
        return bare(a)
    finally:
        mon.send_signal(signal.SIGINT)
        try:
            mon.wait(30)
        except subprocess.TimeoutExpired:
            mon.kill()


def edgemon_run(a, tmp: Path) -> dict:
    from edgemon.recording.reader import open_recording

    record = tmp / "run"
    cmd = _monitor_cmd(a, record, "--runner", "torch", "--model", a.model, "--batch", str(a.batch),
                       "--threads", str(a.threads), "--warmup", f"{a.warmup:g}s",
                       duration=a.startup + a.warmup + a.seconds)  # the session's clock includes start-up
    p = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, timeout=a.seconds + a.warmup + 300)
    if p.returncode != 0:
        raise SystemExit(f"edgemon run failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    lat = open_recording(record).latency()
    keep = ~np.asarray(lat.column("warmup").to_numpy(zero_copy_only=False), dtype=bool)
    t_end = lat.column("t_end_ns").to_numpy()[keep]
    dur = lat.column("duration_ns").to_numpy()[keep]
    return stats(t_end - dur, t_end, lat.column("items").to_numpy()[keep])


def pct(x: float, ref: float) -> float:
    return 100.0 * (x - ref) / ref


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="resnet18")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=20.0, help="measured seconds per run")
    ap.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds, left out of the statistics")
    ap.add_argument("--hz", type=float, default=10.0, help="monitor sampling rate")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--settle", type=float, default=5.0, help="seconds the monitor runs before the bare loop")
    ap.add_argument("--startup", type=float, default=8.0,
                    help="seconds added to c2's session duration for the worker's start-up (import, build)")
    a = ap.parse_args()

    runs = {"a_bare": bare, "b_edgemon": edgemon_worker, "c1_bare_monitor": bare_with_monitor,
            "c2_edgemon_run": edgemon_run}
    results: dict[str, list[dict]] = {k: [] for k in runs}
    print(f"torch fidelity: {a.model} batch {a.batch}, {a.threads} thread(s), {a.seconds:g} s measured after "
          f"{a.warmup:g} s warm-up, monitor at {a.hz:g} Hz; {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.2f}")
    order = list(runs)
    for r in range(a.rounds):
        for name in (order if r % 2 == 0 else order[::-1]):
            with tempfile.TemporaryDirectory(prefix="edgemon-fidelity-") as tmp:
                fn = runs[name]
                res = fn(a, Path(tmp)) if name.startswith("c") else fn(a)
            results[name].append(res)
            print(f"  round {r + 1} {name:16s} {res['throughput']:9.3f} items/s  median {res['median_ms']:8.3f} ms"
                  f"  p10 {res['p10_ms']:8.3f}  p90 {res['p90_ms']:8.3f}  min {res['min_ms']:8.3f} ms  n={res['n']}  (load {os.getloadavg()[0]:.2f})", flush=True)

    summary = {k: {m: statistics.median(r[m] for r in v) for m in ("throughput", "median_ms", "p10_ms")}
               for k, v in results.items()}
    print("\nsummary (median of rounds)")
    for k, s in summary.items():
        print(f"  {k:16s} {s['throughput']:9.3f} items/s  median {s['median_ms']:8.3f} ms  p10 {s['p10_ms']:8.3f} ms")
    a_, b_, c1, c2 = (summary[k] for k in runs)
    for label, x, ref, target in (("edgemon vs bare", b_, a_, 3.0), ("bare+monitor vs bare", c1, a_, 2.0),
                                  ("edgemon run (monitor) vs edgemon", c2, b_, 2.0)):
        dt, dm = pct(x["throughput"], ref["throughput"]), pct(x["median_ms"], ref["median_ms"])
        d10 = pct(x["p10_ms"], ref["p10_ms"])
        ok = "within" if max(abs(dt), abs(dm)) <= target else "OUTSIDE"
        print(f"  {label:34s} throughput {dt:+6.2f} %  median latency {dm:+6.2f} %  ({ok} {target:g} %)"
              f"  p10 latency {d10:+6.2f} % (less sensitive to other load)")


if __name__ == "__main__":
    main()
