"""The seam between a data source and whatever shows it (dashboard, headless status line).

Live, replay and attach differ only in which :class:`Feed` is plugged in; the
dashboard never knows which. What a feed offers beyond the protocol (a timeline, an
analysis, detaching) it declares in its :class:`Capabilities`. A feed is polled (``drain``) by its consumer at its
own pace, so a slow screen never slows the sampler or the recorder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from edgemon.control.machine_view import MachineView
from edgemon.datatypes import Event, LatencyBatch, Sample
from edgemon.feeds.commands import AnyCommand, as_command, wire_name
from edgemon.telemetry.base import SourceStatus

if TYPE_CHECKING:
    from edgemon.analysis.result import AnalysisResult
    from edgemon.view.latency_digest import LatencyDigest
    from edgemon.view.timeline import Timeline


@dataclass
class FeedUpdate:
    """Everything new since the previous ``drain``. ``reset``: drop all state first (replay seek).
    ``state``: a whole :class:`edgemon.view.model.ModelState` to start from after the reset (an
    attach: the session process sends every chart's history at once), then the items.
    ``digests``: latency rows as :mod:`edgemon.view.latency_digest` summarises them."""

    samples: list[Sample] = field(default_factory=list)
    latency: list[LatencyBatch] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    reset: bool = False
    state: Any = None
    # Latency rows already summarised (a detached session sends these, not its rows).
    digests: list[LatencyDigest] = field(default_factory=list)


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
    recording: str = ""                   # the recording's flag: "REC STOPPED: disk full after 6.2 s",
                                          # "DISK 8 min left", or the measured rate and free space
    recording_level: str = ""             # "", info, warn, fail (session/recording_watch.py)


@dataclass(frozen=True)
class Capabilities:
    """What a feed offers beyond the :class:`Feed` protocol, declared instead of looked up.

    ``replay``: a recording played back (playhead commands, no machine controls).
    ``detach``: the session runs in its own process; quitting may leave it running
    (:class:`~edgemon.feeds.commands.Detach`). ``timeline``: :meth:`TimelineFeed.timeline`
    (the strip under the header, the next/previous episode commands). ``analysis``:
    :class:`AnalysisFeed` (the analysis screen).
    """

    replay: bool = False
    detach: bool = False
    timeline: bool = False
    analysis: bool = False


@runtime_checkable
class Feed(Protocol):
    """The seam every consumer drains: live sessions, attach, replay, demo.

    ``meta`` is the session description (the contents of ``session.json``: host, runner,
    model, record path, emulated, ...). ``source_statuses`` lists
    :class:`edgemon.telemetry.base.SourceStatus` for sources that are present or unavailable,
    so the dashboard can say which source is missing and why.

    :meth:`command` takes a command of :mod:`edgemon.feeds.commands` (or its wire form, a
    name and keyword arguments) and returns a one-line message or None; a command a feed
    does not support is answered with a message saying so, never an exception:

      live:   Pause, Resume, TogglePause, Mark(note), Stop, PowerMode(id), Core(cpu, online),
              Cores(mask), JetsonClocks(on), Fan(pct); attached sessions also Detach
      replay: Play, Pause, Toggle, Seek(delta_s | to), Speed(factor), NextEvent, PrevEvent,
              and with a timeline NextEpisode, PrevEpisode

    Feeds subclass this protocol for its defaults and set ``capabilities``.
    """

    meta: dict[str, Any]
    capabilities: Capabilities = Capabilities()

    @property
    def is_replay(self) -> bool:
        return self.capabilities.replay

    @property
    def can_detach(self) -> bool:
        return self.capabilities.detach

    def drain(self) -> FeedUpdate:
        raise NotImplementedError

    def status(self) -> FeedStatus:
        raise NotImplementedError

    def command(self, cmd: AnyCommand, **kw: Any) -> str | None:
        return f"{wire_name(as_command(cmd, kw))}: not available here"

    @property
    def source_statuses(self) -> list[SourceStatus]:
        return []

    def machine_state(self) -> MachineView | None:
        """What the control panels show and act on; None when there are no controls (replay)."""
        return None

    def close(self) -> None:
        return None


@runtime_checkable
class TimelineFeed(Protocol):
    """A feed with ``capabilities.timeline``: throttled stretches and marks over the recording."""

    def timeline(self) -> Timeline: ...


@runtime_checkable
class AnalysisFeed(Protocol):
    """A feed with ``capabilities.analysis``: the analysis of its recording.

    ``analysis()`` is None until ``analysis_state`` is ``ready`` (states: waiting, running,
    ready, failed, off); ``analysis_error`` says why it failed.
    """

    analysis_state: str
    analysis_error: str

    def analysis(self) -> AnalysisResult | None: ...
