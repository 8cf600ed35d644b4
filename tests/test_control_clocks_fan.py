"""jetson_clocks (state, store, enable, restore) and fan speed."""

from __future__ import annotations

import pytest

from control_helpers import CPU_MIN_KHZ, FakeBoard
from edgemon.control import Controls
from edgemon.control.context import ControlContext
from edgemon.control.fan import find_fan, percent_to_pwm, pwm_to_percent
from edgemon.control.jetson_clocks import parse_show

# Verbatim `jetson_clocks --show` outputs of real boards (the format jetson-stats parses in jetson_clocks.py).
TX1_ON = """\
SOC family:tegra210  Machine:jetson_tx1
Online CPUs: 0-3
CPU Cluster Switching: Disabled
cpu0: Gonvernor=interactive MinFreq=1734000 MaxFreq=1734000 CurrentFreq=1734000
cpu1: Gonvernor=interactive MinFreq=1734000 MaxFreq=1734000 CurrentFreq=1734000
cpu2: Gonvernor=interactive MinFreq=1734000 MaxFreq=1734000 CurrentFreq=1734000
cpu3: Gonvernor=interactive MinFreq=1734000 MaxFreq=1734000 CurrentFreq=1734000
GPU MinFreq=998400000 MaxFreq=998400000 CurrentFreq=998400000
EMC MinFreq=12750000 MaxFreq=1600000000 CurrentFreq=1600000000 FreqOverride=1
Fan: speed=255
"""
TX2_OFF = """\
SOC family:tegra186  Machine:quill
Online CPUs: 0,3-5
CPU Cluster Switching: Disabled
cpu0: Online=1 Governor=schedutil MinFreq=345600 MaxFreq=2035200 CurrentFreq=2035200 IdleStates: C1=1 c7=1
cpu1: Online=0 Governor=schedutil MinFreq=345600 MaxFreq=2035200 CurrentFreq=1113600 IdleStates: C1=1 c6=1 c7=1
cpu2: Online=0 Governor=schedutil MinFreq=345600 MaxFreq=2035200 CurrentFreq=1113600 IdleStates: C1=1 c6=1 c7=1
cpu3: Online=1 Governor=schedutil MinFreq=345600 MaxFreq=2035200 CurrentFreq=1881600 IdleStates: C1=1 c7=1
cpu4: Online=1 Governor=schedutil MinFreq=345600 MaxFreq=2035200 CurrentFreq=2035200 IdleStates: C1=1 c7=1
cpu5: Online=1 Governor=schedutil MinFreq=345600 MaxFreq=2035200 CurrentFreq=2035200 IdleStates: C1=1 c7=1
GPU MinFreq=114750000 MaxFreq=1134750000 CurrentFreq=114750000
EMC MinFreq=40800000 MaxFreq=1600000000 CurrentFreq=1600000000 FreqOverride=0
Fan: speed=0
NV Power Mode: MAXP_CORE_ARM
"""
ORIN_NANO_JP72 = """\
SOC family:tegra234  Machine:NVIDIA Jetson Orin Nano Developer Kit
Online CPUs: 0-5, Offline CPUs: 
cpu0:  Governor=schedutil MinFreq=729600 MaxFreq=1510400 CurrentFreq=1420800 IdleStates: WFI=1 c7=1 
cpu1:  Governor=schedutil MinFreq=729600 MaxFreq=1510400 CurrentFreq=1420800 IdleStates: WFI=1 c7=1 
GPU MinFreq=306000000 MaxFreq=624750000 CurrentFreq=306000000
Active GPU TPCs: 4
EMC MinFreq=204000000 MaxFreq=2133000000 CurrentFreq=2133000000
FAN Dynamic Speed Control=nvfancontrol hwmon0_pwm1=62
FAN Dynamic Speed Control=nvfancontrol hwmon0_pwm1_enable=1
NV Power Mode: 15W
"""
AGX_ORIN_ENGINES = """\
cpu0: Online=1 Governor=schedutil MinFreq=729600 MaxFreq=2201600 CurrentFreq=2201600 IdleStates: WFI=1 c7=1 
GPU MinFreq=306000000 MaxFreq=1300500000 CurrentFreq=306000000
DLA0_CORE:   Online=1 MinFreq=0 MaxFreq=1600000000 CurrentFreq=1600000000
PVA0_AXI:  Online=1 MinFreq=0 MaxFreq=832000000 CurrentFreq=832000000
FAN Dynamic Speed control=active hwmon2_pwm1=55
NV Power Mode: MAXN
"""


def test_parse_show_real_outputs():
    tx1 = parse_show(TX1_ON)
    assert tx1.on is True and tx1.fan_pwm == 255 and tx1.engines["GPU"]["MaxFreq"] == 998400000
    tx2 = parse_show(TX2_OFF)
    assert tx2.on is False and tx2.power_mode == "MAXP_CORE_ARM" and tx2.fan_pwm == 0
    nano = parse_show(ORIN_NANO_JP72)
    assert nano.on is False and nano.power_mode == "15W" and nano.fan_pwm == 62
    orin = parse_show(AGX_ORIN_ENGINES)
    assert orin.engines["DLA0_CORE"]["MaxFreq"] == 1600000000 and orin.fan_pwm == 55
    assert parse_show("garbage\n").on is None


def test_offline_cores_do_not_decide_the_state():
    # cpu1 offline with min != max must not hide that the online cores are pinned.
    text = ("cpu0: Online=1 Governor=schedutil MinFreq=2035200 MaxFreq=2035200 CurrentFreq=2035200\n"
            "cpu1: Online=0 Governor=schedutil MinFreq=345600 MaxFreq=2035200 CurrentFreq=0\n"
            "GPU MinFreq=1134750000 MaxFreq=1134750000 CurrentFreq=1134750000\n")
    assert parse_show(text).on is True


@pytest.mark.parametrize("is_root", [True, False])
def test_store_enable_restore_round_trip(tmp_path, is_root):
    board = FakeBoard(tmp_path)
    controls = Controls(board.root, board.executables("allow"), is_root=is_root, state_dir=tmp_path / "state")
    first = controls.jetson_clocks_state()
    assert first.on is False
    assert first.source == ("jetson_clocks --show" if is_root else "sysfs")

    on = controls.set_jetson_clocks(True)
    assert on.ok, on.message
    stored = tmp_path / "state/l4t_dfs.conf"
    assert stored.exists() and controls.clocks_store == stored        # stored before pinning
    assert controls.jetson_clocks_state().on is True
    assert board.cpu_min(1) != CPU_MIN_KHZ

    off = controls.set_jetson_clocks(False)
    assert off.ok, off.message
    assert controls.jetson_clocks_state().on is False and board.cpu_min(1) == CPU_MIN_KHZ
    argvs = [c["argv"] for c in board.calls("jetson_clocks") if c["argv"][:1] != ["--show"]]
    assert argvs == [["--store", str(stored)], [], ["--restore", str(stored)]]


def test_clocks_off_without_a_stored_file_reapplies_the_power_mode(tmp_path):
    board = FakeBoard(tmp_path)
    controls = Controls(board.root, board.executables(), is_root=True)
    controls.clocks_store = tmp_path / "missing.conf"      # e.g. turned on by someone else
    assert controls.jetson_clocks_state().on is False
    assert Controls(board.root, board.executables(), is_root=True).set_jetson_clocks(True).ok
    off = controls.set_jetson_clocks(False)
    assert off.ok and "re-applied" in off.message
    assert controls.jetson_clocks_state().on is False


def test_no_jetson_clocks_says_not_a_jetson(tmp_path):
    controls = Controls(tmp_path, {})
    assert controls.available()["jetson_clocks"].reason == "no jetson_clocks: not a Jetson"
    assert not controls.set_jetson_clocks(True).ok


def test_fan_percent_and_pwm(tmp_path):
    board = FakeBoard(tmp_path, fan_pwm=51)
    controls = Controls(board.root, board.executables(), is_root=True)
    assert controls.fan_pwm() == 51
    assert controls.fan_speed() == pytest.approx(20.0)
    result = controls.set_fan_speed(50)
    assert result.ok and board.fan_pwm() == percent_to_pwm(50) == 128
    assert controls.fan_speed() == pytest.approx(pwm_to_percent(128))
    assert controls.set_fan_speed(100).ok and board.fan_pwm() == 255


@pytest.mark.parametrize("bad", [-1, 101, "fast", None])
def test_fan_rejects_nonsense_without_writing(tmp_path, bad):
    board = FakeBoard(tmp_path, fan_pwm=51)
    result = Controls(board.root, board.executables(), is_root=True).set_fan_speed(bad)
    assert not result.ok and "0-100" in result.message
    assert board.fan_pwm() == 51


def test_fan_behind_sudo(tmp_path):
    board = FakeBoard(tmp_path)
    denied = Controls(board.root, board.executables("deny"), is_root=False, user="eve").set_fan_speed(80)
    pwm = board.root / "sys/class/hwmon/hwmon0/pwm1"
    assert not denied.ok and f"eve ALL=(root) NOPASSWD: {board.tee} {pwm}" in denied.message
    assert "jtop service" in denied.message
    allowed = Controls(board.root, board.executables("allow"), is_root=False).set_fan_speed(80)
    assert allowed.ok and allowed.strategy == "sudo" and board.fan_pwm() == percent_to_pwm(80)


def test_legacy_fan_node_and_no_fan(tmp_path):
    assert find_fan(ControlContext(tmp_path)) is None
    assert "no fan" in Controls(tmp_path, {}).available()["fan"].reason
    legacy = tmp_path / "sys/devices/pwm-fan"
    legacy.mkdir(parents=True)
    (legacy / "target_pwm").write_text("128\n")
    (legacy / "temp_control").write_text("1\n")
    controls = Controls(tmp_path, {}, is_root=True)
    assert controls.fan_pwm() == 128
    result = controls.set_fan_pwm(200)
    assert result.ok and (legacy / "target_pwm").read_text() == "200"
    assert "temp_control" in result.message
