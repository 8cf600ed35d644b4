"""The emulated board's ``tegrastats``, ``nvpmodel`` and ``jetson_clocks``.

``bin/<tool>`` in the tree is a two-line script that calls :func:`main` with
the tree's root. Like the real tools these read and write the board's files
(sysfs under the root, ``/etc/nvpmodel.conf``, ``/var/lib/nvpmodel/status``)
and print in the real formats of the board's JetPack generation (the sources
are listed in docs/emulator-sources.md). The physics daemon then reacts to what
they wrote (clock ceilings, online cores, fan), as a kernel would.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from edgemon.emulate import tree
from edgemon.emulate.boards import INT_MAX, Board, get_board

NVPM_USAGE = """\
Nvidia Power Model Tool Version 1.1.2
Usage:
nvpmodel [-h | --help] [--verbose] [-q | --query] [-p | --parse] [-u | --udata]
    [-w | --wait <sec>] [--boot] [-m | --mode <mode>] [-f | --conf <filename>] [-o | --os <android,l4t>]
  nvpmodel -m 2            switch to POWER_MODEL ID=2 of the default configuration file
  nvpmodel -q              print the current power mode
  nvpmodel -q --verbose    print the current power mode with verbose info
  nvpmodel -p -f pm.conf   parse pm.conf and print the result
"""

JC_USAGE = """\
usage:

jetson_clocks [options]
  options,
  --show             display current settings
  --fan              set PWM fan speed to maximal
  --store [file]     store current settings to a file (default: ${HOME}/l4t_dfs.conf)
  --restore [file]   restore saved settings from a file (default: ${HOME}/l4t_dfs.conf)
  run jetson_clocks.sh without any option to set static max frequency to CPU, GPU and EMC clocks.
"""


def main(tool: str, root: str, argv: list[str]) -> int:
    root_path = Path(root)
    try:
        info = json.loads((root_path / tree.BOARD_FILE).read_text())
        board = get_board(info["board"])
    except (OSError, ValueError, KeyError) as exc:
        print(f"{tool}: not an emulated Jetson tree: {root} ({exc})", file=sys.stderr)
        return 1
    try:
        if tool == "nvpmodel":
            return nvpmodel_main(board, root_path, argv)
        if tool == "jetson_clocks":
            return jetson_clocks_main(board, root_path, argv)
        if tool == "tegrastats":
            return tegrastats_main(board, root_path, argv)
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        return 130
    print(f"unknown tool {tool}", file=sys.stderr)
    return 1


@contextmanager
def board_lock(root: Path):
    """Serialise writes with the physics daemon (it holds the lock for each tick)."""
    with open(root / tree.LOCK_FILE, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def log(root: Path, text: str) -> None:
    with open(root / tree.LOG_FILE, "a") as f:
        f.write(f"{time.monotonic_ns()} {text}\n")


def _under(root: Path, absolute: str) -> Path:
    return root / absolute.lstrip("/")


# --- nvpmodel.conf -------------------------------------------------------------------------

_PARAM_RE = re.compile(r"^<\s*PARAM\s+TYPE=(\w+)\s+NAME=(\w+)\s*>$")
_MODEL_RE = re.compile(r"^<\s*POWER_MODEL\s+ID=(\d+)\s+NAME=(\S+)\s*>$")
_DEFAULT_RE = re.compile(r"^<\s*PM_CONFIG\s+DEFAULT=(\S+)\s*>$")


@dataclass
class Conf:
    params: dict[str, tuple[str, dict[str, str]]] = field(default_factory=dict)   # name -> (type, arg -> path)
    param_order: list[str] = field(default_factory=list)
    modes: dict[int, tuple[str, list[tuple[str, str, str]]]] = field(default_factory=dict)
    default: int = 0

    def name(self, mode_id: int) -> str:
        return self.modes[mode_id][0] if mode_id in self.modes else str(mode_id)

    def setting(self, mode_id: int, param: str, arg: str) -> str | None:
        for p, a, v in self.modes.get(mode_id, ("", []))[1]:
            if p == param and a == arg:
                return v
        return None


def parse_conf(text: str) -> Conf:
    conf = Conf()
    section = None
    default = "0"
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _PARAM_RE.match(line)
        if m:
            conf.params[m.group(2)] = (m.group(1), {})
            conf.param_order.append(m.group(2))
            section = ("param", m.group(2))
            continue
        m = _MODEL_RE.match(line)
        if m:
            conf.modes[int(m.group(1))] = (m.group(2), [])
            section = ("model", int(m.group(1)))
            continue
        m = _DEFAULT_RE.match(line)
        if m:
            default = m.group(1)
            section = None
            continue
        tokens = line.split()
        if section and section[0] == "param" and len(tokens) == 2:
            conf.params[section[1]][1][tokens[0]] = tokens[1]
        elif section and section[0] == "model" and len(tokens) == 3:
            conf.modes[section[1]][1].append((tokens[0], tokens[1], tokens[2]))
    if default.isdigit():
        conf.default = int(default)
    else:
        conf.default = next((i for i, (n, _) in conf.modes.items() if n == default), 0)
    return conf


def load_conf(root: Path, conf_file: str | None = None) -> tuple[Conf, str]:
    shown = conf_file or "/etc/nvpmodel.conf"
    path = Path(conf_file) if conf_file and Path(conf_file).exists() else _under(root, shown)
    return parse_conf(path.read_text()), shown


def _clock_value(root: Path, args: dict[str, str], arg: str, value: int) -> int:
    """What a clock limit reads after ``value`` is written: the lowest table frequency at or above it.

    A real TX2 in MAXP_CORE_ARM (conf: CPU 2000000, GPU 1120000000) shows MaxFreq=2035200 and
    GPU MaxFreq=1134750000 [S1], i.e. the kernel rounds up into its table.
    """
    value = INT_MAX if value < 0 else value
    table_path = _arg_path(args, "FREQ_TABLE")
    if not table_path:
        return value
    text = tree.read_value(_under(root, table_path)) or ""
    freqs = sorted(int(x) for x in text.split() if x.isdigit())
    if not freqs:
        return value
    return next((f for f in freqs if f >= value), freqs[-1])


def _arg_path(args: dict[str, str], arg: str) -> str | None:
    """The path nvpmodel writes for ``arg``: the JetPack 6 ``<arg>_KNEXT`` one where the conf has it."""
    return args.get(f"{arg}_KNEXT") or args.get(arg)


def apply_mode(board: Board, root: Path, mode_id: int, conf: Conf | None = None) -> None:
    """Write every setting of power mode ``mode_id`` as nvpmodel does, and record it as current."""
    conf = conf or load_conf(root)[0]
    _, lines = conf.modes[mode_id]
    # Cores first, so clock limits land on online policies; then everything in file order.
    ordered = [ln for ln in lines if ln[0] == "CPU_ONLINE"] + [ln for ln in lines if ln[0] != "CPU_ONLINE"]
    for param, arg, value in ordered:
        ptype, args = conf.params.get(param, ("", {}))
        path = _arg_path(args, arg)
        if not path:
            continue
        if ptype == "CLOCK":
            try:
                number = int(value)
            except ValueError:
                continue
            if path.lstrip("/") == tree.EMC_CAP_KNEXT:
                # The JetPack 6 node reads back the clamped rate: 3199000000 for "-1" [S4].
                top = board.emc.freqs_hz[-1]
                number = top if number < 0 or number > top else number
            tree.write_value(_under(root, path), f"{_clock_value(root, args, arg, number)}\n")
        else:
            tree.write_value(_under(root, path), f"{value}\n")
    tree.write_value(root / tree.NVPMODEL_STATUS, f"pmode:{mode_id:04d} fmode:fanNull\n")


def current_mode_id(root: Path, conf: Conf) -> int:
    m = re.search(r"pmode:\s*(\d+)", tree.read_value(root / tree.NVPMODEL_STATUS) or "")
    return int(m.group(1)) if m else conf.default


def _needs_reboot(board: Board, conf: Conf, cur: int, new: int) -> bool:
    mode_cur, mode_new = board.mode(cur), board.mode(new)
    if mode_cur is not None and mode_new is not None:
        return board.needs_reboot(mode_cur, mode_new)
    # A user conf (-f): compare the GPU power-gating masks, as nvpmodel does.
    return conf.setting(cur, "TPC_POWER_GATING", "TPC_PG_MASK") != conf.setting(new, "TPC_POWER_GATING", "TPC_PG_MASK")


# --- nvpmodel ------------------------------------------------------------------------------

def nvpmodel_main(board: Board, root: Path, argv: list[str]) -> int:
    verbose = query = parse = False
    mode: str | None = None
    conf_file: str | None = None
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("-h", "--help"):
            print(NVPM_USAGE, end="")
            return 0
        if a == "--verbose":
            verbose = True
        elif a in ("-q", "--query"):
            query = True
        elif a in ("-p", "--parse"):
            parse = True
        elif a in ("-m", "--mode", "-f", "--conf", "-w", "--wait", "-o", "--os", "-d"):
            if i + 1 >= len(argv):
                print(f"NVPM ERROR: option {a} requires an argument", file=sys.stderr)
                return 1
            if a in ("-m", "--mode"):
                mode = argv[i + 1]
            elif a in ("-f", "--conf"):
                conf_file = argv[i + 1]
            i += 1
        elif a in ("--boot", "-u", "--udata"):
            pass
        else:
            print(NVPM_USAGE, end="")
            return 1
        i += 1
    try:
        conf, shown = load_conf(root, conf_file)
    except OSError:
        print(f"NVPM ERROR: failed to open {conf_file or '/etc/nvpmodel.conf'}")
        return 1
    if verbose:
        print(f"NVPM VERB: Config file: {shown}")
        print(f"NVPM VERB: parsing done for {shown}")
    if parse:
        return _nvpm_parse(conf, shown, verbose)
    if mode is not None:
        return _nvpm_set(board, root, conf, mode, verbose)
    if query or verbose or not argv:
        return _nvpm_query(root, conf, verbose)
    return 0


def _nvpm_query(root: Path, conf: Conf, verbose: bool) -> int:
    cur = current_mode_id(root, conf)
    name = conf.name(cur)
    if verbose:
        print(f"NVPM VERB: Current mode: NV Power Mode: {name}")
        for param, arg, value in conf.modes.get(cur, ("", []))[1]:
            ptype, args = conf.params.get(param, ("", {}))
            path = _arg_path(args, arg)
            if not path:
                continue
            real = tree.read_value(_under(root, path))
            conf_val = value
            if ptype == "CLOCK" and value.lstrip("-").isdigit() and int(value) < 0:
                conf_val = str(INT_MAX)
            print(f"NVPM VERB: PARAM {param}: ARG {arg}: PATH {path}: REAL_VAL: {real} CONF_VAL: {conf_val}")
    print(f"NV Power Mode: {name}")
    print(cur)
    return 0


def _nvpm_parse(conf: Conf, shown: str, verbose: bool) -> int:
    print(f"succeed to parse file {shown}.")
    if not verbose:
        return 0
    v = "NVPM VERB:"
    print(f"{v} PM_CONFIG: DEFAULT={conf.name(conf.default)}({conf.default})")
    for name in conf.param_order:
        ptype, args = conf.params[name]
        print(f"{v} PARAM TYPE={ptype} NAME={name}")
        for arg, path in args.items():
            print(f"{v} {arg} {path}")
    for mode_id, (name, lines) in conf.modes.items():
        print(f"{v}")
        print(f"{v} POWER_MODEL: ID={mode_id} NAME={name}")
        for param, arg, value in lines:
            print(f"{v} {param} {arg} {value}")
    return 0


def _nvpm_set(board: Board, root: Path, conf: Conf, mode: str, verbose: bool) -> int:
    try:
        new = int(mode)
    except ValueError:
        new = -1
    if new not in conf.modes:
        print(f"NVPM ERROR: Invalid power mode: {mode}")
        return 1
    cur = current_mode_id(root, conf)
    if new == cur:
        if verbose:
            print(f"NVPM VERB: Current mode: NV Power Mode: {conf.name(cur)}")
        return 0
    if _needs_reboot(board, conf, cur, new):
        # The real prompt [S1]: nothing changes unless the answer is YES/yes.
        print("NVPM WARN: Golden image context is already created")
        print(f"NVPM WARN: Reboot required for changing to this power mode: {new}")
        print("NVPM WARN: DO YOU WANT TO REBOOT NOW? enter YES/yes to confirm:", flush=True)
        answer = sys.stdin.readline() if sys.stdin is not None else ""
        if answer.strip() not in ("YES", "yes"):
            print("NVPM ERROR: bad input!")
            print("NVPM ERROR: optMask is 1, no request for power mode")
            return 1
        print("NVPM WARN: rebooting", flush=True)
        with board_lock(root):
            apply_mode(board, root, new, conf)
            _reset_after_reboot(board, root)
        log(root, f"reboot mode={new} name={conf.name(new)}")
        return 0
    with board_lock(root):
        apply_mode(board, root, new, conf)
    log(root, f"nvpmodel mode={new} name={conf.name(new)}")
    if verbose:
        print(f"NVPM VERB: Current mode: NV Power Mode: {conf.name(new)}")
    return 0


def _reset_after_reboot(board: Board, root: Path) -> None:
    """A reboot forgets jetson_clocks and manual fan settings."""
    files = tree.fan_files(board)
    tree.write_value(root / files["auto"], "1\n")
    f = tree.emc_files(board)
    tree.write_value(root / f["lock"], "0\n")
    for cl in board.clusters:
        tree.write_value(root / tree.policy_dir(cl) / "scaling_governor", f"{cl.governor}\n")


# --- jetson_clocks -------------------------------------------------------------------------

def _online(root: Path, board: Board) -> list[int]:
    return [c for c in board.cpus if c == 0 or tree.read_value(root / tree.cpu_online_file(c)) == "1"]


def _cpu_list(cpus: list[int]) -> str:
    """``[0, 3, 4, 5]`` -> ``"0,3-5"``."""
    from edgemon.units import number_ranges

    return ",".join(number_ranges(cpus))


def _store_paths(board: Board) -> list[str]:
    """The files ``--store`` saves and ``--restore`` writes back (absolute, as on the board)."""
    paths = []
    for c in board.cpus:
        if c != 0:
            paths.append(f"/{tree.cpu_online_file(c)}")
    for cl in board.clusters:
        d = f"/{tree.CPU_DIR}/cpu{cl.cpus[0]}/cpufreq"
        paths += [f"{d}/scaling_governor", f"{d}/scaling_min_freq", f"{d}/scaling_max_freq"]
    g = board.gpu.devfreq_dir
    paths += [f"/{g}/governor", f"/{g}/min_freq", f"/{g}/max_freq"]
    emc = tree.emc_files(board)
    paths += [f"/{emc['min']}", f"/{emc['lock']}"]
    fan = tree.fan_files(board)
    paths += [f"/{fan['auto']}", f"/{fan['target']}"]
    return paths


def jetson_clocks_main(board: Board, root: Path, argv: list[str]) -> int:
    default_file = os.path.join(os.environ.get("HOME", "/root"), "l4t_dfs.conf")
    if not argv:
        with board_lock(root):
            _max_clocks(board, root)
            _max_fan(board, root)
        log(root, "jetson_clocks on")
        return 0
    a = argv[0]
    if a == "--show":
        print(show(board, root), end="")
        return 0
    if a == "--fan":
        with board_lock(root):
            _max_fan(board, root)
        return 0
    if a in ("--store", "--restore"):
        file = argv[1] if len(argv) > 1 else default_file
        if a == "--store":
            lines = [f"{p}:{tree.read_value(_under(root, p))}" for p in _store_paths(board)]
            Path(file).write_text("\n".join(lines) + "\n")
            return 0
        try:
            text = Path(file).read_text()
        except OSError:
            print(f"Error: {file} file not found!")
            return 1
        with board_lock(root):
            for line in text.splitlines():
                path, sep, value = line.rpartition(":")
                if sep and path.startswith("/") and _under(root, path).exists():
                    tree.write_value(_under(root, path), f"{value}\n")
        log(root, "jetson_clocks restore")
        return 0
    print(JC_USAGE, end="")
    return 0 if a in ("-h", "--help") else 1


def _max_clocks(board: Board, root: Path) -> None:
    online = set(_online(root, board))
    for cl in board.clusters:
        if not online & set(cl.cpus):
            continue
        p = root / tree.policy_dir(cl)
        tree.write_value(p / "scaling_min_freq", f"{tree.read_number(p / 'scaling_max_freq')}\n")
    g = root / board.gpu.devfreq_dir
    tree.write_value(g / "min_freq", f"{tree.read_number(g / 'max_freq')}\n")
    emc = tree.emc_files(board)
    cap = tree.read_number(root / tree.emc_cap_file(board)) or 0
    top = tree.read_number(root / emc["max"]) or board.emc.freqs_hz[-1]
    rate = min(top, cap) if cap else top
    tree.write_value(root / emc["min"], f"{rate}\n")
    if board.emc.style == "t210":
        tree.write_value(root / emc["update"], f"{rate}\n")
        tree.write_value(root / emc["lock"], "1\n")
    else:
        tree.write_value(root / emc["lock"], f"{rate}\n")


def _max_fan(board: Board, root: Path) -> None:
    f = tree.fan_files(board)
    tree.write_value(root / f["auto"], "0\n")
    tree.write_value(root / f["target"], f"{tree.FAN_MAX_PWM}\n")


def show(board: Board, root: Path) -> str:
    """``jetson_clocks --show`` in the format of the board's release [S1, S5]."""
    gen = board.generation
    online = _online(root, board)
    offline = [c for c in board.cpus if c not in online]
    out = [f"SOC family:{board.soc}  Machine:{board.machine}"]
    if gen == "jp7":
        out.append(f"Online CPUs: {_cpu_list(online)}, Offline CPUs: {_cpu_list(offline)}")
    else:
        out.append(f"Online CPUs: {_cpu_list(online)}")
    if gen == "jp4":
        out.append("CPU Cluster Switching: Disabled")
    idle = {"tegra210": "C1=1 c7=1", "tegra186": "C1=1 c7=1", "tegra194": "C1=1 c6=1"}.get(board.soc, "WFI=1 c7=1")
    for c in sorted(board.cpus, key=lambda n: f"cpu{n}"):      # the script globs: cpu0 cpu1 cpu10 cpu11 cpu2 ...
        if gen == "jp7" and c not in online:
            continue
        p = root / tree.policy_dir(board.cluster_of(c))
        gov = tree.read_value(p / "scaling_governor")
        lo, hi, cur = (tree.read_number(p / n) for n in ("scaling_min_freq", "scaling_max_freq", "scaling_cur_freq"))
        fields = f"Governor={gov} MinFreq={lo} MaxFreq={hi} CurrentFreq={cur} IdleStates: {idle}"
        if gen == "jp7":
            out.append(f"cpu{c}:  {fields} ")
        elif gen == "jp4":
            out.append(f"cpu{c}: Online={1 if c in online else 0} {fields}")
        else:
            out.append(f"cpu{c}: Online={1 if c in online else 0} {fields} ")
    g = root / board.gpu.devfreq_dir
    out.append("GPU MinFreq={} MaxFreq={} CurrentFreq={}".format(
        *(tree.read_number(g / n) for n in ("min_freq", "max_freq", "cur_freq"))))
    if gen == "jp7":
        mask = tree.read_number(root / tree.tpc_pg_mask_file(board)) or 0
        out.append(f"Active GPU TPCs: {max(1, 4 - bin(mask).count('1'))}")
    emc = tree.emc_files(board)
    lo, hi, cur = (tree.read_number(root / emc[k]) for k in ("min", "max", "rate"))
    cap = tree.read_number(root / tree.emc_cap_file(board)) or 0
    hi = min(hi, cap) if cap and hi else hi
    lock = tree.read_number(root / emc["lock"]) or 0
    if gen == "jp7":
        out.append(f"EMC MinFreq={lo} MaxFreq={hi} CurrentFreq={cur}")
    else:
        out.append(f"EMC MinFreq={lo} MaxFreq={hi} CurrentFreq={cur} FreqOverride={1 if lock else 0}")
    f = tree.fan_files(board)
    pwm = tree.read_number(root / f["pwm"])
    auto = tree.read_number(root / f["auto"])
    if board.fan.kind == "legacy":
        out.append(f"Fan: speed={pwm}")
    elif gen == "jp7":
        n = board.fan.hwmon_index
        out.append(f"FAN Dynamic Speed Control=nvfancontrol hwmon{n}_pwm1={pwm}")
        out.append(f"FAN Dynamic Speed Control=nvfancontrol hwmon{n}_pwm1_enable={auto}")
    else:
        out.append(f"FAN Dynamic Speed control={'active' if auto == 1 else 'inactive'} "
                   f"hwmon{board.fan.hwmon_index}_pwm1={pwm}")
    conf = load_conf(root)[0]
    out.append(f"NV Power Mode: {conf.name(current_mode_id(root, conf))}")
    return "\n".join(out) + "\n"


# --- tegrastats ----------------------------------------------------------------------------

def _board_options(root: Path) -> dict:
    try:
        return dict(json.loads((root / tree.BOARD_FILE).read_text()).get("options") or {})
    except (OSError, ValueError, AttributeError):
        return {}


def _fmt_temp(c: float) -> str:
    return f"{c:.3f}".rstrip("0").rstrip(".")


class TegrastatsLine:
    """Builds tegrastats lines from the tree; keeps the rail averages/maxima and temperature maxima.

    ``privileged=False`` prints what tegrastats prints for a user that is not root: no EMC clock
    (no EMC field at all from JetPack 5 on), no GPU clock, no IRAM, APE, MTS or engines (T08, T30).
    """

    def __init__(self, board: Board, root: Path, privileged: bool = True):
        self.board, self.root, self.privileged = board, root, privileged
        self.prev: dict[int, tuple[int, int]] = {}
        self.rail_sum: dict[str, float] = {}
        self.rail_max: dict[str, float] = {}
        self.temp_max: dict[str, float] = {}
        self.samples = 0
        self.rails = tree.rail_files(board)
        self.zone_dirs = {z.type: tree.thermal_zone_dir(i) for i, z in enumerate(board.zones)}

    def _cpu_counters(self) -> dict[int, tuple[int, int]]:
        out = {}
        for line in (tree.read_value(self.root / "proc/stat") or "").splitlines():
            name, _, rest = line.partition(" ")
            if not name.startswith("cpu") or name == "cpu":
                continue
            try:
                vals = [int(x) for x in rest.split()[:8]]
            except ValueError:
                continue
            total = sum(vals)
            out[int(name[3:])] = (total - vals[3] - (vals[4] if len(vals) > 4 else 0), total)
        return out

    def prime(self) -> None:
        self.prev = self._cpu_counters()

    def _rail_mw(self, rail: str) -> float:
        kind, volt, curr, power = self.rails[rail]
        r = self.root
        if kind == "iio":
            return float(tree.read_number(r / power) or 0)
        if kind == "ina238":
            return (tree.read_number(r / power) or 0) / 1000.0
        return (tree.read_number(r / volt) or 0) * (tree.read_number(r / curr) or 0) / 1000.0

    def line(self) -> str:
        b, r = self.board, self.root
        gen = b.generation
        parts: list[str] = []
        if gen != "jp4":
            parts.append(time.strftime("%m-%d-%Y %H:%M:%S"))
        mem: dict[str, int] = {}
        for ln in (tree.read_value(r / "proc/meminfo") or "").splitlines():
            key, _, rest = ln.partition(":")
            try:
                mem[key] = int(rest.split()[0])
            except (ValueError, IndexError):
                pass
        total = mem.get("MemTotal", 0)
        used = total - mem.get("MemFree", 0) - mem.get("Buffers", 0) - mem.get("Cached", 0)
        parts.append(f"RAM {max(used, 0) // 1024}/{total // 1024}MB (lfb {max(mem.get('MemFree', 0) // 4096, 1)}x4MB)")
        if mem.get("SwapTotal", 0) > 0:
            st, sf = mem["SwapTotal"], mem.get("SwapFree", 0)
            parts.append(f"SWAP {(st - sf) // 1024}/{st // 1024}MB (cached {mem.get('SwapCached', 0) // 1024}MB)")
        if b.iram and self.privileged:
            parts.append("IRAM 0/252kB(lfb 252kB)")
        cur = self._cpu_counters()
        cores = []
        for c in b.cpus:
            if c not in cur:
                cores.append("off")
                continue
            pb, pt = self.prev.get(c, cur[c])
            db, dt = cur[c][0] - pb, cur[c][1] - pt
            util = int(round(100.0 * db / dt)) if dt > 0 and db >= 0 else 0
            khz = tree.read_number(r / tree.policy_dir(b.cluster_of(c)) / "scaling_cur_freq") or 0
            cores.append(f"{util}%@{khz // 1000}")
        self.prev = cur
        parts.append(f"CPU [{','.join(cores)}]")
        emc = tree.emc_files(b)
        rate = tree.read_number(r / emc["rate"]) or 0
        act = tree.read_number(r / emc["activity"]) or 0
        emc_pct = int(round(act / (rate / 1000.0))) if rate else 0
        if self.privileged:
            parts.append(f"EMC_FREQ {emc_pct}%@{rate // 1000000}")
        elif gen == "jp4":
            parts.append(f"EMC_FREQ {emc_pct}%")
        g = b.gpu
        gpu_mhz = (tree.read_number(r / g.devfreq_dir / "cur_freq") or 0) // 1000000
        load_file = g.load_paths[0] if g.load_paths else tree.GPU_LOAD_FILE
        gpu_pct = (tree.read_number(r / load_file) or 0) // 10
        util = f"{gpu_pct}%" if b.gr3d_util else ""
        if not self.privileged:
            parts.append(f"GR3D_FREQ {util or '0%'}")
        elif gen == "jp4":
            parts.append(f"GR3D_FREQ {util}@{gpu_mhz}")
        else:
            parts.append(f"GR3D_FREQ {util}@[{','.join([str(gpu_mhz)] * g.gpcs)}]")
        if self.privileged:
            parts.append(b.engines)
        for ztype in b.tegrastats_zone_order:
            zone = next(z for z in b.zones if z.type == ztype)
            mc = tree.read_number(r / self.zone_dirs[ztype] / "temp")
            if mc is None:
                continue
            c = mc / 1000.0
            name = zone.short
            if b.tegrastats_running_max:
                self.temp_max[name] = max(self.temp_max.get(name, c), c)
                parts.append(f"{name}@{_fmt_temp(c)}C/{_fmt_temp(self.temp_max[name])}C")
            else:
                parts.append(f"{name}@{_fmt_temp(c)}C")
        self.samples += 1
        for rail in (r for r in b.rails if r.in_tegrastats):
            mw = self._rail_mw(rail.name)
            self.rail_sum[rail.name] = self.rail_sum.get(rail.name, 0.0) + mw
            self.rail_max[rail.name] = max(self.rail_max.get(rail.name, mw), mw)
            avg = int(round(self.rail_sum[rail.name] / self.samples))
            now = int(round(mw))
            if gen == "jp4":
                parts.append(f"{rail.name} {now}/{avg}")
            elif b.tegrastats_running_max:
                parts.append(f"{rail.name} {now}mW/{avg}mW/{int(round(self.rail_max[rail.name]))}mW")
            else:
                parts.append(f"{rail.name} {now}mW/{avg}mW")
        return " ".join(parts)


def tegrastats_main(board: Board, root: Path, argv: list[str]) -> int:
    interval_ms = 1000
    logfile: str | None = None
    start = stop = False
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--interval" and i + 1 < len(argv):
            try:
                interval_ms = max(1, int(argv[i + 1]))
            except ValueError:
                print(f"Invalid interval: {argv[i + 1]}", file=sys.stderr)
                return 1
            i += 1
        elif a == "--logfile" and i + 1 < len(argv):
            logfile = argv[i + 1]
            i += 1
        elif a == "--start":
            start = True
        elif a == "--stop":
            stop = True
        elif a in ("--verbose", "--readall"):
            pass
        elif a in ("-h", "--help"):
            print("Usage: tegrastats [-option]\nOptions:\n  --help\n  --interval <millisec>\n"
                  "  --logfile <filename>\n  --start\n  --stop\n  --verbose")
            return 0
        else:
            print(f"tegrastats: unknown option {a}", file=sys.stderr)
            return 1
        i += 1
    pidfile = root / "run/tegrastats.pid"
    if stop:
        pid = tree.read_number(pidfile)
        if pid:
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass
            pidfile.unlink(missing_ok=True)
        return 0
    if start:
        args = [sys.argv[0], "--interval", str(interval_ms)] + (["--logfile", logfile] if logfile else [])
        proc = subprocess.Popen([sys.executable] + args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        pidfile.write_text(f"{proc.pid}\n")
        return 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    out = open(logfile, "a") if logfile else sys.stdout
    builder = TegrastatsLine(board, root, privileged=_board_options(root).get("tegrastats", "root") != "user")
    builder.prime()
    period = interval_ms / 1000.0
    while True:
        time.sleep(period)
        out.write(builder.line() + "\n")
        out.flush()
