"""A whole x86 host (tests/fixtures/x86) through the registry, the sampler and ``edgemon info``.

hwmon (coretemp/k10temp/nvme/fans) and cpufreq are other modules; this shows they and RAPL
work together on realistic x86 trees and who owns ``power_total_mw``.
"""

from __future__ import annotations

import shutil

import pytest

from edgemon.platform.detect import detect
from edgemon.telemetry.base import SourceContext
from edgemon.telemetry.registry import build_sources, candidate_sources
from edgemon.telemetry.sampler import Sampler
from fixtures.x86 import HOSTS, build_tree, set_energy


@pytest.fixture
def built():
    opened = []

    def build(root):
        ctx = SourceContext(root=root)
        sources, statuses = build_sources(ctx, detect(root))
        opened.extend(sources)
        return sources, {s.name: s for s in statuses}

    yield build
    for src in opened:
        src.close()


def test_intel_desktop_sensors(tmp_path, built):
    root = build_tree("intel-desktop", tmp_path)
    sources, status = built(root)
    assert status["rapl"].available and status["hwmon"].available and status["cpufreq"].available
    by_name = {s.name: s for s in sources}
    hw = by_name["hwmon"].read()
    assert hw["temp_coretemp_package_id_0_c"] == 48.0
    assert hw["temp_coretemp_core_3_c"] == 49.0
    assert hw["temp_nvme_composite_c"] == pytest.approx(38.85)
    assert hw["temp_nct6798_systin_c"] == 31.0
    assert (hw["fan0_rpm"], hw["fan1_rpm"], hw["fan2_rpm"]) == (1210.0, 0.0, 845.0)
    assert not any(k.startswith("temp_acpitz") for k in hw)        # the thermal source has it
    assert by_name["thermal"].read() == {"temp_acpitz_c": 27.8, "temp_x86_pkg_temp_c": 48.0}
    freq = by_name["cpufreq"].read()
    assert freq == {"cpu0_freq_mhz": 4800.0, "cpu1_freq_mhz": 4700.0, "cpu2_freq_mhz": 4600.0,
                    "cpu3_freq_mhz": 4500.0}
    assert by_name["cpufreq"].limits()[0].hw_max_mhz == 4800.0


def test_amd_desktop_sensors(tmp_path, built):
    root = build_tree("amd-desktop", tmp_path)
    sources, status = built(root)
    hw = next(s for s in sources if s.name == "hwmon").read()
    assert hw["temp_k10temp_tctl_c"] == pytest.approx(52.875)
    assert hw["temp_k10temp_tccd1_c"] == pytest.approx(50.25)
    assert hw["temp_nvme_composite_c"] == pytest.approx(35.85)
    assert hw["temp_nct6797_c"] == 30.0
    assert (hw["fan0_rpm"], hw["fan1_rpm"]) == (980.0, 1400.0)
    assert status["rapl"].detail == "2 zones (package-0, core)"


def test_two_coretemp_devices_get_distinct_names(tmp_path, built):
    root = build_tree("xeon-2s", tmp_path)
    sources, _ = built(root)
    hw = next(s for s in sources if s.name == "hwmon").read()
    assert hw["temp_coretemp_package_id_0_c"] == 41.0 and hw["temp_coretemp_package_id_1_c"] == 43.0
    assert hw["temp_coretemp_core_0_c"] == 39.0 and hw["temp_coretemp_core_0_2_c"] == 40.0


def test_sampler_records_rapl_power_and_total(tmp_path, built):
    root = build_tree("intel-desktop", tmp_path)
    sources, _ = built(root)
    samples = []
    sampler = Sampler(sources, 10.0, samples.append)
    sampler.tick()                                          # primes the counters
    assert "power_total_mw" not in samples[0].values
    start = {z.zone: z.energy_uj for z in HOSTS["intel-desktop"].rapl}
    set_energy(root, "intel-rapl:0", start["intel-rapl:0"] + 5_000_000)   # 5 J
    for zone in ("intel-rapl:0:0", "intel-rapl:0:1", "intel-rapl:0:2"):
        set_energy(root, zone, start[zone] + 1_000_000)
    sampler.tick()
    v = samples[-1].values
    assert v["power_total_mw"] == v["power_package_0_mw"] > 0
    assert v["power_package_0_mw"] > v["power_core_mw"]
    assert {"cpu0_freq_mhz", "temp_coretemp_core_0_c", "fan0_rpm"} <= set(v)
    assert "ram_used_mb" in samples[0].values     # meminfo: every_s, read at the first tick


def test_a_board_input_rail_outranks_rapl_for_the_total(tmp_path):
    """Registry order is merge precedence: the Jetson power rails come before RAPL."""
    root = build_tree("intel-desktop", tmp_path)
    candidates, _ = candidate_sources(SourceContext(root=root), detect(root))
    names = [s.name for s in candidates]
    try:
        assert names.index("jetson_power") < names.index("rapl")
        assert names.index("rapl") < names.index("nvml")
    finally:
        for s in candidates:
            s.close()


def test_info_on_x86_fixtures_shows_rapl_and_the_reasons(tmp_path, run_edgemon):
    root = build_tree("intel-laptop", tmp_path / "laptop")
    proc = run_edgemon("info", "--sysfs-root", str(root))
    assert proc.returncode == 0, proc.stderr
    lines = {ln.split()[1]: ln for ln in proc.stdout.splitlines() if ln.startswith(("  ok ", "  -- "))}
    assert lines["rapl"].startswith("  ok ") and "package-0, core, uncore, psys" in lines["rapl"]
    assert lines["nvml"].startswith("  -- ") and "not the tree under" in lines["nvml"]
    assert lines["vcgencmd"].startswith("  -- ") and "not a Raspberry Pi" in lines["vcgencmd"]

    bare = build_tree("amd-desktop", tmp_path / "bare")
    shutil.rmtree(bare / "sys/devices/virtual/powercap")
    shutil.rmtree(bare / "sys/class/powercap")
    proc = run_edgemon("info", "--sysfs-root", str(bare))
    line = next(ln for ln in proc.stdout.splitlines() if " rapl " in ln)
    assert line.startswith("  -- ") and "no RAPL zones" in line
