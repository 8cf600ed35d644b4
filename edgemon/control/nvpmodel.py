"""Jetson power modes: list them, read the current one, switch without ever rebooting the board.

Modes come from ``nvpmodel -p --verbose`` (the tool resolves the board's conf)
or, failing that, from ``/etc/nvpmodel.conf`` itself; both share one parser.
A switch that needs a reboot is refused twice over: before running anything
when the conf shows different power-gating masks (jtop's rule), and at run
time when nvpmodel asks "Reboot required ... enter YES" -- it runs with stdin
closed, so it reads end-of-file and gives up.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from edgemon.control.context import ControlContext, ControlResult
from edgemon.control.privilege import run_plain, run_privileged

CONF_PATH = "/etc/nvpmodel.conf"
STATUS_PATH = "/var/lib/nvpmodel/status"      # "pmode:0002 fmode:fanNull"
INT_MAX = 2147483647
_UNCAPPED = {-1, INT_MAX}                       # "-1 is taken as INT_MAX" = no cap
_GATING_ARGS = ("TPC_PG_MASK", "FBP_PG_MASK")  # GPU partitions: changing them needs a reboot

_VERB_PREFIX = re.compile(r"^NVPM VERB:\s?")
_PARAM_RE = re.compile(r"^<?\s*PARAM:?\s+TYPE=(?P<type>\w+)\s+NAME=(?P<name>\w+)\s*>?$")
_MODEL_RE = re.compile(r"^<?\s*POWER_MODEL:?\s+ID=(?P<id>\d+)\s+NAME=(?P<name>.+?)\s*>?$")
_DEFAULT_RE = re.compile(r"^<?\s*PM_CONFIG:?\s+DEFAULT=(?P<value>[^\s>]+)\s*>?$")
_CORE_PATH_RE = re.compile(r"/cpu(\d+)/online$")
_QUERY_RE = re.compile(r"NV Power Mode:\s*(?P<name>.*?)\s*$")
_STATUS_RE = re.compile(r"pmode:\s*(\d+)")
# nvpmodel's question: "Reboot required for changing to this power mode: N" / "DO YOU WANT TO REBOOT NOW?"
_REBOOT_RE = re.compile(r"reboot required|reboot now|enter YES|will be rebooted", re.I)


@dataclass
class PowerMode:
    """One ``POWER_MODEL`` section. Frequencies as the conf gives them (CPU kHz, GPU/EMC Hz);
    ``None`` means the mode sets no cap (-1 / INT_MAX, or EMC 0)."""

    id: int
    name: str
    cpu_online: dict[int, bool] = field(default_factory=dict)        # cores the mode switches
    cpu_max_freq_khz: dict[str, int | None] = field(default_factory=dict)   # per cluster, e.g. CPU_A57
    cpu_min_freq_khz: dict[str, int] = field(default_factory=dict)
    gpu_max_freq_hz: int | None = None
    gpu_min_freq_hz: int | None = None
    emc_max_freq_hz: int | None = None
    gating: dict[str, str] = field(default_factory=dict)              # TPC_PG_MASK etc.
    settings: dict[str, dict[str, str]] = field(default_factory=dict)  # raw: PARAM -> ARG -> value

    @property
    def cpu_online_mask(self) -> int:
        """Bit N set = cpuN online in this mode (cpu0 unless the mode says otherwise)."""
        online = {0: True, **self.cpu_online}
        return sum(1 << n for n, on in online.items() if on)

    @property
    def cpu_max_freq_mhz(self) -> float | None:
        caps = [v for v in self.cpu_max_freq_khz.values() if v is not None]
        return max(caps) / 1000.0 if caps else None

    def reboot_reason(self, current: "PowerMode") -> str:
        """Why switching from ``current`` to this mode needs a reboot; "" when it does not."""
        for arg in _GATING_ARGS:
            if self.gating.get(arg, "0") != current.gating.get(arg, "0"):
                return (f"its GPU power-gating mask {arg} is {self.gating.get(arg, '0')}, "
                        f"the current mode's is {current.gating.get(arg, '0')}")
        return ""

    def label(self) -> str:
        return f"{self.id} ({self.name})"


@dataclass
class ModeTable:
    modes: list[PowerMode]
    default_id: int | None = None
    source: str = ""            # "nvpmodel -p --verbose" or the conf path
    reason: str = ""            # why empty

    def get(self, mode_id: int) -> PowerMode | None:
        return next((m for m in self.modes if m.id == mode_id), None)

    def by_name(self, name: str) -> PowerMode | None:
        return next((m for m in self.modes if m.name.lower() == name.lower()), None)


def _int(text: str) -> int | None:
    try:
        return int(text, 0) if text.lower().startswith("0x") else int(text)
    except ValueError:
        return None


def _cap(value: int | None, *, zero_is_uncapped: bool = False) -> int | None:
    if value is None or value in _UNCAPPED or (zero_is_uncapped and value == 0):
        return None
    return value


def parse_conf(text: str) -> ModeTable:
    """Parse ``/etc/nvpmodel.conf`` or the output of ``nvpmodel -p --verbose`` (same structure)."""
    params: dict[str, tuple[str, dict[str, str]]] = {}   # name -> (type, arg -> path)
    raw: list[tuple[int, str, list[tuple[str, ...]]]] = []
    default_value: str | None = None
    param: str | None = None                                   # the PARAM section we are in, or
    model: tuple[int, str, list[tuple[str, ...]]] | None = None  # the POWER_MODEL section
    for line in text.splitlines():
        line = _VERB_PREFIX.sub("", line).strip()
        if not line or line.startswith("#"):
            continue
        m = _PARAM_RE.match(line)
        if m:
            params[m["name"]] = (m["type"], {})
            param, model = m["name"], None
            continue
        m = _MODEL_RE.match(line)
        if m:
            raw.append((int(m["id"]), m["name"], []))
            param, model = None, raw[-1]
            continue
        m = _DEFAULT_RE.match(line)
        if m:
            default_value = m["value"]
            param, model = None, None
            continue
        tokens = line.split()
        if param is not None and len(tokens) == 2:
            params[param][1][tokens[0]] = tokens[1]
        elif model is not None and len(tokens) in (2, 3):
            model[2].append(tuple(tokens))
    modes = [_build_mode(mode_id, name, lines, params) for mode_id, name, lines in raw]
    return ModeTable(modes, _default_id(default_value, modes))


def _default_id(value: str | None, modes: list[PowerMode]) -> int | None:
    if value is None:
        return None
    m = re.match(r"^(?P<name>.*?)\((?P<id>\d+)\)$", value)     # verbose form: MODE_30W(2)
    if m:
        return int(m["id"])
    if value.isdigit():                                        # conf form: DEFAULT=3
        return int(value)
    named = next((mode for mode in modes if mode.name == value), None)
    return named.id if named else None


def _build_mode(mode_id: int, name: str, lines: list[tuple[str, ...]],
                params: dict[str, tuple[str, dict[str, str]]]) -> PowerMode:
    mode = PowerMode(mode_id, name)
    for tokens in lines:
        if len(tokens) == 2:   # 2017 syntax: "/sys/devices/system/cpu/cpu1/online 1"
            path, value = tokens
            mode.settings.setdefault("FILE", {})[path] = value
            core = _CORE_PATH_RE.search(path)
            if core:
                mode.cpu_online[int(core[1])] = value.strip() == "1"
            continue
        param, arg, value = tokens
        mode.settings.setdefault(param, {})[arg] = value
        ptype, args = params.get(param, ("", {}))
        number = _int(value)
        if param == "CPU_ONLINE":
            core = _CORE_PATH_RE.search(args.get(arg, "")) or re.search(r"(\d+)$", arg)
            if core:
                mode.cpu_online[int(core[1])] = value.strip() == "1"
        elif arg in _GATING_ARGS:
            mode.gating[arg] = value
        elif param.startswith("CPU") and ptype != "FILE" and arg in ("MAX_FREQ", "MIN_FREQ"):
            if arg == "MAX_FREQ":
                mode.cpu_max_freq_khz[param] = _cap(number)
            elif number is not None:
                mode.cpu_min_freq_khz[param] = number
        elif param == "GPU" and arg == "MAX_FREQ":
            mode.gpu_max_freq_hz = _cap(number)
        elif param == "GPU" and arg == "MIN_FREQ":
            mode.gpu_min_freq_hz = number
        elif param == "EMC" and arg == "MAX_FREQ":
            mode.emc_max_freq_hz = _cap(number, zero_is_uncapped=True)
    return mode


def load_modes(ctx: ControlContext) -> ModeTable:
    """All power modes of this board, from ``nvpmodel -p --verbose`` or the conf file."""
    reasons = []
    exe = ctx.executable("nvpmodel")
    if exe:
        outcome = run_plain(ctx, [exe, "-p", "--verbose"])
        if outcome.returncode == 0:
            table = parse_conf(outcome.output)
            if table.modes:
                table.source = "nvpmodel -p --verbose"
                return table
            reasons.append("`nvpmodel -p --verbose` listed no POWER_MODEL")
        else:
            reasons.append(f"`nvpmodel -p --verbose` failed: {outcome.error or outcome.output.strip()[-200:]}")
    conf = _conf_path(ctx)
    try:
        table = parse_conf(conf.read_text(errors="replace"))
    except OSError as exc:
        reasons.append(f"cannot read {conf}: {exc.strerror or exc}")
        return ModeTable([], reason="; ".join(reasons))
    if not table.modes:
        reasons.append(f"{conf} has no POWER_MODEL section")
        return ModeTable([], reason="; ".join(reasons))
    table.source = str(conf)
    return table


def _conf_path(ctx: ControlContext) -> Path:
    conf = ctx.path(CONF_PATH)
    # JetPack 5+ makes it a symlink to /etc/nvpmodel/nvpmodel_<sku>.conf: keep that under the root too.
    if conf.is_symlink():
        target = Path(os.readlink(conf))
        if target.is_absolute():
            return ctx.path(str(target))
    return conf


def list_modes(ctx: ControlContext) -> list[PowerMode]:
    return load_modes(ctx).modes


def parse_query(text: str) -> tuple[int | None, str | None]:
    """``nvpmodel -q`` -> (id, name): the line ``NV Power Mode: <name>`` and the id on the next line."""
    lines = [ln.strip() for ln in text.splitlines()]
    for i, line in enumerate(lines):
        m = _QUERY_RE.search(line)
        if not m:
            continue
        name = m["name"]
        following = next((ln for ln in lines[i + 1:] if ln), "")
        if following.isdigit():
            return int(following), name or None
        joined = re.match(r"^(?P<name>.*\S)\s+(?P<id>\d+)$", name)    # "NV Power Mode: MAXN 0"
        if joined:
            return int(joined["id"]), joined["name"]
        return None, name or None
    return None, None


def query(ctx: ControlContext, table: ModeTable | None = None) -> tuple[int | None, str | None, str]:
    """(id, name, why-unknown) of the running mode: ``nvpmodel -q``, else /var/lib/nvpmodel/status."""
    why = []
    exe = ctx.executable("nvpmodel")
    if exe:
        outcome = run_plain(ctx, [exe, "-q"])
        mode_id, name = parse_query(outcome.output)
        if mode_id is not None:
            return mode_id, name, ""
        why.append(f"`nvpmodel -q` gave no mode: {outcome.error or outcome.output.strip()[-200:] or 'no output'}")
    else:
        why.append("no nvpmodel: not a Jetson")
    status = ctx.path(STATUS_PATH)
    try:
        m = _STATUS_RE.search(status.read_text(errors="replace"))
    except OSError:
        m = None
    if m:
        mode_id = int(m[1])
        table = table if table is not None else load_modes(ctx)
        mode = table.get(mode_id)
        return mode_id, mode.name if mode else None, ""
    return None, None, "; ".join(why)


def current_mode(ctx: ControlContext, table: ModeTable | None = None) -> PowerMode | None:
    """The running mode, with the conf's details when the table knows it."""
    table = table if table is not None else load_modes(ctx)
    mode_id, name, _ = query(ctx, table)
    if mode_id is None:
        return None
    return table.get(mode_id) or PowerMode(mode_id, name or str(mode_id))


def set_mode(ctx: ControlContext, mode_id: int, table: ModeTable | None = None,
             current_id: int | None = None) -> ControlResult:
    """``nvpmodel -m <id>``; refuses unknown ids and any switch that would reboot the board."""
    exe = ctx.executable("nvpmodel")
    if exe is None:
        return ControlResult(False, "no nvpmodel: not a Jetson (or set its path in the executables)")
    table = table if table is not None else load_modes(ctx)
    target = table.get(mode_id)
    if table.modes and target is None:
        known = ", ".join(m.label() for m in table.modes)
        return ControlResult(False, f"unknown power mode {mode_id}: this board has {known}")
    cur_id = current_id if current_id is not None else query(ctx, table)[0]
    current = table.get(cur_id) if cur_id is not None else None
    if target is not None and current is not None:
        why = target.reboot_reason(current)
        if why:
            return ControlResult(False, _reboot_refusal(mode_id, target.name, why))
    result = run_privileged(ctx, [exe, "-m", str(mode_id)],
                            jtop_op=lambda j: j.set_power_mode(mode_id))
    if _REBOOT_RE.search(result.detail):
        # nvpmodel asked to reboot; it read end-of-file instead of YES and gave up.
        now_id, _, _ = query(ctx, table)
        still = f" (the mode is still {now_id})" if now_id is not None else ""
        name = target.name if target else str(mode_id)
        return ControlResult(False, _reboot_refusal(mode_id, name, "nvpmodel asked for a reboot") + still,
                             detail=result.detail, strategy=result.strategy)
    errors = [ln.strip() for ln in result.detail.splitlines() if "NVPM ERROR" in ln]
    if result.ok and errors:
        return ControlResult(False, f"nvpmodel -m {mode_id} failed: {errors[-1]}", detail=result.detail,
                             strategy=result.strategy)
    if not result.ok:
        return result
    now_id, now_name, why = query(ctx, table)
    if now_id is not None and now_id != mode_id:
        return ControlResult(False, f"nvpmodel -m {mode_id} ran but the power mode is still {now_id}",
                             detail=result.detail, strategy=result.strategy)
    name = (target.name if target else now_name) or str(mode_id)
    return ControlResult(True, f"power mode set to {mode_id} ({name})", detail=result.detail,
                         strategy=result.strategy)


def _reboot_refusal(mode_id: int, name: str, why: str) -> str:
    return (f"power mode {mode_id} ({name}) needs a reboot ({why}); edgemon never reboots the board: "
            f"run `sudo nvpmodel -m {mode_id}` yourself, answer its prompt, and start edgemon after the reboot")
