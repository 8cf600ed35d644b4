"""The emulated board's files: a sysfs/procfs/etc tree under a root directory.

Paths and units are those of a real board (docs/emulator-sources.md): the same
readers and controls run against this tree as against ``/``. Values are
written in place (open, write, truncate), never by rename, so a reader that
keeps a file open and re-reads it sees the new value, as with real sysfs.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

from edgemon.emulate.boards import Board, Cluster, InaChip, PowerMode

STATE_DIR = "var/lib/edgemon-emulate"        # emulator-only files (not on a real board)
STATE_FILE = STATE_DIR + "/state.json"       # the daemon's snapshot, rewritten every tick
BOARD_FILE = STATE_DIR + "/board.json"       # which board and options this tree emulates
LOCK_FILE = STATE_DIR + "/lock"              # daemon and stand-ins serialise their writes
GPU_LOAD_FILE = STATE_DIR + "/gpu_load"      # per-mille GPU load for boards without a load file (Thor)
WORKER_FILE = STATE_DIR + "/worker.json"     # the session's worker: pid, GPU use, whether it stretches
CPU_SCALE_FILE = STATE_DIR + "/cpu_scale"    # clock / max clock; the worker's runner reads it (stretch)
WORKLOAD_CGROUP_NAME = "edgemon-workload.scope"             # the worker's memory cgroup (OOM kills count)
WORKLOAD_CGROUP = "sys/fs/cgroup/" + WORKLOAD_CGROUP_NAME
LOG_FILE = "var/log/edgemon-emulate.log"     # throttling and mode changes, one line each
NVPMODEL_STATUS = "var/lib/nvpmodel/status"  # "pmode:0002 fmode:fanNull" [S1]
NVPMODEL_CONF = "etc/nvpmodel.conf"
CPU_DIR = "sys/devices/system/cpu"
THERMAL_DIR = "sys/devices/virtual/thermal"
EMC_CAP = "sys/kernel/nvpmodel_emc_cap/emc_iso_cap"
EMC_CAP_KNEXT = "sys/kernel/nvpmodel_clk_cap/emc"     # JetPack 6 nvpmodel's *_KNEXT path
KNEXT_GPU_DEVICE = "sys/devices/platform/17000000.gpu"   # JetPack 6 *_KNEXT GPU paths go through here
KNEXT_GPU_ZERO = "sys/devices/platform/gpu.0"
EMC_ACTIVITY = ("sys/kernel/actmon_avg_activity/mc_all",)
TOOLS = ("tegrastats", "nvpmodel", "jetson_clocks")
FAN_MAX_PWM = 255


# --- writing -------------------------------------------------------------------------------

def write_value(path: Path | str, text: str) -> None:
    """Write ``text`` into ``path`` in place: same inode, like a sysfs store."""
    data = text.encode()
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        os.pwrite(fd, data, 0)
        os.ftruncate(fd, len(data))
    finally:
        os.close(fd)


def read_value(path: Path | str) -> str | None:
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace").strip()
    except OSError:
        return None


def read_number(path: Path | str) -> int | None:
    text = read_value(path)
    if not text:
        return None
    try:
        return int(text.split()[0])
    except ValueError:
        return None


class ChangedWriter:
    """Writes a file only when its text changed since this writer last wrote it (cheap ticks)."""

    def __init__(self, root: Path):
        self.root = root
        self._last: dict[str, str] = {}

    def __call__(self, rel: str, text: str) -> None:
        if self._last.get(rel) == text:
            return
        write_value(self.root / rel, text)
        self._last[rel] = text

    def forget(self, rel: str) -> None:
        self._last.pop(rel, None)


def _link(root: Path, rel: str, target_rel: str) -> None:
    """Relative symlink ``rel`` -> ``target_rel`` (both relative to the root), so the tree can move."""
    link = root / rel
    link.parent.mkdir(parents=True, exist_ok=True)
    target = os.path.relpath(root / target_rel, link.parent)
    if link.is_symlink() or link.exists():
        return
    os.symlink(target, link)


# --- where things are ----------------------------------------------------------------------

def policy_dir(cluster: Cluster) -> str:
    return f"{CPU_DIR}/cpufreq/policy{cluster.cpus[0]}"


def cpu_online_file(cpu: int) -> str:
    return f"{CPU_DIR}/cpu{cpu}/online"


def thermal_zone_dir(index: int) -> str:
    return f"{THERMAL_DIR}/thermal_zone{index}"


def emc_files(board: Board) -> dict[str, str]:
    """``rate``/``min``/``max``/``lock`` (Hz) and ``activity`` files of the board's EMC clock."""
    if board.emc.style == "t210":
        return {
            "rate": "sys/kernel/debug/clk/override.emc/clk_rate",
            "lock": "sys/kernel/debug/clk/override.emc/clk_state",     # 1 = rate overridden
            "update": "sys/kernel/debug/clk/override.emc/clk_update_rate",
            "min": "sys/kernel/debug/tegra_bwmgr/emc_min_rate",
            "max": "sys/kernel/debug/tegra_bwmgr/emc_max_rate",
            "activity": "sys/kernel/debug/cactmon/mc_all",
        }
    return {
        "rate": "sys/kernel/debug/bpmp/debug/clk/emc/rate",
        "lock": "sys/kernel/debug/bpmp/debug/clk/emc/mrq_rate_locked",   # non-zero = locked at that rate
        "min": "sys/kernel/debug/bpmp/debug/clk/emc/min_rate",
        "max": "sys/kernel/debug/bpmp/debug/clk/emc/max_rate",
        "activity": "sys/kernel/debug/bpmp/debug/actmon/mc_all_avg_activity",
    }


def ina_dir(chip: InaChip) -> str:
    """Directory holding the channel files of one power monitor."""
    dev = f"{chip.parent}/{chip.addr}"
    if chip.kind == "iio":
        return f"{dev}/iio:device{chip.index}"
    return f"{dev}/hwmon/hwmon{chip.index}"


def rail_files(board: Board) -> dict[str, tuple[str, str, str | None, str | None]]:
    """``{rail: (kind, volt file, curr file, power file)}`` for every monitored rail."""
    out: dict[str, tuple[str, str, str | None, str | None]] = {}
    for chip in board.ina:
        d = ina_dir(chip)
        for i, rail in enumerate(chip.channels):
            if rail is None:
                continue
            if chip.kind == "iio":
                out[rail] = ("iio", f"{d}/in_voltage{i}_input", f"{d}/in_current{i}_input", f"{d}/in_power{i}_input")
            elif chip.kind == "hwmon":
                n = i + 1
                out[rail] = ("hwmon", f"{d}/in{n}_input", f"{d}/curr{n}_input", None)
            else:   # ina238: microwatts in power1_input
                out[rail] = ("ina238", f"{d}/in1_input", f"{d}/curr1_input", f"{d}/power1_input")
    return out


def fan_files(board: Board) -> dict[str, str]:
    """``pwm`` (what the fan runs at), ``target``/``auto`` (control), ``rpm`` files."""
    fan = board.fan
    if fan.kind == "legacy":
        d = fan.device_dir
        return {"pwm": f"{d}/cur_pwm", "target": f"{d}/target_pwm", "auto": f"{d}/temp_control",
                "rpm": f"{d}/rpm_measured"}
    d = f"{fan.device_dir}/hwmon/hwmon{fan.hwmon_index}"
    files = {"pwm": f"{d}/pwm1", "target": f"{d}/pwm1", "auto": f"{d}/pwm1_enable"}
    if fan.tach_index is not None:
        files["rpm"] = f"sys/devices/platform/pwm-tach/hwmon/hwmon{fan.tach_index}/rpm"
    return files


def tpc_pg_mask_file(board: Board) -> str:
    return f"{board.gpu.device_dir}/tpc_pg_mask"


def fbp_pg_mask_file(board: Board) -> str:
    return f"{board.gpu.device_dir}/fbp_pg_mask"


def emc_cap_file(board: Board) -> str:
    """Where nvpmodel writes the EMC ceiling: the *_KNEXT node on JetPack 6 confs."""
    return EMC_CAP_KNEXT if board.conf_per_core else EMC_CAP


# --- memory --------------------------------------------------------------------------------

def meminfo_text(board: Board, used_kb: int, swap_used_kb: int) -> str:
    """``/proc/meminfo`` of the board with ``used_kb`` of RAM and ``swap_used_kb`` of swap in use.

    Page cache shrinks as memory fills; ``MemAvailable = MemFree + Buffers + Cached`` so the
    meminfo reader (total - available) and tegrastats (total - free - buffers - cached) agree.
    """
    m = board.memory
    total, swap_total = m.ram_mb * 1024, m.swap_mb * 1024
    used = max(0, min(used_kb, total))
    left = total - used
    buffers = min(left // 2, total // 200)                # ~0.5 % of RAM †
    cached = min(left - buffers, total // 10)             # up to 10 % page cache †
    free = left - buffers - cached
    swap_used = max(0, min(swap_used_kb, swap_total))
    lines = [("MemTotal", total), ("MemFree", free), ("MemAvailable", free + buffers + cached),
             ("Buffers", buffers), ("Cached", cached), ("SwapCached", 0),
             ("SwapTotal", swap_total), ("SwapFree", swap_total - swap_used)]
    return "".join(f"{k + ':':<16}{v:>8} kB\n" for k, v in lines)


# --- building ------------------------------------------------------------------------------

def build_tree(board: Board, root: Path, options: dict) -> None:
    """Create every file of ``board`` under ``root`` and apply its default power mode."""
    root.mkdir(parents=True, exist_ok=True)
    w = lambda rel, text: write_value(root / rel, text)  # noqa: E731 - a one-line write helper
    for d in ("proc", "etc", "bin", "run", "var/log", STATE_DIR, "var/lib/nvpmodel", "tmp", "sys/class/hwmon"):
        (root / d).mkdir(parents=True, exist_ok=True)
    w(BOARD_FILE, json.dumps({"board": board.key, "options": options}, indent=1) + "\n")
    w(LOCK_FILE, "")
    w(LOG_FILE, "")
    _identity(board, root, w)
    _cpus(board, root, w)
    _gpu(board, root, w)
    _emc(board, w)
    _thermal(board, root, w, options)
    _power(board, root, w)
    _fan(board, root, w)
    w(NVPMODEL_CONF, nvpmodel_conf(board))
    w(GPU_LOAD_FILE, "0\n")
    w(CPU_SCALE_FILE, "1.0\n")
    w(f"{WORKLOAD_CGROUP}/memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n")
    mem = board.memory
    w("proc/meminfo", meminfo_text(board, mem.used_mb * 1024, mem.swap_used_mb * 1024))
    from edgemon.emulate.commands import apply_mode      # shares the code path of the nvpmodel stand-in
    apply_mode(board, root, board.default_mode)
    mirror_proc(board, root, Path("/proc"), online=set(board.mode(board.default_mode).online))
    write_tools(board, root)


def _identity(board: Board, root: Path, w) -> None:
    dt = "sys/firmware/devicetree/base"
    w(f"{dt}/model", board.model + "\x00")
    w(f"{dt}/compatible", "".join(c + "\x00" for c in board.compatible))
    w(f"{dt}/nvidia,dtsfilename", board.dtsfilename + "\x00")
    w(f"{dt}/serial-number", "1420321000000\x00")
    _link(root, "proc/device-tree", dt)
    w("etc/nv_tegra_release", board.release)
    w("etc/hostname", f"emulated-{board.key}\n")


def _cpus(board: Board, root: Path, w) -> None:
    cpus = board.cpus
    last = cpus[-1]
    w(f"{CPU_DIR}/possible", f"0-{last}\n")
    w(f"{CPU_DIR}/present", f"0-{last}\n")
    w(f"{CPU_DIR}/online", f"0-{last}\n")
    w(f"{CPU_DIR}/offline", "\n")
    w(f"{CPU_DIR}/kernel_max", "255\n" if last < 255 else f"{last}\n")
    for cl in board.clusters:
        p = policy_dir(cl)
        lo, hi = cl.freqs_khz[0], cl.freqs_khz[-1]
        cpus_text = " ".join(str(c) for c in cl.cpus) + "\n"
        for name, text in (
            ("affected_cpus", cpus_text), ("related_cpus", cpus_text),
            ("cpuinfo_min_freq", f"{lo}\n"), ("cpuinfo_max_freq", f"{hi}\n"), ("cpuinfo_cur_freq", f"{lo}\n"),
            ("cpuinfo_transition_latency", "500000\n"),
            ("scaling_available_frequencies", " ".join(str(f) for f in cl.freqs_khz) + " \n"),
            ("scaling_available_governors", "interactive conservative ondemand userspace powersave performance "
                                            "schedutil \n"),
            ("scaling_driver", f"{board.cpu_driver}\n"), ("scaling_governor", f"{cl.governor}\n"),
            ("scaling_min_freq", f"{lo}\n"), ("scaling_max_freq", f"{hi}\n"), ("scaling_cur_freq", f"{lo}\n"),
            ("scaling_setspeed", "<unsupported>\n"),
        ):
            w(f"{p}/{name}", text)
        for c in cl.cpus:
            w(cpu_online_file(c), "1\n")
            _link(root, f"{CPU_DIR}/cpu{c}/cpufreq", p)


def _gpu(board: Board, root: Path, w) -> None:
    g = board.gpu
    d = g.devfreq_dir
    lo, hi = g.freqs_hz[0], g.freqs_hz[-1]
    for name, text in (
        ("available_frequencies", " ".join(str(f) for f in g.freqs_hz) + "\n"),
        ("available_governors", "nvhost_podgov userspace performance simple_ondemand\n"),
        ("governor", "nvhost_podgov\n"), ("cur_freq", f"{lo}\n"), ("target_freq", f"{lo}\n"),
        ("min_freq", f"{lo}\n"), ("max_freq", f"{hi}\n"), ("polling_interval", "25\n"),
    ):
        w(f"{d}/{name}", text)
    _link(root, f"{d}/device", g.device_dir)
    _link(root, f"sys/class/devfreq/{g.name}", d)
    if g.of_node is not None:
        node = f"sys/firmware/devicetree/base/{g.device_dir.rsplit('/', 1)[-1]}"
        w(f"{node}/name", g.of_node + "\x00")
        _link(root, f"{g.device_dir}/of_node", node)
        for extra in ("railgate_enable", "is_railgated"):
            w(f"{g.device_dir}/{extra}", "1\n" if extra == "railgate_enable" else "no\n")
        if g.enable_3d_scaling:
            w(f"{g.device_dir}/enable_3d_scaling", "1\n")
        w(f"{g.device_dir}/power/control", "auto\n")
    w(tpc_pg_mask_file(board), "0\n")
    if board.conf_per_core:
        # JetPack 6 nvpmodel writes through platform/gpu.0 and platform/17000000.gpu/devfreq_dev.
        w(fbp_pg_mask_file(board), "0\n")
        _link(root, f"{g.device_dir}/devfreq_dev", d)
        _link(root, KNEXT_GPU_DEVICE, g.device_dir)
        _link(root, KNEXT_GPU_ZERO, g.device_dir)
    for path in g.load_paths:
        w(path, "0\n")


def _emc(board: Board, w) -> None:
    f = emc_files(board)
    lo, hi = board.emc.freqs_hz[0], board.emc.freqs_hz[-1]
    w(f["rate"], f"{lo}\n")
    w(f["min"], f"{lo}\n")
    w(f["max"], f"{hi}\n")
    w(f["lock"], "0\n")
    if "update" in f:
        w(f["update"], f"{hi}\n")
    w(f["activity"], "0\n")
    for extra in EMC_ACTIVITY:
        w(extra, "0\n")
    w(emc_cap_file(board), "0\n")


def zone_trips(zone, options: dict) -> tuple[tuple[int, str], ...]:
    """Trip points of ``zone``; ``options['trip']`` (°C) replaces the passive trip of throttling zones."""
    trips = zone.trips
    if "trip" in options and zone.throttles:
        new = int(round(float(options["trip"]) * 1000))
        trips = tuple((new if t == "passive" else max(v, new + 1000), t) for v, t in trips)
    return trips


def _thermal(board: Board, root: Path, w, options: dict) -> None:
    ambient = float(options.get("ambient", 25.0))
    for i, zone in enumerate(board.zones):
        d = thermal_zone_dir(i)
        w(f"{d}/type", zone.type + "\n")
        temp = zone.fixed_mc if zone.fixed_mc is not None else int((ambient + zone.offset_c) * 1000)
        w(f"{d}/temp", f"{temp}\n")
        w(f"{d}/mode", "enabled\n")
        w(f"{d}/policy", "step_wise\n")
        w(f"{d}/available_policies", "power_allocator user_space step_wise\n")
        for k, (mc, ttype) in enumerate(zone_trips(zone, options)):
            w(f"{d}/trip_point_{k}_temp", f"{mc}\n")
            w(f"{d}/trip_point_{k}_type", f"{ttype}\n")
            w(f"{d}/trip_point_{k}_hyst", "0\n" if ttype == "critical" else "2000\n")
        _link(root, f"sys/class/thermal/thermal_zone{i}", d)


def _power(board: Board, root: Path, w) -> None:
    mv = {r.name: r.mv for r in board.rails}      # bus voltages read from the start, as on a board
    for chip in board.ina:
        dev = f"{chip.parent}/{chip.addr}"
        w(f"{dev}/name", f"{chip.driver}\n")
        w(f"{dev}/uevent", f"DRIVER={chip.driver}\nOF_NAME={chip.driver}\n")
        _link(root, f"sys/bus/i2c/devices/{chip.addr}", dev)
        _link(root, f"sys/bus/i2c/drivers/{chip.driver}/{chip.addr}", dev)
        d = ina_dir(chip)
        if chip.kind == "iio":
            w(f"{d}/name", "ina3221x\n")
            for i, rail in enumerate(chip.channels):
                if rail is None:
                    continue
                w(f"{d}/rail_name_{i}", f"{rail}\n")
                w(f"{d}/in_voltage{i}_input", f"{mv.get(rail, 5000)}\n")
                for f in (f"in_current{i}_input", f"in_power{i}_input"):
                    w(f"{d}/{f}", "0\n")
                if chip.crit_of(i) is not None:
                    w(f"{d}/warn_current_limit_{i}", f"{chip.crit_of(i)}\n")
                    w(f"{d}/crit_current_limit_{i}", f"{chip.crit_of(i)}\n")
            continue
        w(f"{d}/name", f"{chip.driver}\n")
        _link(root, f"sys/class/hwmon/hwmon{chip.index}", d)
        if chip.kind == "ina238":
            w(f"{d}/in1_input", f"{mv.get(chip.channels[0], 5000)}\n")
            for f in ("curr1_input", "power1_input"):
                w(f"{d}/{f}", "0\n")
            continue
        for i, rail in enumerate(chip.channels):
            n = i + 1
            if rail is None:
                continue          # a disabled input has no files (reading it fails on a real board)
            w(f"{d}/in{n}_label", f"{rail}\n")
            w(f"{d}/in{n}_input", f"{mv.get(rail, 5000)}\n")
            w(f"{d}/curr{n}_input", "0\n")
            if chip.crit_of(i) is not None:
                w(f"{d}/curr{n}_max", f"{chip.crit_of(i)}\n")
                w(f"{d}/curr{n}_crit", f"{chip.crit_of(i)}\n")
                w(f"{d}/curr{n}_max_alarm", "0\n")
                w(f"{d}/curr{n}_crit_alarm", "0\n")
        if chip.channels and chip.channels[0] is not None:
            w(f"{d}/in7_label", "sum of shunt voltages\n")
            w(f"{d}/in7_input", "0\n")


def _fan(board: Board, root: Path, w) -> None:
    fan = board.fan
    files = fan_files(board)
    if fan.kind == "legacy":
        d = fan.device_dir
        for name, text in (("target_pwm", "0\n"), ("cur_pwm", "0\n"), ("rpm_measured", "0\n"),
                           ("temp_control", "1\n"), ("pwm_cap", "255\n"), ("step_time", "100\n"),
                           ("pwm_rpm_table", "(Index, RPM, PWM, RRU, RRD)\n(0, 0, 0, 40, 40)\n"
                                             f"(1, {fan.max_rpm}, 255, 1, 1)\n")):
            w(f"{d}/{name}", text)
        return
    hw = files["pwm"].rsplit("/", 1)[0]
    w(f"{hw}/name", f"{fan.name}\n")
    w(f"{hw}/pwm1", "0\n")
    w(f"{hw}/pwm1_enable", "1\n")
    _link(root, f"sys/class/hwmon/hwmon{fan.hwmon_index}", hw)
    if fan.tach_index is not None:
        tach = files["rpm"].rsplit("/", 1)[0]
        w(f"{tach}/name", "pwm_tach\n")
        w(f"{tach}/rpm", "0\n")
        _link(root, f"sys/class/hwmon/hwmon{fan.tach_index}", tach)


# --- nvpmodel.conf -------------------------------------------------------------------------

_CONF_HEADER = """\
# FORMAT:
# < PARAM TYPE=PARAM_TYPE NAME=PARAM_NAME >
# ARG1_NAME ARG1_PATH_VAL
# ...
# PARAM_TYPE can be FILE, or CLOCK.
#
# < POWER_MODEL ID=id_num NAME=mode_name >
# PARAM1_NAME ARG11_NAME ARG11_VAL
# ...
# ARG_VAL is an integer for PARAM_TYPE of CLOCK, and -1 is taken
# as INT_MAX. ARG_VAL is a string for PARAM_TYPE of FILE.
# This file must contain at least one POWER_MODEL section.
#
# < PM_CONFIG DEFAULT=default_mode >
# This is a mandatory section to specify one of the defined power
# model as the default.

"""


def _uses_gating(board: Board) -> bool:
    return board.generation != "jp4"


def _param(name: str, ptype: str, args: list[tuple[str, str]], knext: dict[str, str] | None = None) -> str:
    """One ``< PARAM >`` block; ``knext`` adds the JetPack 6 ``<ARG>_KNEXT`` paths nvpmodel prefers."""
    lines = [f"< PARAM TYPE={ptype} NAME={name} >"] + [f"{arg} /{path}" for arg, path in args]
    lines += [f"{arg}_KNEXT /{path}" for arg, path in (knext or {}).items()]
    return "\n" + "\n".join(lines) + "\n"


def _cpu_params(board: Board) -> list[tuple[str, int]]:
    """(PARAM name, core whose cpufreq it drives): per cluster, or per core on JetPack 6 confs [S5]."""
    if board.conf_per_core:
        return [(f"{board.clusters[0].param.rsplit('_', 1)[0]}_{c}", c) for c in board.cpus]
    return [(cl.param, cl.cpus[0]) for cl in board.clusters]


def nvpmodel_conf(board: Board) -> str:
    """``/etc/nvpmodel.conf`` in the real format [S1]; JetPack 6 layout where ``conf_per_core`` [S5, S6]."""
    g = board.gpu
    knext = board.conf_per_core
    out = [_CONF_HEADER, _param("CPU_ONLINE", "FILE", [(f"CORE_{c}", cpu_online_file(c)) for c in board.cpus])]
    if knext:
        out.append(_param("FBP_POWER_GATING", "FILE", [("FBP_PG_MASK", "sys/devices/gpu.0/fbp_pg_mask")],
                          {"FBP_PG_MASK": f"{KNEXT_GPU_ZERO}/fbp_pg_mask"}))
        out.append(_param("TPC_POWER_GATING", "FILE", [("TPC_PG_MASK", "sys/devices/gpu.0/tpc_pg_mask")],
                          {"TPC_PG_MASK": f"{KNEXT_GPU_ZERO}/tpc_pg_mask"}))
        out.append(_param("GPU_POWER_CONTROL_ENABLE", "FILE", [("GPU_PWR_CNTL_EN", "sys/devices/gpu.0/power/control")],
                          {"GPU_PWR_CNTL_EN": f"{KNEXT_GPU_ZERO}/power/control"}))
    elif _uses_gating(board):
        out.append(_param("TPC_POWER_GATING", "FILE", [("TPC_PG_MASK", tpc_pg_mask_file(board))]))
        out.append(_param("GPU_POWER_CONTROL_ENABLE", "FILE", [("GPU_PWR_CNTL_EN", f"{g.device_dir}/power/control")]))
    for name, c in _cpu_params(board):
        d = f"{CPU_DIR}/cpu{c}/cpufreq"
        files = [("FREQ_TABLE", f"{d}/scaling_available_frequencies"), ("MAX_FREQ", f"{d}/scaling_max_freq"),
                 ("MIN_FREQ", f"{d}/scaling_min_freq")]
        out.append(_param(name, "CLOCK", files, dict(files) if knext else None))
    gpu_files = [(arg, f"{g.devfreq_dir}/{f}") for arg, f in
                 (("FREQ_TABLE", "available_frequencies"), ("MAX_FREQ", "max_freq"), ("MIN_FREQ", "min_freq"))]
    gpu_knext = {arg: f"{KNEXT_GPU_DEVICE}/devfreq_dev/{p.rsplit('/', 1)[1]}" for arg, p in gpu_files}
    out.append(_param("GPU", "CLOCK", gpu_files, gpu_knext if knext else None))
    if knext:
        out.append(_param("GPU_POWER_CONTROL_DISABLE", "FILE",
                          [("GPU_PWR_CNTL_DIS", "sys/devices/gpu.0/power/control")],
                          {"GPU_PWR_CNTL_DIS": f"{KNEXT_GPU_ZERO}/power/control"}))
    elif _uses_gating(board):
        out.append(_param("GPU_POWER_CONTROL_DISABLE", "FILE", [("GPU_PWR_CNTL_DIS", f"{g.device_dir}/power/control")]))
    out.append(_param("EMC", "CLOCK", [("MAX_FREQ", EMC_CAP)], {"MAX_FREQ": EMC_CAP_KNEXT} if knext else None))
    for mode in board.modes:
        out.append("\n" + mode_section(board, mode))
    out.append(f"\n# mandatory section to configure the default mode\n< PM_CONFIG DEFAULT={board.default_mode} >\n")
    return "".join(out)


def mode_section(board: Board, mode: PowerMode) -> str:
    lines = [f"< POWER_MODEL ID={mode.id} NAME={mode.name} >"]
    lines += [f"CPU_ONLINE CORE_{c} {1 if c in mode.online else 0}" for c in board.cpus if c != 0]
    if board.conf_per_core and mode.fbp_pg_mask is not None:
        lines.append(f"FBP_POWER_GATING FBP_PG_MASK {mode.fbp_pg_mask}")
    if _uses_gating(board):
        lines.append(f"TPC_POWER_GATING TPC_PG_MASK {mode.tpc_pg_mask}")
        lines.append("GPU_POWER_CONTROL_ENABLE GPU_PWR_CNTL_EN on")
    caps = {c: cap for cl, cap in zip(board.clusters, mode.cpu_max_khz) for c in cl.cpus}
    for name, c in _cpu_params(board):
        cluster = board.cluster_of(c)
        on = (c in mode.online) if board.conf_per_core else any(x in mode.online for x in cluster.cpus)
        if caps.get(c, 0) == 0 or not on:
            continue          # core/cluster off in this mode: nvpmodel leaves its clocks alone
        lines.append(f"{name} MIN_FREQ {mode.cpu_min_khz}")
        lines.append(f"{name} MAX_FREQ {caps[c]}")
    lines.append(f"GPU MIN_FREQ {mode.gpu_min_hz}")
    lines.append(f"GPU MAX_FREQ {mode.gpu_max_hz}")
    if _uses_gating(board):
        lines.append("GPU_POWER_CONTROL_DISABLE GPU_PWR_CNTL_DIS auto")
    emc = mode.emc_max_hz if mode.emc_max_hz or not board.conf_per_core else -1   # JetPack 6 writes -1
    lines.append(f"EMC MAX_FREQ {emc}")
    return "\n".join(lines) + "\n"


# --- /proc mirrored from the host ----------------------------------------------------------

def host_cpu_lines(text: str) -> tuple[list[list[int]], list[str]]:
    """Per-core counters (``cpuN`` lines, in order) and the non-cpu lines of a ``/proc/stat``."""
    cores: list[list[int]] = []
    rest: list[str] = []
    for line in text.splitlines():
        if line.startswith("cpu"):
            name, _, fields = line.partition(" ")
            if name != "cpu":
                try:
                    cores.append([int(x) for x in fields.split()])
                except ValueError:
                    pass
        elif line:
            rest.append(line)
    return cores, rest


def emulated_stat(board: Board, host_text: str, online: set[int]) -> str:
    """``/proc/stat`` of the board: online cores only, each fed by a host core round-robin."""
    host, rest = host_cpu_lines(host_text)
    if not host:
        host = [[0] * 10]
    ordered = [c for c in board.cpus if c in online]
    lines = []
    for j, c in enumerate(ordered):
        lines.append(f"cpu{c} " + " ".join(str(v) for v in host[j % len(host)]))
    # The all-cores line sums every possible core (as the kernel does): scale the host's sum.
    width = max(len(h) for h in host)
    total = [sum(h[i] for h in host if i < len(h)) for i in range(width)]
    scale = len(board.cpus) / len(host)
    head = "cpu  " + " ".join(str(int(v * scale)) for v in total)
    return "\n".join([head] + lines + rest) + "\n"


def mirror_proc(board: Board, root: Path, host_proc: Path, online: set[int], writer=None) -> str:
    """Copy the host's stat/loadavg/uptime into the tree; returns the host's stat text."""
    put = writer or (lambda rel, text: write_value(root / rel, text))
    try:
        stat_text = (host_proc / "stat").read_text()
    except OSError:
        stat_text = ""
    put("proc/stat", emulated_stat(board, stat_text, online))
    for name in ("loadavg", "uptime"):          # meminfo is the board's (the physics writes it)
        try:
            put(f"proc/{name}", (host_proc / name).read_text())
        except OSError:
            pass
    return stat_text


# --- the stand-in tools --------------------------------------------------------------------

def _package_parent() -> str:
    return str(Path(__file__).resolve().parents[2])


def write_tools(board: Board, root: Path) -> dict[str, Path]:
    """``bin/{tegrastats,nvpmodel,jetson_clocks}``: Python scripts bound to this tree."""
    tools = {}
    for name in TOOLS:
        path = root / "bin" / name
        path.write_text(
            f"#!{sys.executable}\n"
            f"# edgemon emulated {board.key}: stand-in for {name}; state lives under the root below.\n"
            "import sys\n"
            f"sys.path.insert(0, {_package_parent()!r})\n"
            "from edgemon.emulate.commands import main\n"
            f"sys.exit(main({name!r}, {str(root)!r}, sys.argv[1:]))\n")
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        tools[name] = path
    return tools
