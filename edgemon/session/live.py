"""A live session: worker + sampler + recorder (+ emulated board, + controls) behind one Feed.

Threads, not processes, connect the stages: the sampler thread and the worker's
reader thread publish into :meth:`LiveSession._publish_*`, which hand each item
to the recorder (cheap append) and to a bounded queue that the dashboard or the
headless loop drains at its own pace. Nothing here imports Textual.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgemon import __version__
from edgemon.control.machine_view import MachineView
from edgemon.datatypes import Event, EventKind, LatencyBatch, Sample
from edgemon.feeds import commands as cmds
from edgemon.feeds.base import Capabilities, Feed, FeedStatus, FeedUpdate
from edgemon.plan.run_plan import RunPlan
from edgemon.session.config import RunConfig
from edgemon.session.recording_watch import RecordingWatch

if TYPE_CHECKING:
    from collections.abc import Sequence

    from edgemon.control import Controls
    from edgemon.control.context import ControlResult
    from edgemon.control.snapshot import MachineState
    from edgemon.emulate import EmulatedBoard
    from edgemon.plan.runner import PlanRunner
    from edgemon.prometheus.exporter import PrometheusExporter
    from edgemon.recording.writer import Recorder
    from edgemon.session.throttle_feed import ThrottleFeed
    from edgemon.telemetry.sampler import Sampler
    from edgemon.workload.output import WorkerOutput
    from edgemon.workload.spec import WorkloadSpec
    from edgemon.workload.watchdog import Watchdog
    from edgemon.workload.worker import Worker

# Bounds of what waits for a slow consumer: ~10 min of samples at 10 Hz and of
# latency frames at 10/s. Older items are dropped from the *view* only; the
# recorder has its own copy.
_MAX_PENDING_SAMPLES = 6000
_MAX_PENDING_BATCHES = 6000
_MAX_PENDING_EVENTS = 2000
# A command that ends this soon after its start "exited at once": a mistake, not a workload.
AT_ONCE_S = 1.0


def at_once_line(details: dict, record_path: str | None) -> str | None:
    """One line for a command that ended at once (a mistake, not a workload), or None."""
    if not details.get("at_once"):
        return None
    where = f"; its output is in {record_path}" if record_path else ""
    return (f"the command ended at once, after {details.get('lived_s', 0):.2f} s "
            f"({details.get('reason') or 'no reason given'}); nothing to watch{where}")


def _folder_label(spec) -> str:
    """The workload part of a default recording folder name."""
    if spec.is_command:
        from edgemon.workload.spec import command_label

        return "cmd-" + command_label(list(spec.command or []))
    if spec.is_watch:
        return "watch"
    return f"{spec.runner}-{spec.model}"


class LiveSession(Feed):
    capabilities = Capabilities()

    def __init__(self, config: RunConfig):
        self.config = config
        self.meta: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._samples: deque[Sample] = deque(maxlen=_MAX_PENDING_SAMPLES)
        self._batches: deque[LatencyBatch] = deque(maxlen=_MAX_PENDING_BATCHES)
        self._events: deque[Event] = deque(maxlen=_MAX_PENDING_EVENTS)
        self._state = "starting"
        self._message = ""
        self._t0_ns = time.monotonic_ns()
        self._t_end_ns: int | None = None
        self._ended = threading.Event()
        self._news = threading.Event()   # an event was published, or the session ended (wait_news)
        self._end_reason = ""
        self._paused = False
        self._closed = False
        self.exit_event: Event | None = None
        self.recorder: Recorder | None = None
        self.recording = RecordingWatch()   # the recording's fault / disk flag, for header and summary
        self.exporter: PrometheusExporter | None = None       # Prometheus (--prometheus)
        # Subscribers that see every sample, latency batch and event as it happens
        # (recorder, exporter); each has on_sample/on_latency/on_event and must be cheap.
        self._sinks: list = []
        self.sampler: Sampler | None = None
        self.worker: Worker | None = None
        self.board: EmulatedBoard | None = None
        self.controls: Controls | None = None       # on a Jetson
        self.restore_state: MachineState | None = None  # captured at start
        self._sources: list = []
        self._statuses: list = []
        self._timer: threading.Thread | None = None
        # Watchdog (edgemon/workload/watchdog.py): a worker silent for hang_timeout_s is
        # recorded as hung and, with restart_on_hang, replaced.
        self.watchdog: Watchdog | None = None
        self.worker_restarts = 0
        self._worker_gen = 0             # bumps when a worker is replaced; old exits are not the end
        self._worker_env: dict[str, str] | None = None
        # Profiles (edgemon/plan/runner.py): with config.plan a PlanRunner starts and stops the
        # workers (repetitions, cool-down, idle baseline, schedule); it sees samples and events.
        self.plan: PlanRunner | None = None
        self._workload_spec: WorkloadSpec | None = None       # the plan's current workload (a suite runs several)
        self.warnings: list[str] = []    # said once at start (e.g. the session index is not writable)
        # Live throttling (edgemon/analysis/throttle_online.py, fed in bursts by
        # edgemon/session/throttle_feed.py): each episode's begin and end is published as an event.
        self.throttle: ThrottleFeed | None = None
        self.output: WorkerOutput | None = None   # what workers print, in the session folder

    # ------------------------------------------------------------------ start
    def start(self) -> None:
        """Validate, then bring the stages up in the order that loses nothing:
        recorder, sampler, worker. Raises UserError for bad input before anything runs."""
        from edgemon.workload.registry import validate

        cfg = self.config
        validate(cfg.workload)
        if cfg.plan is not None:          # profile: every workload of a suite must be able to run
            from edgemon.plan.runner import workload_specs

            for spec in workload_specs(cfg.plan):
                validate(spec)
        root = cfg.sysfs_root
        executables: dict[str, str] = {}
        env = None
        if cfg.emulate:
            from edgemon.emulate import EmulatedBoard

            board = EmulatedBoard(cfg.emulate)
            self.board = board
            board.start()
            root = board.root
            executables.update(board.executables)
        from edgemon.platform.detect import detect
        from edgemon.telemetry.base import SourceContext
        from edgemon.telemetry.registry import build_sources

        platform_info = detect(root)
        if cfg.plan is not None:          # power-mode names, cores: known only now, checked before anything runs
            from edgemon.plan.runner import check_against_machine

            check_against_machine(cfg.plan, root, executables, platform_info)
        ctx = SourceContext(root=root, sample_hz=cfg.sample_hz, executables=executables)
        self._ctx = ctx
        sources, self._statuses = build_sources(ctx, platform_info)
        self._sources = sources
        self.meta = self._initial_meta(platform_info)
        if cfg.record:
            from edgemon.recording.naming import default_session_dir
            from edgemon.recording.writer import Recorder

            label = _folder_label(cfg.workload)
            plan = RunPlan.of(cfg.plan) if cfg.plan is not None else None
            if plan is not None and len(plan.items) > 1:   # a suite: name it after the profile
                label = "suite-" + Path(str(plan.source or "profile")).stem
            folder = cfg.record_dir or default_session_dir(cfg.recordings_root, self.meta["host"], label)
            folder = Path(os.path.abspath(folder))     # every message names it; any shell can paste it
            # The exporter first: a busy port then leaves no empty recording behind.
            self._start_exporter(session_name=folder.name)
            recorder = Recorder(folder, self.meta, on_error=self._recording_error,
                                on_disk=self._recording_disk, min_free_bytes=cfg.min_free_bytes)
            self.recorder = recorder
            recorder.open()
            self.recording.recording_started(recorder.folder)
            self._sinks.insert(0, recorder)
            self.meta["record_path"] = str(folder)
            # The per-user index: `edgemon ls` and `latest` find it from any folder.
            from edgemon.recording.index import register

            register(folder, host=self.meta["host"], warn=self._index_warning)
            if not cfg.workload.is_watch:
                from edgemon.workload.output import WorkerOutput

                try:
                    self.output = WorkerOutput(Path(folder))
                except OSError as exc:  # the session goes on; the crash report keeps its tail
                    self._message = f"worker output not kept: {exc.strerror or exc}"
        if self.exporter is None:
            self._start_exporter(session_name=None)
        self._start_throttle_classifier()
        # Controls after the recorder: jetson_clocks --store keeps its file in the session
        # folder, so `edgemon restore DIR` can undo jetson_clocks exactly after a crash.
        self._setup_controls(root, executables, platform_info)
        if self.restore_state is not None:
            self.meta["restore"] = self.restore_state.to_dict()
            self.meta["executables"] = executables
            if self.recorder is not None:
                self.recorder.update_meta(restore=self.meta["restore"], executables=executables)
        self._publish_event(Event(time.monotonic_ns(), EventKind.SESSION_START, {
            "argv": sys.argv[1:], "emulated": bool(cfg.emulate)}))
        # Sources absent at start are listed in session.json ("sources") and on the help
        # screen; only a source that fails mid-session becomes an event (see _source_status).

        from edgemon.telemetry.sampler import Sampler

        sampler = Sampler(sources, cfg.sample_hz, self._publish_sample, on_status=self._source_status)
        self.sampler = sampler
        sampler.start()

        if self.board is not None:
            env = dict(os.environ)
            env.update(self.board.env())
        self._worker_env = env
        self._start_watchdog()
        if cfg.plan is not None:          # the plan starts the workers, and ends the session
            from edgemon.plan.runner import PlanRunner

            self._t0_ns = time.monotonic_ns()
            with self._lock:
                self._state = "running"
            self.plan = PlanRunner(self, cfg.plan).start()
            return
        if not cfg.workload.is_watch:
            self.worker = self._spawn_worker()
        self._t0_ns = time.monotonic_ns()
        with self._lock:
            if self._state == "starting":   # a worker that died at once has already said "crashed"
                self._state = "running"
        if cfg.duration_s:
            self._t_end_ns = self._t0_ns + int(cfg.duration_s * 1e9)
            self._timer = threading.Thread(target=self._duration_timer, name="edgemon-duration", daemon=True)
            self._timer.start()

    def _index_warning(self, message: str) -> None:
        """The session index could not be written: say so (stderr, and the handshake of a
        detached session); the session goes on."""
        self.warnings.append(message)
        print(f"edgemon: warning: {message}", file=sys.stderr, flush=True)

    def _never_ran(self) -> bool:
        """The workload never ran: start() raised, a runner died before its hello, or a command
        failed at once."""
        if self._state == "starting":
            return True
        if self._state != "crashed":
            return False
        if (self._workload_spec or self.config.workload).is_command:
            return bool(self.exit_event is not None and self.exit_event.details.get("at_once"))
        return not self.meta.get("runner_hello")

    def fail_start(self, reason: str) -> None:
        """start() raised: close() records the session as failed to start, with this reason."""
        if not self._end_reason:
            self._end_reason = reason

    # ------------------------------------------------------------ worker + watchdog
    def _spawn_worker(self) -> Worker:
        """Start a worker whose callbacks know their generation (a replaced worker's exit is not the end)."""
        from edgemon.workload.worker import Worker

        gen = self._worker_gen
        board = self.board      # an emulated board counts the worker's memory and makes it feel the clocks
        worker = Worker(
            self._workload_spec or self.config.workload,
            on_hello=lambda hello: self._beat(gen, self._on_hello, hello, arm=True),
            on_latency=lambda batch: self._beat(gen, self._publish_latency, batch),
            on_event=lambda event: self._beat(gen, self._publish_event, event),
            on_exit=lambda event: self._on_worker_exit(gen, event),
            env=self._worker_env,
            output=self.output,
            stop_grace_s=self.config.stop_grace_s,
            label=f"worker {gen + 1}",
            on_spawn=board.attach_worker if board is not None else None,
            extra_oom_roots=(board.root,) if board is not None else (),
        )
        worker.start()
        self._ctx.worker_pid = worker.pid
        if worker.spec.is_command:       # a command says no hello of its own (edgemon_probe does, later)
            self._publish_event(Event(time.monotonic_ns(), EventKind.WORKER_HELLO, {
                "runner": "command", "model": worker.spec.model, "command": list(worker.spec.command or []),
                "pid": worker.pid, "source": "edgemon"}))
        return worker

    def _beat(self, gen: int, publish, item, *, arm: bool = False) -> None:
        if self.watchdog is not None and gen == self._worker_gen:
            if arm:
                self.watchdog.arm()
            elif self.watchdog.beat():   # it talks again: the "sent nothing" header message is stale
                with self._lock:
                    if self._message.startswith("worker sent nothing"):
                        self._message = ""
        publish(item)

    def _start_watchdog(self) -> None:
        from edgemon.workload.watchdog import Watchdog

        timeout = self.config.hang_timeout_s
        if not timeout or timeout <= 0:
            return
        self.watchdog = Watchdog(float(timeout), self._on_worker_hung, is_paused=lambda: self._paused).start()

    def _on_worker_hung(self, silent_s: float) -> None:
        """Watchdog thread: record the hang; replace the worker if the config asks for it."""
        restart = self.config.restart_on_hang and not self._end_reason
        worker = self.worker
        self._publish_event(Event(time.monotonic_ns(), EventKind.WORKER_HUNG, {
            "silent_s": round(silent_s, 3),
            "timeout_s": self.watchdog.timeout_s if self.watchdog else None,
            "pid": worker.pid if worker is not None else None,
            "action": "restart" if restart else "none",
        }))
        with self._lock:
            self._message = f"worker sent nothing for {silent_s:.0f} s" + ("; restarting it" if restart else "")
        if restart:
            self.restart_worker(reason=f"hung ({silent_s:.0f} s without a frame)")

    def restart_worker(self, reason: str = "requested") -> str:
        """Kill the current worker and start a new one (new hello, new pid); the session goes on."""
        if self._closed or self._ended.is_set() or self._end_reason or self.worker is None:
            return "no running worker to restart"
        old = self.worker
        old_pid = old.pid
        if self.watchdog is not None:
            self.watchdog.disarm()       # re-armed by the new worker's hello
        self._replace_reason = reason
        self._worker_gen += 1            # from here on the old worker's exit is only an event
        old.kill()
        old.wait(10.0)
        if self._end_reason or self._closed:   # a stop arrived meanwhile: end like a normal stop
            with self._lock:
                self._state, self._message = "ended", self._end_reason or "stopped"
            self._ended.set()
            self._news.set()
            return "worker stopped"
        self.worker = self._spawn_worker()
        self.worker_restarts += 1
        if self._paused:                 # the new runner starts running; the session is not paused any more
            self._paused = False
        self._publish_event(Event(time.monotonic_ns(), EventKind.WORKER_RESTARTED, {
            "reason": reason, "old_pid": old_pid, "new_pid": self.worker.pid, "restarts": self.worker_restarts}))
        with self._lock:
            self._message = f"worker restarted ({reason})"
        return f"worker restarted (pid {self.worker.pid})"

    def _on_worker_exit(self, gen: int, event: Event) -> None:
        if gen != self._worker_gen:
            # A replaced (hung) worker: its exit is part of the record, not the end of the session.
            self._publish_event(Event(event.t_ns, event.kind, {
                **event.details, "replaced": True,
                "reason": f"killed by edgemon to restart it: {getattr(self, '_replace_reason', '')}"}))
            return
        if self.watchdog is not None:
            self.watchdog.disarm()
        if self.plan is not None and self.plan.worker_exited(event):
            return                       # one repetition ended; the plan goes on
        self._on_exit(event)

    def _setup_controls(self, root: Path, executables: dict[str, str], platform_info) -> None:
        if getattr(platform_info, "kind", "") != "jetson":
            return
        try:
            from edgemon.control import Controls
        except ImportError:
            return
        try:
            state_dir = Path(self.meta["record_path"]) if self.meta.get("record_path") else None
            controls = Controls(root, executables, on_event=self._on_control_event, state_dir=state_dir)
            self.controls = controls
            self.restore_state = controls.capture()
        except Exception as exc:  # controls are a convenience; the session goes on without them
            self.controls = None
            self._message = f"controls unavailable: {exc}"

    def _initial_meta(self, platform_info) -> dict[str, Any]:
        from dataclasses import asdict, is_dataclass

        from edgemon.platform.identity import identity

        cfg = self.config
        plat = (asdict(platform_info) if is_dataclass(platform_info) and not isinstance(platform_info, type)
                else dict(vars(platform_info)))
        meta: dict[str, Any] = {
            "host": socket.gethostname(),
            "edgemon_version": __version__,
            "argv": sys.argv[1:],
            "kind": cfg.workload.kind,     # runner | command | watch (analysis: what "busy" means)
            "platform": {k: (str(v) if isinstance(v, Path) else v) for k, v in plat.items()},
            "workload": {
                "kind": cfg.workload.kind,
                "runner": cfg.workload.runner,
                "model": cfg.workload.model,
                "batch": cfg.workload.batch,
                "threads": cfg.workload.threads,
                "warmup_iters": cfg.workload.warmup_iters,
                "warmup_s": cfg.workload.warmup_s,
                "options": dict(cfg.workload.options),
                **({"command": list(cfg.workload.command or []), "latency_regex": cfg.workload.latency_regex}
                   if cfg.workload.is_command else {}),
            },
            "stop_grace_s": cfg.stop_grace_s,
            "duration_s": cfg.duration_s,
            "sample_hz": cfg.sample_hz,
            "sysfs_root": str(cfg.sysfs_root),
            "emulated": bool(cfg.emulate),
            "emulated_board": cfg.emulate,
            "machine": identity(),        # `edgemon restore` undoes a session of this machine and boot only
            "profile": cfg.plan,          # the run plan of a profile / --repetitions (None without)
            "sources": [
                {"name": s.name, "available": s.available, "reason": s.reason, "detail": s.detail}
                for s in self._statuses
            ],
        }
        from edgemon.recording.layout import new_session_id
        from edgemon.telemetry.limits import clock_ceilings, power_limits, power_total_source

        # One identity for the recording's rows and the Prometheus series (session_info).
        meta["session_id"] = new_session_id(meta["host"])
        meta["clock_ceilings"] = clock_ceilings(self._sources)
        meta["power_limits"] = power_limits(self._sources)
        meta["power_total_source"] = power_total_source(self._sources)
        trips = self._trip_points()
        if trips:
            meta["trip_points"] = trips
        return meta

    def _start_throttle_classifier(self) -> None:
        """Throttling as it happens, by the analysis' rule: each episode's begin and end become
        throttle_begin / throttle_end events (recording, event log, header flag, Prometheus)."""
        from edgemon.analysis.throttle_online import ThrottleClassifier
        from edgemon.session.throttle_feed import ThrottleFeed

        classifier = ThrottleClassifier(self.meta, sample_dt_s=1.0 / self.config.sample_hz,
                                        origin_ns=(self.meta.get("clock") or {}).get("monotonic_ns", self._t0_ns))
        self.throttle = ThrottleFeed(classifier, publish=lambda change: self._publish_event(change.to_event()),
                                     failed=self._throttle_failed)

    def _throttle_failed(self, message: str) -> None:
        self._publish_event(Event(time.monotonic_ns(), EventKind.ERROR, {"message": message, "source": "throttle"}))

    def _feed_throttle(self, item: Sample | LatencyBatch | Event) -> None:
        if self.throttle is not None:
            self.throttle.add(item)
            self.throttle.poll()

    def _start_exporter(self, session_name: str | None) -> None:
        if not self.config.prometheus:
            return
        from edgemon.prometheus.exporter import exporter_from_option

        kw = {"session": session_name} if session_name else {}
        # the exporter keeps a reference to meta, so restore/runner_hello added later show up
        self.exporter = exporter_from_option(self.config.prometheus, self.meta, **kw).start()
        self._sinks.append(self.exporter)

    def _trip_points(self) -> dict[str, float]:
        """Lowest passive/hot/critical trip per temperature metric, for the dashboard and analysis."""
        thermal = next((s for s in self._sources if getattr(s, "name", "") == "thermal"), None)
        if thermal is None:
            return {}
        try:
            trips = thermal.trip_points()
        except Exception:
            return {}
        out = {}
        for metric, points in trips.items():
            temps = [t for kind, t in points if kind in ("passive", "hot", "critical") and t > 0]
            if temps:
                out[metric] = min(temps)
        return out

    # ------------------------------------------------------------ publishing
    def _publish_sample(self, sample: Sample) -> None:
        for sink in self._sinks:
            sink.on_sample(sample)
        if self.plan is not None:
            self.plan.on_sample(sample)
        with self._lock:
            self._samples.append(sample)
        self._feed_throttle(sample)

    def _publish_latency(self, batch: LatencyBatch) -> None:
        for sink in self._sinks:
            sink.on_latency(batch)
        with self._lock:
            self._batches.append(batch)
        self._feed_throttle(batch)

    def _publish_event(self, event: Event) -> None:
        for sink in self._sinks:
            sink.on_event(event)
        if self.plan is not None:
            self.plan.on_event(event)
        with self._lock:
            self._events.append(event)
        self._news.set()
        if self.throttle is not None:     # the next sample or batch hands it over: an event never waits on that
            self.throttle.add(event)      # (its own throttle_begin/end it leaves out)

    def _on_control_event(self, event: Event) -> None:
        """A power-mode change moves the clock ceilings: record the new ones with the event."""
        if event.kind == EventKind.POWER_MODE and event.details.get("ok", True):
            from edgemon.telemetry.limits import clock_ceilings

            event = Event(event.t_ns, event.kind, {**event.details, "ceilings": clock_ceilings(self._sources)})
        self._publish_event(event)

    def _on_hello(self, hello: dict) -> None:
        self.meta["runner_hello"] = hello
        if self.board is not None:
            self.board.worker_hello(hello)
        self._publish_event(Event(time.monotonic_ns(), EventKind.WORKER_HELLO, hello))
        if self.recorder is not None:
            self.recorder.update_meta(runner_hello=hello)

    def _on_exit(self, event: Event) -> None:
        spec = self._workload_spec or self.config.workload
        lived = event.details.get("lived_s")
        if (spec.is_command and not self._end_reason and isinstance(lived, (int, float)) and lived < AT_ONCE_S
                and not event.details.get("killed_by_monitor")):
            event = Event(event.t_ns, event.kind, {**event.details, "at_once": True})
        self.exit_event = event
        self._publish_event(event)
        with self._lock:
            if event.kind == EventKind.WORKER_CRASHED:
                self._state = "crashed"
                what = "command" if spec.is_command else "worker"
                self._message = f"{what} failed: " + str(event.details.get("reason", ""))
            else:
                self._state = "ended"
                self._message = self._end_reason or ("command ended: " + str(event.details.get("reason", ""))
                                                     if spec.is_command else "worker finished")
        self._ended.set()
        self._news.set()

    def _source_status(self, status) -> None:
        self._publish_event(Event(time.monotonic_ns(), EventKind.SOURCE_UNAVAILABLE,
                                  {"source": status.name, "reason": status.reason}))

    def _recording_error(self, message: str) -> None:
        """The recorder stopped (any thread; never waits on the disk): an event, the header flag."""
        ev = self.recording.fault_event(self.recorder, message)
        if self.exporter is not None:  # the recorder itself is what failed: not through _sinks
            self.exporter.on_event(ev)
        with self._lock:
            self._events.append(ev)

    def _recording_disk(self, kind: str, details: dict) -> None:
        """The recorder's disk watch: the measured rate, or less than 10 minutes of recording left."""
        self._publish_event(self.recording.disk_event(kind, details))

    def _stopping_message(self) -> None:
        worker = self.worker
        if worker is None or not worker.running:
            return
        grace = f"{self.config.stop_grace_s:g} s"
        what = (f"SIGTERM sent; SIGKILL after {grace}" if worker.spec.is_command
                else f"waiting up to {grace} for the iteration in progress")
        with self._lock:
            self._message = f"{self._end_reason}: stopping ({what})"

    def _duration_timer(self) -> None:
        assert self._t_end_ns is not None
        while not self._ended.is_set():
            left = (self._t_end_ns - time.monotonic_ns()) / 1e9
            if left <= 0:
                self._end_reason = "duration reached"
                if self.worker is not None:
                    self._stopping_message()
                    self.worker.stop()
                elif self.plan is None:          # monitor only: nothing to wait for
                    self.finish("duration reached")
                return
            self._ended.wait(min(left, 60.0))   # woken by the end; long waits: one wake-up a minute

    # ------------------------------------------------------------------ Feed
    def drain(self) -> FeedUpdate:
        with self._lock:
            up = FeedUpdate(list(self._samples), list(self._batches), list(self._events))
            self._samples.clear()
            self._batches.clear()
            self._events.clear()
        return up

    def status(self) -> FeedStatus:
        now = time.monotonic_ns()
        with self._lock:
            state, msg = self._state, self._message
        if state == "running" and self._paused:
            state = "paused"
        remaining = None
        if self._t_end_ns is not None:
            remaining = max(0.0, (self._t_end_ns - now) / 1e9)
        note, level = self.recording.flag()
        return FeedStatus(state=state, elapsed_s=(now - self._t0_ns) / 1e9, remaining_s=remaining,
                          t_ns=now, message=msg, recording=note, recording_level=level)

    @property
    def source_statuses(self) -> list:
        if self.sampler is not None:
            try:
                return self.sampler.statuses()
            except Exception:
                pass
        return list(self._statuses)

    @property
    def ended(self) -> bool:
        return self._ended.is_set()

    @property
    def recording_failed(self) -> bool:
        """The recording stopped before the session ended (README "Exit codes": 3)."""
        return self.recorder is not None and self.recorder.fault is not None

    def wait(self, timeout: float | None = None) -> bool:
        return self._ended.wait(timeout)

    def wait_news(self, timeout: float | None = None) -> bool:
        """Sleep until an event is published or the session ends (True), or ``timeout`` (False).
        Samples and latency rows never wake it: a loop that reads them anyway is woken for news
        only, not ten times a second."""
        news = self._news.wait(timeout)
        self._news.clear()    # what came before this is in the next drain; anything later sets it again
        return news

    def machine_state(self) -> MachineView | None:
        if self.controls is None:
            return None
        try:
            view = self.controls.view()
        except Exception as exc:
            return MachineView(unavailable={"all": str(exc)})
        view.recording = self.recorder is not None
        return view

    def command(self, cmd: cmds.AnyCommand, **kw: Any) -> str | None:
        cmd = cmds.as_command(cmd, kw)
        now = time.monotonic_ns()
        if isinstance(cmd, (cmds.Pause, cmds.Resume, cmds.TogglePause)):
            if self.worker is None or self.ended:
                return "no running worker"
            pause = (not self._paused) if isinstance(cmd, cmds.TogglePause) else isinstance(cmd, cmds.Pause)
            if pause:
                self.worker.pause()
            else:
                self.worker.resume()
            self._paused = pause  # the runner acknowledges with its own pause/resume event
            return "worker paused" if pause else "worker resumed"
        if isinstance(cmd, cmds.Mark):
            note = str(cmd.note).strip()
            self._publish_event(Event(now, EventKind.MARK, {"note": note}))
            return f"marked: {note}" if note else "marked"
        if isinstance(cmd, cmds.Stop):
            self._end_reason = "stopped by user"
            if self.plan is not None:    # between repetitions no worker runs: the plan ends the session
                self.plan.stop()
            if self.worker is not None:
                self._stopping_message()
                self.worker.stop()
            elif self.plan is None:      # monitor only
                self.finish("stopped by user")
            return "stopping"
        name = cmds.wire_name(cmd)
        control = isinstance(cmd, cmds.MACHINE_CONTROLS) or name in cmds.MACHINE_CONTROL_NAMES
        if control and self.controls is None:
            return f"{name}: no machine controls on this host"
        if isinstance(cmd, cmds.Invalid):
            return cmd.message
        if isinstance(cmd, cmds.MACHINE_CONTROLS):
            if self.controls is None:
                return f"{name}: no machine controls on this host"
            try:
                if isinstance(cmd, cmds.Cores):      # a whole core mask (profiles): Cores(mask=[0, 3, 4, 5])
                    results = self.controls.set_cores(cmd.mask)
                    return "; ".join(r.message for r in results) or "cores unchanged"
                result = self.controls.apply(name, **cmd.kwargs())
            except Exception as exc:
                return f"{name} failed: {exc}"
            return result.message
        return f"{name}: not available in a live session"

    # ------------------------------------------------------------------ for the plan
    # What edgemon/plan/runner.py needs from the session: start/stop workers without ending
    # the session, record events, say what it is doing, and end the session when it is done.
    def record_event(self, event: Event) -> None:
        self._publish_event(event)

    def record(self, kind: str, *, t_ns: int | None = None, **details: Any) -> None:
        self._publish_event(Event(t_ns if t_ns is not None else time.monotonic_ns(), kind, details))

    def set_message(self, text: str) -> None:
        with self._lock:
            self._message = text

    def set_expected_end(self, t_ns: int | None) -> None:
        self._t_end_ns = t_ns

    def update_meta(self, **fields: Any) -> None:
        self.meta.update(fields)
        if self.recorder is not None:
            self.recorder.update_meta(**fields)

    def start_worker(self, spec) -> None:
        """A fresh worker for ``spec`` (the previous one has exited)."""
        self._workload_spec = spec
        self._worker_gen += 1
        self.worker = self._spawn_worker()
        self._paused = False

    def stop_worker(self) -> None:
        if self.worker is not None:
            self.worker.stop()

    def finish(self, reason: str, *, failed: bool = False) -> None:
        """The plan is done: end the session (no-op when it ended already, e.g. a crash).
        ``failed``: it could not run its workload at all (the session is crashed, failed to start)."""
        if self._ended.is_set():
            return
        if not self._end_reason:
            self._end_reason = reason
        with self._lock:
            if failed:
                self._state = "crashed"
            elif self._state != "crashed":
                self._state = "ended"
            self._message = self._end_reason
        self._ended.set()
        self._news.set()

    # ------------------------------------------------------------------ close
    def close(self) -> None:
        """Stop everything, restore the machine, close the recording. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self.plan is not None:
            self.plan.stop()
            self.plan.join(10.0)
        if self.watchdog is not None:
            self.watchdog.stop()
        if self.worker is not None:
            try:
                self.worker.stop()
            except Exception:
                pass
        if self.sampler is not None:
            self.sampler.stop()
        if self.throttle is not None:
            self.throttle.finish()    # open episodes end with the session
        restore_results: Sequence[ControlResult | str] = []
        if self.controls is not None and self.restore_state is not None:
            try:
                restore_results = self.controls.restore(self.restore_state)
            except Exception as exc:
                restore_results = [f"restore failed: {exc}"]
        end: dict[str, Any] = {
            "state": "crashed" if self._state == "crashed" else "ended",
            "reason": self._end_reason or (self._message or "worker finished"),
        }
        if self._never_ran():
            # `edgemon ls` shows it as "failed to start", and it is never what `latest` means.
            end["state"] = "crashed"
            end["failed_to_start"] = True
            if self._state == "starting" and not self._end_reason:
                end["reason"] = "the session failed to start"
        if self.exit_event is not None:
            end["worker"] = self.exit_event.details
        if self.output is not None:
            self.output.close()
            end["output"] = self.output.summary()
        if restore_results:
            end["restore"] = [getattr(r, "message", str(r)) for r in restore_results]
        self._publish_event(Event(time.monotonic_ns(), EventKind.SESSION_END, end))
        if self.recorder is not None:
            self.recorder.close(end)       # bounded: a stalled disk never holds the session (recording/writer.py)
        if self.exporter is not None:
            self.exporter.close()
        if self.board is not None:
            self.board.stop()
