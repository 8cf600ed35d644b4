"""limits() of the Jetson sources: the ceilings the throttling analysis compares against."""

from __future__ import annotations

import pytest

from edgemon.telemetry.base import SourceContext
from edgemon.telemetry.jetson_emc import JetsonEmcSource
from edgemon.telemetry.jetson_gpu import JetsonGpuSource
from edgemon.telemetry.jetson_power import JetsonPowerSource
from fixtures.jetson.boards import BOARDS, build_tree


def probed(cls, root):
    src = cls(SourceContext(root=root))
    assert src.probe().available
    return src


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_gpu_limits_every_board(tmp_path, board):
    build_tree(board, tmp_path)
    lim = probed(JetsonGpuSource, tmp_path).limits()
    hz = BOARDS[board].gpu.available_hz
    assert lim.available_mhz == tuple(f / 1e6 for f in hz)
    assert lim.min_mhz == hz[0] / 1e6
    assert lim.max_mhz == lim.hw_max_mhz == hz[-1] / 1e6
    assert lim.governor == "nvhost_podgov"


def test_gpu_limits_follow_a_power_mode_cap(tmp_path):
    build_tree("agx-orin", tmp_path)
    src = probed(JetsonGpuSource, tmp_path)
    # nvpmodel MODE_15W writes max_freq through the devfreq_dev path (as the board's nvpmodel.conf says)
    (tmp_path / "sys/devices/17000000.ga10b/devfreq_dev/max_freq").write_text("420750000\n")
    lim = src.limits()
    assert lim.max_mhz == 420.75
    assert lim.hw_max_mhz == 1300.5


def test_gpu_limits_before_probe_is_none(tmp_path):
    assert JetsonGpuSource(SourceContext(root=tmp_path)).limits() is None


def test_emc_limits_and_nvpmodel_cap(tmp_path):
    build_tree("agx-orin", tmp_path)
    src = probed(JetsonEmcSource, tmp_path)
    lim = src.limits()
    assert (lim.min_mhz, lim.max_mhz, lim.cap_mhz) == (204.0, 3199.0, None)   # emc_iso_cap 0 = MAXN
    assert lim.ceiling_mhz == 3199.0
    (tmp_path / "sys/kernel/nvpmodel_emc_cap/emc_iso_cap").write_text("2133000000\n")
    assert src.limits().ceiling_mhz == 2133.0


def test_emc_limits_t210(tmp_path):
    build_tree("nano", tmp_path)
    lim = probed(JetsonEmcSource, tmp_path).limits()
    assert (lim.min_mhz, lim.max_mhz) == (204.0, 1600.0)


def test_power_limits_hwmon(tmp_path):
    build_tree("orin-nano", tmp_path)
    src = probed(JetsonPowerSource, tmp_path)
    lim = src.limits()["VDD_IN"]
    assert (lim.warn_ma, lim.crit_ma) == (7784, 7784)
    assert (lim.warn_alarm, lim.crit_alarm) == (False, False)
    assert lim.crit_mw == 7784 * 5000 / 1000
    hw = tmp_path / "sys/devices/platform/bus@0/c240000.i2c/i2c-1/1-0040/hwmon/hwmon1"
    (hw / "curr1_crit_alarm").write_text("1\n")
    assert src.limits()["VDD_IN"].crit_alarm is True


def test_power_limits_iio(tmp_path):
    build_tree("nano", tmp_path)
    lim = probed(JetsonPowerSource, tmp_path).limits()
    assert (lim["POM_5V_IN"].warn_ma, lim["POM_5V_IN"].crit_ma) == (3000, 4000)
    assert lim["POM_5V_IN"].crit_alarm is None          # JP4 iio has no alarm files
    assert lim["POM_5V_IN"].warn_mw == 3000 * 5000 / 1000


def test_power_limits_skip_rails_without_any(tmp_path):
    build_tree("thor", tmp_path)
    lim = probed(JetsonPowerSource, tmp_path).limits()
    assert "VIN" not in lim                            # the INA238 fixture exposes no limit
    assert lim["VDD_GPU"].crit_ma == 10000
