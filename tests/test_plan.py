"""Profiles run for real: repetitions in fresh workers, a schedule on an emulated Nano, a cool-down
gate that waits for a hot board, an idle baseline that energy analysis uses, stop and crash.

Real `edgemon run` processes, real runner processes, the emulated board in its own process.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

S = 1_000_000_000


def _events(folder: Path) -> list[tuple[int, str, dict]]:
    import pyarrow.dataset as ds

    t = ds.dataset(str(folder / "events"), format="parquet").to_table()
    rows = [(int(a), k, json.loads(d)) for a, k, d in zip(t.column("t_ns").to_pylist(), t.column("kind").to_pylist(),
                                                          t.column("details").to_pylist())]
    return sorted(rows, key=lambda r: r[0])


def _phases(events, name, at=None):
    return [d for _, k, d in events if k == "phase" and d.get("name") == name and (at is None or d.get("at") == at)]


def _analyze(run_edgemon, folder) -> dict:
    p = run_edgemon("analyze", str(folder), "--json")
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


SHORT = """\
duration = "1.5s"
repetitions = 3
rest = "0.5s"

[workload]
runner = "numpy"
model = "mnist_1d"
warmup = 5

[[schedule]]
at = "0.5s"
mark = "half a second in"

[[schedule]]
at = "1s"
power_mode = "MAXN"      # no machine controls on this host: recorded as failed, the session goes on
"""


def test_repetitions_make_one_recording_and_one_summary_with_spread(run_edgemon, tmp_path):
    (tmp_path / "short.toml").write_text(SHORT)
    p = run_edgemon("run", "--profile", "short.toml", "--headless", "--record", "rec", timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    folder = tmp_path / "rec"
    events = _events(folder)
    starts, ends = _phases(events, "repetition", "start"), _phases(events, "repetition", "end")
    assert [d["index"] for d in starts] == [1, 2, 3] and [d["index"] for d in ends] == [1, 2, 3]
    assert all(d["outcome"] == "duration" and d["end_ns"] > d["start_ns"] for d in ends)
    # a fresh worker per repetition, and the rest between them has no worker
    hellos = [d["pid"] for _, k, d in events if k == "worker_hello"]
    assert len(set(hellos)) == 3
    rests = _phases(events, "rest", "end")
    assert len(rests) == 2
    for rest, before, after in zip(rests, ends, starts[1:]):
        assert before["end_ns"] <= rest["start_ns"] and rest["end_ns"] <= after["start_ns"]
    # every scheduled action ran in every repetition; the one that cannot work here is recorded
    assert len([d for _, k, d in events if k == "mark"]) == 3
    failed = [d for _, k, d in events if k == "control_failed"]
    assert len(failed) == 3 and all(d["control"] == "power_mode" for d in failed)
    sched = _phases(events, "schedule")
    assert [d["ok"] for d in sched] == [True, False] * 3
    meta = json.loads((folder / "session.json").read_text())
    assert meta["profile"]["items"][0]["repetitions"] == 3
    assert meta["end"]["reason"] == "profile complete"

    result = _analyze(run_edgemon, folder)
    reps = result["repetitions"]
    assert reps["count"] == 3 and [r["index"] for r in reps["runs"]] == [1, 2, 3]
    assert all(r["count"] > 0 and r["throughput_ips"] > 0 for r in reps["runs"])
    assert sum(r["count"] for r in reps["runs"]) == result["latency_ms"]["count"]
    (w,) = reps["workloads"]
    medians = sorted(r["latency_ms"]["median"] for r in reps["runs"])
    assert w["runs"] == 3 and w["latency_median_ms"]["median"] == pytest.approx(medians[1])
    assert w["latency_median_ms"]["min"] == pytest.approx(medians[0])
    assert w["latency_median_ms"]["max"] == pytest.approx(medians[2])
    text = run_edgemon("analyze", str(folder)).stdout
    assert "repetitions  3" in text and "across repetitions" in text and "IQR" in text


def test_repetition_spread_is_exact_on_a_known_recording(tmp_path):
    """Three repetitions of 1, 2 and 4 ms iterations: median 2, min 1, max 4, IQR 1.5, std 1.53."""
    import numpy as np

    from analysis_helpers import end_at
    from edgemon.analysis.summary import analyze
    from edgemon.datatypes import Event, LatencyBatch
    from edgemon.recording.reader import open_recording
    from edgemon.recording.writer import Recorder

    rec = Recorder(tmp_path / "rec", {"host": "synthetic"}, flush_s=3600, roll_s=3600, fsync=False).open()
    t0 = int(rec.meta["clock"]["monotonic_ns"])
    for i, (a, b, ms) in enumerate([(1.0, 3.0, 1.0), (4.0, 6.0, 2.0), (7.0, 9.0, 4.0)], 1):
        lo, hi = t0 + int(a * S), t0 + int(b * S)
        n = int((b - a) * 1000 / ms)
        t_end = lo + (np.arange(n, dtype=np.int64) + 1) * int(ms * 1e6)
        rec.on_latency(LatencyBatch.from_lists(t_end[:2], [int(ms * 1e6)] * 2, [1] * 2, warmup=True))
        rec.on_latency(LatencyBatch.from_lists(t_end[2:], [int(ms * 1e6)] * (n - 2), [1] * (n - 2)))
        rec.on_event(Event(lo, "phase", {"name": "repetition", "at": "start", "index": i, "label": "w", "start_ns": lo}))
        rec.on_event(Event(hi, "phase", {"name": "repetition", "at": "end", "index": i, "label": "w", "start_ns": lo,
                                         "end_ns": hi, "outcome": "duration"}))
    rec.close({"reason": "test"})
    end_at(tmp_path / "rec", t0 + int(9 * S))   # synthetic rows lie after the moment it closed

    reps = analyze(open_recording(tmp_path / "rec"))["repetitions"]
    assert [r["count"] for r in reps["runs"]] == [1998, 998, 498]          # warm-up left out
    assert [r["latency_ms"]["median"] for r in reps["runs"]] == pytest.approx([1.0, 2.0, 4.0])
    assert [r["throughput_ips"] for r in reps["runs"]] == pytest.approx([1000.0, 500.0, 250.0], rel=1e-3)
    sp = reps["workloads"][0]["latency_median_ms"]
    assert (sp["median"], sp["min"], sp["max"]) == pytest.approx((2.0, 1.0, 4.0))
    assert sp["iqr"] == pytest.approx(1.5)
    assert sp["std"] == pytest.approx(float(np.std([1.0, 2.0, 4.0], ddof=1)))



def test_rows_before_a_late_hello_stay_with_their_repetition(tmp_path):
    """The repetition's start is the worker's hello as the session read it; on a loaded machine
    that is after the worker's first iterations. Those rows are the new repetition's, not the
    previous one's (nor nobody's): each repetition keeps all its rows and they add up."""
    import numpy as np

    from analysis_helpers import end_at
    from edgemon.analysis.summary import analyze
    from edgemon.datatypes import Event, LatencyBatch
    from edgemon.recording.reader import open_recording
    from edgemon.recording.writer import Recorder

    rec = Recorder(tmp_path / "rec", {"host": "synthetic"}, flush_s=3600, roll_s=3600, fsync=False).open()
    t0 = int(rec.meta["clock"]["monotonic_ns"])
    for i, (a, b, ms) in enumerate([(1.0, 3.0, 1.0), (4.0, 6.0, 2.0), (7.0, 9.0, 4.0)], 1):
        lo, hi = t0 + int(a * S), t0 + int(b * S)
        n = int((b - a) * 1000 / ms)
        t_end = lo + (np.arange(n, dtype=np.int64) + 1) * int(ms * 1e6)
        rec.on_latency(LatencyBatch.from_lists(t_end, [int(ms * 1e6)] * n, [1] * n))
        hello = lo + int(0.3 * S)          # read 0.3 s after the loop began
        rec.on_event(Event(hello, "phase", {"name": "repetition", "at": "start", "index": i, "label": "w",
                                            "start_ns": hello}))
        rec.on_event(Event(hi, "phase", {"name": "repetition", "at": "end", "index": i, "label": "w",
                                         "start_ns": hello, "end_ns": hi, "outcome": "duration"}))
    rec.close({"reason": "test"})
    end_at(tmp_path / "rec", t0 + int(9 * S))

    result = analyze(open_recording(tmp_path / "rec"))
    runs = result["repetitions"]["runs"]
    assert [r["count"] for r in runs] == [2000, 1000, 500]
    assert [r["latency_ms"]["max"] for r in runs] == pytest.approx([1.0, 2.0, 4.0])   # nothing of the next one
    assert sum(r["count"] for r in runs) == result["latency_ms"]["count"]


EMULATED = """\
emulate = "nano"
duration = "3s"

[workload]
runner = "numpy"
model = "mnist_1d"

[cooldown]
metric = "temp_cpu_c"
below = 50
timeout = "60s"

[idle_baseline]
duration = "1.5s"

[[schedule]]
at = "0.5s"
power_mode = "5W"

[[schedule]]
at = "1.5s"
mark = "in 5W"

[[schedule]]
at = "2s"
power_mode = "MAXN"
"""


@pytest.fixture(scope="module")
def emulated_session(tmp_path_factory):
    """One session on an emulated Nano that starts hot (95 C) and cools fast (tau 10 s, 1 C/W): still above
    the cool-down threshold after the plan has built its workload (the preflight before the cool-down)."""
    import os
    import subprocess
    import sys

    repo = Path(__file__).resolve().parent.parent
    tmp = tmp_path_factory.mktemp("plan-emulated")
    (tmp / "e.toml").write_text(EMULATED)
    env = dict(os.environ, EDGEMON_EMULATE_OPTS="start=95,tau=10,r=1",
               PYTHONPATH=str(repo) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    p = subprocess.run([sys.executable, "-m", "edgemon", "run", "--profile", "e.toml", "--headless", "--record", "rec"],
                       cwd=tmp, env=env, capture_output=True, text=True, timeout=180)
    assert p.returncode == 0, p.stdout + p.stderr
    return tmp / "rec"


def test_schedule_runs_on_the_emulated_board_at_its_times(emulated_session):
    events = _events(emulated_session)
    (start,) = _phases(events, "repetition", "start")
    t0 = start["start_ns"]
    sched = _phases(events, "schedule")
    assert [(d["action"], d["value"], d["ok"]) for d in sched] == [
        ("power_mode", "5W", True), ("mark", "in 5W", True), ("power_mode", "MAXN", True)]
    # Each action at its time, or right after the one before it when that one was still running
    # (an emulated nvpmodel switch takes 1-2 s on a loaded host; the plan runs actions in order).
    prev_end = None
    for d in sched:
        late = (d["start_ns"] - t0) / S - d["at_s"]
        assert late > -0.5, d
        assert late < 0.5 or (prev_end is not None and (d["start_ns"] - prev_end) / S < 0.5), d
        prev_end = d["end_ns"]
    marks = [t for t, k, d in events if k == "mark" and d["note"] == "in 5W"]
    assert len(marks) == 1 and abs(marks[0] - sched[1]["start_ns"]) / S < 0.5
    # each switch is the control's own event, after the plan issued it
    switches = [(t, d) for t, k, d in events if k == "power_mode" and t > t0]
    assert [d["to_id"] for _, d in switches][:2] == [1, 0]
    assert switches[0][0] >= sched[0]["start_ns"] and switches[1][0] >= sched[2]["start_ns"]
    assert switches[0][1]["ceilings"]["cpu0_freq_mhz"] < switches[1][1]["ceilings"]["cpu0_freq_mhz"]


def test_cooldown_waits_until_the_board_is_below_the_threshold(emulated_session):
    import pyarrow.dataset as ds

    events = _events(emulated_session)
    (cd_start,) = _phases(events, "cooldown", "start")
    (cd_end,) = _phases(events, "cooldown", "end")
    assert cd_start["temp_c"] >= 50            # it started hot...
    assert cd_end["reached"] is True and cd_end["temp_c"] < 50   # ...and waited until it was not
    tel = ds.dataset(str(emulated_session / "telemetry"), format="parquet").to_table()
    t = tel.column("t_ns").to_pylist()
    temp = tel.column("temp_cpu_c").to_pylist()
    during = [v for ts, v in zip(t, temp) if v is not None and cd_start["start_ns"] <= ts < cd_end["end_ns"] - S // 2]
    assert during and max(during) >= 50       # samples above the threshold while it waited
    (rep,) = _phases(events, "repetition", "start")
    assert rep["start_ns"] > cd_end["end_ns"]  # the measured part came after the gate


def test_idle_baseline_is_recorded_and_used_by_energy(emulated_session, run_edgemon):
    events = _events(emulated_session)
    (ib,) = _phases(events, "idle_baseline", "end")
    (cd_end,) = _phases(events, "cooldown", "end")
    (rep,) = _phases(events, "repetition", "start")
    assert cd_end["end_ns"] <= ib["start_ns"] < ib["end_ns"] <= rep["start_ns"]
    assert (ib["end_ns"] - ib["start_ns"]) / S == pytest.approx(1.5, abs=0.3)
    assert ib["samples"] > 0 and ib["power_mw"] > 0
    # no worker ran during the baseline
    hellos = [t for t, k, _ in events if k == "worker_hello"]
    assert all(t > ib["end_ns"] for t in hellos)
    energy = _analyze(run_edgemon, emulated_session)["energy"]
    assert energy["available"] and energy["baseline_source"] == "idle_baseline phase"
    assert energy["baseline_mw"] == pytest.approx(ib["power_mw"], rel=0.2)
    assert energy["mj_per_item_above_baseline"] < energy["mj_per_item"]


def _live(tmp_path, plan, **kw):
    from edgemon.session.config import RunConfig
    from edgemon.session.live import LiveSession
    from edgemon.workload.spec import WorkloadSpec

    cfg = RunConfig(workload=WorkloadSpec(**{k: v for k, v in plan["items"][0]["workload"].items()}),
                    record_dir=tmp_path / "rec", headless=True, plan=plan, **kw)
    s = LiveSession(cfg)
    s.start()
    return s


def test_stop_during_a_cooldown_ends_the_session(tmp_path):
    from edgemon.plan.runner import simple_plan

    plan = simple_plan({"runner": "numpy", "model": "mnist_1d"}, repetitions=2, duration_s=1.0)
    plan["cooldown"] = {"metric": "no_such_metric_c", "below_c": -30.0, "idle_s": None, "idle_cpu_pct": 10.0,
                        "timeout_s": 600.0, "on_timeout": "continue", "every_repetition": False}
    plan["idle_baseline_s"] = 5.0
    s = _live(tmp_path, plan)
    try:
        time.sleep(1.0)
        assert not s.ended and s.worker is None       # waiting, no worker yet
        s.command("stop")
        assert s.wait(10.0), "the session did not end after stop"
    finally:
        s.close()
    events = _events(tmp_path / "rec")
    (end,) = _phases(events, "cooldown", "end")
    assert end["reached"] is False and end["reason"] == "stopped"
    assert not _phases(events, "repetition") and not _phases(events, "idle_baseline")
    assert json.loads((tmp_path / "rec/session.json").read_text())["end"]["reason"] == "stopped by user"


def test_a_cooldown_that_times_out_can_stop_the_session(tmp_path):
    from edgemon.plan.runner import simple_plan

    plan = simple_plan({"runner": "numpy", "model": "mnist_1d"}, repetitions=1, duration_s=1.0)
    plan["cooldown"] = {"metric": "cpu_util_pct", "below_c": -30.0, "idle_s": None, "idle_cpu_pct": 10.0,
                        "timeout_s": 1.0, "on_timeout": "stop", "every_repetition": False}
    s = _live(tmp_path, plan)
    try:
        assert s.wait(15.0)
    finally:
        s.close()
    events = _events(tmp_path / "rec")
    (end,) = _phases(events, "cooldown", "end")
    assert end["reached"] is False and end["reason"].startswith("timed out") and "cpu_util_pct" in end
    assert not _phases(events, "repetition")
    assert "cool-down not reached" in json.loads((tmp_path / "rec/session.json").read_text())["end"]["reason"]


def test_a_crashing_repetition_ends_the_session_as_crashed(tmp_path):
    from edgemon.plan.runner import simple_plan

    plan = simple_plan({"runner": "numpy", "model": "mnist_1d", "options": {"crash_after": "50"}},
                       repetitions=3, duration_s=5.0)
    s = _live(tmp_path, plan)
    try:
        assert s.wait(30.0)
        assert s.status().state == "crashed"
    finally:
        s.close()
    events = _events(tmp_path / "rec")
    ends = _phases(events, "repetition", "end")
    assert [(d["index"], d["outcome"]) for d in ends] == [(1, "crashed")]
    assert [k for _, k, _ in events].count("worker_crashed") == 1


def test_a_detached_session_runs_the_profile(run_edgemon, tmp_path):
    (tmp_path / "d.toml").write_text('duration = "1s"\nrepetitions = 2\n[workload]\nrunner = "numpy"\n'
                                     'model = "mnist_1d"\n')
    p = run_edgemon("run", "--profile", "d.toml", "--detach", "--record", "rec")
    assert p.returncode == 0, p.stderr
    meta_path = tmp_path / "rec/session.json"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if json.loads(meta_path.read_text()).get("state") in ("ended", "crashed"):
            break
        time.sleep(0.3)
    meta = json.loads(meta_path.read_text())
    assert meta["state"] == "ended" and meta["end"]["reason"] == "profile complete"
    assert [d["index"] for d in _phases(_events(tmp_path / "rec"), "repetition", "end")] == [1, 2]


def test_a_power_mode_the_running_board_lacks_is_an_error_before_anything_starts(tmp_path):
    from edgemon.errors import UserError
    from edgemon.plan.runner import simple_plan
    from edgemon.session.config import RunConfig
    from edgemon.session.live import LiveSession
    from edgemon.workload.spec import WorkloadSpec

    plan = simple_plan({"runner": "numpy", "model": "mnist_1d"}, repetitions=1, duration_s=2.0)
    plan["schedule"] = [{"action": "power_mode", "value": "MAXN_SUPER", "at_s": 0.0, "key": "schedule[1]",
                         "where": "sweep.toml:7"}]
    s = LiveSession(RunConfig(workload=WorkloadSpec(), record_dir=tmp_path / "rec", emulate="nano", plan=plan))
    try:
        with pytest.raises(UserError) as e:
            s.start()
    finally:
        s.close()
    msg = str(e.value)
    assert msg.startswith("sweep.toml:7: schedule[1].power_mode: power mode 'MAXN_SUPER' is not a mode of"), msg
    assert "0 MAXN" in msg and "1 5W" in msg
    assert not (tmp_path / "rec").exists()       # nothing was recorded
