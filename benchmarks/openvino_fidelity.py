#!/usr/bin/env python3
"""Does edgemon's openvino runner measure what OpenVINO's own benchmark_app measures, and does the monitor disturb it?

One OpenVINO IR model on CPU, synchronous, latency hint. Four time-sliced comparisons
(benchmarks/_abtest.py): conditions take turns in short slices, ABBA, so the machine's own
drift (5-20 % over tens of seconds on a shared VM) falls on both. "Off" is SIGSTOP.

  1. runner vs benchmark_app, median latency (target 3 %): in each of --blocks blocks,
     ``benchmark_app -api sync -hint latency -t BLOCK`` and edgemon's openvino runner
     (``--opt api=sync --opt hint=latency``, an edgemon worker) take turns in --slice
     second slices. benchmark_app prints one median per block, of all its iterations; the
     runner's median per block is of its iterations that ended in its turns, so both
     include the one iteration per turn that a stop cuts in two. Its CI is over blocks.
  2. benchmark_app with the monitor beside vs without (target 2 %): short benchmark_app
     runs (-t --short) while a full ``edgemon run --headless`` (sampling at --hz, recording,
     its own workload one cheap numpy call per second) is running or stopped, ABBA.
  3. the monitor around its own runner (target 2 %): ``edgemon run --headless --runner
     openvino`` runs throughout while its session process (sampler, frame decoding,
     recorder) takes turns being stopped and running; latencies read back from the recording.
  4. end to end (target 3 %): as 1, with the whole ``edgemon run --headless`` (session and
     runner, latencies from its recording) in place of the bare runner.

benchmark_app's median is of ``InferRequest.latency`` (OpenVINO's C++ timer); edgemon's is
the wall time around ``infer()``, so it also holds the Python call (~10 us). Pick a model of a
few milliseconds or more (the default, mobilenet_v1, is ~8 ms on a 2-vCPU x86 VM).

    .venv/bin/python benchmarks/openvino_fidelity.py [--model mobilenet_v1|path.xml]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _abtest as ab  # noqa: E402 - after the sys.path line
from _monitor import (idle_workload, monitor_cmd, recorded_iterations, session_on_off,  # noqa: E402 - after the sys.path line
                      start_monitor, stop_monitor, worker_groups)

from edgemon.workload.spec import WorkloadSpec  # noqa: E402 - after the sys.path line
from edgemon.workload import registry  # noqa: E402 - after the sys.path line
from edgemon.workload.worker import Worker  # noqa: E402 - after the sys.path line

OPTIONS = {"api": "sync", "hint": "latency", "device": "CPU"}


def benchmark_app_command() -> list[str]:
    exe = Path(sys.executable).with_name("benchmark_app")
    if exe.is_file():
        return [str(exe)]
    found = shutil.which("benchmark_app")
    if found:
        return [found]
    # the module has no __main__ block: `python -m` would run nothing and exit 0
    return [sys.executable, "-c", "import sys; from openvino.tools.benchmark.main import main; sys.exit(main())"]


def _ms(match) -> float:
    return float(match.group(1)) * (1e-3 if match.group(2) == "us" else 1.0)


def parse_benchmark_app(text: str, returncode: int) -> dict:
    median = re.search(r"Median:\s+([\d.]+) (ms|us)", text)  # us below 1 ms
    count = re.search(r"Count:\s+(\d+) iterations", text)
    if returncode != 0 or not median:
        raise RuntimeError(f"benchmark_app failed ({returncode}): {text[-2000:]}")
    return {"median_ms": _ms(median), "count": int(count.group(1)) if count else 0}


class BenchmarkApp:
    """benchmark_app in its own process group; ``measuring`` is set once its timed loop starts."""

    def __init__(self, xml: str, seconds: int):
        cmd = benchmark_app_command() + ["-m", xml, "-d", "CPU", "-api", "sync", "-hint", "latency",
                                         "-t", str(seconds)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True)
        self.pid = self.proc.pid
        self.measuring = threading.Event()
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)
            if "First inference took" in line:  # the timed loop starts right after
                self.measuring.set()
        self.measuring.set()

    def result(self) -> dict:
        self.proc.wait()
        self._reader.join()
        return parse_benchmark_app("".join(self.lines), self.proc.returncode)


def run_benchmark_app(xml: str, seconds: int) -> dict:
    app = BenchmarkApp(xml, seconds)
    return app.result()


class RunnerWorker:
    def __init__(self, xml: str):
        self.batches = []
        self.measuring = threading.Event()

        def on_latency(batch):
            if not batch.warmup:
                self.batches.append(batch)
                self.measuring.set()

        spec = WorkloadSpec(runner="openvino", model=xml, warmup_iters=10, options=dict(OPTIONS))
        registry.validate(spec)
        self.worker = Worker(spec, on_latency=on_latency, duration_s=24 * 3600).start()
        if not self.measuring.wait(300):
            self.worker.stop()
            raise SystemExit(f"the openvino runner did not start measuring: {self.worker.stderr_tail}")
        self.groups = [self.worker.pid]

    def iterations(self) -> ab.Iterations:
        batches = list(self.batches)
        t_end = np.concatenate([b.t_end_ns for b in batches])
        dur = np.concatenate([b.duration_ns for b in batches])
        return ab.Iterations.of(t_end - dur, t_end, np.concatenate([b.items for b in batches]))

    def finish(self) -> None:
        ab.resume(self.groups, group=True)
        self.worker.stop()


def against_benchmark_app(a, xml: str, contestant, label: str, log) -> ab.Comparison:
    """``contestant`` (``groups`` to pause and resume, then ``finish()`` and ``iterations()``)
    and benchmark_app take turns in --blocks benchmark_app runs of --block seconds."""
    windows: dict[int, list[ab.Window]] = {}
    apps: dict[int, float] = {}
    counts = [0, 0]
    groups = contestant.groups
    try:
        ab.pause(groups, group=True)
        for block in range(a.blocks):
            app = BenchmarkApp(xml, a.block)
            with ab.resumed_on_exit([app.pid], group=True):
                app.measuring.wait(300)
                windows[block] = []
                turn = 0
                while app.proc.poll() is None:
                    if (turn + 2 * block) % 4 in (0, 3):  # ours, app, app, ours, ...: ABBA
                        ab.pause([app.pid], group=True)
                        start = ab.clock()
                        ab.process_turn(groups, group=True)(a.slice)
                        windows[block].append(ab.Window("ours", block, start, ab.clock()))
                    else:
                        ab.resume([app.pid], group=True)
                        deadline = time.monotonic() + a.slice
                        while time.monotonic() < deadline and app.proc.poll() is None:
                            time.sleep(0.01)
                    turn += 1
            res = app.result()
            apps[block] = res["median_ms"]
            counts[1] += res["count"]
            log(f"    block {block + 1}/{a.blocks}: benchmark_app median {res['median_ms']:.3f} ms "
                f"({res['count']} iterations)")
    finally:
        ab.resume(groups, group=True)
        contestant.finish()
    it = contestant.iterations()
    ours = {}
    for block, ws in windows.items():
        m = np.zeros(len(it.t_end), dtype=bool)
        for w in ws:  # every iteration that ended in our turn, as benchmark_app counts its own
            m |= (it.t_end > w.start) & (it.t_end <= w.end)
        if m.any():
            ours[block] = float(np.median(it.t_end[m] - it.t_start[m])) / 1e6
            counts[0] += int(m.sum())
            log(f"    block {block + 1}: edgemon median {ours[block]:.3f} ms ({int(m.sum())} iterations)")
    return ab.compare_medians(label, ("edgemon", ours), ("benchmark_app", apps), counts=tuple(counts))


def edgemon_run_cmd(a, xml: str, record: Path) -> list[str]:
    cmd = monitor_cmd(a.hz, record, "--runner", "openvino", "--model", xml, "--warmup", "10")
    for key, value in OPTIONS.items():
        cmd += ["--opt", f"{key}={value}"]
    return cmd


class EdgemonRun:
    """The whole ``edgemon run --headless`` (session process and its runner) as a contestant."""

    def __init__(self, a, xml: str, tmp: Path):
        self.record = tmp / "e2e"
        self.mon = start_monitor(edgemon_run_cmd(a, xml, self.record), tmp, a.settle + a.startup)
        self.groups = [self.mon.pid, *worker_groups(self.mon)]  # pause and resume the runner too

    def finish(self) -> None:
        stop_monitor(self.mon, *self.groups)

    def iterations(self) -> ab.Iterations:
        return recorded_iterations(self.record)


def monitor_beside_benchmark_app(a, xml: str, tmp: Path, log) -> ab.Comparison:
    mon = start_monitor(monitor_cmd(a.hz, tmp / "beside", *idle_workload()), tmp, a.settle)
    medians: dict[str, dict[int, float]] = {"on": {}, "off": {}}
    counts = {"on": 0, "off": 0}
    with ab.resumed_on_exit([mon.pid], group=True):
        for cycle in range(a.short_cycles):
            for state in (("on", "off") if cycle % 2 == 0 else ("off", "on")):
                (ab.resume if state == "on" else ab.pause)([mon.pid], group=True)
                res = run_benchmark_app(xml, a.short)
                medians[state][cycle] = res["median_ms"]
                counts[state] += res["count"]
            if (cycle + 1) % max(1, a.short_cycles // 5) == 0:
                log(f"    {cycle + 1}/{a.short_cycles} cycles")
    stop_monitor(mon)
    return ab.compare_medians("2. benchmark_app with the monitor running beside it vs stopped (median per run)",
                              ("on", medians["on"]), ("off", medians["off"]), counts=(counts["on"], counts["off"]))


def monitor_around_runner(a, xml: str, tmp: Path, log) -> ab.Comparison:
    record = tmp / "run"
    return session_on_off(edgemon_run_cmd(a, xml, record), record, tmp, a.settle + a.startup, a, log)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="mobilenet_v1", help="built-in model name or an IR .xml (default mobilenet_v1)")
    ap.add_argument("--blocks", type=int, default=6, help="benchmark_app runs in comparison 1 (default 6)")
    ap.add_argument("--block", type=int, default=40, help="benchmark_app -t per block, wall seconds (default 40)")
    ap.add_argument("--slice", type=float, default=1.0, help="seconds per turn (default 1)")
    ap.add_argument("--short", type=int, default=3, help="benchmark_app -t in comparison 2 (default 3)")
    ap.add_argument("--short-cycles", type=int, default=20, help="ABBA cycles in comparison 2 (default 20)")
    ap.add_argument("--cycles", type=int, default=120, help="ABBA cycles in comparison 3 (default 120)")
    ap.add_argument("--guard", type=float, default=0.2, help="seconds after a switch left out (comparison 3)")
    ap.add_argument("--hz", type=float, default=10.0, help="monitor sampling rate (edgemon's default, 10)")
    ap.add_argument("--settle", type=float, default=4.0, help="seconds a monitor runs before its turns begin")
    ap.add_argument("--startup", type=float, default=8.0, help="seconds for a worker's import and compile")
    ap.add_argument("--only", default="1,2,3,4", help="which comparisons (default all: 1,2,3,4)")
    a = ap.parse_args(argv)

    xml = a.model
    if not xml.endswith(".xml"):
        xml = registry.runner_module("openvino").model_file(a.model)
    import openvino as ov

    log = lambda line: print(line, flush=True)  # noqa: E731 - a one-line log helper
    log(f"openvino fidelity: {xml}\nOpenVINO {ov.get_version()}, benchmark_app: {' '.join(benchmark_app_command())}")
    log(f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}; slices of {a.slice:g} s; monitor at {a.hz:g} Hz")
    wanted = {w.strip() for w in a.only.split(",")}
    results = []
    with tempfile.TemporaryDirectory(prefix="edgemon-fidelity-") as tmp:
        if "1" in wanted:
            log(f"1. runner vs benchmark_app, taking turns in {a.blocks} blocks of {a.block} s")
            results.append((against_benchmark_app(a, xml, RunnerWorker(xml),
                                                  "1. edgemon openvino runner vs benchmark_app (medians per block)",
                                                  log), 3.0, False))
        if "2" in wanted:
            log(f"2. benchmark_app -t {a.short}, monitor on/off, {a.short_cycles} ABBA cycles")
            results.append((monitor_beside_benchmark_app(a, xml, Path(tmp), log), 2.0, False))
        if "3" in wanted:
            log(f"3. edgemon run, session on/off, {a.cycles} ABBA cycles")
            results.append((monitor_around_runner(a, xml, Path(tmp), log), 2.0, True))
        if "4" in wanted:
            log(f"4. edgemon run vs benchmark_app, taking turns in {a.blocks} blocks of {a.block} s")
            results.append((against_benchmark_app(a, xml, EdgemonRun(a, xml, Path(tmp)),
                                                  "4. end to end: `edgemon run` (from its recording) vs benchmark_app",
                                                  log), 3.0, False))
    log("\nsummary")
    for comparison, target, throughput in results:
        for line in comparison.lines(target, throughput=throughput):
            log(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
