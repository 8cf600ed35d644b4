"""Power modes: parsing nvpmodel's outputs and conf, switching, and never rebooting the board."""

from __future__ import annotations

import pytest

from control_helpers import DEFAULT_MODE, MODES, FakeBoard
from edgemon.control import Controls
from edgemon.control.context import ControlContext
from edgemon.control.nvpmodel import list_modes, parse_conf, parse_query, query

# The TX2 /etc/nvpmodel.conf (L4T 28.x), verbatim for the first two modes.
TX2_CONF = """\
# FORMAT:
# < PARAM TYPE=PARAM_TYPE NAME=PARAM_NAME >
# ARG1_NAME ARG1_PATH_VAL

< PARAM TYPE=FILE NAME=CPU_ONLINE >
CORE_0 /sys/devices/system/cpu/cpu0/online
CORE_1 /sys/devices/system/cpu/cpu1/online
CORE_2 /sys/devices/system/cpu/cpu2/online
CORE_3 /sys/devices/system/cpu/cpu3/online
CORE_4 /sys/devices/system/cpu/cpu4/online
CORE_5 /sys/devices/system/cpu/cpu5/online

< PARAM TYPE=CLOCK NAME=CPU_A57 >
FREQ_TABLE /sys/devices/system/cpu/cpu0/cpufreq/scaling_available_frequencies
MAX_FREQ /sys/devices/system/cpu/cpu0/cpufreq/scaling_max_freq
MIN_FREQ /sys/devices/system/cpu/cpu0/cpufreq/scaling_min_freq

< PARAM TYPE=CLOCK NAME=CPU_DENVER >
FREQ_TABLE /sys/devices/system/cpu/cpu1/cpufreq/scaling_available_frequencies
MAX_FREQ /sys/devices/system/cpu/cpu1/cpufreq/scaling_max_freq
MIN_FREQ /sys/devices/system/cpu/cpu1/cpufreq/scaling_min_freq

< PARAM TYPE=CLOCK NAME=GPU >
FREQ_TABLE /sys/devices/17000000.gp10b/devfreq/17000000.gp10b/available_frequencies
MAX_FREQ /sys/devices/17000000.gp10b/devfreq/17000000.gp10b/max_freq
MIN_FREQ /sys/devices/17000000.gp10b/devfreq/17000000.gp10b/min_freq

< PARAM TYPE=CLOCK NAME=EMC >
MAX_FREQ /sys/kernel/nvpmodel_emc_cap/emc_iso_cap

# MAXN is the NONE power model to release all constraints
< POWER_MODEL ID=0 NAME=MAXN >
CPU_ONLINE CORE_1 1
CPU_ONLINE CORE_2 1
CPU_ONLINE CORE_3 1
CPU_ONLINE CORE_4 1
CPU_ONLINE CORE_5 1
CPU_A57 MIN_FREQ 0
CPU_A57 MAX_FREQ -1
CPU_DENVER MIN_FREQ 0
CPU_DENVER MAX_FREQ -1
GPU MIN_FREQ 0
GPU MAX_FREQ -1
EMC MAX_FREQ 0

< POWER_MODEL ID=1 NAME=MAXQ >
CPU_ONLINE CORE_1 0
CPU_ONLINE CORE_2 0
CPU_ONLINE CORE_3 1
CPU_ONLINE CORE_4 1
CPU_ONLINE CORE_5 1
CPU_A57 MIN_FREQ 0
CPU_A57 MAX_FREQ 1200000
GPU MIN_FREQ 0
GPU MAX_FREQ 850000000
EMC MAX_FREQ 1331200000

# mandatory section to configure the default mode
< PM_CONFIG DEFAULT=1 >
"""


@pytest.fixture
def board(tmp_path):
    return FakeBoard(tmp_path)


def test_parse_tx2_conf_gives_modes_cores_and_caps():
    table = parse_conf(TX2_CONF)
    assert [(m.id, m.name) for m in table.modes] == [(0, "MAXN"), (1, "MAXQ")]
    assert table.default_id == 1
    maxn, maxq = table.modes
    assert maxn.cpu_max_freq_khz == {"CPU_A57": None, "CPU_DENVER": None}   # -1 = no cap
    assert maxn.gpu_max_freq_hz is None and maxn.emc_max_freq_hz is None      # EMC 0 = no cap
    assert maxq.cpu_max_freq_khz == {"CPU_A57": 1200000}
    assert maxq.cpu_max_freq_mhz == 1200.0
    assert maxq.gpu_max_freq_hz == 850000000 and maxq.emc_max_freq_hz == 1331200000
    assert maxq.cpu_online == {1: False, 2: False, 3: True, 4: True, 5: True}
    assert maxq.cpu_online_mask == 0b111001
    assert maxn.cpu_online_mask == 0b111111


def test_parse_old_2017_syntax_with_raw_paths():
    text = ("< POWER_MODEL ID=1 NAME=MAXQ >\n/sys/devices/system/cpu/cpu1/online 0\n"
            "/sys/devices/system/cpu/cpu2/online 1\n< PM_CONFIG DEFAULT=1 >\n")
    (mode,) = parse_conf(text).modes
    assert mode.cpu_online == {1: False, 2: True}


@pytest.mark.parametrize("text, expected", [
    ("NV Fan Mode:quiet\nNV Power Mode: MAXN\n0\n", (0, "MAXN")),
    ("NVPM WARN: fan mode is not set!\nNV Power Mode: MAXTEST\n0\n", (0, "MAXTEST")),
    ("NV Power Mode: 15W\n0", (0, "15W")),
    ("nvpmodel: NV Power Mode: MAXN 0", (0, "MAXN")),
    ("NV Power Mode: MODE_30W\n\n2\n", (2, "MODE_30W")),
    ("Please run as root\n", (None, None)),
])
def test_parse_query_real_outputs(text, expected):
    assert parse_query(text) == expected


def test_list_query_and_set_through_the_stand_in(board):
    controls = Controls(board.root, board.executables(), is_root=True)
    modes = controls.power_modes()
    assert [(m.id, m.name) for m in modes] == [(m["id"], m["name"]) for m in MODES]
    assert controls.mode_table().default_id == DEFAULT_MODE
    assert modes[1].cpu_online_mask == 0b0011 and modes[3].gating == {"TPC_PG_MASK": "248"}
    assert controls.power_mode().id == DEFAULT_MODE

    result = controls.set_power_mode(1)
    assert result.ok, result.message
    assert result.strategy == "direct"
    assert board.mode() == 1 and controls.power_mode().name == "MODE_15W"
    assert board.online_file(2).read_text().strip() == "0"   # the mode switched cores off

    assert controls.set_power_mode("MAXN").ok                 # by name
    assert board.mode() == 0


def test_unknown_mode_is_refused_without_running_nvpmodel(board):
    controls = Controls(board.root, board.executables(), is_root=True)
    result = controls.set_power_mode(9)
    assert not result.ok
    assert "unknown power mode 9" in result.message and "2 (MODE_30W)" in result.message
    assert not [c for c in board.calls("nvpmodel") if c["argv"][:1] == ["-m"]]
    assert not controls.set_power_mode("TURBO").ok


def test_reboot_mode_known_from_the_conf_is_refused_before_running(board):
    controls = Controls(board.root, board.executables(), is_root=True)
    result = controls.set_power_mode(3)
    assert not result.ok
    assert "needs a reboot" in result.message and "TPC_PG_MASK" in result.message
    assert "sudo nvpmodel -m 3" in result.message
    assert not [c for c in board.calls("nvpmodel") if c["argv"][:1] == ["-m"]]
    assert board.mode() == DEFAULT_MODE


@pytest.mark.parametrize("is_root", [True, False])
def test_reboot_prompt_is_answered_with_nothing(board, is_root):
    # Mode 4 looks switchable in the conf; nvpmodel itself asks to reboot.
    controls = Controls(board.root, board.executables("allow"), is_root=is_root)
    result = controls.set_power_mode(4)
    assert not result.ok
    assert "needs a reboot" in result.message and "never reboots" in result.message
    prompted = [c for c in board.calls("nvpmodel") if c.get("prompted")]
    assert len(prompted) == 1
    assert prompted[0]["stdin"] == ""                        # end-of-file: no YES, nothing at all
    assert not [c for c in board.calls("nvpmodel") if c.get("rebooted")]
    assert board.mode() == DEFAULT_MODE


def test_reboot_prompt_that_waits_forever_is_stopped(board):
    controls = Controls(board.root, board.executables(), is_root=True, timeout_s=3)
    result = controls.set_power_mode(5)
    assert not result.ok
    assert "needs a reboot" in result.message
    prompted = [c for c in board.calls("nvpmodel") if c.get("prompted")]
    assert [c["stdin"] for c in prompted] == [""]
    assert board.mode() == DEFAULT_MODE


def test_modes_from_the_conf_file_when_there_is_no_nvpmodel(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/nvpmodel.conf").write_text(TX2_CONF)
    (tmp_path / "var/lib/nvpmodel").mkdir(parents=True)
    (tmp_path / "var/lib/nvpmodel/status").write_text("pmode:0001 fmode:fanNull\n")
    ctx = ControlContext(tmp_path, {})
    assert [m.name for m in list_modes(ctx)] == ["MAXN", "MAXQ"]
    assert query(ctx)[:2] == (1, "MAXQ")


def test_conf_symlink_with_absolute_target_stays_under_the_root(tmp_path):
    (tmp_path / "etc/nvpmodel").mkdir(parents=True)
    (tmp_path / "etc/nvpmodel/nvpmodel_p3767_0001.conf").write_text(TX2_CONF)
    (tmp_path / "etc/nvpmodel.conf").symlink_to("/etc/nvpmodel/nvpmodel_p3767_0001.conf")
    assert len(list_modes(ControlContext(tmp_path, {}))) == 2


def test_no_nvpmodel_says_not_a_jetson(tmp_path):
    controls = Controls(tmp_path, {})
    status = controls.available()["power_mode"]
    assert not status.available and status.reason == "no nvpmodel: not a Jetson"
    assert controls.power_mode() is None
    result = controls.set_power_mode(0)
    assert not result.ok and "not a Jetson" in result.message
