"""How a control gets root: directly, through ``sudo -n``, or through the jtop service.

Commands never get anything on stdin (``stdin=DEVNULL``): a tool that asks a
question (``nvpmodel`` before a reboot) reads end-of-file, never an answer.
Every failure comes back as a :class:`ControlResult` whose message says what
to configure; nothing here raises for a missing privilege or tool.
"""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from edgemon.control.context import JTOP_HINT, ControlContext, ControlResult

# What sudo prints when it refuses (`sudo -n` never prompts).
_SUDO_REFUSED = re.compile(
    r"^sudo: |is not allowed to execute|is not in the sudoers file|may not run sudo", re.M
)
# What a tool prints when it was started without root anyway.
_TOOL_NEEDS_ROOT = re.compile(r"run as root|as a root user|Sudo permissions are required|"
                              r"Permission denied|Operation not permitted", re.I)


@dataclass
class ProcessOutcome:
    returncode: int | None    # None when it timed out or could not start
    output: str               # stdout and stderr, interleaved
    timed_out: bool = False
    error: str = ""           # why it could not start


def run_process(argv: Sequence[str], timeout: float, input_text: str | None = None) -> ProcessOutcome:
    """Run ``argv`` with stdin closed (or fed ``input_text``); kill its whole group on timeout."""
    try:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE if input_text is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True,   # own process group, so a timeout kills sudo and its child
        )
    except OSError as exc:
        return ProcessOutcome(None, "", error=f"cannot run {argv[0]}: {exc.strerror or exc}")
    try:
        raw, _ = proc.communicate(input=input_text.encode() if input_text is not None else None,
                                  timeout=timeout)
        return ProcessOutcome(proc.returncode, raw.decode("utf-8", "replace"))
    except subprocess.TimeoutExpired:
        out = _stop_group(proc)
        return ProcessOutcome(None, out, timed_out=True)


def _stop_group(proc: subprocess.Popen) -> str:
    # SIGTERM first: sudo relays it to the command; SIGKILL if that is not enough.
    for sig, wait_s in ((signal.SIGTERM, 1.0), (signal.SIGKILL, 2.0)):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            out, _ = proc.communicate(timeout=wait_s)
            return (out or b"").decode("utf-8", "replace")
        except subprocess.TimeoutExpired:
            continue
    return ""


def _tail(text: str, lines: int = 3) -> str:
    kept = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return " / ".join(kept[-lines:])


def _command_result(argv: Sequence[str], outcome: ProcessOutcome, strategy: str,
                    timeout: float) -> ControlResult:
    name = Path(argv[0]).name
    if outcome.error:
        return ControlResult(False, outcome.error, strategy=strategy)
    if outcome.timed_out:
        return ControlResult(False, f"{name} did not finish within {timeout:g} s and was stopped",
                             detail=outcome.output, strategy=strategy)
    if outcome.returncode != 0:
        why = _tail(outcome.output) or "no output"
        return ControlResult(False, f"{name} failed (exit {outcome.returncode}): {why}",
                             detail=outcome.output, strategy=strategy)
    return ControlResult(True, f"{' '.join([name, *argv[1:]])}: done", detail=outcome.output,
                         strategy=strategy)


class Runner:
    """A way to run a command or write a file with root rights."""

    name = "runner"

    def run_command(self, argv: Sequence[str], timeout: float) -> ControlResult:
        raise NotImplementedError

    def write_file(self, path: Path, text: str, timeout: float = 10.0) -> ControlResult:
        raise NotImplementedError


class Direct(Runner):
    """We are root: run the tool, write the file."""

    name = "direct"

    def __init__(self, ctx: ControlContext):
        self.ctx = ctx

    def run_command(self, argv: Sequence[str], timeout: float) -> ControlResult:
        outcome = run_process(argv, timeout)
        result = _command_result(argv, outcome, self.name, timeout)
        if not result.ok and _TOOL_NEEDS_ROOT.search(outcome.output):
            result.denied = True
            result.message = self.ctx.needs_root(Path(argv[0]).name, argv[0]) + f" ({result.message})"
        return result

    def write_file(self, path: Path, text: str, timeout: float = 10.0) -> ControlResult:
        try:
            with open(path, "w") as f:
                f.write(text)
        except OSError as exc:
            denied = isinstance(exc, PermissionError)
            msg = f"cannot write {text.strip()!r} to {path}: {exc.strerror or exc}"
            if denied:
                msg = self.ctx.needs_root(f"writing {path}", f"{self._tee()} {path}") + f" ({msg})"
            return ControlResult(False, msg, strategy=self.name, denied=denied)
        return ControlResult(True, f"wrote {text.strip()!r} to {path}", strategy=self.name)

    def _tee(self) -> str:
        return self.ctx.executable("tee") or "/usr/bin/tee"


class Sudo(Runner):
    """Not root: ``sudo -n <cmd>``, and ``sudo -n tee <path>`` for sysfs writes. Never prompts."""

    name = "sudo"

    def __init__(self, ctx: ControlContext):
        self.ctx = ctx
        self.sudo = ctx.executable("sudo")
        self.tee = ctx.executable("tee") or "/usr/bin/tee"

    def _missing(self, what: str, sudoers_command: str) -> ControlResult:
        return ControlResult(False, f"{what} needs root and sudo is not installed: run edgemon as root"
                             f" (or install sudo and add `{self.ctx.sudoers_line(sudoers_command)}`)",
                             strategy=self.name, denied=True)

    def run_command(self, argv: Sequence[str], timeout: float) -> ControlResult:
        what = Path(argv[0]).name
        if self.sudo is None:
            return self._missing(what, argv[0])
        outcome = run_process([self.sudo, "-n", "--", *argv], timeout)
        return self._judge(outcome, argv, what, argv[0], timeout)

    def write_file(self, path: Path, text: str, timeout: float = 10.0) -> ControlResult:
        what = f"writing {path}"
        command = f"{self.tee} {path}"
        if self.sudo is None:
            return self._missing(what, command)
        outcome = run_process([self.sudo, "-n", "--", self.tee, str(path)], timeout, input_text=text)
        result = self._judge(outcome, [self.tee, str(path)], what, command, timeout)
        if result.ok:
            result.message = f"wrote {text.strip()!r} to {path}"
        return result

    def _judge(self, outcome: ProcessOutcome, argv: Sequence[str], what: str, sudoers_command: str,
               timeout: float) -> ControlResult:
        if outcome.returncode not in (0, None) and (_SUDO_REFUSED.search(outcome.output)
                                                   or _TOOL_NEEDS_ROOT.search(outcome.output)):
            return ControlResult(False, self.ctx.needs_root(what, sudoers_command),
                                 detail=outcome.output, strategy=self.name, denied=True)
        return _command_result(argv, outcome, self.name, timeout)


class Jtop(Runner):
    """The jetson-stats service (a root daemon behind ``/run/jtop.sock``).

    It can switch power modes, jetson_clocks and fan speed, but cannot run
    arbitrary commands or write files. ``jtop`` is imported only here, lazily:
    jetson-stats is an optional extra.
    """

    name = "jtop"
    CHECK_SAMPLES = 10   # how many service samples to wait for a change to show (as `jtop --restore` does)

    def __init__(self, ctx: ControlContext):
        self.ctx = ctx

    @staticmethod
    def probe(ctx: ControlContext) -> tuple[bool, str]:
        sock = ctx.path(ctx.jtop_socket)
        if not sock.exists():
            return False, f"jtop service not running (no {sock})"
        if importlib.util.find_spec("jtop") is None:
            return False, "jtop service runs but the jetson-stats Python package is not installed here"
        return True, ""

    def run_command(self, argv: Sequence[str], timeout: float) -> ControlResult:
        return ControlResult(False, "the jtop service cannot run commands", strategy=self.name, denied=True)

    def write_file(self, path: Path, text: str, timeout: float = 10.0) -> ControlResult:
        return ControlResult(False, "the jtop service cannot write files", strategy=self.name, denied=True)

    def _session(self, action: Callable[[object], ControlResult], what: str) -> ControlResult:
        try:
            from jtop import jtop as JtopClient   # optional extra jetson-stats; lazy on purpose
        except Exception as exc:  # ImportError, or a broken install
            return ControlResult(False, f"jtop: cannot import jetson-stats ({exc})", strategy=self.name,
                                 denied=True)
        try:
            with JtopClient() as jetson:
                result = action(jetson)
        except Exception as exc:  # JtopException, lost connection, version mismatch...
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return ControlResult(False, f"jtop service could not {what}: {first}", strategy=self.name,
                                 denied=True)
        result.strategy = self.name
        return result

    def _wait_for(self, jetson, check: Callable[[], bool]) -> bool:
        for _ in range(self.CHECK_SAMPLES):
            if check():
                return True
            if not jetson.ok():
                break
        return check()

    def set_power_mode(self, mode_id: int) -> ControlResult:
        def act(jetson) -> ControlResult:
            if getattr(jetson, "nvpmodel", None) is None:
                return ControlResult(False, "jtop service has no nvpmodel on this board", denied=True)
            jetson.nvpmodel = mode_id
            if self._wait_for(jetson, lambda: int(jetson.nvpmodel.id) == mode_id):
                return ControlResult(True, f"power mode set to {mode_id} by the jtop service")
            return ControlResult(False, f"jtop service did not switch to power mode {mode_id}")
        return self._session(act, f"set power mode {mode_id}")

    def set_jetson_clocks(self, on: bool) -> ControlResult:
        def act(jetson) -> ControlResult:
            if getattr(jetson, "jetson_clocks", None) is None:
                return ControlResult(False, "jtop service has no jetson_clocks on this board", denied=True)
            jetson.jetson_clocks = on
            if self._wait_for(jetson, lambda: bool(jetson.jetson_clocks) == on):
                return ControlResult(True, f"jetson_clocks {'on' if on else 'off'} by the jtop service")
            return ControlResult(False, f"jtop service did not turn jetson_clocks {'on' if on else 'off'}")
        return self._session(act, f"turn jetson_clocks {'on' if on else 'off'}")

    def set_fan_speed(self, percent: float) -> ControlResult:
        def act(jetson) -> ControlResult:
            fans = getattr(jetson, "fan", None)
            if not fans:
                return ControlResult(False, "jtop service sees no fan", denied=True)
            name = next(iter(fans))
            fans.set_speed(name, percent)
            return ControlResult(True, f"fan {name} set to {percent:g}% by the jtop service")
        return self._session(act, f"set the fan to {percent:g}%")


def choose_strategy(ctx: ControlContext, *, jtop_capable: bool = False) -> list[Runner]:
    """The runners to try, in order: root -> Direct; otherwise the jtop service (when it runs
    and can do this action), then ``sudo -n``."""
    if ctx.is_root:
        return [Direct(ctx)]
    chain: list[Runner] = []
    if jtop_capable and Jtop.probe(ctx)[0]:
        chain.append(Jtop(ctx))
    chain.append(Sudo(ctx))
    return chain


def _through(ctx: ControlContext, attempt: Callable[[Runner], ControlResult],
             jtop_op: Callable[[Jtop], ControlResult] | None) -> ControlResult:
    failures: list[ControlResult] = []
    for runner in choose_strategy(ctx, jtop_capable=jtop_op is not None):
        result = jtop_op(runner) if isinstance(runner, Jtop) and jtop_op is not None else attempt(runner)
        if result.ok or not result.denied:
            return result
        failures.append(result)
    # Every strategy lacked rights: say what would fix each.
    last = failures[-1]
    message = last.message
    jtop_failures = [f.message for f in failures if f.strategy == "jtop"]
    if jtop_failures:
        message += f", or fix the jtop service ({jtop_failures[0]})"
    elif jtop_op is not None and not ctx.is_root and JTOP_HINT not in message:
        message += f", {JTOP_HINT}"
    return ControlResult(False, message, detail=last.detail, strategy=last.strategy, denied=True)


def run_privileged(ctx: ControlContext, argv: Sequence[str], *, timeout: float | None = None,
                   jtop_op: Callable[[Jtop], ControlResult] | None = None) -> ControlResult:
    """Run a root-only command through the first strategy that has the rights."""
    t = ctx.timeout_s if timeout is None else timeout
    return _through(ctx, lambda r: r.run_command(argv, t), jtop_op)


def write_privileged(ctx: ControlContext, path: Path, text: str, *,
                     jtop_op: Callable[[Jtop], ControlResult] | None = None) -> ControlResult:
    """Write a root-only sysfs file through the first strategy that has the rights."""
    return _through(ctx, lambda r: r.write_file(path, text, ctx.timeout_s), jtop_op)


def run_plain(ctx: ControlContext, argv: Sequence[str], timeout: float | None = None) -> ProcessOutcome:
    """Run a read-only query as whoever we are (no sudo: reads must not need it)."""
    return run_process(argv, ctx.timeout_s if timeout is None else timeout)
