"""CPU hot-plug through ``/sys/devices/system/cpu/cpuN/online``. cpu0 is never touched."""

from __future__ import annotations

import re
from typing import Iterable, Union

from edgemon.control.context import ControlContext, ControlResult
from edgemon.control.privilege import write_privileged

CPU_DIR = "/sys/devices/system/cpu"
_CPU_NAME = re.compile(r"^cpu(\d+)$")

Mask = Union[int, Iterable[int]]


def online_path(ctx: ControlContext, n: int):
    return ctx.path(f"{CPU_DIR}/cpu{n}/online")


def present_cores(ctx: ControlContext) -> list[int]:
    try:
        entries = list(ctx.path(CPU_DIR).iterdir())
    except OSError:
        return []
    return sorted(int(m[1]) for e in entries if (m := _CPU_NAME.match(e.name)) and e.is_dir())


def is_online(ctx: ControlContext, n: int) -> bool | None:
    """True/False from the ``online`` file; a core without one (often cpu0) is always on."""
    try:
        return online_path(ctx, n).read_text().strip() == "1"
    except FileNotFoundError:
        return True if ctx.path(f"{CPU_DIR}/cpu{n}").is_dir() else None
    except OSError:
        return None


def online_cores(ctx: ControlContext) -> list[int]:
    return [n for n in present_cores(ctx) if is_online(ctx, n)]


def hotpluggable_cores(ctx: ControlContext) -> list[int]:
    return [n for n in present_cores(ctx) if n != 0 and online_path(ctx, n).exists()]


def mask_to_cores(mask: Mask) -> set[int]:
    """An int bitmask (bit N = cpuN) or an iterable of core numbers -> set of cores."""
    if isinstance(mask, int):
        if mask < 0:
            raise ValueError("a core mask cannot be negative")
        return {n for n in range(mask.bit_length()) if mask >> n & 1}
    cores = {int(n) for n in mask}
    if any(n < 0 for n in cores):
        raise ValueError("core numbers cannot be negative")
    return cores


def set_core(ctx: ControlContext, n: int, online: bool) -> ControlResult:
    """Bring cpu``n`` online or take it offline (never cpu0), then check the kernel agreed."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        return ControlResult(False, f"a CPU core is a number 0 or more, got {n!r}")
    if n == 0:
        if online:
            return ControlResult(True, "cpu0 is always online")
        return ControlResult(False, "cpu0 cannot be taken offline")
    present = present_cores(ctx)
    if n not in present:
        have = f"cpu0-cpu{max(present)}" if present else "no CPUs under " + str(ctx.path(CPU_DIR))
        return ControlResult(False, f"cpu{n} does not exist here ({have})")
    path = online_path(ctx, n)
    if not path.exists():
        return ControlResult(False, f"cpu{n} cannot be switched: the kernel has no {path}")
    state = "online" if online else "offline"
    if is_online(ctx, n) == online:
        return ControlResult(True, f"cpu{n} is already {state}")
    result = write_privileged(ctx, path, "1" if online else "0")
    if not result.ok:
        return result
    if is_online(ctx, n) != online:
        return ControlResult(False, f"wrote {path} but cpu{n} is not {state}: the kernel refused "
                                    f"(the power mode may pin it)", strategy=result.strategy)
    return ControlResult(True, f"cpu{n} {state}", detail=result.detail, strategy=result.strategy)


def plan_mask(ctx: ControlContext, mask: Mask) -> tuple[list[tuple[int, bool]], str]:
    """The (core, online) steps that reach ``mask``: onlines first, so the machine never runs
    short of cores mid-way; or ("", why not) when the mask is impossible."""
    try:
        wanted = mask_to_cores(mask)
    except (TypeError, ValueError) as exc:
        return [], f"bad core mask {mask!r}: {exc}"
    if 0 not in wanted:
        return [], "cpu0 cannot be taken offline: the core mask must include cpu0"
    present = set(present_cores(ctx))
    missing = sorted(wanted - present)
    if missing:
        return [], f"cpu{missing[0]} does not exist here (present: {sorted(present)})"
    online = set(online_cores(ctx))
    steps = [(n, True) for n in sorted(wanted - online)]
    steps += [(n, False) for n in sorted(online - wanted)]
    return steps, ""

