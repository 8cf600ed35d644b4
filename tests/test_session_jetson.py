"""A whole session on an emulated Jetson: power-mode changes, recorded events, thermal throttling.

These drive the real readers, controls, sampler, worker and recorder; only the board is
emulated (its own process, stand-in nvpmodel/tegrastats/jetson_clocks).
"""

from __future__ import annotations

import json
import time

import numpy as np
import pyarrow.dataset as ds
import pytest

from edgemon.session.config import RunConfig
from edgemon.session.live import LiveSession
from edgemon.workload.spec import WorkloadSpec

pytestmark = pytest.mark.slow


def _session(tmp_path, board, **kw):
    cfg = RunConfig(workload=WorkloadSpec(), duration_s=60, record_dir=tmp_path / "rec", headless=True,
                    emulate=board, **kw)
    s = LiveSession(cfg)
    s.start()
    return s


def _wait_for(pred, timeout=20.0, step=0.2):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return False


def _telemetry(folder):
    return ds.dataset(str(folder / "telemetry"), format="parquet").to_table()


def res_start_ns(folder) -> int:
    from edgemon.recording.reader import open_recording

    return int(open_recording(folder).start_ns)


def _events(folder):
    t = ds.dataset(str(folder / "events"), format="parquet").to_table()
    return [(k, json.loads(d)) for k, d in zip(t.column("kind").to_pylist(), t.column("details").to_pylist())]


def test_power_mode_switch_caps_clocks_and_is_recorded(tmp_path):
    s = _session(tmp_path, "nano")
    samples = []
    try:
        assert s.meta["emulated"] is True
        assert s.meta["clock_ceilings"]["cpu0_freq_mhz"] > 918
        # no documented over-current limit on a Nano: nothing for the analysis to blame power on
        assert s.meta["power_limits"] == {}
        assert s.meta["power_total_source"] == "INA sysfs: input rail POM_5V_IN"
        view = s.machine_state()
        assert view is not None and view.power_mode_id == 0
        assert _wait_for(lambda: samples.extend(s.drain().samples) or len(samples) > 5)
        before = s.meta["clock_ceilings"]["cpu0_freq_mhz"]
        msg = s.command("power_mode", id=1)  # nano 5W: cpu capped at 918 MHz, cores 2-3 off
        assert "5W" in msg or "1" in msg, msg
        t_switch = time.monotonic_ns()
        time.sleep(2.0)
        up = s.drain()
        switch = [e for e in up.events if e.kind == "power_mode" and e.details.get("to_id") == 1]
        assert switch, [e.kind for e in up.events]
        # the kernel rounds a cap up to the next table frequency (921.6 MHz on a Nano)
        cap = switch[0].details["ceilings"]["cpu0_freq_mhz"]
        assert 918.0 <= cap < before
        after = [x for x in up.samples if x.t_ns > t_switch + 500_000_000]
        assert after, "no samples after the switch"
        for smp in after:
            assert smp.values.get("cpu0_freq_mhz", 0) <= cap
            assert smp.values.get("cpu3_online") == 0.0
    finally:
        s.close()
    folder = tmp_path / "rec"
    pm = [d for k, d in _events(folder) if k == "power_mode"]
    switch = [d for d in pm if d.get("to_id") == 1]
    assert switch and switch[0]["ok"] is True
    assert switch[0]["ceilings"]["cpu0_freq_mhz"] < 1000
    # the session restored the mode it found on exit
    assert any(d.get("to_id") == 0 for d in pm), pm
    meta = json.loads((folder / "session.json").read_text())
    assert meta["restore"]["power_mode_id"] == 0


def test_sustained_load_heats_the_board_until_clocks_throttle(tmp_path, monkeypatch):
    # a fast, hot board: 10 s thermal time constant and a 50 C trip, starting at 25 C
    monkeypatch.setenv("EDGEMON_EMULATE_OPTS", "tau=10,trip=50,hyst=30,r=20,start=25")
    s = _session(tmp_path, "nano")
    try:
        trip = s.meta["trip_points"]["temp_cpu_c"]
        assert trip == pytest.approx(50.0)
        ceiling = s.meta["clock_ceilings"]["cpu0_freq_mhz"]
        seen = []

        def throttled():
            seen.extend(s.drain().samples)
            return any(x.values.get("temp_cpu_c", 0) >= trip and x.values.get("cpu0_freq_mhz", ceiling) < ceiling
                       for x in seen)

        assert _wait_for(throttled, timeout=30), "temperature never reached the trip with the clocks capped"
        time.sleep(4)  # stay throttled long enough for an episode (the analysis drops < 1 s)
    finally:
        s.close()
    tel = _telemetry(tmp_path / "rec")
    temp = np.array(tel.column("temp_cpu_c").to_pylist(), dtype=float)
    freq = np.array(tel.column("cpu0_freq_mhz").to_pylist(), dtype=float)
    ok = ~np.isnan(temp) & ~np.isnan(freq)
    temp, freq = temp[ok], freq[ok]
    hot = temp >= trip
    assert hot.any()
    first_hot = int(np.argmax(hot))
    assert temp.max() >= temp[0] + 5, "the board did not heat up under load"
    assert (freq[first_hot:] < ceiling).any()  # and the clocks came down

    # the analysis finds it: a thermal episode on the CPU clock, starting once the zone was hot
    from edgemon.analysis.summary import analyze
    from edgemon.recording.reader import open_recording

    res = analyze(open_recording(tmp_path / "rec"))
    episodes = [e for e in res["throttling"]["episodes"] if e["domain"] == "cpu"]
    assert episodes, res["throttling"]
    assert {e["cause"] for e in episodes} == {"thermal"}
    t = np.array(tel.column("t_ns").to_pylist(), dtype=np.int64)[ok]
    first_hot_s = (t[first_hot] - res_start_ns(tmp_path / "rec")) / 1e9
    assert min(e["start_s"] for e in episodes) >= first_hot_s - 1.0


def test_throttled_clocks_slow_the_workload_by_the_clock_ratio(tmp_path, monkeypatch):
    # A Nano that cycles in and out of its trip every few seconds: full load heats it past 40 C
    # (tau 4 s), the throttled clock (825.6 of 1479 MHz) cools it below 37 C.
    monkeypatch.setenv("EDGEMON_EMULATE_OPTS", "tau=4,trip=40,hyst=3,r=4.5")
    s = _session(tmp_path, "nano")
    try:
        end = time.monotonic() + 22
        while time.monotonic() < end:
            s.drain()
            time.sleep(0.2)
        hello = s.meta.get("runner_hello") or {}
        assert hello.get("clock_stretch") is True
    finally:
        s.close()
    from edgemon.analysis.summary import analyze
    from edgemon.recording.reader import open_recording

    th = analyze(open_recording(tmp_path / "rec"))["throttling"]
    cpu = [e for e in th["episodes"] if e["domain"] == "cpu"]
    assert cpu and {e["cause"] for e in cpu} == {"thermal"}, th["episodes"]
    assert th["time_to_first_throttle_s"] > 0          # a cool start: it heats up first
    clock_ratio = float(np.median([e["ceiling_mhz"] / e["clock_mhz"] for e in cpu]))
    assert clock_ratio > 1.5                            # the throttled clock really fell (~1.79)
    latency_ratio = th["inside"]["p50_ms"] / th["outside"]["p50_ms"]
    # The median iteration inside episodes is slower by about the clock ratio. The band is wide for
    # a loaded 2-core host; no effect (ratio ~1) or a doubled effect both fall outside it.
    assert 0.75 * clock_ratio <= latency_ratio <= 1.4 * clock_ratio, (latency_ratio, clock_ratio, th["inside"],
                                                                       th["outside"])
