"""Generic Linux sources on fixture trees shaped like real machines, and on this machine."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from edgemon.telemetry.base import SourceContext
from edgemon.telemetry.cpufreq import CpuFreqSource
from edgemon.telemetry.hwmon import HwmonSource
from edgemon.telemetry.loadavg import LoadAvgSource
from edgemon.telemetry.memory import MemorySource
from edgemon.telemetry.process import ProcessSource
from edgemon.telemetry.procstat import ProcStatSource, parse_cpu_list
from edgemon.telemetry.thermal import ThermalSource, metric_part
from telemetry_linux_helpers import make_rpi, make_x86_host, write, write_proc_stat

ALL_GENERIC = (ProcStatSource, CpuFreqSource, MemorySource, LoadAvgSource, ThermalSource, HwmonSource)


@pytest.fixture
def x86(tmp_path) -> SourceContext:
    return SourceContext(root=make_x86_host(tmp_path))


@pytest.fixture
def rpi(tmp_path) -> SourceContext:
    return SourceContext(root=make_rpi(tmp_path))


def probed(cls, ctx):
    src = cls(ctx)
    status = src.probe()
    assert status.available, status.reason
    return src


# ---------------------------------------------------------------- procstat

def test_parse_cpu_list():
    assert parse_cpu_list("0-3,5\n") == {0, 1, 2, 3, 5}
    assert parse_cpu_list("0") == {0}
    assert parse_cpu_list("") == set()
    assert parse_cpu_list(None) is None
    assert parse_cpu_list("0-x") is None


def test_procstat_first_read_primes_then_gives_per_core_utilisation(x86):
    src = probed(ProcStatSource, x86)
    first = src.read()
    assert first == {"cpu0_online": 1.0, "cpu1_online": 1.0, "cpu2_online": 0.0, "cpu3_online": 1.0}
    # deltas: cpu0 50 busy / 50 idle, cpu1 25/75, cpu3 0/100
    write_proc_stat(x86.root, {0: (1050, 9050), 1: (2025, 8075), 3: (500, 9600)})
    values = src.read()
    assert values["cpu0_util_pct"] == pytest.approx(50.0)
    assert values["cpu1_util_pct"] == pytest.approx(25.0)
    assert values["cpu3_util_pct"] == pytest.approx(0.0)
    assert "cpu2_util_pct" not in values          # offline: no utilisation, online flag 0
    assert values["cpu2_online"] == 0.0
    assert values["cpu_util_pct"] == pytest.approx(25.0)   # mean of online cores


def test_procstat_core_going_offline_and_back(x86):
    src = probed(ProcStatSource, x86)
    src.read()
    # cpu1 unplugged: gone from /proc/stat and from the online list
    write_proc_stat(x86.root, {0: (1100, 9100), 3: (600, 9600)})
    write(x86.root, "/sys/devices/system/cpu/online", "0,3\n")
    values = src.read()
    assert values["cpu1_online"] == 0.0 and "cpu1_util_pct" not in values
    assert values["cpu_util_pct"] == pytest.approx((50.0 + 50.0) / 2)
    # cpu1 plugged back in: online again, but its counters prime first
    write_proc_stat(x86.root, {0: (1200, 9200), 1: (3000, 9000), 3: (700, 9700)})
    write(x86.root, "/sys/devices/system/cpu/online", "0-1,3\n")
    values = src.read()
    assert values["cpu1_online"] == 1.0 and "cpu1_util_pct" not in values
    write_proc_stat(x86.root, {0: (1300, 9300), 1: (3010, 9090), 3: (800, 9800)})
    assert src.read()["cpu1_util_pct"] == pytest.approx(10.0)


def test_procstat_reads_the_online_list_again_when_proc_stat_changes_or_a_second_passed(x86, monkeypatch):
    import types

    import edgemon.telemetry.procstat as procstat_mod

    now = [10**12]
    monkeypatch.setattr(procstat_mod, "time", types.SimpleNamespace(monotonic_ns=lambda: now[0]))
    src = probed(ProcStatSource, x86)
    src.read()
    # Only the online list changes (an emulated or odd kernel): seen once its second is over.
    write(x86.root, "/sys/devices/system/cpu/online", "0,3\n")
    now[0] += 500_000_000
    assert src.read()["cpu1_online"] == 1.0
    now[0] += 600_000_000
    assert src.read()["cpu1_online"] == 0.0
    # A core leaves /proc/stat (the kernel lists online cores only): the list is read at once.
    write(x86.root, "/sys/devices/system/cpu/online", "0\n")
    write_proc_stat(x86.root, {0: (1300, 9300)})
    now[0] += 100_000_000
    values = src.read()
    assert values["cpu3_online"] == 0.0 and values["cpu0_online"] == 1.0


def test_procstat_without_online_file_uses_proc_stat(x86):
    (x86.root / "sys/devices/system/cpu/online").unlink()
    src = probed(ProcStatSource, x86)
    values = src.read()
    assert values["cpu2_online"] == 0.0            # has a cpu2 directory, not in /proc/stat
    assert values["cpu3_online"] == 1.0


def test_procstat_counters_going_back_give_no_reading_not_an_error(x86):
    src = probed(ProcStatSource, x86)
    src.read()
    write_proc_stat(x86.root, {0: (10, 90), 1: (2000, 8000), 3: (500, 9500)})
    values = src.read()
    assert "cpu0_util_pct" not in values           # went back: re-prime
    assert "cpu1_util_pct" not in values           # no time passed


# ---------------------------------------------------------------- cpufreq

def test_cpufreq_reads_mhz_and_skips_cores_without_cpufreq(x86):
    src = probed(CpuFreqSource, x86)
    assert src.read() == {"cpu0_freq_mhz": 2900.0, "cpu1_freq_mhz": 3000.0, "cpu3_freq_mhz": 3200.0}
    write(x86.root, "/sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq", "1200000\n")
    assert src.read()["cpu0_freq_mhz"] == 1200.0


def test_cpufreq_limits_rpi(rpi):
    limits = probed(CpuFreqSource, rpi).limits()
    assert sorted(limits) == [0, 1, 2, 3]
    lim = limits[2]
    assert (lim.governor, lim.min_mhz, lim.max_mhz) == ("ondemand", 600.0, 1500.0)
    assert lim.available_mhz[0] == 600.0 and lim.available_mhz[-1] == 1500.0


def test_cpufreq_limits_x86_skip_offline_core(x86):
    x86_limits = probed(CpuFreqSource, x86).limits()
    assert 2 not in x86_limits
    assert (x86_limits[0].hw_min_mhz, x86_limits[0].hw_max_mhz) == (800.0, 4800.0)


# ---------------------------------------------------------------- memory, load

def test_meminfo(x86):
    values = probed(MemorySource, x86).read()
    assert values["ram_total_mb"] == pytest.approx(16315740 / 1024)
    assert values["ram_used_mb"] == pytest.approx((16315740 - 12287588) / 1024)
    assert values["swap_total_mb"] == pytest.approx(2097148 / 1024)
    assert values["swap_used_mb"] == pytest.approx((2097148 - 1573884) / 1024)
    assert values["swap_cached_mb"] == pytest.approx(1.0)


def test_meminfo_old_kernel_without_memavailable(tmp_path):
    write(tmp_path, "/proc/meminfo", "MemTotal: 4000000 kB\nMemFree: 1000000 kB\nBuffers: 100000 kB\n"
                                     "Cached: 900000 kB\nSwapCached: 0 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n")
    values = probed(MemorySource, SourceContext(root=tmp_path)).read()
    assert values["ram_used_mb"] == pytest.approx((4000000 - 2000000) / 1024)
    assert values["swap_total_mb"] == 0.0


def test_loadavg(x86):
    assert probed(LoadAvgSource, x86).read() == {"load1": 1.25}


# ---------------------------------------------------------------- thermal

def test_metric_part():
    assert metric_part("CPU-therm") == "cpu_therm"
    assert metric_part("Package id 0") == "package_id_0"
    assert metric_part("x86_pkg_temp") == "x86_pkg_temp"
    assert metric_part("--") == ""


def test_thermal_zones_and_trip_points(x86):
    src = probed(ThermalSource, x86)
    assert src.read() == {"temp_acpitz_c": 27.8, "temp_x86_pkg_temp_c": 45.0}
    assert src.trip_points() == {
        "temp_acpitz_c": [("critical", 119.0)],
        "temp_x86_pkg_temp_c": [("passive", 95.0), ("critical", 105.0)],
    }


def test_thermal_rpi_zone_name(rpi):
    assert probed(ThermalSource, rpi).read() == {"temp_cpu_thermal_c": pytest.approx(45.277)}


def test_thermal_tegra_naming_matches_tegrastats(tmp_path):
    tz = "/sys/class/thermal"
    types = ["CPU-therm", "GPU-therm", "PMIC-Die", "Tboard_tegra", "thermal-fan-est", "cv0-thermal",
             "tj-thermal", "iwlwifi_1"]
    for n, ztype in enumerate(types):
        write(tmp_path, f"{tz}/thermal_zone{n}/type", ztype + "\n")
        write(tmp_path, f"{tz}/thermal_zone{n}/temp", f"{30000 + n * 1000}\n")
    write(tmp_path, f"{tz}/thermal_zone5/temp", "-256000\n")     # power-gated CV0
    src = ThermalSource(SourceContext(root=tmp_path), naming="tegra")
    assert src.probe().available
    assert src.read() == {"temp_cpu_c": 30.0, "temp_gpu_c": 31.0, "temp_tboard_c": 33.0,
                          "temp_thermal_c": 34.0, "temp_tj_c": 36.0, "temp_iwlwifi_c": 37.0}
    with pytest.raises(ValueError):
        ThermalSource(SourceContext(root=tmp_path), naming="nonsense")


def test_thermal_duplicates_sensor_off_and_unreadable_zones(tmp_path):
    tz = "/sys/class/thermal"
    for n, (ztype, temp) in enumerate([("CPU-therm", "41500"), ("CPU-therm", "42000"),
                                       ("CV0-therm", "-256000"), ("GPU-therm", "garbage")]):
        write(tmp_path, f"{tz}/thermal_zone{n}/type", ztype + "\n")
        write(tmp_path, f"{tz}/thermal_zone{n}/temp", temp + "\n")
    write(tmp_path, f"{tz}/thermal_zone10/type", "AO-therm\n")
    (tmp_path / "sys/class/thermal/thermal_zone10/temp").mkdir()     # read fails (EISDIR)
    src = probed(ThermalSource, SourceContext(root=tmp_path))
    assert src.read() == {"temp_cpu_therm_c": 41.5, "temp_cpu_therm_2_c": 42.0}
    assert list(src.zones()) == ["temp_cpu_therm_c", "temp_cpu_therm_2_c", "temp_cv0_therm_c",
                                 "temp_gpu_therm_c", "temp_ao_therm_c"]   # numeric zone order


# ---------------------------------------------------------------- hwmon

def test_hwmon_x86(x86):
    src = probed(HwmonSource, x86)
    assert src.read() == {
        "temp_coretemp_package_id_0_c": 48.0,
        "temp_coretemp_core_0_c": 46.0,
        "temp_coretemp_core_1_c": 47.0,
        "temp_nvme_composite_c": 38.85,
        "temp_nvme_sensor_1_c": 38.85,
        "fan0_rpm": 1210.0,                       # fans count from 0 (as jetson_fan does)
        "fan1_rpm": 0.0,
    }
    assert "mirror of a thermal zone" in src.skipped["hwmon0"]
    assert "power monitor" in src.skipped["hwmon4"]


def test_hwmon_never_emits_power_rails(tmp_path):
    hw = "/sys/class/hwmon"
    write(tmp_path, f"{hw}/hwmon0/name", "pwr_monitor\n")    # rails by label, whatever the name
    write(tmp_path, f"{hw}/hwmon0/in1_label", "POM_5V_IN\n")
    write(tmp_path, f"{hw}/hwmon0/temp1_input", "30000\n")
    write(tmp_path, f"{hw}/hwmon1/name", "k10temp\n")
    write(tmp_path, f"{hw}/hwmon1/temp1_label", "Tctl\n")
    write(tmp_path, f"{hw}/hwmon1/temp1_input", "51250\n")
    write(tmp_path, f"{hw}/hwmon2/name", "nvme\n")          # a second drive: suffix
    write(tmp_path, f"{hw}/hwmon2/temp1_label", "Composite\n")
    write(tmp_path, f"{hw}/hwmon2/temp1_input", "-273150\n")  # nonsense reading: dropped
    write(tmp_path, f"{hw}/hwmon3/name", "nvme\n")
    write(tmp_path, f"{hw}/hwmon3/temp1_label", "Composite\n")
    write(tmp_path, f"{hw}/hwmon3/temp1_input", "40000\n")
    write(tmp_path, f"{hw}/hwmon4/name", "thinkpad\n")
    write(tmp_path, f"{hw}/hwmon4/fan1_input", "2000\n")
    write(tmp_path, f"{hw}/hwmon5/name", "it8728\n")
    write(tmp_path, f"{hw}/hwmon5/fan1_input", "900\n")     # a second device's fan1: fan1_rpm
    write(tmp_path, f"{hw}/hwmon5/temp1_input", "35000\n")
    write(tmp_path, f"{hw}/hwmon5/temp2_input", "36000\n")
    src = probed(HwmonSource, SourceContext(root=tmp_path))
    values = src.read()
    assert values == {
        "temp_k10temp_tctl_c": 51.25,
        "temp_nvme_composite_2_c": 40.0,   # first nvme read -273 C: dropped
        "fan0_rpm": 2000.0,
        "fan1_rpm": 900.0,
        "temp_it8728_temp1_c": 35.0,
        "temp_it8728_temp2_c": 36.0,
    }
    assert not any(k.startswith("power_") for k in values)


def test_hwmon_leaves_pwm_fans_to_the_jetson_fan_source(tmp_path):
    jetson_fan = pytest.importorskip("edgemon.telemetry.jetson_fan", reason="jetson_fan.py not written yet")
    assert jetson_fan.is_fan_hwmon_name("pwmfan")
    write(tmp_path, "/sys/class/hwmon/hwmon0/name", "pwmfan\n")
    write(tmp_path, "/sys/class/hwmon/hwmon0/pwm1", "128\n")
    write(tmp_path, "/sys/class/hwmon/hwmon0/fan1_input", "2400\n")
    write(tmp_path, "/sys/class/hwmon/hwmon1/name", "nvme\n")
    write(tmp_path, "/sys/class/hwmon/hwmon1/temp1_label", "Composite\n")
    write(tmp_path, "/sys/class/hwmon/hwmon1/temp1_input", "40000\n")
    src = probed(HwmonSource, SourceContext(root=tmp_path))
    assert src.read() == {"temp_nvme_composite_c": 40.0}
    assert "jetson_fan" in src.skipped["hwmon0"]


def test_hwmon_rpi_mirror_only_is_unavailable(rpi):
    status = HwmonSource(rpi).probe()
    assert not status.available
    assert "mirror of a thermal zone" in status.reason


# ---------------------------------------------------------------- missing / unknown files

def test_every_source_on_an_empty_root_is_unavailable_with_a_reason(tmp_path):
    ctx = SourceContext(root=tmp_path)
    for cls in ALL_GENERIC:
        status = cls(ctx).probe()
        assert not status.available, cls.__name__
        assert status.reason, cls.__name__


def test_garbage_files_are_unavailable_not_exceptions(tmp_path):
    write(tmp_path, "/proc/stat", "nonsense\n")
    write(tmp_path, "/proc/meminfo", "Foo: bar\n")
    write(tmp_path, "/proc/loadavg", "x y z\n")
    write(tmp_path, "/sys/class/thermal/thermal_zone0/temp", "1000\n")   # no type
    write(tmp_path, "/sys/class/hwmon/hwmon0/name", "empty\n")
    ctx = SourceContext(root=tmp_path)
    for cls in ALL_GENERIC:
        status = cls(ctx).probe()
        assert not status.available and status.reason, cls.__name__


# ---------------------------------------------------------------- process

def _burn_cpu(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_process_monitor_cpu(tmp_path):
    src = probed(ProcessSource, SourceContext(root=tmp_path))   # root is irrelevant: real processes
    assert "proc_monitor_cpu_pct" not in src.read()             # primes
    _burn_cpu(0.05)
    values = src.read()
    assert values["proc_monitor_cpu_pct"] > 0
    assert not any(k.startswith("proc_worker") for k in values)   # no worker pid


def test_process_monitor_cpu_counts_every_thread_exactly(tmp_path):
    """CPU burnt by another thread of this process is in proc_monitor_cpu_pct, to the nanosecond
    clock (not 10 ms ticks): the reading times the window covers the thread's CPU time."""
    import threading

    src = probed(ProcessSource, SourceContext(root=tmp_path))
    src.read()
    t0 = time.monotonic()
    used = []

    def burn():
        start = time.thread_time()
        _burn_cpu(0.2)
        used.append(time.thread_time() - start)

    worker = threading.Thread(target=burn)
    worker.start()
    worker.join()
    values = src.read()
    window = time.monotonic() - t0
    assert values["proc_monitor_cpu_pct"] / 100.0 * window >= 0.95 * used[0]


def test_pid_stat_parsing_survives_odd_command_names():
    from edgemon.telemetry.process import parse_pid_stat

    rest = "S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 1 0 4242 123456 789 18446744073709551615"
    assert parse_pid_stat(f"77 (a) b (c) ) {rest}".encode()) == ("S", 300, 4242, 789)
    assert parse_pid_stat(b"77 (truncated") is None


def test_process_worker_metrics_follow_the_pid(tmp_path):
    ctx = SourceContext(root=tmp_path)
    src = probed(ProcessSource, ctx)
    code = "import time\nend = time.process_time() + 30\nwhile time.process_time() < end: pass\n"
    worker = subprocess.Popen([sys.executable, "-c", code])
    try:
        proc = psutil.Process(worker.pid)

        def wait_for_cpu(used: float) -> float:       # until the worker has burnt some CPU
            deadline = time.monotonic() + 20
            while sum(proc.cpu_times()[:2]) - used < 0.05 and time.monotonic() < deadline:
                time.sleep(0.01)
            return sum(proc.cpu_times()[:2])

        used0 = wait_for_cpu(0.0)                     # past exec (RSS reads 0 while a process execs)
        ctx.worker_pid = worker.pid
        first = src.read()
        assert first["proc_worker_rss_mb"] > 0
        assert "proc_worker_cpu_pct" not in first
        wait_for_cpu(used0)
        second = src.read()
        assert second["proc_worker_cpu_pct"] > 0
        rss_real = psutil.Process(worker.pid).memory_info().rss / 2**20
        assert second["proc_worker_rss_mb"] == pytest.approx(rss_real, rel=0.5)
    finally:
        worker.kill()
        worker.wait()
    values = src.read()                               # exited: no worker metrics, no error
    assert not any(k.startswith("proc_worker") for k in values)
    ctx.worker_pid = 2**22 + 12345                    # never a valid pid
    assert not any(k.startswith("proc_worker") for k in src.read())


# ---------------------------------------------------------------- this machine (structure only)

REAL = SourceContext(root=Path("/"))


@pytest.mark.skipif(not Path("/proc/meminfo").exists(), reason="needs Linux /proc")
def test_real_meminfo_matches_psutil():
    values = probed(MemorySource, REAL).read()
    assert values["ram_total_mb"] > 0
    assert abs(values["ram_total_mb"] - psutil.virtual_memory().total / 2**20) <= 1.0
    assert 0 <= values["ram_used_mb"] <= values["ram_total_mb"]


@pytest.mark.skipif(not Path("/proc/stat").exists(), reason="needs Linux /proc")
def test_real_procstat_cores():
    src = probed(ProcStatSource, REAL)
    src.read()
    _burn_cpu(0.02)
    values = src.read()
    online = [k for k, v in values.items() if k.endswith("_online") and v == 1.0]
    assert len(online) == os.cpu_count()
    assert 0.0 <= values["cpu_util_pct"] <= 100.0
    for key in values:
        if key.endswith("_util_pct"):
            assert 0.0 <= values[key] <= 100.0


def test_real_machine_sources_never_raise():
    for cls in (CpuFreqSource, LoadAvgSource, ThermalSource, HwmonSource):
        src = cls(REAL)
        if src.probe().available:
            assert all(isinstance(v, float) for v in src.read().values())
