"""Absent, vanished and unreadable Jetson files: a reason, never a crash.

Running as root, chmod cannot make a file unreadable, so "unreadable" is a file
replaced by a directory (reading it fails with an OSError, as a power-gated
sensor does) or a deleted file.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from edgemon.telemetry.base import SourceContext
from edgemon.telemetry.jetson_emc import NEEDS_ROOT, JetsonEmcSource
from edgemon.telemetry.jetson_fan import JetsonFanSource
from edgemon.telemetry.jetson_gpu import JetsonGpuSource
from edgemon.telemetry.jetson_power import JetsonPowerSource
from fixtures.jetson.boards import BOARDS, build_tree, expected_metrics

SOURCES = (JetsonGpuSource, JetsonEmcSource, JetsonPowerSource, JetsonFanSource)


def unreadable(path: Path) -> None:
    """Replace a file with a directory: open() then fails with IsADirectoryError."""
    path.unlink()
    path.mkdir()


@pytest.mark.parametrize("cls", SOURCES)
def test_empty_root_gives_a_reason_naming_the_root(tmp_path, cls):
    src = cls(SourceContext(root=tmp_path))
    status = src.probe()
    assert not status.available
    assert str(tmp_path) in status.reason


def test_power_reason_is_precise(tmp_path):
    status = JetsonPowerSource(SourceContext(root=tmp_path)).probe()
    assert status.reason.startswith("no INA3221 found under ")
    assert f"{tmp_path}/sys/bus/i2c/drivers/ina3221x" in status.reason


@pytest.mark.parametrize("cls", SOURCES)
def test_root_that_is_a_file_does_not_raise(tmp_path, cls):
    root = tmp_path / "not-a-dir"
    root.write_text("x")
    assert not cls(SourceContext(root=root)).probe().available


def test_input_rail_vanishing_drops_the_total_instead_of_summing(tmp_path):
    build_tree("xavier-nx", tmp_path, load=0.0)
    src = JetsonPowerSource(SourceContext(root=tmp_path))
    assert src.probe().available
    hw = tmp_path / "sys/devices/platform/c250000.i2c/i2c-7/7-0040/hwmon/hwmon4"
    (hw / "curr1_input").unlink()
    got = src.read()
    assert "power_vdd_in_mw" not in got
    assert "power_total_mw" not in got                  # never the sum of the sub-rails
    assert got["power_vdd_soc_mw"] == 5000 * 210 / 1000


def test_a_missing_sub_rail_withholds_a_summed_total(tmp_path):
    build_tree("agx-orin", tmp_path, load=0.0)
    src = JetsonPowerSource(SourceContext(root=tmp_path))
    assert src.probe().available
    unreadable(tmp_path / "sys/devices/platform/c240000.i2c/i2c-1/1-0040/hwmon/hwmon0/curr2_input")
    got = src.read()
    assert "power_vdd_cpu_cv_mw" not in got
    assert "power_total_mw" not in got                  # a partial sum would look like a power drop
    assert got["power_vdd_gpu_soc_mw"] == 2390.0


def test_disabled_channel_is_skipped_at_probe_with_a_note(tmp_path):
    build_tree("orin-nano", tmp_path, load=0.0)
    hw = tmp_path / "sys/devices/platform/bus@0/c240000.i2c/i2c-1/1-0040/hwmon/hwmon1"
    unreadable(hw / "in3_input")                        # like AGX Orin's disabled channels
    src = JetsonPowerSource(SourceContext(root=tmp_path))
    status = src.probe()
    assert status.available
    assert "VDD_SOC unreadable" in status.detail
    got = src.read()
    assert "power_vdd_soc_mw" not in got
    assert got["power_total_mw"] == 4830.0


def test_all_rails_gone_after_probe_raises_oserror_for_the_sampler(tmp_path):
    build_tree("nano", tmp_path)
    src = JetsonPowerSource(SourceContext(root=tmp_path))
    assert src.probe().available
    shutil.rmtree(tmp_path / "sys/devices/7000c400.i2c")
    with pytest.raises(OSError):
        src.read()


def test_gpu_clock_unreadable_is_unavailable(tmp_path):
    build_tree("orin-nano", tmp_path)
    unreadable(tmp_path / "sys/devices/platform/bus@0/17000000.gpu/devfreq/17000000.gpu/cur_freq")
    status = JetsonGpuSource(SourceContext(root=tmp_path)).probe()
    assert not status.available
    assert status.reason.startswith("GPU clock unreadable: ")
    assert status.reason.endswith("17000000.gpu/devfreq/17000000.gpu/cur_freq")


def test_gpu_without_any_load_file_reports_only_the_clock(tmp_path):
    build_tree("xavier-nx", tmp_path)
    (tmp_path / "sys/devices/17000000.gv11b/load").unlink()
    src = JetsonGpuSource(SourceContext(root=tmp_path))
    status = src.probe()
    assert status.available and "no load file" in status.detail
    assert set(src.read()) == {"gpu_freq_mhz"}


def test_gpu_load_vanishing_after_probe_keeps_the_clock(tmp_path):
    build_tree("tx2", tmp_path)
    src = JetsonGpuSource(SourceContext(root=tmp_path))
    assert src.probe().available
    (tmp_path / "sys/devices/gpu.0/load").write_text("garbage\n")
    assert set(src.read()) == {"gpu_freq_mhz"}


def test_non_gpu_devfreq_entries_are_not_taken_for_the_gpu(tmp_path):
    for name in ("gpu-nvd-0", "bwmgr", "13e10000.host1x"):
        d = tmp_path / "sys/class/devfreq" / name
        d.mkdir(parents=True)
        (d / "cur_freq").write_text("100000000\n")
    assert not JetsonGpuSource(SourceContext(root=tmp_path)).probe().available


def test_emc_without_debugfs_names_root_and_tegrastats(tmp_path):
    build_tree("orin-nano", tmp_path)
    shutil.rmtree(tmp_path / "sys/kernel/debug")
    status = JetsonEmcSource(SourceContext(root=tmp_path)).probe()
    assert not status.available
    assert "root-only" in status.reason and "tegrastats provides EMC" in status.reason


def test_emc_activity_missing_gives_clock_only(tmp_path):
    build_tree("agx-orin", tmp_path)
    (tmp_path / "sys/kernel/debug/cactmon/mc_all").unlink()
    src = JetsonEmcSource(SourceContext(root=tmp_path))
    assert src.probe().available
    assert set(src.read()) == {"emc_freq_mhz"}


def test_emc_clock_vanishing_after_probe_raises_oserror(tmp_path):
    build_tree("tx2", tmp_path)
    src = JetsonEmcSource(SourceContext(root=tmp_path))
    assert src.probe().available
    unreadable(tmp_path / "sys/kernel/debug/bpmp/debug/clk/emc/rate")
    with pytest.raises(OSError):
        src.read()


_PROBE_AS_USER = """
import sys
from pathlib import Path
from edgemon.telemetry.base import SourceContext
from edgemon.telemetry.jetson_emc import JetsonEmcSource
s = JetsonEmcSource(SourceContext(root=Path(sys.argv[1])))
print(s.probe().reason)
"""


def test_emc_debugfs_denied_says_needs_root():
    """Real permission denial: debugfs 0700 read by an unprivileged process."""
    tmp = Path(tempfile.mkdtemp(prefix="edgemon-emc-"))
    try:
        os.chmod(tmp, 0o755)
        build_tree("agx-orin", tmp)
        for dirpath, _dirnames, _filenames in os.walk(tmp):
            os.chmod(dirpath, 0o755)
        os.chmod(tmp / "sys/kernel/debug", 0o700)
        if os.geteuid() != 0:
            status = JetsonEmcSource(SourceContext(root=tmp)).probe()
            assert status.reason == NEEDS_ROOT
            return
        repo = Path(__file__).resolve().parents[1]
        try:
            proc = subprocess.run([sys.executable, "-c", _PROBE_AS_USER, str(tmp)], user=65534,
                                  capture_output=True, text=True, timeout=30,
                                  cwd="/", env={"PYTHONPATH": str(repo)})
        except (OSError, subprocess.SubprocessError) as exc:
            pytest.skip(f"cannot run Python as an unprivileged user here: {exc}")
        if proc.returncode != 0:
            pytest.skip(f"cannot run Python as an unprivileged user here: {proc.stderr.strip()[-200:]}")
        assert proc.stdout.strip() == NEEDS_ROOT
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_fan_pwm_unreadable_keeps_rpm(tmp_path):
    build_tree("xavier-nx", tmp_path, load=1.0)
    src = JetsonFanSource(SourceContext(root=tmp_path))
    assert src.probe().available
    unreadable(tmp_path / "sys/devices/platform/pwm-fan/hwmon/hwmon5/pwm1")
    assert src.read() == {"fan0_rpm": 5000.0}


def test_fan_with_unreadable_files_is_not_offered(tmp_path):
    build_tree("orin-nano", tmp_path)
    unreadable(tmp_path / "sys/devices/platform/pwm-fan/hwmon/hwmon0/pwm1")
    status = JetsonFanSource(SourceContext(root=tmp_path)).probe()
    assert not status.available
    assert "no fan found" in status.reason


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_sources_survive_a_half_deleted_tree(tmp_path, board):
    """Delete every other file of the tree: probes never raise, reads raise only OSError."""
    build_tree(board, tmp_path)
    files = sorted(p for p in tmp_path.rglob("*") if p.is_file() and not p.is_symlink())
    for p in files[::2]:
        p.unlink()
    ctx = SourceContext(root=tmp_path)
    for cls in SOURCES:
        src = cls(ctx)
        status = src.probe()
        if status.available:
            try:
                got = src.read()
            except OSError:
                continue
            want = expected_metrics(BOARDS[board])
            for key, value in got.items():
                if key in want and not key.endswith("_avg_mw") and key != "power_total_mw":
                    assert value == pytest.approx(want[key]), key
        else:
            assert status.reason
