"""`edgemon watch`: the machine recorded without a workload, and what "busy" means then."""

from __future__ import annotations

import json

import pyarrow.dataset as ds
import pytest
from analysis_helpers import analyze_folder, back_to_back, build_session

CEIL = {"cpu0_freq_mhz": 1479}


@pytest.mark.slow
def test_watch_records_the_machine_without_a_workload(tmp_path, run_edgemon):
    rec = tmp_path / "rec"
    p = run_edgemon("watch", "--headless", "--duration", "2s", "--record", str(rec), "--emulate", "orin-nano")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "monitor only" in p.stdout
    meta = json.loads((rec / "session.json").read_text())
    assert meta["kind"] == "watch" and meta["workload"]["runner"] == "none"
    assert meta["state"] == "ended" and meta["end"]["reason"] == "duration reached"
    assert "worker" not in meta["end"] and not (rec / "worker.stdout.log").exists()
    tel = ds.dataset(str(rec / "telemetry"), format="parquet").to_table()
    assert tel.num_rows >= 5 and "gpu_freq_mhz" in tel.column_names      # the emulated Jetson's clocks
    assert ds.dataset(str(rec / "latency"), format="parquet").to_table().num_rows == 0
    a = run_edgemon("analyze", str(rec), "--json")
    assert a.returncode == 0, a.stderr
    assert json.loads(a.stdout)["throttling"]["busy_from"] == "machine"


def _load_dip(t):
    """CPU load 90 % from 20 s to 60 s and the clock held down from 30 s to 50 s; no worker at all."""
    busy = 20 <= t < 60
    return {"cpu0_freq_mhz": 1036.8 if 30 <= t < 50 else 1479.0, "cpu0_util_pct": 90.0 if busy else 3.0,
            "cpu_util_pct": 90.0 if busy else 3.0}


@pytest.mark.parametrize("kind, episodes", [("watch", 1), ("imported", 1), ("runner", 0)])
def test_busy_is_the_machines_load_where_there_is_no_worker(tmp_path, kind, episodes):
    folder = build_session(tmp_path / kind, meta={"kind": kind, "clock_ceilings": CEIL}, sample=_load_dip)
    th = analyze_folder(folder)["throttling"]
    assert len(th["episodes"]) == episodes
    if episodes:
        ep = th["episodes"][0]
        assert ep["start_s"] == pytest.approx(30.0, abs=0.2) and ep["end_s"] == pytest.approx(50.0, abs=0.2)
        assert th["busy_s"] == pytest.approx(40.0, abs=0.3) and th["busy_from"] == "machine"
    else:                                   # a runner session: no worker CPU, no rows -> never busy
        assert th["busy_s"] == 0.0 and th["busy_from"] == "worker"


def test_a_command_is_busy_when_the_gpu_is(tmp_path):
    # a command that keeps the GPU busy with little CPU and no latency rows
    def sample(t):
        return {"gpu_freq_mhz": 600.0 if 30 <= t < 50 else 921.6, "gpu_util_pct": 99.0,
                "proc_worker_cpu_pct": 2.0}

    folder = build_session(tmp_path / "c", meta={"kind": "command", "clock_ceilings": {"gpu_freq_mhz": 921.6}},
                           sample=sample)
    th = analyze_folder(folder)["throttling"]
    assert th["busy_from"] == "command" and len(th["episodes"]) == 1
    # the same with rows is the ordinary worker rule
    t_end, dur = back_to_back(0, 100, 10.0)
    folder = build_session(tmp_path / "r", meta={"clock_ceilings": {"gpu_freq_mhz": 921.6}}, sample=sample,
                           latency=(t_end, dur))
    assert len(analyze_folder(folder)["throttling"]["episodes"]) == 1
