"""The emulated Jetson: its tree, its stand-in tools and its physics, through real processes.

Each board runs once per module (a real daemon process); tests read its files
with the project's own readers where those modules exist.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from edgemon.emulate import BOARDS, EmulatedBoard
from edgemon.emulate import tree
from edgemon.emulate.boards import get_board
from edgemon.emulate.commands import _cpu_list
from edgemon.errors import UserError

try:  # tests/ as a package or as a plain folder
    from tests.emulate_helpers import wait_for
except ImportError:
    from emulate_helpers import wait_for

FAMILY = {"nano": "nano", "tx2": "tx2", "xavier-nx": "xavier-nx", "agx-orin": "agx-orin",
          "orin-nano": "orin-nano", "orin-nx": "orin-nx", "thor": "thor"}
# A mode each board switches to live (no reboot) that lowers a ceiling: (mode id, cores it turns off).
LOW_MODE = {"nano": (1, {2, 3}), "tx2": (1, set()), "xavier-nx": (4, {4, 5}),
            "orin-nano": (0, set()), "orin-nx": (3, set()), "thor": (1, set())}
# A mode that needs a reboot from the default one (JetPack 5+ boards where real boards have one).
REBOOT_MODE = {"agx-orin": 0, "orin-nano": 3, "orin-nx": 1, "thor": 2}


def _optional(module: str):
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def run_tool(board: EmulatedBoard, tool: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([board.executables[tool], *args], input=stdin, capture_output=True, text=True,
                          timeout=20, stdin=None if stdin is not None else subprocess.DEVNULL)


def tegrastats_line(board: EmulatedBoard, interval_ms: int = 150) -> str:
    proc = subprocess.Popen([board.executables["tegrastats"], "--interval", str(interval_ms)],
                            stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
    finally:
        proc.terminate()
        proc.wait(timeout=5)
        proc.stdout.close()
    assert line.strip(), "tegrastats printed nothing"
    return line.strip()


def read(board: EmulatedBoard, rel: str) -> str:
    return (board.root / rel).read_text()


@pytest.fixture(scope="module", params=BOARDS)
def board(request, tmp_path_factory):
    with EmulatedBoard(request.param, tmp_path_factory.mktemp(request.param), options={"tau": 1}) as b:
        yield b


# --- construction --------------------------------------------------------------------------

def test_unknown_board_is_a_user_error():
    with pytest.raises(UserError) as err:
        EmulatedBoard("jetson-x")
    assert str(err.value).startswith("unknown board 'jetson-x'; choose one of: nano, tx2")


def test_bad_option_is_a_user_error(monkeypatch):
    with pytest.raises(UserError, match="unknown emulator option 'speed'"):
        EmulatedBoard("nano", options={"speed": 3})
    monkeypatch.setenv("EDGEMON_EMULATE_OPTS", "tau=fast")
    with pytest.raises(UserError, match="tau"):
        EmulatedBoard("nano")


def test_env_options_are_read_and_dict_wins(monkeypatch):
    monkeypatch.setenv("EDGEMON_EMULATE_OPTS", "tau=2,trip=60")
    b = EmulatedBoard("thor", options={"trip": 70})
    assert b.options == {"tau": 2.0, "trip": 70.0}


def test_daemon_is_a_separate_process_and_stop_cleans_up():
    b = EmulatedBoard("orin-nano").start()
    root = b.root
    try:
        assert b.is_running()
        assert b._proc.pid != os.getpid()
        assert (root / tree.STATE_FILE).exists()
        assert b.env()["PATH"].split(os.pathsep)[0] == str(b.bin_dir)
    finally:
        b.stop()
    assert not b.is_running()
    assert not root.exists()


# --- the tree ------------------------------------------------------------------------------

def test_identity_files(board):
    spec = board.board
    assert read(board, "proc/device-tree/model") == spec.model + "\x00"
    assert read(board, "proc/device-tree/compatible").split("\x00")[:-1] == list(spec.compatible)
    assert read(board, "etc/nv_tegra_release").startswith("# R")
    jetson = _optional("edgemon.platform.jetson")
    if jetson is None:
        pytest.skip("edgemon.platform.jetson not written yet")
    ident = jetson.identify(board.root)
    assert ident.is_jetson and ident.family == FAMILY[board.name]
    assert ident.soc == spec.soc


def test_cpu_files(board):
    spec = board.board
    mode = spec.mode(spec.default_mode)
    for c in spec.cpus:
        d = board.root / f"sys/devices/system/cpu/cpu{c}"
        assert (d / "online").read_text().strip() == ("1" if c in mode.online else "0")
        freq = d / "cpufreq"
        assert freq.is_symlink()        # shared per cluster, like the kernel's policyN
        table = [int(x) for x in (freq / "scaling_available_frequencies").read_text().split()]
        cur = int((freq / "scaling_cur_freq").read_text())
        assert cur in table
        assert int((freq / "cpuinfo_min_freq").read_text()) == table[0]
        assert int((freq / "cpuinfo_max_freq").read_text()) == table[-1]
        assert int((freq / "scaling_max_freq").read_text()) <= table[-1]
        assert (freq / "scaling_governor").read_text().strip() == "schedutil"
    stat_cores = {int(line.split()[0][3:]) for line in read(board, "proc/stat").splitlines()
                  if line.startswith("cpu") and not line.startswith("cpu ")}
    assert stat_cores == set(mode.online)


def test_gpu_thermal_power_fan_files(board):
    spec, root = board.board, board.root
    g = root / "sys/class/devfreq" / spec.gpu.name
    table = [int(x) for x in (g / "available_frequencies").read_text().split()]
    assert int((g / "cur_freq").read_text()) in table                      # Hz
    if spec.gpu.of_node:
        assert (g / "device/of_node/name").read_text() == spec.gpu.of_node + "\x00"
    types = []
    for i, zone in enumerate(spec.zones):
        z = root / f"sys/class/thermal/thermal_zone{i}"
        types.append((z / "type").read_text().strip())
        int((z / "temp").read_text())                                      # m°C
        if zone.throttles:
            assert (z / "trip_point_0_type").read_text().strip() == "passive"
    assert types == [z.type for z in spec.zones]
    for chip in spec.ina:
        dev = root / "sys/bus/i2c/devices" / chip.addr
        assert chip.driver in (dev / "name").read_text()
        names = [r for r in chip.channels if r]
        if chip.kind == "iio":
            d = dev / f"iio:device{chip.index}"
            labels = [(d / f"rail_name_{i}").read_text().strip() for i, r in enumerate(chip.channels) if r]
        elif chip.kind == "hwmon":
            d = dev / f"hwmon/hwmon{chip.index}"
            labels = [(d / f"in{i + 1}_label").read_text().strip() for i, r in enumerate(chip.channels) if r]
        else:
            labels = names
        assert labels == names
    fan = tree.fan_files(spec)
    assert 0 <= int(read(board, fan["pwm"])) <= 255


def test_readers_see_the_board(board):
    base = _optional("edgemon.telemetry.base")
    if base is None:
        pytest.skip("edgemon.telemetry.base missing")
    ctx = base.SourceContext(root=board.root, executables=board.executables)
    wanted = {
        "edgemon.telemetry.procstat": ("ProcStatSource", "cpu0_online"),
        "edgemon.telemetry.cpufreq": ("CpuFreqSource", "cpu0_freq_mhz"),
        "edgemon.telemetry.thermal": ("ThermalSource", None),
        "edgemon.telemetry.jetson_gpu": ("JetsonGpuSource", "gpu_freq_mhz"),
        "edgemon.telemetry.jetson_power": ("JetsonPowerSource", "power_total_mw"),
        "edgemon.telemetry.jetson_emc": ("JetsonEmcSource", "emc_freq_mhz"),
        "edgemon.telemetry.jetson_fan": ("JetsonFanSource", "fan0_pwm_pct"),
    }
    checked = 0
    for module_name, (cls_name, metric) in wanted.items():
        module = _optional(module_name)
        if module is None:
            continue
        source = getattr(module, cls_name)(ctx)
        status = source.probe()
        assert status.available, f"{cls_name}: {status.reason}"
        values = source.read()
        if metric:
            assert metric in values, f"{cls_name} gave {sorted(values)}"
        checked += 1
        if cls_name == "ThermalSource":
            names = {f"temp_{z.type.lower().replace('-', '_')}_c" for z in board.board.zones
                     if z.fixed_mc is None or z.fixed_mc > -40000}
            assert names <= set(values)
        if cls_name == "JetsonPowerSource":
            inputs = [r.name for r in board.board.rails if "in" in r.parts]
            if inputs:     # the input rail is the total, never added to the others
                assert values["power_total_mw"] == values[f"power_{inputs[0].lower()}_mw"]
    if not checked:
        pytest.skip("no telemetry readers written yet")


def test_tegrastats_line_parses(board):
    spec = board.board
    line = tegrastats_line(board)
    assert ("CPU [" in line) and ("GR3D_FREQ" in line)
    if spec.generation != "jp4":
        assert line[2] == "-" and line[5] == "-"        # MM-DD-YYYY timestamp from JetPack 5 on
    tegra = _optional("edgemon.telemetry.tegrastats")
    if tegra is None or not hasattr(tegra, "parse_line_ex"):
        pytest.skip("edgemon.telemetry.tegrastats not written yet")
    result = tegra.parse_line_ex(line)
    assert result.skipped == [], line
    values = result.values
    mode = spec.mode(spec.default_mode)
    for c in spec.cpus:
        assert values[f"cpu{c}_online"] == (1.0 if c in mode.online else 0.0)
        if c in mode.online:
            table = [int(x) // 1000 for x in read(board, f"{tree.policy_dir(spec.cluster_of(c))}/"
                                                          "scaling_available_frequencies").split()]
            assert int(values[f"cpu{c}_freq_mhz"]) in table
    for rail in spec.rails:      # Thor R38.4 prints no VIN (sysfs has it)
        assert (f"power_{rail.name.lower()}_mw" in values) == rail.in_tegrastats
    assert "power_total_mw" in values
    assert "gpu_freq_mhz" in values and "emc_freq_mhz" in values
    assert any(k.startswith("temp_") for k in values)


def test_nvpmodel_query_and_parse(board):
    spec = board.board
    default = spec.mode(spec.default_mode)
    out = run_tool(board, "nvpmodel", "-q").stdout.splitlines()
    assert out[-2:] == [f"NV Power Mode: {default.name}", str(default.id)]
    parsed = run_tool(board, "nvpmodel", "-p", "--verbose").stdout
    assert f"NVPM VERB: PM_CONFIG: DEFAULT={default.name}({default.id})" in parsed
    for m in spec.modes:
        assert f"NVPM VERB: POWER_MODEL: ID={m.id} NAME={m.name}" in parsed
    control = _optional("edgemon.control.nvpmodel")
    if control is not None:
        table = control.parse_conf(parsed)
        assert [m.id for m in table.modes] == [m.id for m in spec.modes]
        assert table.default_id == default.id


# --- power modes ---------------------------------------------------------------------------

def _start(name: str, tmp_path: Path, **opts):
    return EmulatedBoard(name, tmp_path / name, options={"tau": 1, **opts})


@pytest.mark.parametrize("name", sorted(LOW_MODE))
def test_low_power_mode_lowers_ceilings_and_offlines_cores(name, tmp_path):
    spec = get_board(name)
    mode_id, turned_off = LOW_MODE[name]
    low, default = spec.mode(mode_id), spec.mode(spec.default_mode)
    assert not spec.needs_reboot(default, low)
    with _start(name, tmp_path) as b:
        cl = spec.clusters[0]
        max_file = b.root / tree.policy_dir(cl) / "scaling_max_freq"
        held = open(max_file)                    # a reader that keeps the file open
        before_cpu = int(held.read())
        gdir = b.root / spec.gpu.devfreq_dir
        before_gpu = int((gdir / "max_freq").read_text())
        res = run_tool(b, "nvpmodel", "-m", str(mode_id))
        assert res.returncode == 0, res.stdout + res.stderr
        held.seek(0)
        after_cpu = int(held.read())
        held.close()
        after_gpu = int((gdir / "max_freq").read_text())
        assert after_cpu < before_cpu or after_gpu < before_gpu     # (Orin Nano 15W: GPU down, CPU up)
        assert (after_cpu, after_gpu) != (before_cpu, before_gpu)
        cap = low.cpu_max_khz[0]
        if cap > 0:
            assert after_cpu >= cap and after_cpu == min(
                f for f in cl.freqs_khz if f >= cap)          # rounded up into the table, as a TX2 shows
        assert after_gpu == min([f for f in spec.gpu.freqs_hz if f >= low.gpu_max_hz] or [spec.gpu.freqs_hz[-1]])

        def settled():
            cur = int((b.root / tree.policy_dir(cl) / "scaling_cur_freq").read_text())
            gcur = int((gdir / "cur_freq").read_text())
            stat = read(b, "proc/stat")
            gone = all(f"cpu{c} " not in stat for c in turned_off)
            return cur <= after_cpu and gcur <= after_gpu and gone
        wait_for(settled, "clocks under the new ceilings and cores gone from /proc/stat")
        for c in turned_off:
            assert read(b, tree.cpu_online_file(c)).strip() == "0"
        assert read(b, "sys/devices/system/cpu/online").strip() == _cpu_list(sorted(low.online))
        assert run_tool(b, "nvpmodel", "-q").stdout.splitlines()[-2:] == [f"NV Power Mode: {low.name}", str(low.id)]
        assert read(b, tree.NVPMODEL_STATUS).strip() == f"pmode:{low.id:04d} fmode:fanNull"
        line = tegrastats_line(b)
        cores = line.split("CPU [", 1)[1].split("]", 1)[0].split(",")
        for c in spec.cpus:
            assert (cores[c] == "off") == (c not in low.online)


@pytest.mark.parametrize("name", sorted(REBOOT_MODE))
def test_reboot_mode_prompts_and_needs_yes(name, tmp_path):
    spec = get_board(name)
    target = spec.mode(REBOOT_MODE[name])
    default = spec.mode(spec.default_mode)
    assert spec.needs_reboot(default, target)
    with _start(name, tmp_path) as b:
        status_before = read(b, tree.NVPMODEL_STATUS)
        for answer in ("no\n", ""):                       # a "no", and a closed stdin (end of file)
            res = run_tool(b, "nvpmodel", "-m", str(target.id), stdin=answer)
            assert "NVPM WARN: Reboot required for changing to this power mode: " + str(target.id) in res.stdout
            assert "DO YOU WANT TO REBOOT NOW? enter YES/yes to confirm:" in res.stdout
            assert "NVPM ERROR" in res.stdout and res.returncode != 0
            assert read(b, tree.NVPMODEL_STATUS) == status_before
        res = run_tool(b, "nvpmodel", "-m", str(target.id), stdin="YES\n")
        assert res.returncode == 0 and "rebooting" in res.stdout
        assert run_tool(b, "nvpmodel", "-q").stdout.splitlines()[-1] == str(target.id)
        for c in spec.cpus:
            assert read(b, tree.cpu_online_file(c)).strip() == ("1" if c in target.online else "0")


def test_control_refuses_reboot_modes(tmp_path):
    control = _optional("edgemon.control.nvpmodel")
    context = _optional("edgemon.control.context")
    if control is None or context is None:
        pytest.skip("edgemon.control.nvpmodel not written yet")
    with _start("orin-nano", tmp_path) as b:
        ctx = context.ControlContext(root=b.root, executables=b.executables)
        result = control.set_mode(ctx, 3)           # 7 W changes the core count: nvpmodel prompts
        assert not result.ok and "reboot" in result.message
        assert control.query(ctx)[0] == 1
        result = control.set_mode(ctx, 0)
        assert result.ok, result.message
        assert control.query(ctx)[0] == 0


# --- jetson_clocks -------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["tx2", "agx-orin", "thor"])
def test_jetson_clocks_show_store_max_restore(name, tmp_path):
    spec = get_board(name)
    with _start(name, tmp_path) as b:
        show = run_tool(b, "jetson_clocks", "--show").stdout
        assert show.startswith(f"SOC family:{spec.soc}  Machine:")
        assert f"NV Power Mode: {spec.mode(spec.default_mode).name}" in show
        stored = tmp_path / "l4t_dfs.conf"
        assert run_tool(b, "jetson_clocks", "--store", str(stored)).returncode == 0
        assert run_tool(b, "jetson_clocks").returncode == 0
        online = [c for c in spec.cpus if read(b, tree.cpu_online_file(c)).strip() == "1"]
        for c in online:
            d = b.root / tree.policy_dir(spec.cluster_of(c))
            assert (d / "scaling_min_freq").read_text() == (d / "scaling_max_freq").read_text()
        g = b.root / spec.gpu.devfreq_dir
        assert (g / "min_freq").read_text() == (g / "max_freq").read_text()
        fan = tree.fan_files(spec)
        wait_for(lambda: read(b, fan["pwm"]).strip() == "255", "the fan at full speed")

        def pinned():
            return all(int((b.root / tree.policy_dir(spec.cluster_of(c)) / "scaling_cur_freq").read_text())
                       == int((b.root / tree.policy_dir(spec.cluster_of(c)) / "scaling_max_freq").read_text())
                       for c in online)
        wait_for(pinned, "CPU clocks pinned at their maximum")
        jc = _optional("edgemon.control.jetson_clocks")
        if jc is not None:
            assert jc.parse_show(run_tool(b, "jetson_clocks", "--show").stdout).on is True
        assert run_tool(b, "jetson_clocks", "--restore", str(stored)).returncode == 0
        c0 = b.root / tree.policy_dir(spec.clusters[0])
        assert (c0 / "scaling_min_freq").read_text() != (c0 / "scaling_max_freq").read_text()
        if jc is not None:
            assert jc.parse_show(run_tool(b, "jetson_clocks", "--show").stdout).on is False
        res = run_tool(b, "jetson_clocks", "--restore", str(tmp_path / "missing.conf"))
        assert res.returncode != 0


# --- physics: load, heat, throttling -------------------------------------------------------

BUSY = "import time\nend = time.monotonic() + 60\nwhile time.monotonic() < end:\n    pass\n"


def test_real_cpu_load_heats_the_board_until_it_throttles(tmp_path):
    spec = get_board("nano")
    busy = subprocess.Popen([sys.executable, "-c", BUSY])
    try:
        with EmulatedBoard("nano", tmp_path / "nano",
                           options={"tau": 2, "trip": 50, "hyst": 30, "r": 20, "start": 25}) as b:
            zone_index = next(i for i, z in enumerate(spec.zones) if z.type == "CPU-therm")
            assert int(read(b, f"{tree.thermal_zone_dir(zone_index)}/trip_point_0_temp")) == 50000
            first = b.state()
            assert not first["throttled"] and first["temps_c"]["CPU-therm"] < 50
            state = wait_for(lambda: (s := b.state())["throttled"] and s, "the board to throttle", timeout=15)
            assert max(state["temps_c"][z] for z in state["trips_c"]) >= 50
            # Clocks are capped below the power mode's ceiling while the CPU is busy.
            policy = b.root / tree.policy_dir(spec.clusters[0])

            def capped():
                cur = int((policy / "scaling_cur_freq").read_text())
                ceiling = int((policy / "scaling_max_freq").read_text())
                return b.state()["throttled"] and cur < ceiling
            wait_for(capped, "CPU clock capped under its ceiling")
            assert int((policy / "scaling_max_freq").read_text()) == spec.clusters[0].freqs_khz[-1]
            log = read(b, tree.LOG_FILE)
            assert "throttle start zone=" in log
    finally:
        busy.kill()
        busy.wait()
