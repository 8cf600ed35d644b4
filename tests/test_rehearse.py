"""Profiles you can rehearse: --dry-run shows the plan and checks it against this machine without
starting anything, --time-scale runs it faster with its schedule scaled, a workload that cannot
run is found before any cool-down, and `edgemon models --runner R` lists the --opt keys."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from edgemon.workload import registry

pytestmark = pytest.mark.slow       # real sessions and workers
S = 1_000_000_000

PROFILE = """\
name = "rehearsal"
duration = "20s"
repetitions = 2
rest = "3s"

[workload]
runner = "numpy"
model = "mnist_1d"

[cooldown]
metric = "cpu_util_pct"
below = 100
timeout = "2m"

[idle_baseline]
duration = "2s"

[[schedule]]
at = "5s"
mark = "five seconds in"
"""


def _times(lines: list[str]) -> list[tuple[dt.datetime, str]]:
    out = []
    for line in lines:
        m = re.match(r"^  (\d\d:\d\d:\d\d)\s+(.*)$", line)
        if m:
            out.append((dt.datetime.strptime(m.group(1), "%H:%M:%S"), m.group(2)))
    return out


def test_dry_run_lays_the_plan_on_the_clock_checks_it_and_starts_nothing(run_edgemon, tmp_path):
    (tmp_path / "p.toml").write_text(PROFILE)
    p = run_edgemon("run", "--profile", "p.toml", "--dry-run", timeout=240)
    assert p.returncode == 0, p.stdout + p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].startswith(f"plan     {tmp_path / 'p.toml'} ('rehearsal')")
    steps = _times(lines)
    names = [what.split("  ")[0].strip() for _, what in steps]
    assert names == ["cool-down", "idle baseline", "repetition 1/2", "at 5s: mark 'five seconds in'", "rest",
                     "repetition 2/2", "at 5s: mark 'five seconds in'", "end"]
    t0 = steps[0][0]
    offsets = [(t - t0).total_seconds() % 86400 for t, _ in steps]
    assert offsets == [0, 0, 2, 7, 22, 25, 30, 45]       # absolute times follow from the plan
    assert "total    45s" in lines
    assert any("up to 2m more" in line for line in lines)
    checks = [line.strip() for line in lines if line.startswith("  ok") or line.startswith("  FAIL")]
    assert checks[0].startswith("ok    runner numpy") and checks[1].startswith("ok    model mnist_1d builds")
    assert any(c.startswith("ok    cool-down metric cpu_util_pct") for c in checks)
    assert any(c.startswith(f"ok    record into {tmp_path / 'recordings'}") for c in checks)
    assert lines[-1] == "dry run: nothing was started; every check passed"
    assert not (tmp_path / "recordings").exists()


def test_dry_run_says_what_this_machine_cannot_do(run_edgemon, tmp_path):
    (tmp_path / "p.toml").write_text('duration = "30s"\n[workload]\nrunner = "numpy"\nmodel = "mnist_1d"\n'
                                     '[[schedule]]\nat = "10s"\npower_mode = "15W"\n')
    p = run_edgemon("run", "--profile", "p.toml", "--dry-run", "--model", "imdb_dense", timeout=240)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "FAIL  control power_mode: no machine controls here (not a Jetson): schedule[1]" in p.stdout
    assert "1 check failed" in p.stdout
    # the same plan on an emulated Orin Nano, where 15W is a mode: every check passes
    p = run_edgemon("run", "--profile", "p.toml", "--dry-run", "--emulate", "orin-nano", timeout=240)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "ok    control power_mode" in p.stdout
    # a model that does not exist
    p = run_edgemon("run", "--profile", "p.toml", "--dry-run", "--emulate", "orin-nano", "--model", "nope",
                    timeout=240)
    assert p.returncode == 1
    assert "FAIL  runner numpy: unknown model 'nope'" in p.stdout and "1 check failed" in p.stdout
    # a mode the board does not have is the profile's mistake: one line, file and line
    (tmp_path / "q.toml").write_text('duration = "30s"\n[workload]\nrunner = "numpy"\nmodel = "mnist_1d"\n'
                                     '[[schedule]]\nat = "10s"\npower_mode = 7\n')
    p = run_edgemon("run", "--profile", "q.toml", "--dry-run", "--emulate", "orin-nano", timeout=240)
    assert p.returncode == 2 and "q.toml:7: schedule[1].power_mode: power mode 7 does not exist" in p.stderr
    assert not (tmp_path / "recordings").exists()


def test_time_scale_rehearses_a_profile_with_its_schedule_scaled(run_edgemon, tmp_path):
    (tmp_path / "p.toml").write_text('duration = "20s"\n[workload]\nrunner = "numpy"\nmodel = "mnist_1d"\n'
                                     '[idle_baseline]\nduration = "10s"\n'
                                     '[[schedule]]\nat = "10s"\nmark = "half way"\n')
    p = run_edgemon("run", "--profile", "p.toml", "--time-scale", "0.1", "--headless", "--record", "rec",
                    timeout=240)
    assert p.returncode == 0, p.stdout + p.stderr
    meta = json.loads((tmp_path / "rec/session.json").read_text())
    plan = meta["profile"]
    assert plan["time_scale"] == 0.1 and plan["items"][0]["duration_s"] == pytest.approx(2.0)
    assert plan["schedule"][0]["at_s"] == pytest.approx(1.0) and plan["idle_baseline_s"] == pytest.approx(1.0)
    from edgemon.analysis.data import load
    from edgemon.recording.reader import open_recording

    events = load(open_recording(tmp_path / "rec")).events
    phases = {(e.details.get("name"), e.details.get("at")): e for e in events if e.kind == "phase"}
    base = phases[("idle_baseline", "end")].details
    # on the session's own clock, with room for a loaded machine: unscaled they would be 10 s, 20 s, 10 s
    assert (base["end_ns"] - base["start_ns"]) / S == pytest.approx(1.0, abs=2.0)
    rep = phases[("repetition", "end")].details
    assert (rep["end_ns"] - rep["start_ns"]) / S == pytest.approx(2.0, abs=4.0)
    (mark,) = [e for e in events if e.kind == "mark"]
    assert (mark.t_ns - rep["start_ns"]) / S == pytest.approx(1.0, abs=2.0)


def test_a_workload_that_cannot_run_is_found_before_any_cool_down(run_edgemon, tmp_path):
    (tmp_path / "p.toml").write_text('duration = "20s"\n[workload]\nrunner = "numpy"\nmodel = "mnist_1d"\n'
                                     'python = "/bin/false"\n'
                                     '[cooldown]\nmetric = "temp_nowhere_c"\nbelow = 40\ntimeout = "10m"\n'
                                     '[idle_baseline]\nduration = "5m"\n')
    p = run_edgemon("run", "--profile", "p.toml", "--headless", "--record", "rec", timeout=240)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "does not run here" in p.stdout
    meta = json.loads((tmp_path / "rec/session.json").read_text())
    assert meta["state"] == "crashed" and meta["end"]["failed_to_start"] is True
    from edgemon.analysis.data import load
    from edgemon.recording.reader import open_recording

    events = load(open_recording(tmp_path / "rec")).events
    names = [e.details.get("name") for e in events if e.kind == "phase"]
    assert names == ["preflight", "preflight"], "no 10-minute cool-down, no 5-minute baseline first"
    assert not [e for e in events if e.kind == "worker_hello"]


def test_models_lists_each_runners_options_with_defaults(run_edgemon):
    for name in registry.list_runners():
        options = registry.options_for(name) or {}
        assert set(registry.option_defaults(name)) == set(options), f"{name}: a default for every --opt key"
    p = run_edgemon("models", "--runner", "numpy")
    assert p.returncode == 0, p.stderr
    text = p.stdout.split("--opt keys", 1)[1]
    for key, default in registry.option_defaults("numpy").items():
        assert re.search(rf"^\s+{key}\s+default {re.escape(default)}\s", text, re.M), key
    data = json.loads(run_edgemon("models", "--runner", "openvino", "--json").stdout)
    assert data["runner"] == "openvino" and "mobilenet_v1" in data["models"]
    assert data["options"]["api"] == {"default": "sync", "help": "sync or async"}
    p = run_edgemon("models", "--runner", "nope")
    assert p.returncode == 2 and "unknown runner" in p.stderr and "Traceback" not in p.stderr
