"""Real `edgemon run --headless` sessions: recording, analysis, crashes, SIGKILL and recovery."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pyarrow.dataset as ds
import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow


def _env():
    e = dict(os.environ)
    e["PYTHONPATH"] = str(REPO) + os.pathsep + e.get("PYTHONPATH", "")
    return e


def _table(folder: Path, stream: str):
    return ds.dataset(str(folder / stream), format="parquet").to_table()


def test_headless_run_records_and_analyzes(run_edgemon, tmp_path):
    rec = tmp_path / "session"
    p = run_edgemon("run", "--headless", "--duration", "4s", "--warmup", "20", "--record", str(rec),
                    "--status-every", "1s")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "p99" in p.stdout  # summary table
    import re

    rates = [float(m) for m in re.findall(r"\| ([0-9.]+) it/s \|", p.stdout)]
    assert rates and max(rates) > 0, p.stdout  # status lines report the live rate
    meta = json.loads((rec / "session.json").read_text())
    assert meta["state"] == "ended"
    assert meta["workload"]["model"] == "mnist_1d"
    assert not list(rec.glob("*/*.arrows")), "live tails must be rolled into Parquet on exit"

    tel = _table(rec, "telemetry")
    lat = _table(rec, "latency")
    ev = _table(rec, "events")
    assert tel.num_rows >= 20  # ~10 Hz for 4 s
    for col in ("t_ns", "cpu_util_pct", "ram_used_mb", "proc_monitor_cpu_pct", "proc_worker_cpu_pct"):
        assert col in tel.column_names
    warm = lat.column("warmup").to_pylist()
    assert warm[:20] == [True] * 20 and not any(warm[20:])
    kinds = set(ev.column("kind").to_pylist())
    assert {"session_start", "worker_hello", "warmup_done", "session_end"} <= kinds

    a = run_edgemon("analyze", str(rec), "--json")
    assert a.returncode == 0, a.stderr
    res = json.loads(a.stdout)
    n_measured = len(warm) - 20
    assert res["latency_ms"]["count"] == n_measured
    for key in ("count", "min", "mean", "median", "p90", "p95", "p99", "p999", "max", "std", "cov_pct"):
        assert key in res["latency_ms"]
    assert res["latency_ms"]["min"] <= res["latency_ms"]["median"] <= res["latency_ms"]["p99"] <= res["latency_ms"]["max"]
    assert res["throughput_ips"] > 0
    text = run_edgemon("analyze", str(rec))
    assert "throughput" in text.stdout and "p99.9" in text.stdout


def test_worker_crash_is_recorded_and_exit_code_is_nonzero(run_edgemon, tmp_path):
    rec = tmp_path / "crash"
    p = run_edgemon("run", "--headless", "--duration", "20s", "--record", str(rec), "--opt", "crash_after=200")
    assert p.returncode == 1, p.stdout + p.stderr
    assert "worker crashed" in p.stdout
    ev = _table(rec, "events")
    rows = [json.loads(d) for k, d in zip(ev.column("kind").to_pylist(), ev.column("details").to_pylist())
            if k == "worker_crashed"]
    assert len(rows) == 1
    assert rows[0]["returncode"] != 0
    assert rows[0]["stderr_tail"], "the last lines of the worker's stderr are kept"
    assert json.loads((rec / "session.json").read_text())["state"] == "crashed"


def test_sigkilled_monitor_leaves_a_recoverable_recording(tmp_path):
    rec = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgemon", "run", "--headless", "--duration", "60s", "--record", str(rec)],
        cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not list(rec.glob("latency/*.arrows")):
            time.sleep(0.2)
        time.sleep(5)  # a few seconds of flushed data
        children = psutil.Process(proc.pid).children(recursive=True)
        kill_ns = time.monotonic_ns()
        proc.kill()
        proc.wait(10)
    finally:
        for c in locals().get("children", []):
            try:
                c.kill()
            except psutil.Error:
                pass
    assert list(rec.glob("*/*.arrows")), "a killed session leaves its live tail behind"
    auto = tmp_path / "auto"
    shutil.copytree(rec, auto)

    # explicit recover
    env = _env()
    p = subprocess.run([sys.executable, "-m", "edgemon", "recover", str(rec)], env=env, capture_output=True,
                       text=True, cwd=tmp_path, timeout=60)
    assert p.returncode == 0, p.stderr
    # any command that opens the session recovers by itself
    a = subprocess.run([sys.executable, "-m", "edgemon", "analyze", str(auto), "--json"], env=env,
                       capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert a.returncode == 0, a.stderr
    assert json.loads(a.stdout)["latency_ms"]["count"] > 0

    for folder in (rec, auto):
        assert not list(folder.glob("*/*.arrows"))
        tel = _table(folder, "telemetry")
        lat = _table(folder, "latency")
        last_tel = max(tel.column("t_ns").to_pylist())
        last_lat = max(lat.column("t_end_ns").to_pylist())
        # everything up to about 2 s before the kill is there
        assert kill_ns - last_tel < 2.5e9, (kill_ns - last_tel) / 1e9
        assert kill_ns - last_lat < 2.5e9, (kill_ns - last_lat) / 1e9
        assert json.loads((folder / "session.json").read_text())["state"] == "crashed"
