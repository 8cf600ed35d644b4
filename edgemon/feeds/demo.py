"""A scripted, deterministic Feed for tests, snapshots, the cost benchmark and a demo.

``python -m edgemon.feeds.demo [linux|jetson|crashed|replay] [--ascii] [--rows=N]`` runs the
dashboard on it in real time. Data is a pure function of (scenario, seed, tick),
so tests and SVG snapshots see the same numbers on every run. The replay scenario's analysis
and timeline are the real analysis (``edgemon analyze``) of that scripted session, written to
a temporary recording the first time they are asked for (:func:`scripted_analysis`).
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from edgemon.analysis.result import AnalysisResult
from edgemon.control.machine_view import MachineView
from edgemon.datatypes import Event, EventKind, LatencyBatch, Sample
from edgemon.feeds import commands as cmds
from edgemon.feeds.base import Capabilities, Feed, FeedStatus, FeedUpdate
from edgemon.telemetry.base import SourceStatus
from edgemon.view.timeline import Timeline, episodes_from_throttling, marks_from_events

T0_NS = 1_000_000_000_000       # fixed monotonic origin so rendered text never shows the real clock
NS = 1_000_000_000
SCENARIOS = ("linux", "jetson", "crashed", "replay")
THROTTLE_S = (40.0, 150.0)     # the Jetson scenarios throttle from 40 s; the replay recovers at 150 s

JETSON_MODES = [{"id": 0, "name": "15W"}, {"id": 1, "name": "7W"}, {"id": 2, "name": "MAXN_SUPER"}]


class FakeFeed(Feed):
    """Generic Linux, Jetson, crashed-worker or replay session with scripted data.

    * ``realtime=False`` (tests): the first ``drain`` returns ``seconds`` of data;
      ``advance(s)`` scripts more.
    * ``realtime=True`` (demo, benchmark): data appears as wall time passes.
    Every ``command`` is recorded in ``commands`` as its wire form ``(name, kwargs)`` and acts
    on the fake state (pause, marks, power mode, cores, replay position ...).
    """

    def __init__(
        self,
        scenario: str = "linux",
        *,
        seconds: float = 60.0,
        seed: int = 0,
        realtime: bool = False,
        sample_hz: float = 10.0,
        rows_per_s: float = 120.0,
        duration_s: float | None = 600.0,
        recording: bool = True,
        can_detach: bool = False,
    ) -> None:
        if scenario not in SCENARIOS:
            raise ValueError(f"scenario must be one of {', '.join(SCENARIOS)}")
        self.scenario = scenario
        self.jetson = scenario in ("jetson", "replay")
        replay = scenario == "replay"
        # a replay has the extras a ReplayFeed has: a timeline and the analysis of its recording
        self.capabilities = Capabilities(replay=replay, detach=can_detach and not replay, timeline=replay,
                                         analysis=replay)
        self.seed = seed
        self.realtime = realtime
        self.hz = sample_hz
        self.rows_per_s = rows_per_s
        self.duration_s = duration_s
        self.commands: list[tuple[str, dict[str, Any]]] = []
        self.crash_at_s = (seconds * 0.75 if seconds > 0 else 45.0) if scenario == "crashed" else None
        self.warmup_s = 3.0
        self.length_s = 180.0 if self.is_replay else 0.0
        self._target_tick = int(round(seconds * self.hz))
        self._sent_tick = 0
        self._reset_pending = False
        self._extra_events: list[Event] = []
        self._wall0 = time.monotonic()
        self.state = "replay" if self.is_replay else "running"
        self.playing = True
        self.speed = 10.0 if self.is_replay else 1.0
        self.meta = self._meta()
        self._machine = self._initial_machine(recording) if scenario == "jetson" else None

    # ---- Feed API --------------------------------------------------------------------------

    def drain(self) -> FeedUpdate:
        if self.realtime and self.state in ("running", "replay") and self.playing:
            wall = time.monotonic() - self._wall0
            self._target_tick = max(self._target_tick, int(wall * self.hz * (self.speed if self.is_replay else 1)))
            if self.is_replay:
                self._target_tick = min(self._target_tick, int(self.length_s * self.hz))
        update = FeedUpdate(reset=self._reset_pending)
        if self._reset_pending:
            self._sent_tick = 0
            self._reset_pending = False
        for tick in range(self._sent_tick + 1, self._target_tick + 1):
            sample, batch, events = self._tick(tick)
            update.samples.append(sample)
            if batch is not None:
                update.latency.append(batch)
            update.events.extend(events)
        self._sent_tick = max(self._sent_tick, self._target_tick)
        update.events.extend(self._extra_events)
        self._extra_events = []
        return update

    def status(self) -> FeedStatus:
        t_s = self._target_tick / self.hz
        remaining = None if self.duration_s is None else max(0.0, self.duration_s - t_s)
        message = ""
        state = self.state
        if self.crash_at_s is not None and t_s >= self.crash_at_s:
            state = "crashed"
            message = "worker crashed: killed by SIGKILL (out of memory)"
            remaining = None
        if self.is_replay:
            return FeedStatus(state="replay", elapsed_s=t_s, t_ns=T0_NS + int(t_s * NS), playing=self.playing,
                              speed=self.speed, position_s=t_s, length_s=self.length_s)
        return FeedStatus(state=state, elapsed_s=t_s, remaining_s=remaining, t_ns=T0_NS + int(t_s * NS),
                          message=message)

    def command(self, cmd: cmds.AnyCommand, **kw: Any) -> str | None:
        cmd = cmds.as_command(cmd, kw)
        name = cmds.wire_name(cmd)
        self.commands.append((name, cmd.kwargs()))
        if isinstance(cmd, cmds.Invalid):
            return cmd.message
        handler = getattr(self, f"_cmd_{name}", None) if not isinstance(cmd, cmds.Unknown) else None
        if handler is None:
            return f"{name}: not available here"
        return handler(**cmd.kwargs())

    @property
    def source_statuses(self) -> list:
        statuses = [SourceStatus("procfs", True, detail="psutil")]
        if self.jetson:
            statuses += [SourceStatus("tegrastats", True, detail="tegrastats --interval 100"),
                         SourceStatus("nvml", False, reason="NVML present but NotSupported on Tegra")]
        else:
            statuses += [SourceStatus("rapl", True, detail="1 package"),
                         SourceStatus("nvml", False, reason="no NVIDIA driver (libnvidia-ml.so.1 not found)")]
        return statuses

    def machine_state(self) -> MachineView | None:
        return self._machine

    # ---- test helpers ----------------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        self._target_tick += int(round(seconds * self.hz))

    # ---- scripted data ---------------------------------------------------------------------

    def _meta(self) -> dict[str, Any]:
        if self.jetson:
            return {
                "host": "orin-nano", "board": "Jetson Orin Nano 8GB", "l4t": "36.4.3",
                "runner": "tensorrt", "framework": "TensorRT 10.3", "model": "yolov8n.engine",
                "record_path": "/home/nvidia/bench/recordings/20250301-101500-orin-nano-yolov8n",
                "emulated": True,
                "trip_points": {"temp_cpu_c": 99.0, "temp_gpu_c": 70.0, "temp_tj_c": 99.0},
                "clock_ceilings": {"cpu_freq_mhz": 1510.0, "gpu_freq_mhz": 624.75, "emc_freq_mhz": 2133.0},
            }
        return {
            "host": "bench-01", "board": "generic Linux x86_64", "runner": "onnxruntime",
            "framework": "onnxruntime 1.20", "model": "resnet50.onnx",
            "record_path": "/home/ci/bench/recordings/20250301-101500-bench-01-resnet50",
            "emulated": False, "trip_points": {"temp_cpu_c": 100.0},
        }

    def _initial_machine(self, recording: bool) -> MachineView:
        return MachineView(
            power_modes=[dict(m) for m in JETSON_MODES], power_mode_id=0, power_mode_name="15W",
            cpu_count=6, online_cores=[0, 1, 2, 3], jetson_clocks=False, fan_pct=40.0,
            recording=recording,
        )

    def _n_cores(self) -> int:
        return 6 if self.jetson else 4

    def _online(self, cpu: int) -> bool:
        if self._machine is not None:
            return cpu in self._machine.online_cores
        return not (self.jetson and cpu >= 4)

    def _tick(self, tick: int) -> tuple[Sample, LatencyBatch | None, list[Event]]:
        t_s = tick / self.hz
        t_ns = T0_NS + int(round(t_s * NS))
        rng = np.random.default_rng([self.seed, tick])
        crashed = self.crash_at_s is not None and t_s > self.crash_at_s
        busy = 0.0 if crashed else 1.0
        throttled = self.jetson and t_s >= THROTTLE_S[0] and not (self.is_replay and t_s >= THROTTLE_S[1])
        values: dict[str, float] = {}
        utils = []
        for cpu in range(self._n_cores()):
            online = self._online(cpu)
            if self.jetson:
                values[f"cpu{cpu}_online"] = 1.0 if online else 0.0
            if not online:
                continue
            util = float(np.clip(8 + busy * (55 + 25 * math.sin(t_s / 7 + cpu)) + rng.normal(0, 4), 0, 100))
            utils.append(util)
            values[f"cpu{cpu}_util_pct"] = round(util, 1)
            base = 1510.0 if self.jetson else 3400.0
            values[f"cpu{cpu}_freq_mhz"] = base * (0.8 if throttled else 1.0)
        values["cpu_util_pct"] = round(float(np.mean(utils)), 1)
        values["ram_total_mb"] = 7620.0 if self.jetson else 15890.0
        values["ram_used_mb"] = round((3100.0 if self.jetson else 6200.0) + 9 * min(t_s, 60) * busy, 1)
        values["swap_total_mb"] = 3810.0 if self.jetson else 2048.0
        values["swap_used_mb"] = 12.0
        heat = 1 - math.exp(-t_s / 45)
        if self.jetson:
            values["temp_cpu_c"] = round(48 + 30 * heat * busy + rng.normal(0, 0.3), 2)
            values["temp_gpu_c"] = round(47 + 36 * heat * busy + rng.normal(0, 0.3), 2)
            values["temp_soc0_c"] = round(46 + 25 * heat * busy, 2)
            values["temp_tj_c"] = max(values["temp_cpu_c"], values["temp_gpu_c"])
            values["gpu_util_pct"] = round(float(np.clip(busy * 92 + rng.normal(0, 3), 0, 100)), 1)
            values["gpu_freq_mhz"] = 510.0 if throttled else 624.75
            values["emc_util_pct"] = round(30 + 12 * busy, 1)
            values["emc_freq_mhz"] = 2133.0
            vin = 6200 + 3300 * busy + rng.normal(0, 60)
            values["power_vdd_in_mw"] = round(vin)
            values["power_vdd_in_avg_mw"] = round(6200 + 3300 * busy)
            values["power_vdd_cpu_gpu_cv_mw"] = round(1400 + 2500 * busy)
            values["power_vdd_cpu_gpu_cv_avg_mw"] = round(1400 + 2450 * busy)
            values["power_vdd_soc_mw"] = round(1700 + 400 * busy)
            values["power_vdd_soc_avg_mw"] = round(1700 + 390 * busy)
            values["power_total_mw"] = values["power_vdd_in_mw"]
            fan_pct = self._machine.fan_pct if self._machine is not None else None
            values["fan0_pwm_pct"] = fan_pct if fan_pct is not None else 40.0
            values["fan0_rpm"] = round(values["fan0_pwm_pct"] * 52)
        else:
            values["temp_cpu_c"] = round(44 + 30 * heat * busy + rng.normal(0, 0.3), 2)
            values["temp_nvme_c"] = round(38 + 4 * heat, 2)
            values["power_package_0_mw"] = round(9000 + 26000 * busy + rng.normal(0, 300))
            values["power_total_mw"] = values["power_package_0_mw"]
            values["load1"] = round(0.5 + 3.2 * heat * busy, 2)
        values["proc_monitor_cpu_pct"] = 2.1
        values["proc_worker_cpu_pct"] = round(busy * 98.0, 1)
        values["proc_worker_rss_mb"] = 812.0
        sample = Sample(t_ns, values)

        batch = None
        if not crashed:
            rows = int(self.rows_per_s / self.hz)
            warm = t_s <= self.warmup_s
            median_ms = (11.0 if warm else 8.0) * (1.2 if throttled else 1.0)
            d_ms = rng.lognormal(math.log(median_ms), 0.08, rows)
            spikes = rng.random(rows) < 0.01
            d_ms[spikes] *= 2.5
            t_end = t_ns - NS // int(self.hz) + (np.arange(1, rows + 1) * (NS // int(self.hz)) // rows)
            batch = LatencyBatch.from_lists(t_end, (d_ms * 1e6).astype(np.int64), np.ones(rows), warmup=warm)
        return sample, batch, self._script_events(tick, t_ns)

    def _script_events(self, tick: int, t_ns: int) -> list[Event]:
        at = {int(round(s * self.hz)) for s in (0.1, 0.2, self.warmup_s, 20.0, 30.0, 40.0, 150.0)}
        if tick not in at and not (self.crash_at_s is not None and tick == int(round(self.crash_at_s * self.hz)) + 1):
            return []
        out = []
        if tick == int(round(0.1 * self.hz)):
            out.append(Event(t_ns, EventKind.SESSION_START, {"workload": self.meta["model"]}))
            if not self.jetson:
                out.append(Event(t_ns, EventKind.SOURCE_UNAVAILABLE,
                                 {"source": "nvml", "reason": "no NVIDIA driver (libnvidia-ml.so.1 not found)"}))
        if tick == int(round(0.2 * self.hz)):
            out.append(Event(t_ns, EventKind.WORKER_HELLO,
                             {"runner": self.meta["runner"], "model": self.meta["model"]}))
        if tick == int(round(self.warmup_s * self.hz)):
            out.append(Event(t_ns, EventKind.WARMUP_DONE, {"iterations": 33, "seconds": self.warmup_s}))
        if tick == int(round(20.0 * self.hz)):
            out.append(Event(t_ns, EventKind.MARK, {"note": "door opened"}))
        if self.jetson and tick == int(round(30.0 * self.hz)):
            out.append(Event(t_ns, EventKind.POWER_MODE,
                             {"from_id": 2, "to_id": 0, "name": "15W", "ok": True,
                              "ceilings": {"cpu_freq_mhz": 1510.0, "gpu_freq_mhz": 624.75, "emc_freq_mhz": 2133.0}}))
        if self.jetson and tick in (int(round(40.0 * self.hz)), int(round(150.0 * self.hz))):
            out += [self._throttle(tick == int(round(40.0 * self.hz)), domain, clock, mhz, ceiling)
                    for domain, clock, mhz, ceiling in (("gpu", "gpu_freq_mhz", 510.0, 624.75),
                                                        ("cpu", "cpu0_freq_mhz", 1208.0, 1510.0))
                    if self.is_replay or tick == int(round(40.0 * self.hz))]
        if self.crash_at_s is not None and tick == int(round(self.crash_at_s * self.hz)) + 1:
            out.append(Event(t_ns, EventKind.WORKER_CRASHED,
                             {"returncode": -9, "signal": 9, "signal_name": "SIGKILL",
                              "reason": "killed by SIGKILL (out of memory)", "oom": True}))
        return out

    def _throttle(self, begin: bool, domain: str, clock: str, mhz: float, ceiling: float) -> Event:
        """The live classifier's event for the scripted thermal episode (40 s to 150 s)."""
        from edgemon.analysis.throttle_online import ThrottleChange

        lo, hi = (T0_NS + int(s * NS) for s in THROTTLE_S)
        return ThrottleChange("begin" if begin else "end", domain, lo, None if begin else hi, "thermal",
                              ("thermal",), ("temp_gpu_c reached 68.2 C (trip point 70 C)",), clock, mhz, mhz,
                              ceiling).to_event()

    # ---- commands --------------------------------------------------------------------------

    def _event(self, kind: str, **details: Any) -> None:
        self._extra_events.append(Event(T0_NS + int(self._target_tick / self.hz * NS), kind, details))

    def _cmd_pause(self) -> str:
        if self.is_replay:
            self.playing = False
            return "replay paused"
        self.state = "paused"
        self._event(EventKind.PAUSE)
        return "worker paused"

    def _cmd_resume(self) -> str:
        self.state = "running"
        self._wall0 = time.monotonic() - self._target_tick / self.hz
        self._event(EventKind.RESUME)
        return "worker resumed"

    def _cmd_mark(self, note: str = "") -> str:
        self._event(EventKind.MARK, note=note)
        return f"mark added: {note}" if note else "mark added"

    def _cmd_stop(self) -> str:
        self.state = "ended"
        return "stopping"

    def _cmd_detach(self) -> str:
        if not self.can_detach:
            return "detach: not available here"
        return "detached; the session goes on"

    def _cmd_power_mode(self, id: int) -> str:  # noqa: A002 - the Feed command's keyword
        if self._machine is None:
            return "power_mode: not available here"
        names = {m["id"]: m["name"] for m in self._machine.power_modes}
        if id not in names:
            return f"power mode {id} does not exist"
        old = self._machine.power_mode_id
        self._machine.power_mode_id, self._machine.power_mode_name = id, names[id]
        self._event(EventKind.POWER_MODE, from_id=old, to_id=id, name=names[id], ok=True)
        return f"power mode -> {id} ({names[id]})"

    def _cmd_core(self, cpu: int, online: bool) -> str:
        if self._machine is None:
            return "core: not available here"
        if cpu == 0:
            return "cpu0 cannot be taken offline"
        cores = set(self._machine.online_cores)
        (cores.add if online else cores.discard)(cpu)
        self._machine.online_cores = sorted(cores)
        self._event(EventKind.CORE_ONLINE, cpu=cpu, online=online, ok=True)
        return f"cpu{cpu} {'online' if online else 'offline'}"

    def _cmd_jetson_clocks(self, on: bool) -> str:
        if self._machine is None:
            return "jetson_clocks: not available here"
        self._machine.jetson_clocks = bool(on)
        self._event(EventKind.JETSON_CLOCKS, on=bool(on), ok=True)
        return f"jetson_clocks {'on' if on else 'off'}"

    def _cmd_fan(self, pct: float) -> str:
        if self._machine is None:
            return "fan: not available here"
        self._machine.fan_pct = float(pct)
        self._event(EventKind.FAN, pct=float(pct), ok=True)
        return f"fan -> {pct:.0f}%"

    # replay
    def _cmd_play(self) -> str:
        self.playing = True
        self._wall0 = time.monotonic() - self._target_tick / self.hz / max(self.speed, 1e-9)
        return "playing"

    def _cmd_toggle(self) -> str:
        return self._cmd_play() if not self.playing else self._cmd_pause()

    def _cmd_speed(self, factor: float) -> str:
        self.speed = float(factor)
        self._wall0 = time.monotonic() - self._target_tick / self.hz / self.speed
        return f"speed {factor:g}x"

    def _cmd_seek(self, delta_s: float | None = None, to: str | None = None) -> str:
        if not self.is_replay:
            return "seek: not available here"
        pos = self._target_tick / self.hz
        if to == "start":
            pos = 0.0
        elif to == "end":
            pos = self.length_s
        elif delta_s is not None:
            pos += float(delta_s)
        pos = min(max(pos, 0.0), self.length_s)
        self._target_tick = int(round(pos * self.hz))
        self._reset_pending = True
        self._wall0 = time.monotonic() - pos / max(self.speed, 1e-9)
        return f"seek to {pos:.0f} s"

    def _cmd_next_event(self) -> str:
        marks = [s for s in (0.1, 0.2, self.warmup_s, 20.0, 30.0, 40.0) if s > self._target_tick / self.hz + 1e-9]
        if not marks:
            return "no later event"
        return self._cmd_seek(to=None, delta_s=marks[0] - self._target_tick / self.hz)

    def _cmd_next_episode(self) -> str:
        return self._episode_jump(forward=True)

    def _cmd_prev_episode(self) -> str:
        return self._episode_jump(forward=False)

    def _episode_jump(self, forward: bool) -> str:
        if not self.is_replay:
            return "episodes: not available here"
        timeline = self.timeline()
        now = self._target_tick / self.hz
        episode = timeline.next_episode(now) if forward else timeline.prev_episode(now)
        if episode is None:
            return "no later throttling episode" if forward else "no earlier throttling episode"
        return self._cmd_seek(delta_s=episode.start_s - now)

    # ---- replay extras: the real analysis of this scripted session -------------------------

    analysis_state = "ready"
    analysis_error = ""

    def analysis(self) -> AnalysisResult:
        """``edgemon analyze`` of this scripted replay (see :func:`scripted_analysis`)."""
        return scripted_analysis(self.seed, self.hz, self.rows_per_s, self.length_s)

    def timeline(self) -> Timeline:
        """The throttling episodes of :meth:`analysis` and the marks of the scripted events."""
        if not hasattr(self, "_timeline"):
            marks = marks_from_events([(20.0, EventKind.MARK, {"note": "door opened"}),
                                       (30.0, EventKind.POWER_MODE, {"to_id": 0, "name": "15W", "ok": True})])
            episodes = tuple(episodes_from_throttling(self.analysis().throttling))
            self._timeline = Timeline(self.length_s, episodes, tuple(marks))
        return self._timeline

    def write_recording(self, folder: Path) -> Path:
        """This scenario's whole session (``length_s``, or ``seconds`` when live) as a real recording."""
        from edgemon.recording.writer import Recorder

        meta = {**self.meta, "workload": {"runner": self.meta["runner"], "model": self.meta["model"]}}
        rec = Recorder(folder, meta, flush_s=3600, roll_s=3600, fsync=False).open()
        ticks = int(round((self.length_s or self._target_tick / self.hz) * self.hz))
        for tick in range(1, ticks + 1):
            sample, batch, events = self._tick(tick)
            rec.on_sample(sample)
            if batch is not None:
                rec.on_latency(batch)
            for event in events:
                rec.on_event(event)
        rec.close({"reason": "end of the scripted session"})
        # Times count from the scripted origin, not from when this ran.
        path = Path(folder) / "session.json"
        session = json.loads(path.read_text())
        session["clock"]["monotonic_ns"] = T0_NS
        session["ended_monotonic_ns"] = T0_NS + int(ticks / self.hz * NS)
        path.write_text(json.dumps(session, indent=2))
        return Path(folder)

    def _cmd_prev_event(self) -> str:
        marks = [s for s in (0.1, 0.2, self.warmup_s, 20.0, 30.0, 40.0) if s < self._target_tick / self.hz - 1e-9]
        if not marks:
            return "no earlier event"
        return self._cmd_seek(to=None, delta_s=marks[-1] - self._target_tick / self.hz)


# The scripted Jetson is at about 68 C when its clocks drop at 40 s (and heats to 82 C) against
# trip points of 99 C, so its throttling is analysed as `edgemon analyze --thermal-margin 32`
# would: a cause is what was true when the episode began (within 32 C of a trip: thermal).
SCRIPTED_THERMAL_MARGIN_C = 32.0


@lru_cache(maxsize=4)
def scripted_analysis(seed: int = 0, hz: float = 10.0, rows_per_s: float = 120.0,
                      length_s: float = 180.0) -> AnalysisResult:
    """The real analysis of the scripted replay: written once per process to a temporary
    recording (about two seconds), analysed, the recording removed."""
    from edgemon.analysis.result import analyze_result
    from edgemon.analysis.summary import AnalysisOptions
    from edgemon.recording.reader import open_recording

    feed = FakeFeed("replay", seed=seed, sample_hz=hz, rows_per_s=rows_per_s)
    feed.length_s = length_s
    with tempfile.TemporaryDirectory(prefix="edgemon-demo-") as tmp:
        folder = feed.write_recording(Path(tmp) / "replay")
        return analyze_result(open_recording(folder), AnalysisOptions(thermal_margin_c=SCRIPTED_THERMAL_MARGIN_C))
