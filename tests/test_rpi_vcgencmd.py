"""vcgencmd source against a stand-in vcgencmd script (real output lines), and Pi detection."""

from __future__ import annotations

import time

import pytest

from edgemon.platform.detect import detect
from edgemon.telemetry.base import SourceContext
from edgemon.telemetry.registry import build_sources, is_command_source
from edgemon.telemetry.rpi import (QUERIES, VcgencmdSource, find_vcgencmd, parse_output,
                                   parse_throttled)
from fixtures.rpi import BOARDS, build_tree, write_vcgencmd

PI4 = BOARDS["pi4"].vcgencmd


def wait_for(predicate, timeout=10.0):
    """Poll until ``predicate()`` holds (a correctness wait, not a timing assertion)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


@pytest.fixture
def pi4(tmp_path):
    root = build_tree("pi4", tmp_path / "root")
    return root, detect(root)


def source(tmp_path, platform, answers=PI4, *, fail=None, log=None, **kwargs):
    exe = write_vcgencmd(tmp_path / "bin", answers, fail=fail, log=log)
    ctx = SourceContext(root=tmp_path / "root", executables={"vcgencmd": str(exe)})
    return VcgencmdSource(ctx, platform, **kwargs)


# --------------------------------------------------------------------------- parsing


def test_parse_throttled_0x50005():
    out = parse_throttled("throttled=0x50005")
    assert out == {
        "rpi_throttled_raw": float(0x50005),
        "rpi_undervoltage": 1.0, "rpi_freq_capped": 0.0, "rpi_throttled": 1.0, "rpi_soft_temp_limit": 0.0,
        "rpi_undervoltage_occurred": 1.0, "rpi_freq_capped_occurred": 0.0,
        "rpi_throttled_occurred": 1.0, "rpi_soft_temp_limit_occurred": 0.0,
    }


@pytest.mark.parametrize("text, on", [
    ("throttled=0x0", set()),
    ("throttled=0x2", {"rpi_freq_capped"}),
    ("throttled=0x8", {"rpi_soft_temp_limit"}),
    ("throttled=0x20000", {"rpi_freq_capped_occurred"}),
    ("throttled=0x80008", {"rpi_soft_temp_limit", "rpi_soft_temp_limit_occurred"}),
    ("throttled=0xf000f", {"rpi_undervoltage", "rpi_freq_capped", "rpi_throttled", "rpi_soft_temp_limit",
                           "rpi_undervoltage_occurred", "rpi_freq_capped_occurred",
                           "rpi_throttled_occurred", "rpi_soft_temp_limit_occurred"}),
])
def test_throttled_bits(text, on):
    out = parse_throttled(text)
    assert {k for k, v in out.items() if v == 1.0 and k != "rpi_throttled_raw"} == on


@pytest.mark.parametrize("query, text, expected", [
    (("measure_clock", "arm"), "frequency(48)=1500398464", {"cpu_arm_freq_mhz": 1500.398464}),
    (("measure_clock", "arm"), "frequency(45)=1400000000", {"cpu_arm_freq_mhz": 1400.0}),
    (("measure_clock", "arm"), "frequency(0)=2400000000", {"cpu_arm_freq_mhz": 2400.0}),
    (("measure_temp",), "temp=47.2'C", {"temp_soc_c": 47.2}),
    (("measure_temp",), "temp=-3.5'C", {"temp_soc_c": -3.5}),
    (("measure_volts", "core"), "volt=0.8563V", {"volt_core_v": 0.8563}),
    (("get_throttled",), "VCHI initialization failed", {}),
    (("measure_volts", "core"), 'error=2 error_msg="Invalid arguments"', {}),
    (("measure_temp",), "", {}),
])
def test_parse_output(query, text, expected):
    assert parse_output(query, text) == pytest.approx(expected)


# --------------------------------------------------------------------------- the source


def test_reads_every_metric_from_the_tool(tmp_path, pi4):
    _, platform = pi4
    src = source(tmp_path, platform)
    status = src.probe()
    assert status.available, status
    assert "4 queries every 1 s" in status.detail
    try:
        out = src.read()
        assert out == pytest.approx({
            **parse_throttled("throttled=0x50005"),
            "cpu_arm_freq_mhz": 1500.398464, "temp_soc_c": 47.2, "volt_core_v": 0.8563,
        })
    finally:
        src.close()


def test_probe_runs_each_query_once_and_reads_do_not_spawn(tmp_path, pi4):
    _, platform = pi4
    log = tmp_path / "calls.log"
    src = source(tmp_path, platform, log=log, interval_s=3600)
    assert src.probe().available
    try:
        assert log.read_text().splitlines() == [" ".join(q) for q in QUERIES]
        for _ in range(20):                  # 2 s worth of 10 Hz ticks
            assert src.read()["temp_soc_c"] == 47.2
        assert len(log.read_text().splitlines()) == len(QUERIES)
    finally:
        src.close()


def test_background_refresh_picks_up_new_values(tmp_path, pi4):
    _, platform = pi4
    src = source(tmp_path, platform, interval_s=0.05)
    assert src.probe().available
    try:
        assert src.read()["rpi_undervoltage"] == 1.0
        write_vcgencmd(tmp_path / "bin", {**PI4, "get_throttled": "throttled=0x50000",
                                          "measure_temp": "temp=81.0'C"})
        assert wait_for(lambda: src.read().get("temp_soc_c") == 81.0)
        out = src.read()
        assert out["rpi_undervoltage"] == 0.0 and out["rpi_undervoltage_occurred"] == 1.0
        assert src.stats().refreshes >= 2
    finally:
        src.close()
    assert src._thread is None


def test_vchi_failure_exit_255_is_unavailable_with_the_message(tmp_path, pi4):
    _, platform = pi4
    src = source(tmp_path, platform, fail=(255, "VCHI initialization failed"))
    status = src.probe()
    assert not status.available
    assert status.reason == "vcgencmd get_throttled exited 255: VCHI initialization failed"
    with pytest.raises(OSError):
        src.read()


def test_vchi_failure_with_exit_0_is_unavailable_too(tmp_path, pi4):
    """Older vcgencmd builds print the error and still exit 0."""
    _, platform = pi4
    src = source(tmp_path, platform, fail=(0, "VCHI initialization failed"))
    status = src.probe()
    assert not status.available and "VCHI initialization failed" in status.reason


def test_unsupported_query_is_dropped_the_rest_kept(tmp_path, pi4):
    _, platform = pi4
    answers = {k: v for k, v in PI4.items() if k != "measure_volts core"}
    log = tmp_path / "calls.log"
    src = source(tmp_path, platform, answers, log=log, interval_s=0.05)
    status = src.probe()
    assert status.available and "dropped: vcgencmd measure_volts core" in status.detail
    try:
        assert "volt_core_v" not in src.read()
        assert wait_for(lambda: src.stats().refreshes >= 2)
        assert "measure_volts core" not in log.read_text().splitlines()[len(QUERIES):]
    finally:
        src.close()


def test_tool_failing_later_makes_read_raise(tmp_path, pi4):
    _, platform = pi4
    src = source(tmp_path, platform, interval_s=0.02, max_failed_refreshes=3)
    assert src.probe().available
    try:
        src.read()
        write_vcgencmd(tmp_path / "bin", {}, fail=(255, "VCHI initialization failed"))

        def raises():
            try:
                src.read()
            except OSError as exc:
                return "VCHI initialization failed" in str(exc)
            return False
        assert wait_for(raises)
    finally:
        src.close()


def test_hanging_tool_times_out(tmp_path, pi4):
    _, platform = pi4
    exe = tmp_path / "bin" / "vcgencmd"
    exe.parent.mkdir(parents=True)
    exe.write_text("#!/bin/sh\nexec sleep 30\n")
    exe.chmod(0o755)
    src = VcgencmdSource(SourceContext(root=tmp_path / "root", executables={"vcgencmd": str(exe)}),
                         platform, timeout_s=0.2)
    status = src.probe()
    assert not status.available and "timed out" in status.reason


def test_missing_tool(tmp_path, pi4):
    root, platform = pi4
    status = VcgencmdSource(SourceContext(root=root), platform).probe()
    assert not status.available and status.reason.startswith("vcgencmd not found")
    ctx = SourceContext(root=root, executables={"vcgencmd": str(tmp_path / "nope")})
    status = VcgencmdSource(ctx, platform).probe()
    assert not status.available and "is not an executable file" in status.reason


def test_tool_found_under_the_root(tmp_path, pi4):
    root, platform = pi4
    write_vcgencmd(root / "usr" / "bin", PI4)
    ctx = SourceContext(root=root)
    assert find_vcgencmd(ctx) == str(root / "usr" / "bin" / "vcgencmd")
    src = VcgencmdSource(ctx, platform)
    assert src.probe().available
    src.close()


def test_not_a_pi_is_skipped_unless_configured(tmp_path):
    from fixtures.x86 import build_tree as build_x86
    root = build_x86("intel-desktop", tmp_path / "root")
    platform = detect(root)
    write_vcgencmd(root / "usr" / "bin", PI4)
    status = VcgencmdSource(SourceContext(root=root), platform).probe()
    assert not status.available and status.reason == "not a Raspberry Pi (platform: linux)"
    src = source(tmp_path, platform)          # an explicit executable is always tried
    assert src.probe().available
    src.close()


# --------------------------------------------------------------------------- registry, info, platform


def test_registry_runs_it_as_a_command_source(tmp_path, pi4):
    root, platform = pi4
    write_vcgencmd(root / "usr" / "bin", PI4)
    sources, statuses = build_sources(SourceContext(root=root), platform)
    try:
        names = [s.name for s in sources]
        assert "vcgencmd" in names and "thermal" in names
        src = sources[names.index("vcgencmd")]
        assert is_command_source(src)
        assert names.index("vcgencmd") > names.index("cpufreq")
    finally:
        for s in sources:
            s.close()


def test_info_lists_the_reason(tmp_path, run_edgemon):
    root = build_tree("pi3b", tmp_path / "root")
    write_vcgencmd(root / "usr" / "bin", {}, fail=(255, "VCHI initialization failed"))
    proc = run_edgemon("info", "--sysfs-root", str(root))
    assert proc.returncode == 0, proc.stderr
    line = next(ln for ln in proc.stdout.splitlines() if " vcgencmd " in ln)
    assert line.split()[0] == "--" and "VCHI initialization failed" in line
    assert "Raspberry Pi 3 Model B Rev 1.2" in proc.stdout


@pytest.mark.parametrize("key", sorted(BOARDS))
def test_platform_detects_every_pi(tmp_path, key):
    spec = BOARDS[key]
    info = detect(build_tree(key, tmp_path))
    assert info.kind == "rpi"
    assert info.model == spec.model
    assert info.cpu_model == spec.cpu_model
    assert info.compatible == list(spec.compatible)
    assert (info.cpu_count, info.cpu_online) == (4, 4)


@pytest.mark.parametrize("key", sorted(BOARDS))
def test_every_pi_fixture_reads_back(tmp_path, key):
    spec = BOARDS[key]
    root = build_tree(key, tmp_path / "root")
    src = source(tmp_path, detect(root), spec.vcgencmd)
    assert src.probe().available
    try:
        out = src.read()
        mhz = int(spec.vcgencmd["measure_clock arm"].split("=")[1]) / 1e6
        assert out["cpu_arm_freq_mhz"] == pytest.approx(mhz)
        assert out["rpi_throttled_raw"] == int(spec.vcgencmd["get_throttled"].split("=")[1], 16)
    finally:
        src.close()
