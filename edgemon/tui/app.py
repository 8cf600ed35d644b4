"""The live/replay dashboard: polls a Feed ``redraw_hz`` times a second (default 2, at most 4)
and redraws once per poll, only the panel lines that changed.

The feed is drained on the UI thread (``drain``/``status``/``machine_state`` are
cheap by contract); ``feed.command`` may block (nvpmodel takes seconds), so
commands run one at a time on a single background thread, in key-press order.

What a feed offers beyond the protocol it declares in ``feed.capabilities``
(:class:`edgemon.feeds.base.Capabilities`; ReplayFeed has them all, a feed without one simply
lacks the feature): ``timeline`` (the strip under the header, ``t`` / ``T`` jump between
episodes), ``analysis`` (the ``a`` screen), ``replay`` (playhead keys), ``detach`` (quitting asks
whether to leave the session running).
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import cast

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal

from edgemon.control.machine_view import MachineView
from edgemon.analysis.result import AnalysisResult
from edgemon.feeds import commands as cmds
from edgemon.feeds.base import AnalysisFeed, Feed, FeedStatus, FeedUpdate, TimelineFeed
from edgemon.tui.screens import (
    AnalysisScreen,
    ConfirmScreen,
    CoresScreen,
    HelpScreen,
    PowerModeScreen,
    QuitScreen,
    TextInputScreen,
)
from edgemon.tui.widgets.base import Panel, ViewState
from edgemon.tui.widgets.cpu import CpuPanel
from edgemon.tui.widgets.events import EventLog, StatusStrip
from edgemon.tui.widgets.footer import KeyFooter
from edgemon.tui.widgets.header import Header
from edgemon.tui.widgets.jetson import JetsonPanel
from edgemon.tui.widgets.latency import LatencyPanel
from edgemon.tui.widgets.memory import SystemPanel
from edgemon.tui.widgets.throughput import ThroughputPanel
from edgemon.tui.widgets.timeline import TimelineStrip
from edgemon.view.metric_groups import has_accelerator_metrics
from edgemon.view.model import DashboardModel
from edgemon.view.timeline import Timeline

REPLAY_SPEEDS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
ENDED_STATES = ("ended", "crashed")
SIGNAL_EXIT_CODE = 130
# The footer: every key, pairs on one entry, in this order; an entry shows when its action is
# available here (check_action), dimmed while disabled (a session that ended).
FOOTER_KEYS = (
    ("q", "quit", "quit_dashboard", ()),
    ("p", "pause", "pause", ()),
    ("m", "mark", "mark", ()),
    ("?", "help", "help", ()),
    ("w", "10s/all", "toggle_window", ()),
    ("o", "mode", "power_mode", ()),
    ("c", "cores", "cores", ()),
    ("j", "clocks", "jetson_clocks", ()),
    ("f", "fan", "fan", ()),
    ("space", "play", "replay", ("toggle",)),
    ("+/-", "speed", "speed", (1,)),
    ("←/→", "10s", "seek", (10,)),
    ("[/]", "1min", "seek", (60,)),
    ("Home/End", "ends", "seek_to", ("start",)),
    ("n/N", "event", "replay", ("next_event",)),
    ("t/T", "throttling", "replay", ("next_episode",)),
    ("a", "analysis", "analysis", ()),
)
TERMINAL_CHECK_S = 5.0
LIVE_ONLY = {"mark", "pause"}
JETSON_ONLY = {"power_mode", "cores", "jetson_clocks", "fan"}
REPLAY_ONLY = {"replay", "speed", "seek", "seek_to"}
DEFAULT_REDRAW_HZ = 2.0
OWN_CPU_WINDOW_S = 10.0   # the dashboard's own CPU is shown as its mean over this long
MAX_REDRAW_HZ = 4.0       # SSH bandwidth and the monitor's own CPU


class DashboardApp(App[int]):
    CSS_PATH = "dashboard.tcss"
    TITLE = "edgemon"
    ENABLE_COMMAND_PALETTE = False
    HORIZONTAL_BREAKPOINTS = [(0, "-tiny"), (70, "-narrow"), (140, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (34, "-tall")]

    BINDINGS = [
        Binding("q", "quit_dashboard", "quit"),
        # Ctrl+C asks like q does (Textual's own would only say "press ctrl+q")
        Binding("ctrl+c", "quit_dashboard", "quit", key_display="^c", priority=True),
        Binding("p", "pause", "pause"),
        Binding("m", "mark", "mark"),
        Binding("question_mark", "help", "help", key_display="?"),
        Binding("w", "toggle_window", "10s/all", show=False),
        Binding("o", "power_mode", "mode"),
        Binding("c", "cores", "cores"),
        Binding("j", "jetson_clocks", "clocks"),
        Binding("f", "fan", "fan"),
        Binding("space", "replay('toggle')", "play/pause"),
        Binding("t", "replay('next_episode')", "next throttling"),
        Binding("T", "replay('prev_episode')", "previous throttling", show=False),
        Binding("a", "analysis", "analysis"),
        Binding("plus", "speed(1)", "faster", key_display="+"),
        Binding("minus", "speed(-1)", "slower", key_display="-"),
        Binding("left", "seek(-10)", "-10s", key_display="<-"),
        Binding("right", "seek(10)", "+10s", key_display="->"),
        Binding("shift+left,left_square_bracket", "seek(-60)", "-1 min", show=False, key_display="["),
        Binding("shift+right,right_square_bracket", "seek(60)", "+1 min", show=False, key_display="]"),
        Binding("home", "seek_to('start')", "start", show=False),
        Binding("end", "seek_to('end')", "end", show=False),
        Binding("n", "replay('next_event')", "next event"),
        Binding("N", "replay('prev_event')", "previous event", show=False),
    ]

    def __init__(self, feed: Feed, *, ascii: bool = False, redraw_hz: float = DEFAULT_REDRAW_HZ,
                 model: DashboardModel | None = None) -> None:
        super().__init__()
        self.feed = feed
        self.ascii = ascii
        self.redraw_hz = min(max(redraw_hz, 0.1), MAX_REDRAW_HZ)
        self.model = model or DashboardModel()
        self.latency_window = False
        self.status = FeedStatus(state="starting")
        # Known before the footer is composed: which keys it shows depends on it (check_action).
        try:
            self.machine: MachineView | None = feed.machine_state()
        except Exception:  # noqa: BLE001 - the first poll reports what broke
            self.machine = None
        self.timeline: Timeline | None = None
        self.feed_error = ""
        self.polls = 0
        # This process's CPU over the last ~10 s, when the session runs in another process (a
        # detached session's proc_monitor_cpu_pct does not include the dashboard).
        self._own_cpu: deque[tuple[float, float]] = deque()
        self.dashboard_cpu_pct: float | None = None
        self._speed_wanted: float | None = None   # replay speed asked for, not confirmed yet
        self._speed_pending = 0
        self._ended = False
        # A SIGINT/SIGTERM (edgemon.tui.signals) ends the app through this loop, set while mounted.
        self.exit_signal: int | None = None
        self._signal_loop: asyncio.AbstractEventLoop | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="edgemon-command")

    def get_driver_class(self):
        """Textual's choice, but on a Linux terminal its driver with the quiet input thread
        (edgemon.tui.driver); a driver set through TEXTUAL_DRIVER (the browser) is kept."""
        from edgemon.tui.driver import terminal_driver

        return terminal_driver(super().get_driver_class())

    # ---- layout ----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        # Kept as attributes: while a modal is on top, app.query() would search the modal.
        self.header = Header(id="header")
        self.timeline_strip = TimelineStrip(id="timeline")
        self.jetson_panel = JetsonPanel(id="jetson")
        self.strip = StatusStrip(id="strip")
        self.panels: list[Panel] = [self.header, self.timeline_strip]
        yield self.header
        yield self.timeline_strip
        with Horizontal(id="top"):
            yield self._panel(LatencyPanel(id="latency"))
            yield self._panel(ThroughputPanel(id="throughput"))
        with Horizontal(id="middle"):
            yield self._panel(CpuPanel(id="cpu"))
            yield self._panel(SystemPanel(id="system"))
            yield self._panel(self.jetson_panel)
        yield self._panel(EventLog(id="events"))
        yield self._panel(self.strip)
        self.key_footer = KeyFooter(id="footer")
        yield self.key_footer

    def _panel(self, panel: Panel) -> Panel:
        self.panels.append(panel)
        return panel

    def on_mount(self) -> None:
        self._signal_loop = asyncio.get_running_loop()
        if self.exit_signal is not None:    # a signal came while Textual was starting
            self.exit(SIGNAL_EXIT_CODE)
            return
        if self.ascii:
            self.screen.add_class("ascii")
        self.jetson_panel.display = False
        # Replay: the recording's timeline; live: the session so far from its throttle events.
        self.timeline_strip.display = True
        self.screen.set_class(True, "-timeline")
        self.poll()
        self.set_interval(1.0 / self.redraw_hz, self.poll)
        self.set_interval(TERMINAL_CHECK_S, self._check_terminal)

    def on_unmount(self) -> None:
        self._signal_loop = None
        self._executor.shutdown(wait=False, cancel_futures=True)

    def exit_on_signal(self, signum: int) -> None:
        """From a signal handler, which may run in the middle of any of Textual's code: only
        schedule the exit, so Textual shuts down in order (before mount, on_mount does it)."""
        self.exit_signal = signum
        loop = self._signal_loop
        if loop is not None:
            try:
                loop.call_soon_threadsafe(self.exit, SIGNAL_EXIT_CODE)
            except RuntimeError:    # the loop closed: run() is returning anyway
                pass

    # ---- polling ---------------------------------------------------------------------------

    def poll(self) -> None:
        """Drain the feed and redraw once. Synchronous, so polls can never overlap; the timer
        skips ticks a slow poll missed instead of queueing them."""
        had_machine = self.machine is not None
        try:
            update = self.feed.drain()
            self.status = self.feed.status()
            self.machine = self.feed.machine_state()
            self.timeline = self._feed_timeline()
            self.feed_error = ""
        except Exception as exc:  # the dashboard stays up and says what broke
            update = FeedUpdate()
            self.feed_error = f"{type(exc).__name__}: {exc}"
        ended = not self.feed.is_replay and self.status.state in ENDED_STATES
        if (self.machine is not None) != had_machine or ended != self._ended:
            self._ended = ended
            self.refresh_bindings()     # the Jetson keys come and go with the controls; an end disables them
        self.model.apply(update)
        self.model.observe(self.status)
        if not self.feed.capabilities.timeline:
            self.timeline = self.model.live_timeline()
        self.polls += 1
        self._measure_own_cpu()
        view = self.view_state()
        show_jetson = self.machine is not None or has_accelerator_metrics(self.model.latest)
        with self.batch_update():
            if self.jetson_panel.display != show_jetson:
                self.jetson_panel.display = show_jetson
            self.strip.set_class(bool(view.unavailable), "-has-items")
            for panel in self.panels:
                panel.show(view)
            self.update_footer()
        if isinstance(self.screen, CoresScreen) and self.machine is not None:
            self.screen.update_machine(self.machine)
        elif isinstance(self.screen, AnalysisScreen):
            self.screen.update_analysis(*self._analysis_args())

    def _feed_timeline(self) -> Timeline | None:
        return cast(TimelineFeed, self.feed).timeline() if self.feed.capabilities.timeline else None

    def _analysis_args(self) -> tuple[AnalysisResult | None, str, str, list[float]]:
        """(result, state, error, episode starts) for the analysis screen."""
        if not self.feed.capabilities.analysis:
            return None, "off", "", []
        feed = cast(AnalysisFeed, self.feed)
        result = feed.analysis()
        state, error = str(feed.analysis_state), str(feed.analysis_error)
        timeline = self.timeline
        if result is not None and timeline is not None and timeline.state == "ready":
            starts = [e.start_s for e in timeline.episodes]
        else:
            from edgemon.view.analysis_text import episode_starts

            starts = episode_starts(result) if result is not None else []
        return result, state, error, starts

    def view_state(self) -> ViewState:
        return ViewState(
            model=self.model, status=self.status, meta=self.feed.meta or {},
            machine=self.machine, is_replay=bool(self.feed.is_replay), ascii=self.ascii,
            latency_window=self.latency_window, unavailable=self.unavailable(), feed_error=self.feed_error,
            timeline=self.timeline, dashboard_cpu_pct=self.dashboard_cpu_pct,
        )

    def _measure_own_cpu(self) -> None:
        if not getattr(self.feed, "can_detach", False):
            return        # replay, or a session in this very process (its figure includes us)
        now, cpu = time.monotonic(), time.process_time()
        marks = self._own_cpu
        marks.append((now, cpu))
        while len(marks) > 2 and now - marks[1][0] >= OWN_CPU_WINDOW_S:
            marks.popleft()
        t0, c0 = marks[0]
        if now - t0 >= 1.0:
            self.dashboard_cpu_pct = 100.0 * (cpu - c0) / (now - t0)

    def unavailable(self) -> list[tuple[str, str]]:
        out = [(s.name, s.reason or "unavailable") for s in self.feed.source_statuses if not s.available]
        if self.machine is not None:
            out += sorted(self.machine.unavailable.items())
        return out

    def _check_terminal(self) -> None:
        # Over SSH a dropped connection can leave us spinning on a dead TTY (Dolphie does this too).
        # A dashboard served to a browser (`edgemon serve`: textual-serve's web driver) reads its
        # keys from a pipe and has no terminal to lose; the server ends it when the page closes.
        if self.is_headless or self.is_web:
            return
        if not sys.stdin.isatty():
            self.exit(1)

    # ---- commands --------------------------------------------------------------------------

    def send(self, cmd: cmds.Command) -> None:
        """Run ``feed.command`` on the command thread and show its answer as a notification."""
        self.run_worker(self._send(cmd), group="commands")

    async def _send(self, cmd: cmds.Command) -> str | None:
        loop = asyncio.get_running_loop()
        try:
            message = await loop.run_in_executor(self._executor, partial(self.feed.command, cmd))
        except Exception as exc:  # a failing control must never take the dashboard down
            message = f"{cmd.name} failed: {type(exc).__name__}: {exc}"
            self.notify(message, severity="error", timeout=6)
            self._answered(cmd.name)
            return message
        if message:
            self.notify(message, timeout=4)
        self._answered(cmd.name)
        self.poll()
        return message

    def _answered(self, name: str) -> None:
        if name == "speed":
            self._speed_pending -= 1
            if self._speed_pending <= 0:    # every press answered: the feed's own speed rules again
                self._speed_pending, self._speed_wanted = 0, None

    def footer_entries(self) -> list[tuple[str, str, bool]]:
        """``(keys, what, enabled)`` for every key available here, in :data:`FOOTER_KEYS` order."""
        out = []
        for keys, what, action, params in FOOTER_KEYS:
            state = self.check_action(action, params)
            if state is False:
                continue
            out.append((keys, what, state is True))
        return out

    def update_footer(self) -> None:
        self.key_footer.set_entries(self.footer_entries(), ascii=self.ascii)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        replay = bool(self.feed.is_replay)
        if action in LIVE_ONLY | JETSON_ONLY and not replay and self.status.state in ENDED_STATES:
            return None if action in LIVE_ONLY or self.machine is not None else False   # shown, disabled
        if action == "analysis":
            return self.feed.capabilities.analysis
        if action == "replay" and parameters and str(parameters[0]).endswith("_episode"):
            return replay and self.feed.capabilities.timeline
        if action in REPLAY_ONLY:
            return replay
        if action in LIVE_ONLY:
            return not replay
        if action in JETSON_ONLY:
            return not replay and self.machine is not None
        return True

    def _confirm_then(self, question: str, cmd: cmds.Command) -> None:
        """Ask first while recording (the change lands in the recording), else send at once."""
        if self.machine is not None and self.machine.recording:
            def answered(yes: bool | None) -> None:
                if yes:
                    self.send(cmd)
            self.push_screen(ConfirmScreen(f"{question}\nThis session is recording; the change is recorded as an "
                                           "event."), answered)
        else:
            self.send(cmd)

    def _control(self, control: str) -> MachineView | None:
        """The machine view when ``control`` can be used, else a notification saying why not."""
        machine = self.machine
        if machine is None:
            self.notify(f"{control}: no controls in this session", severity="warning")
            return None
        reason = machine.unavailable.get(control)
        if reason:
            self.notify(f"{control}: {reason}", severity="warning", timeout=6)
            return None
        return machine

    # ---- actions: everyone -------------------------------------------------------------------

    async def action_quit_dashboard(self) -> None:
        """Replay or a finished session: just exit. Live: stop the session, or, when it runs
        in its own process (``feed.can_detach``), ask whether to detach or stop."""
        if self.feed.is_replay or self.status.state not in ("starting", "running", "paused"):
            self.exit(0)
        elif self.feed.capabilities.detach:
            def chosen(choice: str | None) -> None:
                if choice:
                    self.run_worker(self._leave(choice), group="commands")
            self.push_screen(QuitScreen(), chosen)
        else:
            await self._leave("stop")

    async def _leave(self, command: str) -> None:
        await self._send(cmds.Detach() if command == "detach" else cmds.Stop())
        self.exit(0)

    async def action_quit(self) -> None:
        """Textual's own quit key (ctrl+q) goes the same way as q."""
        await self.action_quit_dashboard()

    def action_pause(self) -> None:
        if self.feed.is_replay:
            self.send(cmds.Toggle())
        else:
            self.send(cmds.Resume() if self.status.state == "paused" else cmds.Pause())

    def action_mark(self) -> None:
        def done(note: str | None) -> None:
            if note is not None:
                self.send(cmds.Mark(note=note))
        self.push_screen(TextInputScreen("mark: a note for this moment (Enter adds, Escape cancels)",
                                         placeholder="e.g. door opened", blink=not self.is_headless), done)

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.key_help(), self.source_help()))

    def action_analysis(self) -> None:
        def chosen(start_s: float | None) -> None:
            if start_s is not None:
                self.send(cmds.Seek(to=float(start_s)))
        self.push_screen(AnalysisScreen(*self._analysis_args()), chosen)

    def action_toggle_window(self) -> None:
        self.latency_window = not self.latency_window
        self.poll()

    def key_help(self) -> list[tuple[str, str]]:
        out = []
        for binding in self.BINDINGS:
            assert isinstance(binding, Binding)
            name, _, args = binding.action.partition("(")
            params = tuple(a.strip(" '\")") for a in args.split(",") if a.strip(" ')\"")) if args else ()
            if self.check_action(name, params) is False:
                continue
            keys = ", ".join(binding.key_display or k for k in binding.key.split(","))
            if binding.key_display and "," in binding.key:
                keys = binding.key.replace("_", " ").replace(",", ", ")
            out.append((keys, binding.description))
        return out

    def source_help(self) -> list[tuple[str, bool, str]]:
        out = [(s.name, bool(s.available), s.reason or s.detail) for s in self.feed.source_statuses]
        if self.machine is not None:
            for control in ("power_mode", "cores", "jetson_clocks", "fan"):
                reason = self.machine.unavailable.get(control, "")
                out.append((f"control {control}", not reason, reason))
        return out

    # ---- actions: Jetson controls ------------------------------------------------------------

    def action_power_mode(self) -> None:
        machine = self._control("power_mode")
        if machine is None:
            return
        if not machine.power_modes:
            self.notify("power_mode: this board lists no power modes", severity="warning")
            return
        names = {m.get("id"): m.get("name", "") for m in machine.power_modes}

        def picked(mode_id: int | None) -> None:
            if mode_id is None or mode_id == machine.power_mode_id:
                return
            self._confirm_then(f"Switch power mode to {mode_id} ({names.get(mode_id, '?')})?",
                               cmds.PowerMode(id=mode_id))
        self.push_screen(PowerModeScreen(machine), picked)

    def action_cores(self) -> None:
        machine = self._control("cores")
        if machine is None:
            return

        def request(cpu: int, online: bool) -> None:
            self._confirm_then(f"Take cpu{cpu} {'online' if online else 'offline'}?", cmds.Core(cpu=cpu, online=online))
        self.push_screen(CoresScreen(machine, request))

    def action_jetson_clocks(self) -> None:
        machine = self._control("jetson_clocks")
        if machine is None:
            return
        on = not bool(machine.jetson_clocks)
        self._confirm_then(f"Turn jetson_clocks {'on' if on else 'off'}?", cmds.JetsonClocks(on=on))

    def action_fan(self) -> None:
        if self._control("fan") is None:
            return

        def validate(text: str) -> str | None:
            try:
                value = float(text)
            except ValueError:
                return "type a number from 0 to 100"
            return None if 0 <= value <= 100 else "type a number from 0 to 100"

        def done(text: str | None) -> None:
            if text is None:
                return
            pct = float(text)
            self._confirm_then(f"Set the fan to {pct:g} %?", cmds.Fan(pct=pct))
        self.push_screen(TextInputScreen("fan speed in % (0-100)", placeholder="e.g. 80", validate=validate,
                                         blink=not self.is_headless), done)

    # ---- actions: replay ---------------------------------------------------------------------

    def action_replay(self, name: str) -> None:
        self.send(cmds.parse(name))

    def action_seek(self, delta_s: float) -> None:
        self.send(cmds.Seek(delta_s=float(delta_s)))

    def action_seek_to(self, to: str) -> None:
        self.send(cmds.Seek(to=to))

    def action_speed(self, direction: int) -> None:
        # Fast presses: step from the speed last asked for, not from the feed's (not answered yet),
        # so that + + + goes three steps up and none is lost.
        current = self._speed_wanted if self._speed_wanted is not None else (self.status.speed or 1.0)
        if direction > 0:
            factor = next((s for s in REPLAY_SPEEDS if s > current), REPLAY_SPEEDS[-1])
        else:
            factor = next((s for s in reversed(REPLAY_SPEEDS) if s < current), REPLAY_SPEEDS[0])
        self._speed_wanted = factor
        self._speed_pending += 1
        self.send(cmds.Speed(factor=factor))
