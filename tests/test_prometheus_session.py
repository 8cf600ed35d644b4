"""The exporter on a real session (emulated Nano: real sampler, worker, recorder, controls).

`--prometheus 127.0.0.1:0` on a LiveSession: what a scraper sees, checked against what the
recorder wrote.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request

import pyarrow.dataset as ds
import pytest

from edgemon.session.config import RunConfig
from edgemon.session.live import LiveSession
from edgemon.workload.spec import WorkloadSpec

parser = pytest.importorskip("prometheus_client.parser")
pytestmark = pytest.mark.slow


def _scrape(port: int) -> dict[str, list]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        text = resp.read().decode("utf-8")
    out: dict[str, list] = {}
    for family in parser.text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def _value(samples, name, **labels):
    hits = [v for lab, v in samples.get(name, []) if all(lab.get(k) == str(w) for k, w in labels.items())]
    return hits[0] if len(hits) == 1 else None


def _wait_for(pred, timeout=30.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = pred()
        if got:
            return got
        time.sleep(0.2)
    return None


def test_a_live_session_seen_through_prometheus(tmp_path):
    folder = tmp_path / "20260101-100000-nano-numpy-mnist_1d"
    cfg = RunConfig(workload=WorkloadSpec(warmup_iters=10), duration_s=60, record_dir=folder, headless=True,
                    emulate="nano", prometheus="127.0.0.1:0")
    s = LiveSession(cfg)
    s.start()
    try:
        port = s.exporter.port

        def running():
            m = _scrape(port)
            ok = (_value(m, "edgemon_worker_state", state="running") == 1
                  and (_value(m, "edgemon_latency_seconds_count") or 0) > 0
                  and _value(m, "edgemon_cpu_freq_hertz", cpu=3) is not None)
            return m if ok else None

        m = _wait_for(running)
        assert m is not None, "the scrape never showed a running worker with latency and telemetry"
        labels = m["edgemon_worker_state"][0][0]
        assert labels["session"] == folder.name and labels["emulated"] == "true"
        assert labels["board"] == s.meta["platform"]["model"] and labels["runner"] == "numpy"
        assert _value(m, "edgemon_power_mode_info", id=0) == 1          # from the controls' snapshot
        assert _value(m, "edgemon_session_info", framework="numpy") == 1  # from the worker's hello
        assert _value(m, "edgemon_warmup_iterations_total") == 10
        assert _value(m, "edgemon_cpu_online", cpu=3) == 1

        def core3_offline():
            m = _scrape(port)
            return m if _value(m, "edgemon_cpu_online", cpu=3) == 0 else None

        s.command("power_mode", id=1)   # Nano 5W: cores 2-3 go offline
        m = _wait_for(core3_offline)
        assert m is not None, "the scrape never showed core 3 offline after the switch to 5W"
        assert _value(m, "edgemon_power_mode_info", id=1) == 1
        assert _value(m, "edgemon_events_total", kind="power_mode") == 1
        s.command("stop")
        assert s.wait(30)
    finally:
        s.close()
    snap = s.exporter.snapshot()
    assert snap["state"] == "ended"
    # the exporter saw every measured iteration the recorder wrote
    lat = ds.dataset(str(folder / "latency"), format="parquet").to_table()
    measured = lat.filter(ds.field("warmup") == False).num_rows  # noqa: E712 - a pyarrow expression, not a Python comparison
    [workload] = snap["workloads"]      # one workload: the hello names the model the config named
    assert workload.latency_count == measured and workload.iterations == lat.num_rows
    with pytest.raises(urllib.error.URLError):
        _scrape(port)   # closed with the session
