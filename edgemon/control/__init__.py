"""Machine controls: power mode, CPU cores, jetson_clocks, fan -- one facade for the session.

Every change (and every refused or failed one) is reported to ``on_event`` as
an :class:`~edgemon.datatypes.Event`, so a recording shows what was changed,
by which strategy, and why something could not be.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

from edgemon.control import cpu_cores, fan, jetson_clocks, nvpmodel, snapshot
from edgemon.control.context import ControlContext, ControlResult
from edgemon.control.cpu_cores import Mask
from edgemon.control.jetson_clocks import ClocksState
from edgemon.control.machine_view import MachineView
from edgemon.control.nvpmodel import PowerMode
from edgemon.control.privilege import Jtop
from edgemon.control.snapshot import MachineState
from edgemon.datatypes import Event, EventKind

__all__ = ["Controls", "ControlStatus", "ControlResult", "ControlContext", "MachineState", "PowerMode",
           "ClocksState"]


@dataclass
class ControlStatus:
    """What ``edgemon info`` says about one control."""

    name: str              # power_mode, cores, jetson_clocks, fan (as MachineView.unavailable)
    available: bool
    reason: str = ""       # why not
    detail: str = ""


class Controls:
    def __init__(self, root: Path = Path("/"), executables: dict[str, str] | None = None, *,
                 on_event: Callable[[Event], None] | None = None, is_root: bool | None = None,
                 user: str | None = None, state_dir: Path | None = None, timeout_s: float = 10.0,
                 jtop_socket: str = "/run/jtop.sock"):
        ctx = ControlContext(Path(root), dict(executables or {}), timeout_s=timeout_s, jtop_socket=jtop_socket)
        if is_root is not None:
            ctx.is_root = is_root
        elif ctx.root != Path("/"):
            # A fixture tree or an emulated board: its files and tools need no sudo. (Real /sys
            # mounted elsewhere still fails clearly: Direct reports the sudoers line on EACCES.)
            ctx.is_root = True
        if user is not None:
            ctx.user = user
        self.ctx = ctx
        self.on_event = on_event
        self.state_dir = Path(state_dir) if state_dir is not None else None
        self.clocks_store: Path | None = None    # where `jetson_clocks --store` saved the way back
        self._table: nvpmodel.ModeTable | None = None
        self._unavailable_cache: dict[str, str] | None = None
        self._view = None              # last MachineView, re-read after VIEW_MAX_AGE_S or a change
        self._view_t = 0.0

    def mode_table(self) -> nvpmodel.ModeTable:
        """The board's power modes, read once (the conf does not change while we run)."""
        if self._table is None or not self._table.modes:
            self._table = nvpmodel.load_modes(self.ctx)
        return self._table

    # -- what is here ----------------------------------------------------------------------
    def available(self) -> dict[str, ControlStatus]:
        ctx, out = self.ctx, {}
        if ctx.executable("nvpmodel") is None:
            out["power_mode"] = ControlStatus("power_mode", False, "no nvpmodel: not a Jetson")
        else:
            table = self.mode_table()
            mode = nvpmodel.current_mode(ctx, table)
            out["power_mode"] = ControlStatus(
                "power_mode", bool(table.modes), table.reason,
                f"{len(table.modes)} modes ({table.source}); current "
                f"{mode.label() if mode else 'unknown'}; {self.strategy_description()}")
        hot = cpu_cores.hotpluggable_cores(ctx)
        out["cores"] = ControlStatus(
            "cores", bool(hot),
            "" if hot else f"no CPU hot-plug: no {cpu_cores.online_path(ctx, 1)}",
            f"cpu{hot[0]}-cpu{hot[-1]} switchable; cpu0 stays on" if hot else "")
        if ctx.executable("jetson_clocks") is None:
            out["jetson_clocks"] = ControlStatus("jetson_clocks", False, "no jetson_clocks: not a Jetson")
        else:
            st = jetson_clocks.state(ctx)
            out["jetson_clocks"] = ControlStatus(
                "jetson_clocks", True, "",
                f"{'on' if st.on else 'off' if st.on is False else 'state unknown'} ({st.source})")
        found = fan.find_fan(ctx)
        out["fan"] = ControlStatus(
            "fan", found is not None,
            "" if found else f"no fan: no pwm file under {ctx.path(fan.HWMON_DIR)}",
            f"{found.name} at {found.pwm_path}, PWM {fan.get_pwm(ctx, found)}" if found else "")
        return out

    def strategy_description(self) -> str:
        if self.ctx.is_root:
            return "changes run directly" + (" (root)" if self.ctx.root == Path("/") else "")
        ok = Jtop.probe(self.ctx)[0]
        via = "the jtop service, then sudo -n" if ok else "sudo -n"
        return f"changes run through {via} (see `sudoers_lines()` for the rules it needs)"

    def sudoers_lines(self) -> list[str]:
        """The sudoers rules that let a non-root user make every change edgemon can make here."""
        ctx, commands = self.ctx, []
        for tool in ("nvpmodel", "jetson_clocks"):
            exe = ctx.executable(tool)
            if exe:
                commands.append(exe)
        tee = ctx.executable("tee") or "/usr/bin/tee"
        commands += [f"{tee} {cpu_cores.online_path(ctx, n)}" for n in cpu_cores.hotpluggable_cores(ctx)]
        found = fan.find_fan(ctx)
        if found:
            commands += [f"{tee} {p}" for p in (found.pwm_path, found.auto_path) if p is not None]
        return [ctx.sudoers_line(c) for c in commands]

    def has_jetson_clocks(self) -> bool:
        return self.ctx.executable("jetson_clocks") is not None

    # -- power mode ------------------------------------------------------------------------
    def power_modes(self) -> list[PowerMode]:
        return self.mode_table().modes

    def power_mode(self) -> PowerMode | None:
        if self.ctx.executable("nvpmodel") is None and not self.ctx.path(nvpmodel.STATUS_PATH).exists():
            return None
        return nvpmodel.current_mode(self.ctx, self.mode_table())

    def set_power_mode(self, mode: int | str) -> ControlResult:
        """Switch to a mode by id (``2``, ``"2"``) or name (``"MODE_15W"``)."""
        before = self.power_mode()
        mode_id = self._mode_id(mode)
        if isinstance(mode_id, ControlResult):
            result = mode_id
        else:
            result = nvpmodel.set_mode(self.ctx, mode_id, self.mode_table(), before.id if before else None)
        after = mode_id if isinstance(mode_id, int) else mode
        self._emit(EventKind.POWER_MODE, "power_mode", before.id if before else None, after, result,
                   from_id=before.id if before else None, to_id=after,
                   name=self._mode_name(after))
        return result

    def _mode_id(self, mode: int | str) -> int | ControlResult:
        if isinstance(mode, int) and not isinstance(mode, bool):
            return mode
        text = str(mode).strip()
        if text.isdigit():
            return int(text)
        table = self.mode_table()
        found = table.by_name(text)
        if found is None:
            known = ", ".join(m.label() for m in table.modes) or "none found"
            return ControlResult(False, f"unknown power mode {text!r}: this board has {known}")
        return found.id

    def _mode_name(self, mode_id: Any) -> str | None:
        if not isinstance(mode_id, int):
            return None
        found = self.mode_table().get(mode_id)
        return found.name if found else None

    # -- CPU cores -------------------------------------------------------------------------
    def online_cores(self) -> list[int]:
        return cpu_cores.online_cores(self.ctx)

    def present_cores(self) -> list[int]:
        return cpu_cores.present_cores(self.ctx)

    def set_core(self, n: int, online: bool) -> ControlResult:
        before = cpu_cores.is_online(self.ctx, n) if isinstance(n, int) and n >= 0 else None
        result = cpu_cores.set_core(self.ctx, n, online)
        self._emit(EventKind.CORE_ONLINE, "core_online", before, bool(online), result, cpu=n,
                   online=bool(online))
        return result

    def set_cores(self, mask: Mask) -> list[ControlResult]:
        """Make exactly the cores in ``mask`` (bitmask or list) online; cpu0 must be in it."""
        steps, why = cpu_cores.plan_mask(self.ctx, mask)
        if why:
            result = ControlResult(False, why)
            self._emit(EventKind.CORE_ONLINE, "core_online", self.online_cores(), str(mask), result)
            return [result]
        return [self.set_core(n, on) for n, on in steps]

    # -- jetson_clocks ---------------------------------------------------------------------
    def jetson_clocks_state(self) -> ClocksState:
        return jetson_clocks.state(self.ctx)

    def store_clocks(self, file: Path | None = None) -> ControlResult:
        """``jetson_clocks --store``; remembered as the way back for ``set_jetson_clocks(False)``."""
        path = Path(file) if file is not None else self._default_store()
        if self.state_dir is not None and path.parent == self.state_dir:
            # In the session folder: jetson_clocks (often as root) writes into a new file
            # created here, never through a link planted under its name.
            from edgemon.recording.safe_io import create_exclusive

            try:
                os.close(create_exclusive(path, replace_stale=True))
            except OSError as exc:
                return ControlResult(False, f"cannot create {path} for jetson_clocks --store: {exc.strerror or exc}")
        result = jetson_clocks.store(self.ctx, path)
        if result.ok:
            self.clocks_store = path
        return result

    def set_jetson_clocks(self, on: bool, *, store_file: Path | None = None) -> ControlResult:
        """On: store the current limits first (once), then ``jetson_clocks``. Off: ``--restore``
        from the stored file; without one, re-apply the power mode (nvpmodel resets the clocks)."""
        before = self.jetson_clocks_state().on
        if store_file is not None:
            self.clocks_store = Path(store_file)
        if on:
            if self.clocks_store is None and before is False and self.has_jetson_clocks():
                stored = self.store_clocks()
                if not stored.ok and not stored.denied:
                    self._emit(EventKind.JETSON_CLOCKS, "jetson_clocks", before, True, stored)
                    return stored
            result = jetson_clocks.enable(self.ctx)
        else:
            result = self._clocks_off()
        self._emit(EventKind.JETSON_CLOCKS, "jetson_clocks", before, bool(on), result,
                   stored=str(self.clocks_store) if self.clocks_store else None)
        return result

    def _clocks_off(self) -> ControlResult:
        if self.clocks_store is not None and self.clocks_store.exists():
            return jetson_clocks.restore(self.ctx, self.clocks_store)
        if not self.ctx.is_root and Jtop.probe(self.ctx)[0]:
            return jetson_clocks.restore(self.ctx, None)
        mode = self.power_mode()
        if mode is None or not self.has_jetson_clocks():
            return jetson_clocks.restore(self.ctx, None)
        result = nvpmodel.set_mode(self.ctx, mode.id, self.mode_table())
        if result.ok:
            result.message = (f"jetson_clocks off: no stored clock settings, so power mode {mode.label()} "
                              f"was re-applied to reset the clocks")
        return result

    def _default_store(self) -> Path:
        if self.state_dir is None:
            self.state_dir = Path(tempfile.mkdtemp(prefix="edgemon-clocks-"))
        self.state_dir.mkdir(parents=True, exist_ok=True)
        return self.state_dir / "l4t_dfs.conf"

    # -- fan -------------------------------------------------------------------------------
    def fan_speed(self) -> float | None:
        return fan.get_speed(self.ctx)

    def fan_pwm(self) -> int | None:
        return fan.get_pwm(self.ctx)

    def set_fan_speed(self, percent: float) -> ControlResult:
        before = self.fan_pwm()
        result = fan.set_speed(self.ctx, percent)
        to = fan.percent_to_pwm(float(percent)) if result.ok else percent
        self._emit(EventKind.FAN, "fan", before, to, result, percent=percent)
        return result

    def fan_auto(self) -> str | None:
        """Content of the fan's control file (pwm1_enable / temp_control); "1" = automatic."""
        return fan.get_auto(self.ctx)

    def set_fan_auto(self, value: str) -> ControlResult:
        before = self.fan_auto()
        result = fan.set_auto(self.ctx, value)
        self._emit(EventKind.FAN, "fan_auto", before, value, result)
        return result

    def set_fan_pwm(self, pwm: int) -> ControlResult:
        before = self.fan_pwm()
        result = fan.set_pwm(self.ctx, pwm)
        self._emit(EventKind.FAN, "fan", before, pwm, result)
        return result

    # -- the dashboard's view and commands (edgemon.feeds.base contract) ------------------------
    VIEW_MAX_AGE_S = 5.0   # the dashboard polls several times a second; the machine is re-read this often

    def view(self):
        """A :class:`~edgemon.control.machine_view.MachineView` of what can be changed here and why not.

        Cheap on purpose (the dashboard asks on every redraw): availability is worked out once,
        the state is re-read at most every ``VIEW_MAX_AGE_S`` (or right after a change made here),
        and jetson_clocks is judged from sysfs, never by running ``jetson_clocks --show``."""
        now = time.monotonic()
        if self._view is not None and now - self._view_t < self.VIEW_MAX_AGE_S:
            return replace(self._view)
        unavailable = self._unavailable()
        mode = self.power_mode() if "power_mode" not in unavailable else None
        self._view = MachineView(
            power_modes=[{"id": m.id, "name": m.name} for m in self.power_modes()] if mode else [],
            power_mode_id=mode.id if mode else None,
            power_mode_name=mode.name if mode else "",
            cpu_count=len(self.present_cores()),
            online_cores=self.online_cores(),
            jetson_clocks=(jetson_clocks.sysfs_state(self.ctx).on
                           if "jetson_clocks" not in unavailable else None),
            fan_pct=self.fan_speed(),
            unavailable=dict(unavailable),
        )
        self._view_t = now
        return replace(self._view)

    def _unavailable(self) -> dict[str, str]:
        """Control name -> why it cannot be used here; worked out once (tools and files do not come and go)."""
        if self._unavailable_cache is None:
            ctx, out = self.ctx, {}
            if ctx.executable("nvpmodel") is None:
                out["power_mode"] = "no nvpmodel: not a Jetson"
            elif not self.mode_table().modes:
                out["power_mode"] = self.mode_table().reason or "nvpmodel lists no power modes"
            if not cpu_cores.hotpluggable_cores(ctx):
                out["cores"] = f"no CPU hot-plug: no {cpu_cores.online_path(ctx, 1)}"
            if ctx.executable("jetson_clocks") is None:
                out["jetson_clocks"] = "no jetson_clocks: not a Jetson"
            if fan.find_fan(ctx) is None:
                out["fan"] = f"no fan: no pwm file under {ctx.path(fan.HWMON_DIR)}"
            self._unavailable_cache = out
        return self._unavailable_cache

    def apply(self, name: str, **kw: Any) -> ControlResult:
        """One dashboard command: ``power_mode(id=N)``, ``core(cpu=N, online=bool)``,
        ``jetson_clocks(on=bool)``, ``fan(pct=N)``. Never raises for bad arguments."""
        try:
            if name == "power_mode":
                return self.set_power_mode(kw["id"])
            if name == "core":
                cpu = kw["cpu"]
                return self.set_core(int(cpu) if isinstance(cpu, str) and cpu.strip().isdigit() else cpu,
                                     bool(kw["online"]))
            if name == "jetson_clocks":
                return self.set_jetson_clocks(bool(kw["on"]))
            if name == "fan":
                return self.set_fan_speed(kw["pct"])
        except KeyError as missing:
            return ControlResult(False, f"{name}: missing argument {missing}")
        return ControlResult(False, f"{name}: not a machine control (power_mode, core, jetson_clocks, fan)")

    # -- snapshot --------------------------------------------------------------------------
    def capture(self, store_file: Path | None = None) -> MachineState:
        """The state to come back to (see :mod:`edgemon.control.snapshot`).

        The jetson_clocks settings are stored in ``store_file``, else in ``state_dir`` (pass the
        recording folder), else -- as root only, where it costs no sudo attempt -- in a temp dir."""
        if store_file is None and (self.state_dir is not None or self.ctx.is_root):
            store_file = self._default_store()
        state = snapshot.capture(self, store_file)
        if state.jetson_clocks_store:
            self.clocks_store = Path(state.jetson_clocks_store)
        return state

    def restore(self, state: MachineState) -> list[ControlResult]:
        return snapshot.restore(self, state)

    # -- events ----------------------------------------------------------------------------
    def _emit(self, kind: str, control: str, before: Any, after: Any, result: ControlResult,
              **extra: Any) -> None:
        self._view = None     # something was attempted: the next view() reads the machine again
        if self.on_event is None:
            return
        if result.ok and not result.strategy:
            return        # nothing ran: the machine was already there
        details = {"control": control, "from": before, "to": after, "ok": result.ok,
                   "message": result.message, "strategy": result.strategy, **extra}
        self.on_event(Event(time.monotonic_ns(), kind if result.ok else EventKind.CONTROL_FAILED, details))
