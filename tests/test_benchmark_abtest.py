"""benchmarks/_abtest.py decides which iterations count for which condition in the fidelity
benchmarks; a mistake there would silently turn their verdicts into noise. Synthetic
iterations with known answers, plus one real time-sliced run of two sleeping processes."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "_abtest.py"


@pytest.fixture(scope="module")
def ab():
    spec = importlib.util.spec_from_file_location("_abtest_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


MS = 1_000_000


def back_to_back(start_ns: int, end_ns: int, latency_ns: int):
    t0 = np.arange(start_ns, end_ns - latency_ns + 1, latency_ns, dtype=np.int64)
    return t0, t0 + latency_ns


def test_windows_take_only_whole_iterations_after_the_guard(ab):
    # one loop that runs 10 ms iterations in A's windows and 11 ms ones in B's, ABBA
    windows, t0s, t1s = [], [], []
    t = 0
    for cycle in range(8):
        for label in ("A", "B") if cycle % 2 == 0 else ("B", "A"):
            windows.append(ab.Window(label, cycle, t, t + 1000 * MS))
            t0, t1 = back_to_back(t, t + 1000 * MS, 10 * MS if label == "A" else 11 * MS)
            t0s.append(t0)
            t1s.append(t1)
            t += 1000 * MS
    # one iteration cut in two by a stop: it starts in an A window and ends in the next B window
    t0s.append(np.array([windows[0].end - 3 * MS]))
    t1s.append(np.array([windows[1].start + 500 * MS]))
    it = ab.Iterations.of(np.concatenate(t0s), np.concatenate(t1s))
    order = np.argsort(it.t_start)
    it = ab.Iterations(it.t_start[order], it.t_end[order], it.items[order])
    sched = ab.Schedule(windows)

    a = ab.cell(it, sched.of("A"), guard_s=0.1)
    b = ab.cell(it, sched.of("B"), guard_s=0.1)
    assert set(a.durations) == set(range(8)) == set(b.durations)
    assert all((d == 10 * MS).all() for d in a.durations.values())  # the cut iteration is in neither
    assert all((d == 11 * MS).all() for d in b.durations.values())
    assert a.items[0] == 90  # 100 per window, less the 10 that start inside the 0.1 s guard

    c = ab.compare("B vs A", ("B", b), ("A", a), boot=200)
    assert c.median_diff_pct == pytest.approx(10.0)
    assert c.throughput_diff_pct == pytest.approx(100 * (10 / 11 - 1), abs=0.01)
    assert c.median_ci == pytest.approx((10.0, 10.0))
    assert c.cycles == 8
    assert "within" not in " ".join(c.lines(3.0))


def test_bootstrap_interval_covers_the_spread_between_cycles(ab):
    rng = np.random.default_rng(1)
    ours = {c: 10.0 * (1 + rng.normal(0, 0.05)) for c in range(40)}
    ref = {c: 10.0 * (1 + rng.normal(0, 0.05)) for c in range(40)}
    c = ab.compare_medians("noisy", ("ours", ours), ("ref", ref))
    lo, hi = c.median_ci
    assert lo < c.median_diff_pct < hi
    assert 1.0 < hi - lo < 15.0  # 5 % noise per run, 40 runs: a few percent wide, not zero, not huge


def test_take_turns_stops_whichever_process_is_not_on(ab, tmp_path):
    # two real processes count in turns; a stopped one must not advance
    counter = ("import sys, time\n"
               "n = 0\n"
               "end = time.monotonic() + 30\n"
               "while time.monotonic() < end:\n"
               "    n += 1\n"
               "    if n % 2000 == 0:\n"
               "        open(sys.argv[1], 'a').write('%d\\n' % time.monotonic_ns())\n")
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    procs = [subprocess.Popen([sys.executable, "-c", counter, str(p)], start_new_session=True) for p in logs]
    pids = [p.pid for p in procs]
    try:
        with ab.resumed_on_exit(pids, group=True):
            ab.pause(pids, group=True)
            sched = ab.take_turns({"a": ab.process_turn([pids[0]], group=True),
                                   "b": ab.process_turn([pids[1]], group=True)}, cycles=2, slice_s=0.4)
    finally:
        for p in procs:
            p.kill()
            p.wait()
    assert [w.label for w in sched.windows] == ["a", "b", "b", "a"]
    for log, label, other in ((logs[0], "a", "b"), (logs[1], "b", "a")):
        stamps = np.array([int(x) for x in log.read_text().split()], dtype=np.int64)
        assert all(((stamps > w.start) & (stamps <= w.end + MS)).any() for w in sched.of(label))
        slack = 50 * MS  # a stop takes effect within a scheduler tick, not instantly
        for w in sched.of(other):
            inside = (stamps > w.start + slack) & (stamps < w.end - slack)
            assert not inside.any(), f"{label} ran during {other}'s turn"
