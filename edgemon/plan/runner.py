"""Run a profile's plan on a :class:`~edgemon.session.live.LiveSession`: cool-down gate, idle
baseline, repetitions in fresh workers with a rest between, and a schedule of machine changes.

The plan (:class:`edgemon.plan.run_plan.RunPlan`; as its JSON object in ``RunConfig.plan``, so
that a detached session process runs it as well as an in-process one).
:class:`PlanRunner` is one thread; the session hands it samples, events and worker exits
(see the ``plan`` hooks in live.py). Everything it does is an event:

* ``phase`` events with ``name`` "cooldown", "idle_baseline", "rest" and "repetition": one
  with ``at: "start"`` when it begins and one with ``at: "end"`` and ``start_ns``/``end_ns``
  when it ends (repetitions also carry ``index``, ``item``, ``label``, ``workload``,
  ``outcome``); the analysis splits on them, energy takes its idle baseline from them;
* a ``phase`` event ``name: "schedule"`` for each scheduled action (ok, message), next to the
  control's own event (power_mode, core_online, ...); a failed action is a ``control_failed``
  event and the session goes on.

A repetition's clock (its ``duration`` and the schedule's ``at``) starts at the worker's hello,
when the model is loaded and the loop begins; warm-up is inside it, flagged by the runner.
A worker that crashes ends the session (state "crashed"), as it does without a profile.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from edgemon.datatypes import Event, EventKind
from edgemon.errors import UserError
from edgemon.feeds import commands as cmds
from edgemon.plan.run_plan import Action, Cooldown, PlanItem, RunPlan
from edgemon.units import format_seconds

_CONTROL_KINDS = (EventKind.POWER_MODE, EventKind.CORE_ONLINE, EventKind.JETSON_CLOCKS, EventKind.FAN,
                  EventKind.CONTROL_FAILED)
_TICK_S = 0.5                  # how often a waiting phase looks again (fixed delay; it never spins)
_METRIC_GRACE_S = 10.0         # a cool-down metric absent this long is never going to appear
PREFLIGHT_TIMEOUT_S = 600.0    # building a big model on a small board takes minutes


def simple_plan(workload: dict[str, Any], *, repetitions: int, duration_s: float | None) -> dict[str, Any]:
    """The plan of ``edgemon run --repetitions N`` without a profile, as its JSON object."""
    return RunPlan.single(workload, repetitions=repetitions, duration_s=duration_s).to_dict()


def workload_specs(plan: RunPlan | dict[str, Any]) -> list:
    from edgemon.workload.spec import WorkloadSpec

    return [WorkloadSpec(**item.workload) for item in RunPlan.of(plan).items]


def check_plan(plan: RunPlan | dict[str, Any], *, modes: list[tuple[int, str]] | None = None,
               board_title: str = "board", cpus: list[int] | None = None) -> None:
    """UserError (file:line: key: what) for what only the running machine can tell: a power mode
    unknown on this board, a core it does not have, a schedule time past a shortened duration."""
    from edgemon.plan.profile import power_mode_problem

    plan = RunPlan.of(plan)
    for item in plan.items:
        for a in list(plan.schedule) + list(item.setup):
            where = a.where or plan.source or "profile"
            key = f"{a.key}.{a.action}"
            if a.action == "power_mode" and modes:
                problem = power_mode_problem(a.value, modes, board_title)
                if problem:
                    raise UserError(f"{where}: {key}: {problem}")
            if a.action == "cores" and cpus:
                missing = [n for n in a.value if n not in cpus]
                if missing:
                    raise UserError(f"{where}: {key}: cpu{missing[0]} does not exist on this {board_title} "
                                    f"(cpu{min(cpus)}-cpu{max(cpus)})")
        dur = item.duration_s
        for a in plan.schedule:
            if dur is not None and a.at_s >= dur:
                where = a.where or plan.source or "profile"
                raise UserError(f"{where}: {a.key}.at: {format_seconds(a.at_s)} is after the end of the "
                                f"session (duration {format_seconds(dur)}); lengthen --duration or drop the entry")


def check_against_machine(plan: RunPlan | dict[str, Any], root, executables: dict[str, str], platform_info) -> None:
    """:func:`check_plan` with this machine's power modes and cores (a Jetson's, real or emulated)."""
    plan = RunPlan.of(plan)
    wants_modes = any(a.action == "power_mode" for a in plan.actions())
    if getattr(platform_info, "kind", "") != "jetson" or not wants_modes and \
            not any(a.action == "cores" for a in plan.actions()):
        check_plan(plan)
        return
    from edgemon.control import cpu_cores, nvpmodel
    from edgemon.control.context import ControlContext

    ctx = ControlContext(root, dict(executables))
    modes = None
    if wants_modes:
        try:
            table = nvpmodel.load_modes(ctx)
            modes = [(m.id, m.name) for m in table.modes] or None
        except Exception:  # noqa: BLE001 - unknown modes: the action fails later, recorded
            modes = None
    cpus = cpu_cores.present_cores(ctx) or None
    title = getattr(platform_info, "board", None) or getattr(platform_info, "model", None) or "board"
    check_plan(plan, modes=modes, board_title=str(title), cpus=cpus)


class PlanRunner:
    """Drives the plan on its own thread; the session calls :meth:`on_sample`, :meth:`on_event`,
    :meth:`worker_exited` and :meth:`stop`."""

    def __init__(self, session, plan: RunPlan | dict[str, Any]):
        self.session = session
        self.plan = RunPlan.of(plan)
        self._cond = threading.Condition()
        self._stop = False
        self._thread: threading.Thread | None = None
        # filled by the sampler / worker threads, read by the plan thread
        self._latest: dict[str, float] = {}
        self._first_sample_ns: int | None = None
        self._last_sample_ns: int | None = None
        self._idle_since: int | None = None       # cpu_util_pct below the threshold since
        self._idle_pct: float | None = None
        self._power: list[float] | None = None     # power_total_mw during the idle baseline
        self._hello_ns: int | None = None
        self._rep: dict[str, Any] | None = None    # the repetition in progress
        self._exit: Event | None = None            # its worker's exit
        self._collect: list[Event] | None = None   # control events published during an action
        self.repetitions_done = 0
        self.failed = False                        # the workload could not run: the session failed to start

    # ------------------------------------------------------------------ session side
    def start(self) -> "PlanRunner":
        self._thread = threading.Thread(target=self._run, name="edgemon-plan", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def on_sample(self, sample) -> None:
        v = sample.values
        with self._cond:
            self._latest.update(v)
            if self._first_sample_ns is None:
                self._first_sample_ns = sample.t_ns
            self._last_sample_ns = sample.t_ns
            if self._idle_pct is not None:
                u = v.get("cpu_util_pct")
                if u is None or u >= self._idle_pct:
                    self._idle_since = None
                elif self._idle_since is None:
                    self._idle_since = sample.t_ns
            if self._power is not None and "power_total_mw" in v:
                self._power.append(float(v["power_total_mw"]))

    def on_event(self, event: Event) -> None:
        if event.kind == EventKind.WORKER_HELLO:
            with self._cond:
                if self._hello_ns is None:
                    self._hello_ns = event.t_ns
                self._cond.notify_all()
        elif event.kind in _CONTROL_KINDS:
            collect = self._collect
            if collect is not None:
                collect.append(event)

    def worker_exited(self, event: Event) -> bool:
        """The current worker ended. True: the plan goes on (the exit is recorded here); False:
        the session ends with it (a crash, or a stop), and the session records the exit."""
        rep = self._rep
        crashed = event.kind == EventKind.WORKER_CRASHED
        ending = crashed or self._stop or bool(self.session._end_reason)
        if not ending:
            self.session.record_event(event)
        if rep is not None:
            if crashed:
                outcome = "crashed"
            elif rep.get("stopping"):
                outcome = "duration"          # the plan stopped it: its time was up
            elif ending:
                outcome = "stopped"           # the user stopped the session
            else:
                outcome = "worker_finished"   # the runner ended by itself (e.g. its training phase)
            self._end_repetition(rep, event.t_ns, outcome)
        with self._cond:
            self._exit = event
            self._cond.notify_all()
        return not ending

    # ------------------------------------------------------------------ plan thread
    def _run(self) -> None:
        s = self.session
        try:
            reason = self._steps()
        except Exception as exc:  # noqa: BLE001 - a bug here must end the session cleanly, and say why
            import traceback

            s.record(EventKind.ERROR, message=f"profile runner failed: {type(exc).__name__}: {exc}",
                     reason=f"profile runner failed: {exc}", traceback=traceback.format_exc()[-2000:],
                     source="profile")
            reason = f"profile runner failed: {exc}"
        s.finish(reason, failed=self.failed)

    def _steps(self) -> str:
        plan = self.plan
        cd = plan.cooldown
        total = sum(int(it.repetitions) for it in plan.items)
        if cd or plan.idle_baseline_s:
            # Minutes of cool-down and baseline are wasted on a model that cannot load: build each
            # workload first (one iteration in a worker of its own, not recorded).
            problem = self._preflight()
            if problem:
                self.failed = True
                return problem
        if cd:
            self.session.set_expected_end(None)     # how long a cool-down takes is not known
            if not self._cooldown(cd):
                return "cool-down not reached in time (on_timeout = \"stop\")"
        if plan.idle_baseline_s and not self._stopping():
            self._idle_baseline(float(plan.idle_baseline_s))
        self._estimate(0, total)
        n = 0
        for i, item in enumerate(plan.items):
            if self._stopping():
                break
            for a in item.setup:
                self._act(a, None)
            for r in range(int(item.repetitions)):
                if self._stopping():
                    break
                if n > 0 and plan.rest_s:
                    self._pause("rest", float(plan.rest_s), index=n + 1)
                if n > 0 and cd and cd.every_repetition and not self._cooldown(cd):
                    return "cool-down not reached in time (on_timeout = \"stop\")"
                if self._stopping():
                    break
                self._repetition(item, i, r, n, total)
                n += 1
                self.repetitions_done = n
                self._estimate(n, total)
        if self.session._end_reason:
            return self.session._end_reason
        return "profile complete" if not self._stop else "stopped by user"

    def _preflight(self) -> str:
        """Check that every workload of the plan builds and runs; the problem in one line, or ""."""
        from dataclasses import replace

        from edgemon.workload.matrix import OK, run_cell

        start = time.monotonic_ns()
        self._phase("preflight", "start", start_ns=start)
        seen: set = set()
        problem = ""
        for spec in workload_specs(self.plan):
            key = (spec.runner, spec.model, spec.batch, spec.threads, spec.python, tuple(sorted(spec.options.items())))
            if key in seen or self._stopping() or spec.is_command or spec.is_watch:
                continue      # a command of the user's is not run twice (one iteration means nothing to it)
            seen.add(key)
            self.session.set_message(f"checking {spec.runner}/{spec.model} before the cool-down: building the model")
            cell = run_cell(replace(spec, warmup_iters=0, warmup_s=0.0), iterations=1,
                            timeout_s=PREFLIGHT_TIMEOUT_S, env=getattr(self.session, "_worker_env", None))
            if cell.status != OK:
                problem = (f"{spec.runner}/{spec.model} does not run here ({cell.status}: {cell.reason}); "
                           "nothing was started (no cool-down, no baseline)")
                self.session.record(EventKind.ERROR, message=problem, reason=problem, source="profile")
                break
        self._phase("preflight", "end", start_ns=start, end_ns=time.monotonic_ns(), ok=not problem,
                    workloads=len(seen), problem=problem)
        self.session.set_message("")
        return problem

    def _stopping(self) -> bool:
        return self._stop or self.session.ended

    def _wait(self, until_ns: int, pred=None) -> bool:
        """Sleep until ``until_ns`` (or ``pred()`` is true, or a stop); True if it ran to the time."""
        with self._cond:
            while True:
                if self._stop or self.session.ended:
                    return False
                if pred is not None and pred():
                    return False
                left = (until_ns - time.monotonic_ns()) / 1e9
                if left <= 0:
                    return True
                self._cond.wait(min(left, _TICK_S))

    def _phase(self, name: str, at: str, **details: Any) -> None:
        self.session.record(EventKind.PHASE, t_ns=details.get("end_ns") if at == "end" else details.get("start_ns"),
                            name=name, at=at, **details)

    def _estimate(self, done: int, total: int) -> None:
        """Tell the session when it should end (header 'remaining'); unknown without durations."""
        plan = self.plan
        left_s = 0.0
        k = 0
        for item in plan.items:
            for _ in range(int(item.repetitions)):
                if k >= done:
                    if item.duration_s is None:
                        self.session.set_expected_end(None)
                        return
                    left_s += float(item.duration_s) + (float(plan.rest_s or 0) if k > 0 else 0.0)
                k += 1
        self.session.set_expected_end(time.monotonic_ns() + int(left_s * 1e9) if total else None)

    # -- cool-down ---------------------------------------------------------------------------------
    def _cooldown(self, cd: Cooldown) -> bool:
        """Wait until the metric is below the threshold and/or the machine idled long enough."""
        metric, below, idle_s = cd.metric, cd.below_c, cd.idle_s
        start = time.monotonic_ns()
        deadline = start + int(float(cd.timeout_s) * 1e9)
        with self._cond:
            self._idle_pct = float(cd.idle_cpu_pct) if idle_s else None
            self._idle_since = None
        target = {k: getattr(cd, k) for k in ("metric", "below_c", "idle_s", "idle_cpu_pct", "timeout_s")
                  if getattr(cd, k)}
        # the first samples, so that the start event says where the machine started from
        self._wait(start + int(2 * 1e9), lambda: (metric or "cpu_util_pct") in self._latest)
        self._phase("cooldown", "start", start_ns=start, **target, **self._readings(metric))
        reason = ""
        reached = False
        while True:
            now = time.monotonic_ns()
            with self._cond:
                value = self._latest.get(metric) if metric else None
                seen_s = (now - self._first_sample_ns) / 1e9 if self._first_sample_ns else 0.0
                idle_for = (now - self._idle_since) / 1e9 if self._idle_since is not None else 0.0
                have_util = "cpu_util_pct" in self._latest
            parts = []
            temp_ok = idle_ok = True
            if metric:
                if value is None:
                    temp_ok = False
                    if seen_s > _METRIC_GRACE_S:
                        reason = f"{metric} is not in the telemetry here; cool-down skipped"
                        break
                else:
                    assert below is not None   # a profile gives metric and below together
                    temp_ok = value < below
                    parts.append(f"{metric} {value:.1f} C (waiting for < {below:g} C)")
            if idle_s:
                if not have_util and seen_s > _METRIC_GRACE_S:
                    reason = "cpu_util_pct is not in the telemetry here; cool-down skipped"
                    break
                idle_ok = idle_for >= idle_s
                parts.append(f"idle {idle_for:.0f}/{idle_s:g} s")
            if temp_ok and idle_ok:
                reached = True
                break
            if now >= deadline:
                reason = f"timed out after {cd.timeout_s:g} s"
                break
            self.session.set_message("cooling down: " + ", ".join(parts) if parts else "cooling down")
            if not self._wait(min(deadline, now + int(_TICK_S * 1e9))):
                if self._stopping():
                    reason = "stopped"
                    break
        with self._cond:
            self._idle_pct = None
        end = time.monotonic_ns()
        self._phase("cooldown", "end", start_ns=start, end_ns=end, reached=reached, waited_s=(end - start) / 1e9,
                    reason=reason, **target, **self._readings(metric))
        self.session.set_message("")
        return reached or cd.on_timeout != "stop" or reason.endswith("skipped")

    def _readings(self, metric: str | None) -> dict[str, Any]:
        with self._cond:
            out = {}
            if metric and metric in self._latest:
                out["temp_c"] = round(float(self._latest[metric]), 2)
            if "cpu_util_pct" in self._latest:
                out["cpu_util_pct"] = round(float(self._latest["cpu_util_pct"]), 1)
        return out

    # -- idle baseline and rest --------------------------------------------------------------------
    def _idle_baseline(self, seconds: float) -> None:
        start = time.monotonic_ns()
        with self._cond:
            self._power = []
        self._phase("idle_baseline", "start", start_ns=start, duration_s=seconds)
        self.session.set_message(f"idle baseline: {seconds:g} s with no worker running")
        self._wait(start + int(seconds * 1e9))
        end = time.monotonic_ns()
        with self._cond:
            power, self._power = self._power, None
        mean = sum(power) / len(power) if power else None
        self._phase("idle_baseline", "end", start_ns=start, end_ns=end, samples=len(power or []),
                    power_mw=round(mean, 1) if mean is not None else None, complete=not self._stopping())
        if mean is not None and not self._stopping():
            self.session.update_meta(idle_baseline_mw=round(mean, 1))
        self.session.set_message("")

    def _pause(self, name: str, seconds: float, **extra: Any) -> None:
        start = time.monotonic_ns()
        self._phase(name, "start", start_ns=start, duration_s=seconds, **extra)
        self.session.set_message(f"{name}: {seconds:g} s before the next repetition")
        self._wait(start + int(seconds * 1e9))
        self._phase(name, "end", start_ns=start, end_ns=time.monotonic_ns(), **extra)
        self.session.set_message("")

    # -- repetitions -------------------------------------------------------------------------------
    def _repetition(self, item: PlanItem, item_index: int, r: int, n: int, total: int) -> None:
        from edgemon.workload.spec import WorkloadSpec

        spec = WorkloadSpec(**item.workload)
        with self._cond:
            self._hello_ns = None
            self._exit = None
        rep = {"index": n + 1, "item": item_index + 1, "item_repetition": r + 1, "label": item.label,
               "workload": {k: item.workload.get(k) for k in ("runner", "model", "batch", "threads")},
               "of": total}
        self.session.set_message(f"repetition {n + 1}/{total}: {item.label} (starting the worker)")
        self.session.start_worker(spec)
        # The clock starts when the model is loaded (hello); a worker that dies first ends it.
        with self._cond:
            while self._hello_ns is None and self._exit is None and not self._stop and not self.session.ended:
                self._cond.wait(_TICK_S)
            start = self._hello_ns
            exited = self._exit is not None
        if start is None:
            if not exited:     # stopped while the worker was still starting
                self.session.stop_worker()
            return
        rep["start_ns"] = start
        self._rep = rep
        self._phase("repetition", "start", **{k: v for k, v in rep.items() if k != "end_ns"})
        self.session.set_message(f"repetition {n + 1}/{total}: {item.label}")
        dur = item.duration_s
        done = lambda: self._exit is not None  # noqa: E731 - the worker ended by itself

        for a in self.plan.schedule:
            if not self._wait(start + int(float(a.at_s) * 1e9), done):
                break
            self._act(a, n + 1)
        if dur is not None:
            self._wait(start + int(float(dur) * 1e9), done)
        else:
            with self._cond:
                while self._exit is None and not self._stop and not self.session.ended:
                    self._cond.wait(_TICK_S)
        if self._exit is None and self.session.worker is not None and not self.session.ended:
            rep["stopping"] = True
            rep["stop_ns"] = time.monotonic_ns()
            self.session.stop_worker()
        with self._cond:         # the exit (and the repetition's end event) comes through worker_exited
            deadline = time.monotonic() + 30.0
            while self._exit is None and not self.session.ended and time.monotonic() < deadline:
                self._cond.wait(_TICK_S)
        if self._rep is rep:     # no exit seen (a worker that would not die): close the record anyway
            self._end_repetition(rep, time.monotonic_ns(), "no_exit")

    def _end_repetition(self, rep: dict[str, Any], end_ns: int, outcome: str) -> None:
        if self._rep is not rep:
            return
        self._rep = None
        details = {k: v for k, v in rep.items() if k != "stopping"}
        self._phase("repetition", "end", **details, end_ns=end_ns, outcome=outcome,
                    duration_s=(end_ns - rep["start_ns"]) / 1e9)

    # -- actions -----------------------------------------------------------------------------------
    def _act(self, a: Action, repetition: int | None) -> None:
        """One control action through LiveSession.command, so the control records its event."""
        s = self.session
        name, value = a.action, a.value
        collected: list[Event] = []
        issued = time.monotonic_ns()      # the schedule's time; the control's event follows when done
        self._collect = collected
        try:
            message = s.command(_command_of(a)) or ""
        except Exception as exc:  # noqa: BLE001 - a failed action is recorded; the session goes on
            message = f"{name} failed: {exc}"
        finally:
            self._collect = None
        failed = [e for e in collected if e.kind == EventKind.CONTROL_FAILED]
        ok = not failed
        if name != "mark" and not collected and (s.controls is None or "failed" in message):
            # nothing ran and nothing was recorded (no controls here): record the refusal ourselves
            ok = False
            s.record(EventKind.CONTROL_FAILED, control=name, to=value, ok=False, message=message,
                     strategy="", scheduled=a.key)
        if failed and not message:
            message = str(failed[0].details.get("message", ""))
        self._phase("schedule" if (a.key or "").startswith("schedule") else "setup", "at",
                    start_ns=issued, end_ns=time.monotonic_ns(), key=a.key, action=name, value=value,
                    at_s=a.at_s, repetition=repetition, ok=ok, message=message)


def _command_of(a: Action) -> cmds.Command:
    """The feed command a profile action stands for."""
    if a.action == "power_mode":
        return cmds.PowerMode(id=a.value)
    if a.action == "cores":
        return cmds.Cores(mask=list(a.value))
    if a.action == "jetson_clocks":
        return cmds.JetsonClocks(on=bool(a.value))
    if a.action == "fan":
        return cmds.Fan(pct=a.value)
    return cmds.Mark(note=str(a.value))
