"""Jetson sysfs sources read back exactly what the board fixtures wrote (tests/fixtures/jetson)."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest

from edgemon.telemetry.base import SourceContext
from edgemon.telemetry.jetson_emc import JetsonEmcSource
from edgemon.telemetry.jetson_fan import JetsonFanSource, is_fan_hwmon_name
from edgemon.telemetry.jetson_gpu import JetsonGpuSource
from edgemon.telemetry.jetson_power import JetsonPowerSource
from fixtures.jetson.boards import BOARDS, build_tree, expected_metrics

SOURCES = (JetsonGpuSource, JetsonEmcSource, JetsonPowerSource, JetsonFanSource)


def read_all(root: Path) -> dict[str, float]:
    ctx = SourceContext(root=root)
    out: dict[str, float] = {}
    for cls in SOURCES:
        src = cls(ctx)
        status = src.probe()
        assert status.available, status
        out.update(src.read())
    return out


@pytest.mark.parametrize("load", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("board", sorted(BOARDS))
def test_every_board_reads_back_exactly_what_was_written(tmp_path, board, load):
    build_tree(board, tmp_path, load=load)
    got = read_all(tmp_path)
    want = expected_metrics(BOARDS[board], load)
    assert set(got) == set(want)
    for key, value in want.items():
        assert got[key] == pytest.approx(value, rel=1e-12), key


# Hand-computed from the raw files each fixture writes (units converted by hand here).

def test_orin_nano_idle_units_and_total(tmp_path):
    build_tree("orin-nano", tmp_path, load=0.0)
    got = read_all(tmp_path)
    assert got["power_vdd_in_mw"] == 4830.0            # 5000 mV * 966 mA / 1000
    assert got["power_vdd_cpu_gpu_cv_mw"] == 520.0     # 5000 mV * 104 mA
    assert got["power_vdd_soc_mw"] == 1475.0
    assert got["power_total_mw"] == 4830.0             # VDD_IN, not VDD_IN + sub-rails
    assert got["power_vdd_in_avg_mw"] == 4830.0        # the average starts at the first reading
    assert got["gpu_freq_mhz"] == 306.0                # cur_freq 306000000 Hz
    assert got["gpu_util_pct"] == 0.0
    assert got["emc_freq_mhz"] == 204.0
    assert got["emc_util_pct"] == 0.0
    assert got["fan0_pwm_pct"] == pytest.approx(62 * 100 / 255)
    assert "fan0_rpm" not in got                        # this fan has no tachometer
    assert not any("sum" in k or "shunt" in k for k in got)


def test_nano_jp4_iio_power_is_taken_from_in_power(tmp_path):
    build_tree("nano", tmp_path, load=0.0)
    iio = tmp_path / "sys/bus/i2c/drivers/ina3221x/6-0040/iio:device0"
    assert (iio / "rail_name_0").read_text().strip() == "POM_5V_IN"
    (iio / "in_power0_input").write_text("1750\n")
    (iio / "in_current0_input").write_text("999\n")     # in_power wins over mV * mA
    got = read_all(tmp_path)
    assert got["power_pom_5v_in_mw"] == 1750.0
    assert got["power_total_mw"] == 1750.0
    assert got["gpu_freq_mhz"] == 76.8
    assert got["emc_freq_mhz"] == 204.0


def test_nano_full_load(tmp_path):
    build_tree("nano", tmp_path, load=1.0)
    got = read_all(tmp_path)
    assert got["gpu_util_pct"] == 100.0                 # load 1000 per-mille
    assert got["gpu_freq_mhz"] == 921.6
    assert got["emc_freq_mhz"] == 1600.0
    assert got["emc_util_pct"] == 80.0
    assert got["fan0_pwm_pct"] == 100.0
    assert got["fan0_rpm"] == 5000.0


def test_gpu_units_per_mille_and_hz(tmp_path):
    build_tree("xavier-nx", tmp_path)
    (tmp_path / "sys/devices/17000000.gv11b/load").write_text("537\n")
    (tmp_path / "sys/devices/17000000.gv11b/devfreq/17000000.gv11b/cur_freq").write_text("1109250000\n")
    got = read_all(tmp_path)
    assert got["gpu_util_pct"] == 53.7
    assert got["gpu_freq_mhz"] == 1109.25


def test_agx_orin_total_is_the_sum_and_nc_is_dropped(tmp_path):
    build_tree("agx-orin", tmp_path, load=0.0)
    got = read_all(tmp_path)
    rails = {k: v for k, v in got.items() if k.startswith("power_") and k.endswith("_mw")
             and not k.endswith("_avg_mw") and k != "power_total_mw"}
    assert rails == {"power_vdd_gpu_soc_mw": 2390.0, "power_vdd_cpu_cv_mw": 795.0,
                     "power_vin_sys_5v0_mw": 3520.0, "power_vddq_vdd2_1v8ao_mw": 300.0}
    assert got["power_total_mw"] == 2390.0 + 795.0 + 3520.0 + 300.0
    # GPU: no device/load on Orin JP5, the load comes from /sys/devices/platform/gpu.0/load.
    (tmp_path / "sys/devices/platform/gpu.0/load").write_text("250\n")
    assert read_all(tmp_path)["gpu_util_pct"] == 25.0
    assert got["gpu_gpc0_freq_mhz"] == got["gpu_gpc1_freq_mhz"] == 306.0


def test_thor_gpcs_ina238_vin_and_bwmgr(tmp_path):
    build_tree("thor", tmp_path, load=1.0)
    (tmp_path / "sys/devices/virtual/devfreq/gpu-gpc-1/cur_freq").write_text("943000000\n")
    got = read_all(tmp_path)
    assert got["gpu_gpc0_freq_mhz"] == 1574.0
    assert got["gpu_gpc1_freq_mhz"] == 943.0
    assert got["gpu_gpc2_freq_mhz"] == 1574.0
    assert got["gpu_freq_mhz"] == 1574.0                # the highest GPC
    assert "gpu_gpc3_freq_mhz" not in got               # gpu-nvd-0 (NVDEC) is not a GPC
    assert "gpu_util_pct" not in got                    # Thor: NVML only
    assert got["power_vin_mw"] == 124480.0              # power1_input 124480000 uW
    assert got["power_total_mw"] == 124480.0
    assert got["power_vdd_gpu_mw"] == 37940.0
    assert got["emc_freq_mhz"] == 4266.0
    assert "emc_util_pct" not in got
    assert got["fan0_rpm"] == 4000.0                    # RPM-only pwm_tach merged into the one fan


def test_tx2_rpm_from_the_pwm_fan_hwmon_node_and_iio_total(tmp_path):
    build_tree("tx2", tmp_path, load=0.0)
    got = read_all(tmp_path)
    assert got["fan0_pwm_pct"] == 0.0
    assert got["fan0_rpm"] == 0.0
    assert "fan1_rpm" not in got
    assert got["power_total_mw"] == got["power_vdd_in_mw"] == 3140.0   # 5000 mV * 628 mA


def test_rebuilding_with_another_load_changes_the_readings(tmp_path):
    build_tree("agx-orin", tmp_path, load=0.0)
    src = JetsonPowerSource(SourceContext(root=tmp_path))
    assert src.probe().available
    idle = src.read()["power_total_mw"]
    build_tree("agx-orin", tmp_path, load=1.0)          # e.g. what an emulator does
    busy = src.read()["power_total_mw"]
    assert busy == sum(expected_metrics(BOARDS["agx-orin"], 1.0)[f"power_{r}_mw"]
                       for r in ("vdd_gpu_soc", "vdd_cpu_cv", "vin_sys_5v0", "vddq_vdd2_1v8ao"))
    assert busy > idle


def test_power_average_is_a_time_weighted_ema(tmp_path):
    build_tree("orin-nano", tmp_path, load=0.0)
    now = [0]
    src = JetsonPowerSource(SourceContext(root=tmp_path), avg_tau_s=2.0, clock=lambda: now[0])
    assert src.probe().available
    first = src.read()
    assert first["power_vdd_in_avg_mw"] == 4830.0
    build_tree("orin-nano", tmp_path, load=1.0)         # VDD_IN 5000 mV * 2000 mA = 10000 mW
    now[0] = 2_000_000_000                              # one time constant later
    second = src.read()
    assert second["power_vdd_in_mw"] == 10000.0
    assert second["power_vdd_in_avg_mw"] == pytest.approx(4830.0 + (1 - math.exp(-1)) * (10000.0 - 4830.0))
    now[0] = 2_000_000_000                              # no time passed: the average holds
    assert src.read()["power_vdd_in_avg_mw"] == pytest.approx(second["power_vdd_in_avg_mw"])


def test_gpu_found_without_class_devfreq_through_the_nvpmodel_path(tmp_path):
    build_tree("nano", tmp_path)
    shutil.rmtree(tmp_path / "sys/class/devfreq")
    src = JetsonGpuSource(SourceContext(root=tmp_path))
    assert src.probe().available
    assert src.read()["gpu_freq_mhz"] == expected_metrics(BOARDS["nano"])["gpu_freq_mhz"]


def test_ina_hwmon_found_only_through_class_hwmon(tmp_path):
    build_tree("xavier-nx", tmp_path, load=0.0)
    shutil.rmtree(tmp_path / "sys/bus")
    src = JetsonPowerSource(SourceContext(root=tmp_path))
    status = src.probe()
    assert status.available, status
    assert src.read()["power_vdd_in_mw"] == 5000 * 553 / 1000


def test_each_rail_is_read_once_although_reachable_three_ways(tmp_path):
    build_tree("orin-nano", tmp_path)
    src = JetsonPowerSource(SourceContext(root=tmp_path))
    src.probe()
    assert [ch.rail for ch in src.rails] == ["VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC"]
    assert src.input_rail is not None and src.input_rail.rail == "VDD_IN"


def test_a_duplicate_label_gets_a_distinct_metric(tmp_path):
    build_tree("orin-nano", tmp_path, load=0.0)
    hw = tmp_path / "sys/devices/platform/bus@0/c240000.i2c/i2c-1/1-0040/hwmon/hwmon1"
    (hw / "in3_label").write_text("VDD_CPU_GPU_CV\n")
    got = read_all(tmp_path)
    assert got["power_vdd_cpu_gpu_cv_mw"] == 520.0
    assert got["power_vdd_cpu_gpu_cv_2_mw"] == 1475.0


def test_fan_names_shared_with_generic_hwmon():
    for name in ("pwmfan", "pwm-fan", "tegra_pwmfan", "pwm_tach", "generic_pwm_tachometer"):
        assert is_fan_hwmon_name(name), name
    for name in ("ina3221", "coretemp", "nvme", "cpu_thermal"):
        assert not is_fan_hwmon_name(name), name


def test_legacy_fan_seen_through_hwmon_is_reported_once(tmp_path):
    build_tree("nano", tmp_path, load=0.5)
    node = tmp_path / "sys/devices/pwm-fan/hwmon/hwmon1"
    node.mkdir(parents=True)
    (node / "name").write_text("pwm-fan\n")
    (node / "pwm1").write_text("128\n")
    (tmp_path / "sys/class/hwmon").mkdir(parents=True, exist_ok=True)
    (tmp_path / "sys/class/hwmon/hwmon1").symlink_to(node)
    src = JetsonFanSource(SourceContext(root=tmp_path))
    assert src.probe().available
    got = src.read()
    assert got["fan0_pwm_pct"] == pytest.approx(128 * 100 / 255)
    assert got["fan0_rpm"] == round(128 * 5000 / 255)    # rpm_measured of the legacy directory
    assert not any(k.startswith("fan1_") for k in got)
