"""The seam between a data source and whatever shows it (dashboard, headless status line).

Live, replay and attach differ only in which :class:`Feed` is plugged in; the
dashboard never knows which. A feed is polled (``drain``) by its consumer at its
own pace, so a slow screen never slows the sampler or the recorder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from edgemon.control.machine_view import MachineView
from edgemon.datatypes import Event, LatencyBatch, Sample


@dataclass
class FeedUpdate:
    """Everything new since the previous ``drain``. ``reset``: drop all state first (replay seek)."""

    samples: list[Sample] = field(default_factory=list)
    latency: list[LatencyBatch] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    reset: bool = False


@dataclass
class FeedStatus:
    """Where the session stands. ``state``: starting, running, paused, ended, crashed, replay."""

    state: str
    elapsed_s: float = 0.0
    remaining_s: float | None = None      # None: until quit
    t_ns: int = 0                         # monotonic "now" of the data (replay: the playhead)
    playing: bool = True                  # replay only
    speed: float = 1.0                    # replay only
    position_s: float = 0.0               # replay only: playhead from session start
    length_s: float = 0.0                 # replay only
    message: str = ""                     # one line for the header, e.g. "worker crashed: SIGKILL"


class Feed:
    """Base class for live sessions and replays.

    ``meta`` is the session description (the contents of ``session.json``:
    host, runner, model, record path, emulated, ...). ``source_statuses`` lists
    :class:`edgemon.telemetry.base.SourceStatus` for sources that are present or
    unavailable, so the dashboard can say which source is missing and why.

    Commands (``command(name, **kw)``; return a one-line message or None):
      live:   pause, resume, mark(note=...), stop,
              power_mode(id=N), core(cpu=N, online=bool), jetson_clocks(on=bool), fan(pct=N)
      replay: play, pause, toggle, seek(delta_s=+-N) , seek(to="start"|"end"), speed(factor=N)
              next_event / prev_event
    An unsupported command returns a message saying so, never raises.

    Optional extras a replay offers (the dashboard looks them up by name, so a feed
    without them simply has no timeline strip or analysis screen):
      timeline() -> edgemon.view.timeline.Timeline   throttled stretches and marks
      analysis() -> dict | None                      edgemon.analysis.summary.analyze()
      analysis_state: waiting | running | ready | failed | off;  analysis_error: str
      commands next_episode / prev_episode
    """

    is_replay = False
    # True when the session runs in its own process: quitting the dashboard may then
    # detach (the test goes on) instead of stopping it; command("detach") is supported.
    can_detach = False
    meta: dict[str, Any]

    def drain(self) -> FeedUpdate:
        raise NotImplementedError

    def status(self) -> FeedStatus:
        raise NotImplementedError

    def command(self, name: str, **kw: Any) -> str | None:
        return f"{name}: not available here"

    @property
    def source_statuses(self) -> list:
        return []

    def machine_state(self) -> MachineView | None:
        """What the control panels show and act on; None when there are no controls (replay)."""
        return None

    def close(self) -> None:
        pass
