"""``jetson_clocks``: pin CPU/GPU/EMC clocks at their maximum, and put them back.

On = every online CPU and the GPU have min == max (jtop's rule: the tool has no
"status" flag). As root the state comes from ``jetson_clocks --show``; without
root from the same rule on cpufreq/devfreq sysfs, which anyone may read, so
reading the state never needs sudo.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from edgemon.control.context import ControlContext, ControlResult
from edgemon.control.cpu_cores import CPU_DIR, online_cores
from edgemon.control.privilege import Jtop, run_privileged

DEVFREQ_DIR = "/sys/class/devfreq"
_GPU_DEVFREQ = re.compile(r"gpu|gv11b|gp10b|ga10b|gb10b|gm20b", re.I)
_FIELD = re.compile(r"(\w+)=(\S*)")
_ENGINE = re.compile(r"^(?P<name>[A-Za-z][\w]*?):?\s+(?P<rest>.*\bMaxFreq=.*)$")


@dataclass
class ClocksState:
    on: bool | None                       # None = cannot tell here
    source: str = ""                      # "jetson_clocks --show" or "sysfs"
    reason: str = ""                      # why ``on`` is None
    engines: dict[str, dict[str, int]] = field(default_factory=dict)   # cpu0/GPU/EMC -> MinFreq/MaxFreq/CurrentFreq
    power_mode: str | None = None
    fan_pwm: int | None = None


def parse_show(text: str) -> ClocksState:
    """Parse ``jetson_clocks --show`` (TX1 ... JetPack 7 formats)."""
    engines: dict[str, dict[str, int]] = {}
    offline: set[str] = set()
    state = ClocksState(None, source="jetson_clocks --show")
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("NV Power Mode:"):
            state.power_mode = line.split(":", 1)[1].strip() or None
            continue
        pwm = re.search(r"(?:pwm\d*|speed)=(\d+)\s*$", line)
        if line.lower().startswith("fan") and pwm and "enable" not in line:
            state.fan_pwm = int(pwm[1])
            continue
        m = _ENGINE.match(line)
        if not m:
            continue
        fields = dict(_FIELD.findall(m["rest"]))
        name = m["name"]
        if fields.get("Online") == "0":
            offline.add(name)
        engines[name] = {k: int(v) for k, v in fields.items()
                         if k in ("MinFreq", "MaxFreq", "CurrentFreq") and v.isdigit()}
    state.engines = engines
    cpus = [v for k, v in engines.items() if k.startswith("cpu") and k not in offline]
    gpu = engines.get("GPU")
    checks = [e.get("MinFreq") == e.get("MaxFreq") for e in cpus + ([gpu] if gpu else [])]
    if checks:
        state.on = all(checks)
    else:
        state.reason = "jetson_clocks --show listed no CPU or GPU clocks"
    return state


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def sysfs_state(ctx: ControlContext) -> ClocksState:
    """Same rule as ``--show`` on world-readable sysfs: min == max for online CPUs and the GPU."""
    engines: dict[str, dict[str, int]] = {}
    for n in online_cores(ctx):
        base = ctx.path(f"{CPU_DIR}/cpu{n}/cpufreq")
        lo, hi = _read_int(base / "scaling_min_freq"), _read_int(base / "scaling_max_freq")
        if lo is not None and hi is not None:
            engines[f"cpu{n}"] = {"MinFreq": lo, "MaxFreq": hi}
    try:
        devfreqs = sorted(ctx.path(DEVFREQ_DIR).iterdir())
    except OSError:
        devfreqs = []
    for dev in devfreqs:
        if _GPU_DEVFREQ.search(dev.name):
            lo, hi = _read_int(dev / "min_freq"), _read_int(dev / "max_freq")
            if lo is not None and hi is not None:
                engines["GPU"] = {"MinFreq": lo, "MaxFreq": hi}
                break
    if not engines:
        return ClocksState(None, "sysfs", f"no cpufreq/devfreq limits under {ctx.path(CPU_DIR)}")
    on = all(e["MinFreq"] == e["MaxFreq"] for e in engines.values())
    return ClocksState(on, "sysfs", engines=engines)


def state(ctx: ControlContext) -> ClocksState:
    exe = ctx.executable("jetson_clocks")
    if exe and ctx.is_root:
        result = run_privileged(ctx, [exe, "--show"])
        if result.ok:
            parsed = parse_show(result.detail)
            if parsed.on is not None:
                return parsed
    return sysfs_state(ctx)


def _missing() -> ControlResult:
    return ControlResult(False, "no jetson_clocks: not a Jetson (or set its path in the executables)")


def store(ctx: ControlContext, file: Path) -> ControlResult:
    """``jetson_clocks --store <file>``: save the current clock limits to come back to."""
    exe = ctx.executable("jetson_clocks")
    if exe is None:
        return _missing()
    result = run_privileged(ctx, [exe, "--store", str(file)])
    if result.ok:
        result.message = f"clock settings stored in {file}"
    return result


def enable(ctx: ControlContext) -> ControlResult:
    """``jetson_clocks``: pin clocks at maximum."""
    exe = ctx.executable("jetson_clocks")
    if exe is None:
        return _missing()
    result = run_privileged(ctx, [exe], jtop_op=lambda j: j.set_jetson_clocks(True))
    if result.ok:
        result.message = "jetson_clocks on"
    return result


def restore(ctx: ControlContext, file: Path | None) -> ControlResult:
    """``jetson_clocks --restore <file>``: back to the stored limits (jetson_clocks off).

    Without a file edgemon stored, only the jtop service (its own stored file) can do it."""
    exe = ctx.executable("jetson_clocks")
    if exe is None:
        return _missing()
    if file is None or not Path(file).exists():
        if not ctx.is_root and Jtop.probe(ctx)[0]:
            return Jtop(ctx).set_jetson_clocks(False)   # the service restores from its own stored file
        why = ("edgemon stored no clock settings before it was turned on" if file is None
               else f"the stored settings {file} are gone")
        return ControlResult(False, f"jetson_clocks cannot be turned off: {why}; "
                                    "re-apply the power mode (`sudo nvpmodel -m <id>`) to reset the clocks")
    result = run_privileged(ctx, [exe, "--restore", str(file)], jtop_op=lambda j: j.set_jetson_clocks(False))
    if result.ok:
        result.message = f"jetson_clocks off (clocks restored from {file})"
    return result
