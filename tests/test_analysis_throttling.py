"""Throttling episodes with known start, duration and cause, on sessions written by the real Recorder."""

from __future__ import annotations

import pytest

from analysis_helpers import analyze_folder, back_to_back, build_session

CEIL = {"cpu0_freq_mhz": 1479, "gpu_freq_mhz": 921.6, "emc_freq_mhz": 1600}
TRIPS = {"temp_cpu_c": 99.0}


def _busy_sample(t, *, cpu=1479.0, temp=70.0, **extra):
    d = {"cpu0_freq_mhz": cpu, "gpu_freq_mhz": 921.6, "emc_freq_mhz": 1600.0, "temp_cpu_c": temp,
         "proc_worker_cpu_pct": 100.0}
    d.update(extra)
    return d


def test_thermal_episode_of_30_s_found_exactly(tmp_path):
    def sample(t):
        hot = 60 <= t < 90
        return _busy_sample(t, cpu=1036.0 if hot else 1479.0, temp=98.0 if hot else 70.0)

    folder = build_session(tmp_path / "s", meta={"clock_ceilings": CEIL, "trip_points": TRIPS},
                           sample=sample, latency=back_to_back(0, 100, 10.0))
    th = analyze_folder(folder)["throttling"]
    assert th["available"]
    (ep,) = th["episodes"]
    assert ep["domain"] == "cpu" and ep["clocks"] == ["cpu0_freq_mhz"]
    assert ep["start_s"] == pytest.approx(60.0, abs=1e-6)
    assert ep["end_s"] == pytest.approx(90.0, abs=1e-6)
    assert ep["duration_s"] == pytest.approx(30.0, abs=1e-6)
    assert ep["clock_mhz"] == 1036.0 and ep["ceiling_mhz"] == 1479.0
    assert ep["drop_mhz"] == pytest.approx(443.0)
    assert ep["drop_pct"] == pytest.approx(443.0 / 1479.0 * 100)
    assert ep["cause"] == "thermal"
    assert any("temp_cpu_c" in e and "99" in e for e in ep["evidence"])
    assert th["time_to_first_throttle_s"] == pytest.approx(60.0, abs=1e-6)
    assert th["share_throttled"]["cpu"] == pytest.approx(0.3)
    assert th["share_throttled"]["gpu"] == 0.0 and th["share_throttled"]["emc"] == 0.0
    assert th["inside"]["count"] == 3000 and th["outside"]["count"] == 7000
    assert th["inside"]["seconds"] == pytest.approx(30.0, abs=1e-6)
    assert th["inside"]["throughput_ips"] == pytest.approx(100.0, rel=1e-6)


def test_latency_inside_episode_is_compared_with_outside(tmp_path):
    t_end, dur = back_to_back(0, 100, 10.0)
    dur = dur.copy()
    dur[(t_end > 60) & (t_end <= 90)] = 20.0  # slower while throttled (end times kept for simplicity)

    def sample(t):
        hot = 60 <= t < 90
        return _busy_sample(t, cpu=1036.0 if hot else 1479.0, temp=98.0 if hot else 70.0)

    folder = build_session(tmp_path / "s", meta={"clock_ceilings": CEIL, "trip_points": TRIPS},
                           sample=sample, latency=(t_end, dur))
    th = analyze_folder(folder)["throttling"]
    assert th["inside"]["p50_ms"] == 20.0
    assert th["outside"]["p50_ms"] == 10.0
    assert th["episodes"][0]["latency_p50_ms"] == 20.0


def test_power_mode_that_lowers_the_ceiling_is_not_throttling(tmp_path):
    def sample(t):
        return _busy_sample(t, cpu=1036.0 if t >= 50 else 1479.0)

    ev = [(50.0, "power_mode", {"from_id": 0, "to_id": 1, "name": "5W", "ok": True,
                                "ceilings": {"cpu0_freq_mhz": 1036, "gpu_freq_mhz": 921.6, "emc_freq_mhz": 1600}})]
    folder = build_session(tmp_path / "s", meta={"clock_ceilings": CEIL}, sample=sample,
                           latency=back_to_back(0, 100, 10.0), events=ev)
    th = analyze_folder(folder)["throttling"]
    assert th["episodes"] == []
    assert th["share_throttled"]["cpu"] == 0.0
    (change,) = th["ceiling_changes"]
    assert change["at_s"] == pytest.approx(50.0) and change["mode"] == "5W"
    assert th["ceilings"][1]["mhz"]["cpu0_freq_mhz"] == 1036.0
    assert "ceiling_note" not in th


def test_failed_power_mode_change_keeps_the_old_ceiling(tmp_path):
    def sample(t):
        return _busy_sample(t, cpu=1036.0 if t >= 50 else 1479.0)

    ev = [(50.0, "power_mode", {"to_id": 1, "name": "5W", "ok": False, "ceilings": {"cpu0_freq_mhz": 1036}})]
    folder = build_session(tmp_path / "s", meta={"clock_ceilings": CEIL}, sample=sample,
                           latency=back_to_back(0, 100, 10.0), events=ev)
    th = analyze_folder(folder)["throttling"]
    (ep,) = th["episodes"]
    assert ep["start_s"] == pytest.approx(50.0) and ep["cause"] == "unknown"


def test_dip_while_the_worker_is_idle_is_no_episode(tmp_path):
    # iterations only outside 40..70 s; the clock drops to 345 MHz exactly while idle
    def sample(t):
        idle = 40 <= t < 70
        return _busy_sample(t, cpu=345.6 if idle else 1479.0, proc_worker_cpu_pct=1.0 if idle else 100.0)

    t1, d1 = back_to_back(0, 40, 10.0)
    t2, d2 = back_to_back(70, 100, 10.0)
    import numpy as np

    folder = build_session(tmp_path / "s", meta={"clock_ceilings": CEIL}, sample=sample,
                           latency=(np.concatenate([t1, t2]), np.concatenate([d1, d2])))
    th = analyze_folder(folder)["throttling"]
    assert th["episodes"] == []
    assert th["busy_s"] == pytest.approx(70.0, abs=0.6)


def test_idle_core_and_idle_gpu_dips_are_governor_not_throttling(tmp_path):
    def sample(t):
        low = 20 <= t < 80
        return _busy_sample(t, cpu=1479.0, cpu1_freq_mhz=102.0 if low else 1479.0, cpu1_util_pct=2.0 if low else 90.0,
                            gpu_freq_mhz=76.8 if low else 921.6, gpu_util_pct=0.0 if low else 99.0)

    folder = build_session(tmp_path / "s", meta={"clock_ceilings": {**CEIL, "cpu1_freq_mhz": 1479}}, sample=sample,
                           latency=back_to_back(0, 100, 10.0))
    assert analyze_folder(folder)["throttling"]["episodes"] == []


def test_offline_core_is_ignored(tmp_path):
    def sample(t):
        return _busy_sample(t, cpu1_freq_mhz=0.0 if 30 <= t < 60 else 1479.0)

    ev = [(30.0, "core_online", {"cpu": 1, "online": False, "ok": True}),
          (60.0, "core_online", {"cpu": 1, "online": True, "ok": True})]
    folder = build_session(tmp_path / "s", meta={"clock_ceilings": {**CEIL, "cpu1_freq_mhz": 1479}}, sample=sample,
                           latency=back_to_back(0, 100, 10.0), events=ev)
    assert analyze_folder(folder)["throttling"]["episodes"] == []


def test_power_cap_flag_and_rail_limit_are_power_causes(tmp_path):
    def sample(t):
        capped = 40 <= t < 55
        return _busy_sample(t, gpu_freq_mhz=600.0 if capped else 921.6,
                            gpu_clock_event_reasons=float(0x4) if capped else 0.0)

    folder = build_session(tmp_path / "a", meta={"clock_ceilings": CEIL}, sample=sample,
                           latency=back_to_back(0, 100, 10.0))
    (ep,) = analyze_folder(folder)["throttling"]["episodes"]
    assert ep["domain"] == "gpu" and ep["cause"] == "power"
    assert ep["duration_s"] == pytest.approx(15.0)
    assert any("SwPowerCap" in e for e in ep["evidence"])

    def sample_rail(t):
        capped = 40 <= t < 55
        return _busy_sample(t, emc_freq_mhz=1331.0 if capped else 1600.0,
                            power_vdd_in_mw=9950.0 if capped else 6000.0)

    folder = build_session(tmp_path / "b", meta={"clock_ceilings": CEIL, "power_limits": {"power_vdd_in_mw": 10000}},
                           sample=sample_rail, latency=back_to_back(0, 100, 10.0))
    (ep,) = analyze_folder(folder)["throttling"]["episodes"]
    assert ep["domain"] == "emc" and ep["cause"] == "power"


def test_raspberry_pi_flags_come_from_the_raw_bitmask(tmp_path):
    """vcgencmd get_throttled: rpi_throttled_raw holds the bits; rpi_throttled is bit 2 alone, so a
    throttled Pi (0x4) is no under-voltage, and a soft temperature limit (0x8) is a thermal cause."""
    def sample(t, raw):
        on = 40 <= t < 55
        return _busy_sample(t, cpu=1200.0 if on else 1479.0, rpi_throttled_raw=float(raw) if on else 0.0,
                            rpi_throttled=float(bool(raw & 0x4)) if on else 0.0)

    folder = build_session(tmp_path / "a", meta={"clock_ceilings": CEIL}, sample=lambda t: sample(t, 0x8),
                           latency=back_to_back(0, 100, 10.0))
    (ep,) = analyze_folder(folder)["throttling"]["episodes"]
    assert ep["cause"] == "thermal" and any("soft temperature limit" in e for e in ep["evidence"])

    folder = build_session(tmp_path / "b", meta={"clock_ceilings": CEIL}, sample=lambda t: sample(t, 0x4),
                           latency=back_to_back(0, 100, 10.0))
    (ep,) = analyze_folder(folder)["throttling"]["episodes"]
    assert not any("under-voltage" in e for e in ep["evidence"])
    assert ep["cause"] == "thermal_or_power"


def test_user_action_and_power_mode_events_explain_an_episode(tmp_path):
    def sample(t):
        return _busy_sample(t, cpu=1200.0 if 50 <= t < 70 else 1479.0)

    folder = build_session(tmp_path / "a", meta={"clock_ceilings": CEIL}, sample=sample,
                           latency=back_to_back(0, 100, 10.0), events=[(49.5, "fan", {"pwm": 0, "ok": True})])
    (ep,) = analyze_folder(folder)["throttling"]["episodes"]
    assert ep["cause"] == "user_action"

    folder = build_session(tmp_path / "b", meta={"clock_ceilings": CEIL}, sample=sample,
                           latency=back_to_back(0, 100, 10.0),
                           events=[(49.9, "power_mode", {"to_id": 0, "name": "MAXN", "ok": True})])
    (ep,) = analyze_folder(folder)["throttling"]["episodes"]
    assert ep["cause"] == "power_mode"


def test_without_ceilings_the_segment_maximum_stands_in_and_says_so(tmp_path):
    def sample(t):
        return _busy_sample(t, cpu=1036.0 if 60 <= t < 90 else 1479.0, temp=98.0 if 60 <= t < 90 else 60.0)

    folder = build_session(tmp_path / "s", meta={"trip_points": TRIPS}, sample=sample,
                           latency=back_to_back(0, 100, 10.0))
    result = analyze_folder(folder)
    th = result["throttling"]
    (ep,) = th["episodes"]
    assert ep["ceiling_mhz"] == 1479.0 and ep["cause"] == "thermal"
    assert "highest clock seen" in th["ceiling_note"]
    assert th["ceilings"][0]["sources"]["cpu0_freq_mhz"] == "observed max"
    assert any("highest clock seen" in p for p in result["problems"])


def test_short_dips_merge_and_blips_are_dropped(tmp_path):
    def sample(t):
        # 20..30 s throttled with one sample back at the ceiling at 25.0; a lone 0.1 s blip at 70 s
        low = (20 <= t < 30 and abs(t - 25.0) > 1e-6) or abs(t - 70.0) < 1e-6
        return _busy_sample(t, cpu=1200.0 if low else 1479.0)

    folder = build_session(tmp_path / "s", meta={"clock_ceilings": CEIL}, sample=sample,
                           latency=back_to_back(0, 100, 10.0))
    (ep,) = analyze_folder(folder)["throttling"]["episodes"]
    assert ep["start_s"] == pytest.approx(20.0) and ep["end_s"] == pytest.approx(30.0)


def test_no_clock_metrics_means_not_available(tmp_path):
    folder = build_session(tmp_path / "s", sample=lambda t: {"ram_used_mb": 100.0},
                           latency=back_to_back(0, 10, 10.0), duration_s=10)
    result = analyze_folder(folder)
    assert result["throttling"]["available"] is False
    assert any("no CPU, GPU or EMC clock" in p for p in result["problems"])


def test_a_power_mode_change_after_the_start_never_causes_the_episode(tmp_path):
    """Issue 11: a thermal trip at 27 s was labelled power_mode because of a switch at 30.3 s."""
    def sample(t):
        hot = 27 <= t < 40
        return _busy_sample(t, cpu=1036.0 if hot else 1479.0, temp=98.5 if hot else 70.0)

    ev = [(30.3, "power_mode", {"from_id": 0, "to_id": 0, "name": "MAXN", "ok": True, "ceilings": CEIL})]
    folder = build_session(tmp_path / "s", meta={"clock_ceilings": CEIL, "trip_points": TRIPS}, sample=sample,
                           latency=back_to_back(0, 60, 10.0), duration_s=60, events=ev)
    (ep,) = analyze_folder(folder)["throttling"]["episodes"]
    assert ep["start_s"] == pytest.approx(27.0, abs=1e-6)
    assert ep["cause"] == "thermal" and ep["causes"] == ["thermal"]
    assert not any("power mode" in e for e in ep["evidence"])


def test_time_to_first_throttle_is_never_negative(tmp_path):
    """Throttled before the first iteration (model build): counted from the session start."""
    def sample(t):
        hot = 2 <= t < 20
        return _busy_sample(t, cpu=1036.0 if hot else 1479.0, temp=98.5 if hot else 70.0)

    folder = build_session(tmp_path / "s", meta={"clock_ceilings": CEIL, "trip_points": TRIPS}, sample=sample,
                           latency=back_to_back(10, 60, 10.0), duration_s=60)
    th = analyze_folder(folder)["throttling"]
    assert th["time_to_first_throttle_s"] == pytest.approx(2.0, abs=1e-6)
    assert th["time_to_first_throttle_from"] == "session start"


def test_one_text_line_per_episode_listing_its_clocks(tmp_path):
    from edgemon.analysis.summary import format_analysis

    def sample(t):
        hot = 20 <= t < 30
        d = _busy_sample(t, cpu=826.0 if hot else 1479.0, temp=98.5 if hot else 70.0,
                         gpu_freq_mhz=538.0 if hot else 921.6)
        d["cpu1_freq_mhz"] = d["cpu0_freq_mhz"]
        return d

    ceil = dict(CEIL, cpu1_freq_mhz=1479)
    folder = build_session(tmp_path / "s", meta={"clock_ceilings": ceil, "trip_points": TRIPS}, sample=sample,
                           latency=back_to_back(0, 60, 10.0), duration_s=60)
    result = analyze_folder(folder)
    assert sorted(e["domain"] for e in result["throttling"]["episodes"]) == ["cpu", "gpu"]   # --json: per domain
    text = format_analysis(result)
    rows = [line for line in text.splitlines() if line.strip().startswith("20.0  30.0")]
    assert len(rows) == 1 and "cpu0-1, gpu" in rows[0] and rows[0].rstrip().endswith("thermal")
    assert len([line for line in text.splitlines() if "20.0 s: temp_cpu_c reached" in line]) == 1


def test_memory_controller_below_its_ceiling_counts_only_while_saturated(tmp_path):
    """The EMC clock follows demand: 1065.6 of 1600 MHz at 55 % load is its governor, not throttling
    (a whole session of it once left no latency row outside an episode); 800 MHz at 95 % load is."""
    def sample(t):
        if 60 <= t < 80:
            return _busy_sample(t, emc_freq_mhz=800.0, emc_util_pct=95.0)
        return _busy_sample(t, emc_freq_mhz=1065.6, emc_util_pct=55.0)

    folder = build_session(tmp_path / "s", meta={"clock_ceilings": CEIL}, sample=sample,
                           latency=back_to_back(0, 100, 10.0))
    th = analyze_folder(folder)["throttling"]
    (ep,) = th["episodes"]
    assert ep["domain"] == "emc" and ep["clock_mhz"] == 800.0
    assert ep["start_s"] == pytest.approx(60.0, abs=1e-6) and ep["duration_s"] == pytest.approx(20.0, abs=1e-6)
    assert th["share_throttled"]["emc"] == pytest.approx(0.2)
    assert th["outside"]["count"] > th["inside"]["count"] > 0
