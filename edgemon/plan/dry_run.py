"""``edgemon run --dry-run``: what a run (a profile's plan, or a plain run) would do, when, and
whether this machine can do it, without running it.

The plan is laid out on the wall clock from now: cool-down, idle baseline, each repetition with
its rest and its schedule, the total length. Then the checks: the runner's script and options,
the model actually built by the runner in a worker (one iteration, not recorded), the
telemetry the cool-down waits for, the machine controls the schedule uses (power mode, cores,
jetson_clocks, fan) and where it would record. Nothing is recorded and nothing is changed.
"""

from __future__ import annotations

import datetime as _dt
import os
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, TextIO

from edgemon.errors import UserError
from edgemon.plan.run_plan import Action, Cooldown, RunPlan
from edgemon.units import format_seconds


@dataclass
class Phase:
    """One step of the run: ``start_s`` from the session start (cool-downs taken as met at once)."""

    name: str
    start_s: float
    length_s: float | None           # None: until the worker ends / you quit, or unknown
    detail: str = ""
    actions: list[tuple[float, str]] = field(default_factory=list)   # (from the session start, what)


@dataclass
class Check:
    what: str
    ok: bool
    detail: str = ""


# ---------------------------------------------------------------------------- the plan

def phases(config) -> tuple[list[Phase], list[str]]:
    """The run as phases, and notes on what makes the times uncertain."""
    notes: list[str] = []
    if config.plan is None:
        wl = config.workload
        return [Phase("run", 0.0, config.duration_s, f"{wl.runner}/{wl.model}")], notes
    plan = RunPlan.of(config.plan)
    out: list[Phase] = []
    t = 0.0
    cd = plan.cooldown
    if cd:
        out.append(Phase("cool-down", t, None, _cooldown_text(cd)))
        notes.append(f"the cool-down ends when its condition holds: up to {format_seconds(cd.timeout_s)} "
                     "more" + (" before every repetition" if cd.every_repetition else ""))
    if plan.idle_baseline_s:
        out.append(Phase("idle baseline", t, float(plan.idle_baseline_s), "no worker running; power for "
                         "energy above idle"))
        t += float(plan.idle_baseline_s)
    total = sum(int(it.repetitions) for it in plan.items)
    n = 0
    open_ended = False
    for item in plan.items:
        for a in item.setup:
            out.append(Phase(f"setup {a.action}", t, 0.0, _action_text(a)))
        for _ in range(int(item.repetitions)):
            if n and plan.rest_s:
                out.append(Phase("rest", t, float(plan.rest_s), "no worker running"))
                t += float(plan.rest_s)
            n += 1
            dur = item.duration_s
            wl = item.workload
            phase = Phase(f"repetition {n}/{total}", t, dur, f"{wl['runner']}/{wl['model']}"
                          + (f" batch {wl['batch']}" if wl.get("batch", 1) != 1 else ""))
            for a in plan.schedule:
                if dur is None or a.at_s < dur:
                    phase.actions.append((t + float(a.at_s), f"at {format_seconds(a.at_s)}: {_action_text(a)}"))
            out.append(phase)
            if dur is None:
                open_ended = True
                break
            t += float(dur)
        if open_ended:
            break
    notes.append("each repetition's clock starts once its model is loaded (seconds, more for big models)")
    if open_ended:
        notes.append("a repetition without a duration runs until its worker ends by itself")
    return out, notes


def _cooldown_text(cd: Cooldown) -> str:
    parts = []
    if cd.metric:
        parts.append(f"{cd.metric} < {cd.below_c:g} C")
    if cd.idle_s:
        parts.append(f"cpu_util_pct < {cd.idle_cpu_pct:g} % for {format_seconds(cd.idle_s)}")
    return (f"until {' and '.join(parts)}; at most {format_seconds(cd.timeout_s)}, then "
            f"{'stop' if cd.on_timeout == 'stop' else 'go on'}")


def _action_text(a: Action) -> str:
    value = a.value
    if a.action == "mark":
        return f"mark {value!r}"
    if a.action == "jetson_clocks":
        return f"jetson_clocks {'on' if value else 'off'}"
    if a.action == "fan":
        return f"fan {value:g} %"
    if a.action == "cores":
        return f"cores {','.join(str(c) for c in value)}"
    return f"{a.action} {value}"


def layout(config, now: _dt.datetime) -> list[str]:
    """The plan on the wall clock, starting ``now``."""
    plan = RunPlan.of(config.plan) if config.plan is not None else None
    lines = []
    if plan is not None:
        name = f" ({plan.name!r})" if plan.name else ""
        lines.append(f"plan     {Path(plan.source).absolute() if plan.source else '--repetitions'}{name}"
                     + (f", time scale {plan.time_scale:g}" if plan.time_scale not in (None, 1) else ""))
    lines.append(f"start    {now:%Y-%m-%d %H:%M:%S} (now)")
    found, notes = phases(config)
    end = 0.0
    bounded = True
    for ph in found:
        at = now + _dt.timedelta(seconds=ph.start_s)
        length = "until it ends" if ph.length_s is None else format_seconds(ph.length_s)
        if ph.name == "cool-down":
            length = ""
        lines.append(f"  {at:%H:%M:%S}  {ph.name:<16} {(length + '  ') if length else ''}{ph.detail}".rstrip())
        for at_s, what in ph.actions:
            lines.append(f"  {now + _dt.timedelta(seconds=at_s):%H:%M:%S}    {what}")
        if ph.length_s is None and ph.name != "cool-down":
            bounded = False
        else:
            end = max(end, ph.start_s + (ph.length_s or 0.0))
    if bounded:
        lines.append(f"  {now + _dt.timedelta(seconds=end):%H:%M:%S}  end")
        lines.append(f"total    {format_seconds(round(end, 3))}")
    else:
        lines.append("total    open-ended (until the worker ends or you quit)")
    lines += [f"         ({note})" for note in notes]
    return lines


# ---------------------------------------------------------------------------- the checks

def check_machine(config, *, progress: Callable[[str], None] | None = None, build_timeout_s: float = 300.0
                  ) -> list[Check]:
    """What this machine says about the run: every check, passed or not (never raises for them)."""
    say = progress or (lambda _line: None)
    checks: list[Check] = []
    specs = _workloads(config)
    for spec in specs:
        checks += _check_workload(spec, say, build_timeout_s)
    board = None
    root = Path(config.sysfs_root)
    executables: dict[str, str] = {}
    try:
        if config.emulate:
            from edgemon.emulate import EmulatedBoard

            say(f"starting the emulated {config.emulate} ...")
            board = EmulatedBoard(config.emulate).start()
            root, executables = board.root, dict(board.executables)
        from edgemon.platform.detect import detect

        platform_info = detect(root)
        checks += _check_telemetry(config, root, executables, platform_info)
        checks += _check_controls(config, root, executables, platform_info)
    except Exception as exc:  # noqa: BLE001 - a check that cannot run is a failed check
        checks.append(Check("this machine", False, f"{type(exc).__name__}: {exc}"))
    finally:
        if board is not None:
            board.stop()
    checks.append(_check_record(config))
    return checks


def _workloads(config) -> list:
    if config.plan is None:
        return [config.workload]
    from edgemon.plan.runner import workload_specs

    seen, out = set(), []
    for spec in workload_specs(config.plan):
        key = (spec.runner, spec.model, spec.batch, spec.threads, spec.python, tuple(sorted(spec.options.items())))
        if key not in seen:
            seen.add(key)
            out.append(spec)
    return out


def _check_workload(spec, say, timeout_s: float) -> list[Check]:
    from edgemon.workload import registry
    from edgemon.workload.matrix import OK, run_cell

    label = f"runner {spec.runner}"
    if spec.is_watch:
        return []
    if spec.is_command:     # a dry run never runs the user's own program
        label = f"command {' '.join(spec.command or [])}"
        try:
            registry.validate(spec)
        except UserError as exc:
            return [Check(label, False, str(exc))]
        return [Check(label, True, "found; not started in a dry run")]
    try:
        registry.validate(spec)
    except UserError as exc:
        return [Check(label, False, str(exc))]
    status = next((r for r in registry.runner_statuses() if r["name"] == spec.runner), None)
    if spec.python is None and status is not None and not status["available"]:
        return [Check(label, False, status["reason"])]
    version = f" ({status['framework']} {status['version']})" if status and status.get("version") else ""
    out = [Check(label, True, f"script and options check out{version}")]
    say(f"building {spec.model} with the {spec.runner} runner (one iteration, not recorded) ...")
    cell = run_cell(replace(spec, warmup_iters=0, warmup_s=0.0), iterations=1, timeout_s=timeout_s)
    what = f"model {spec.model} builds and runs"
    if cell.status == OK:
        parts = [f"build {cell.build_ms:.0f} ms" if isinstance(cell.build_ms, (int, float)) else "",
                 f"one iteration {cell.median_ms:.3g} ms" if cell.median_ms is not None else "",
                 f"on {cell.device}" if cell.device else ""]
        out.append(Check(what, True, ", ".join(p for p in parts if p)))
    else:
        out.append(Check(what, False, f"{cell.status}: {cell.reason}"))
    return out


def _check_telemetry(config, root: Path, executables: dict[str, str], platform_info) -> list[Check]:
    cd = RunPlan.of(config.plan).cooldown if config.plan is not None else None
    if cd is None or (not cd.metric and not cd.idle_s):
        return []
    from edgemon.telemetry.base import SourceContext
    from edgemon.telemetry.registry import build_sources

    sources, _statuses = build_sources(SourceContext(root=root, sample_hz=config.sample_hz,
                                                     executables=executables), platform_info)
    values: dict[str, float] = {}
    try:
        for n in range(2):          # rates (cpu_util_pct) need two reads
            if n:
                time.sleep(0.3)
            for src in sources:
                try:
                    values.update(src.read())
                except Exception:  # noqa: BLE001 - one source failing is not this check's subject
                    continue
    finally:
        for src in sources:
            close = getattr(src, "close", None)
            if callable(close):
                try:
                    close()
                except Exception:  # noqa: BLE001 - a source that cannot close is not this check's subject
                    pass
    out = []
    for metric in [m for m in (cd.metric, "cpu_util_pct" if cd.idle_s else None) if m]:
        if metric in values:
            out.append(Check(f"cool-down metric {metric}", True, f"in the telemetry here (now {values[metric]:.1f})"))
        else:
            out.append(Check(f"cool-down metric {metric}", False,
                             "not in the telemetry here; the cool-down would be skipped (see `edgemon info`)"))
    return out


def _actions(plan: RunPlan | dict[str, Any] | None) -> list[Action]:
    """The machine changes a plan makes (marks need no control)."""
    if not plan:
        return []
    return [a for a in RunPlan.of(plan).actions() if a.action != "mark"]


def _check_controls(config, root: Path, executables: dict[str, str], platform_info) -> list[Check]:
    actions = _actions(config.plan)
    if not actions:
        return []
    needed: dict[str, list[str]] = {}
    for a in actions:
        needed.setdefault(a.action, []).append(a.key or "schedule")
    if getattr(platform_info, "kind", "") != "jetson":
        return [Check(f"control {name}", False, f"no machine controls here (not a Jetson): {', '.join(keys)} would "
                      "be recorded as failed") for name, keys in needed.items()]
    from edgemon.control import Controls
    from edgemon.plan.runner import check_against_machine

    out = []
    try:
        check_against_machine(config.plan, root, executables, platform_info)
    except UserError as exc:
        out.append(Check("power modes and cores named in the plan", False, str(exc)))
    available = Controls(root, executables).available()
    for name, keys in needed.items():
        st = available.get(name)
        if st is None or not st.available:
            out.append(Check(f"control {name}", False, (st.reason if st else "unknown control")
                             + f" ({', '.join(keys)})"))
        else:
            out.append(Check(f"control {name}", True, st.detail))
    return out


def _check_record(config) -> Check:
    if not config.record:
        return Check("recording", True, "off (--no-record)")
    if config.record_dir is not None:
        folder = Path(os.path.abspath(config.record_dir))
        if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
            return Check(f"record into {folder}", False, "exists and is not an empty folder; pick a new one")
    else:
        folder = Path(os.path.abspath(config.recordings_root)) / "<date>-<host>-<workload>"
    parent = folder.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not os.access(parent, os.W_OK | os.X_OK):
        return Check(f"record into {folder}", False, f"{parent} is not writable")
    return Check(f"record into {folder}", True, "writable")


# ---------------------------------------------------------------------------- the command

def dry_run(config, *, out: TextIO | None = None, now: _dt.datetime | None = None) -> int:
    """Print the plan and the checks; 0 when every check passed, 1 otherwise. Starts nothing."""
    out = out or sys.stdout
    for line in layout(config, now or _dt.datetime.now()):
        print(line, file=out)
    print("checks against this machine" + (f" (emulated {config.emulate})" if config.emulate else "") + ":",
          file=out, flush=True)
    checks = check_machine(config, progress=lambda line: print(f"  ... {line}", file=sys.stderr, flush=True))
    for c in checks:
        print(f"  {'ok  ' if c.ok else 'FAIL'}  {c.what}" + (f": {c.detail}" if c.detail else ""), file=out)
    failed = [c for c in checks if not c.ok]
    print(f"dry run: nothing was started; {len(failed)} check{'s' if len(failed) != 1 else ''} failed"
          if failed else "dry run: nothing was started; every check passed", file=out, flush=True)
    return 1 if failed else 0
