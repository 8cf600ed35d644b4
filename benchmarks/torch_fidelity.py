#!/usr/bin/env python3
"""Does edgemon's torch runner measure what a hand-written PyTorch loop measures, and does the monitor disturb it?

Four time-sliced comparisons (benchmarks/_abtest.py): the conditions take turns in short
slices, ABBA, many times, so the machine's own drift (5-20 % over tens of seconds on a
shared VM) falls on both. A condition that is "off" is a SIGSTOPped process.

  1. runner vs bare loop (target 3 %): a plain loop, time.perf_counter_ns() around
     model(x) under torch.inference_mode(), and runners/torch_runner.py as an edgemon
     worker, same model code, seed, input, batch and threads; both long-lived, taking turns.
  2. the monitor beside the bare loop (target 2 %): the bare loop runs throughout while a
     full `edgemon run --headless` (sampling at --hz, recording, its own workload one
     cheap numpy call per second) takes turns being stopped and running.
  3. the monitor around its own runner (target 2 %): `edgemon run --headless --runner torch`
     runs throughout; its session process (sampler, frame decoding, recorder, view model)
     takes turns being stopped and running while its runner keeps going. Latencies are
     read back from the recording.
  4. end to end (target 3 %): the whole `edgemon run --headless --runner torch` (session and
     runner) and the bare loop take turns; edgemon's latencies read back from its recording.

Each prints median latency and throughput (items over the measured spans) for both
conditions, the difference and its 95 % bootstrap interval over cycles.

    .venv/bin/python benchmarks/torch_fidelity.py --model resnet18 --batch 1 --threads 1 --cycles 120
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _abtest as ab  # noqa: E402 - after the sys.path line
from _monitor import (idle_workload, monitor_cmd, recorded_iterations, session_on_off,  # noqa: E402 - after the sys.path line
                      start_monitor, stop_monitor, worker_groups)

from edgemon.workload.spec import WorkloadSpec  # noqa: E402 - after the sys.path line
from edgemon.workload import Worker  # noqa: E402 - after the sys.path line
from edgemon.workload.worker import runner_env  # noqa: E402 - after the sys.path line

# The bare loop, as a user would write it: same model code, seed and input as the runner.
# It warms up, says "ready", and times iterations until SIGUSR1; then prints them as JSON.
BARE = r"""
import json, signal, sys, time
sys.path.insert(0, {runners!r})
import numpy as np, torch
import _torch_models
model, batch, threads, warmup_s = {model!r}, {batch}, {threads}, {warmup}
torch.set_num_threads(threads)
torch.manual_seed(0)
net = _torch_models.build_model(model).eval()
x = torch.from_numpy(_torch_models.make_input(model, batch, np.random.RandomState(0)))
clock = time.perf_counter_ns
stop = []
signal.signal(signal.SIGUSR1, lambda *a: stop.append(1))
t0s, t1s = [], []
with torch.inference_mode():
    end = clock() + int(warmup_s * 1e9)
    while clock() < end:
        net(x)
    print("ready", flush=True)
    while not stop:
        t0 = clock()
        net(x)
        t1 = clock()
        t0s.append(t0)
        t1s.append(t1)
json.dump({{"t0": t0s, "t1": t1s}}, sys.stdout)
"""


def spec_of(a) -> WorkloadSpec:
    return WorkloadSpec(runner="torch", model=a.model, batch=a.batch, threads=a.threads, warmup_s=a.warmup)


class BareLoop:
    """The bare loop in its own process group."""

    def __init__(self, a):
        code = BARE.format(runners=str(REPO / "runners"), model=a.model, batch=a.batch, threads=a.threads,
                           warmup=a.warmup)
        self.proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                                     env=runner_env(spec_of(a)), start_new_session=True)
        if self.proc.stdout.readline().strip() != "ready":
            raise SystemExit("the bare loop failed to start")
        self.pid = self.proc.pid

    def finish(self) -> ab.Iterations:
        ab.resume([self.pid], group=True)
        self.proc.send_signal(signal.SIGUSR1)
        data = json.loads(self.proc.stdout.read())
        self.proc.wait(30)
        return ab.Iterations.of(data["t0"], data["t1"], np.full(len(data["t0"]), 1))


class RunnerWorker:
    """runners/torch_runner.py as an edgemon worker, collecting its measured batches here."""

    def __init__(self, a):
        self.batches = []
        self.measuring = __import__("threading").Event()

        def on_latency(batch):
            if not batch.warmup:
                self.batches.append(batch)
                self.measuring.set()

        self.worker = Worker(spec_of(a), on_latency=on_latency, duration_s=24 * 3600).start()
        if not self.measuring.wait(300):
            self.worker.stop()
            raise SystemExit(f"the torch runner did not start measuring: {self.worker.stderr_tail}")
        self.pid = self.worker.pid

    def finish(self) -> ab.Iterations:
        ab.resume([self.pid], group=True)
        self.worker.stop()
        t_end = np.concatenate([b.t_end_ns for b in self.batches])
        dur = np.concatenate([b.duration_ns for b in self.batches])
        return ab.Iterations.of(t_end - dur, t_end, np.concatenate([b.items for b in self.batches]))


def torch_session_cmd(a, record: Path) -> list[str]:
    return monitor_cmd(a.hz, record, "--runner", "torch", "--model", a.model, "--batch", str(a.batch),
                       "--threads", str(a.threads), "--warmup", f"{a.warmup:g}s")


def runner_vs_bare(a, log) -> ab.Comparison:
    bare = BareLoop(a)
    try:
        runner = RunnerWorker(a)
    except BaseException:
        bare.proc.kill()
        raise
    pids = [bare.pid, runner.pid]
    with ab.resumed_on_exit(pids, group=True):
        ab.pause(pids, group=True)
        sched = ab.take_turns({"bare loop": ab.process_turn([bare.pid], group=True),
                               "edgemon runner": ab.process_turn([runner.pid], group=True)},
                              a.cycles, a.slice, log)
    it_bare, it_runner = bare.finish(), runner.finish()
    return ab.compare("1. edgemon torch runner vs bare PyTorch loop",
                      ("edgemon", ab.cell(it_runner, sched.of("edgemon runner"), a.guard)),
                      ("bare", ab.cell(it_bare, sched.of("bare loop"), a.guard)))


def monitor_beside_bare(a, tmp: Path, log) -> ab.Comparison:
    mon = start_monitor(monitor_cmd(a.hz, tmp / "beside", *idle_workload()), tmp, a.settle)
    try:
        bare = BareLoop(a)
    except BaseException:
        stop_monitor(mon)
        raise
    with ab.resumed_on_exit([mon.pid], group=True):
        sched = ab.take_turns(ab.toggled("monitor", [mon.pid], group=True), a.cycles, a.slice, log)
    it = bare.finish()
    stop_monitor(mon)
    return ab.compare_on_off("2. bare loop with the monitor running beside it vs stopped", it, sched, "monitor",
                             a.guard)


def monitor_around_runner(a, tmp: Path, log) -> ab.Comparison:
    record = tmp / "run"
    return session_on_off(torch_session_cmd(a, record), record, tmp, a.settle + a.startup + a.warmup, a, log)


def edgemon_run_vs_bare(a, tmp: Path, log) -> ab.Comparison:
    record = tmp / "e2e"
    mon = start_monitor(torch_session_cmd(a, record), tmp, a.settle + a.startup + a.warmup)
    groups = [mon.pid, *worker_groups(mon)]
    try:
        bare = BareLoop(a)
    except BaseException:
        stop_monitor(mon, *groups)
        raise
    with ab.resumed_on_exit(groups, group=True):
        ab.pause(groups, group=True)
        sched = ab.take_turns({"bare loop": ab.process_turn([bare.pid], group=True),
                               "edgemon run": ab.process_turn(groups, group=True)}, a.cycles, a.slice, log)
    it_bare = bare.finish()
    stop_monitor(mon, *groups)
    return ab.compare("4. end to end: `edgemon run` (monitor + runner, from its recording) vs bare loop",
                      ("edgemon run", ab.cell(recorded_iterations(record), sched.of("edgemon run"), a.guard)),
                      ("bare", ab.cell(it_bare, sched.of("bare loop"), a.guard)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="resnet18")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cycles", type=int, default=120, help="ABBA cycles per comparison (default 120)")
    ap.add_argument("--slice", type=float, default=1.0, help="seconds per turn (default 1)")
    ap.add_argument("--guard", type=float, default=0.2,
                    help="seconds after each switch left out of the statistics (default 0.2)")
    ap.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds before any turn")
    ap.add_argument("--hz", type=float, default=10.0, help="monitor sampling rate (edgemon's default, 10)")
    ap.add_argument("--settle", type=float, default=4.0, help="seconds a monitor runs before its turns begin")
    ap.add_argument("--startup", type=float, default=8.0, help="seconds for a worker's import and model build")
    ap.add_argument("--only", default="1,2,3,4", help="which comparisons (default all: 1,2,3,4)")
    a = ap.parse_args()

    log = lambda line: print(line, flush=True)  # noqa: E731 - a one-line log helper
    import torch

    log(f"torch fidelity: {a.model} batch {a.batch}, {a.threads} thread(s); torch {torch.__version__}; "
        f"{a.cycles} ABBA cycles of {a.slice:g} s slices, {a.guard:g} s guard; monitor at {a.hz:g} Hz; "
        f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")
    wanted = {w.strip() for w in a.only.split(",")}
    results = []
    with tempfile.TemporaryDirectory(prefix="edgemon-fidelity-") as tmp:
        if "1" in wanted:
            log("1. runner vs bare loop, taking turns")
            results.append((runner_vs_bare(a, log), 3.0))
        if "2" in wanted:
            log("2. bare loop, monitor on/off")
            results.append((monitor_beside_bare(a, Path(tmp), log), 2.0))
        if "3" in wanted:
            log("3. edgemon run, session on/off")
            results.append((monitor_around_runner(a, Path(tmp), log), 2.0))
        if "4" in wanted:
            log("4. edgemon run vs bare loop, taking turns")
            results.append((edgemon_run_vs_bare(a, Path(tmp), log), 3.0))
    log("\nsummary")
    for comparison, target in results:
        for line in comparison.lines(target):
            log(line)


if __name__ == "__main__":
    main()
