"""Throttling live, on an emulated board heated fast with EDGEMON_EMULATE_OPTS (real processes): the
session records throttle_begin/throttle_end as it goes, they are the episodes `edgemon analyze`
finds afterwards, the headless status line and the attached dashboard's header say THROTTLED."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from detach_helpers import end_process, env, pid_alive, wait_for
from test_detach import _PtyDashboard

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

HOT = "tau=3,trip=40"      # heats past its trip within seconds of a cold (ambient) start


def _hot_env() -> dict[str, str]:
    return {**env(), "EDGEMON_EMULATE_OPTS": HOT}


def test_headless_session_flags_throttling_as_it_happens_by_the_analysis_rule(tmp_path):
    rec = tmp_path / "rec"
    p = subprocess.run([sys.executable, "-m", "edgemon", "run", "--emulate", "orin-nano", "--headless",
                        "--duration", "25s", "--status-every", "2s", "--record", str(rec)],
                       cwd=tmp_path, env=_hot_env(), capture_output=True, text=True, timeout=240)
    assert p.returncode == 0, p.stdout + p.stderr
    status_lines = [ln for ln in p.stdout.splitlines() if ln.startswith("running ")]
    assert any("THROTTLED" in ln and "thermal" in ln for ln in status_lines), status_lines
    assert re.search(r"^throttling\s+\d+ episodes? \(thermal\)", p.stdout, re.M), p.stdout

    from edgemon.analysis.data import load
    from edgemon.recording.reader import open_recording

    data = load(open_recording(rec))
    begins = [e for e in data.events if e.kind == "throttle_begin"]
    ends = [e for e in data.events if e.kind == "throttle_end"]
    assert begins and len(begins) == len(ends)
    assert {e.details["cause"] for e in ends} == {"thermal"}
    assert all(e.details["ceiling_mhz"] > e.details["clock_mhz"] for e in begins)

    a = subprocess.run([sys.executable, "-m", "edgemon", "analyze", str(rec), "--json"], cwd=tmp_path, env=env(),
                       capture_output=True, text=True, timeout=240)
    assert a.returncode == 0, a.stderr
    offline = json.loads(a.stdout)["throttling"]["episodes"]
    live = sorted((e.details["domain"], round(data.rel_s(e.details["start_ns"]), 3),
                   round(data.rel_s(e.details["end_ns"]), 3), e.details["cause"]) for e in ends)
    assert live == sorted((e["domain"], round(e["start_s"], 3), round(e["end_s"], 3), e["cause"]) for e in offline)


def test_attached_dashboard_shows_the_flag_and_the_summary_counts_the_episodes(tmp_path):
    rec = tmp_path / "rec"
    p = subprocess.run([sys.executable, "-m", "edgemon", "run", "--emulate", "orin-nano", "--detach",
                        "--duration", "120s", "--record", str(rec)],
                       cwd=tmp_path, env=_hot_env(), capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    pid = int(re.search(r"\(pid (\d+)\)", p.stdout).group(1))
    term = _PtyDashboard(rec, tmp_path)
    try:
        wait_for(lambda: term.screen_has("THROTTLED"), timeout=90, what="the throttle flag in the header")
        wait_for(lambda: re.search(r"\d+/\d+ MHz", term.text()), what="a clock against its ceiling")
        term.press("q", then_wait_for="detach")
        term.press("s")
        assert term.proc.wait(60) == 0
        wait_for(lambda: f"recording: {rec} (ended" in term.text(), what="the summary")
        assert re.search(r"throttling\s+\d+ episodes? \(thermal\)", term.text())
    finally:
        term.close()
        end_process(pid)
    wait_for(lambda: not pid_alive(pid), what="the session process to end")
    assert os.path.exists(rec / "session.json")
