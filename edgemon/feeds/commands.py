"""What a consumer asks of a feed, typed: one frozen dataclass per command.

The dashboard, the headless loop, the run plan and the control socket build these and hand
them to :meth:`edgemon.feeds.base.Feed.command`. On the control socket (and in older code) a
command travels as its wire form, a name and keyword arguments (``{"name": "seek", "kw":
{"delta_s": 10}}``); :func:`parse` turns that back into a command, :meth:`Command.kwargs` gives
it. A name no command has parses to :class:`Unknown` and a command missing an argument to
:class:`Invalid`, which every feed answers with a one-line message: a command never raises.

Values that came over the wire are not converted: a feed checks them (``Speed(factor="fast")``
is answered "factor must be a number").
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from typing import Any, ClassVar, Mapping, Union


@dataclass(frozen=True)
class Command:
    """Base of every command; ``name`` is its wire name."""

    name: ClassVar[str] = ""

    def kwargs(self) -> dict[str, Any]:
        """The wire form's keyword arguments: every field that is set (not None)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


# ---------------------------------------------------------------------------- a live session


@dataclass(frozen=True)
class Pause(Command):
    """Pause the worker (live) or the playhead (replay)."""

    name: ClassVar[str] = "pause"


@dataclass(frozen=True)
class Resume(Command):
    name: ClassVar[str] = "resume"


@dataclass(frozen=True)
class TogglePause(Command):
    name: ClassVar[str] = "toggle_pause"


@dataclass(frozen=True)
class Mark(Command):
    """A note at this moment, recorded as a ``mark`` event."""

    name: ClassVar[str] = "mark"
    note: str = ""


@dataclass(frozen=True)
class Stop(Command):
    """End the session (a session in its own process too)."""

    name: ClassVar[str] = "stop"


@dataclass(frozen=True)
class Detach(Command):
    """Leave a session that runs in its own process; it goes on."""

    name: ClassVar[str] = "detach"


@dataclass(frozen=True)
class PowerMode(Command):
    name: ClassVar[str] = "power_mode"
    id: int


@dataclass(frozen=True)
class Core(Command):
    """Take one CPU core online or offline (cpu0 never goes offline)."""

    name: ClassVar[str] = "core"
    cpu: int
    online: bool


@dataclass(frozen=True)
class Cores(Command):
    """Exactly these cores online (profiles: ``cores = [0, 3, 4, 5]``)."""

    name: ClassVar[str] = "cores"
    mask: tuple[int, ...] | list[int]


@dataclass(frozen=True)
class JetsonClocks(Command):
    name: ClassVar[str] = "jetson_clocks"
    on: bool


@dataclass(frozen=True)
class Fan(Command):
    """Fan drive in percent (0-100)."""

    name: ClassVar[str] = "fan"
    pct: float


# ---------------------------------------------------------------------------- a replay


@dataclass(frozen=True)
class Play(Command):
    name: ClassVar[str] = "play"


@dataclass(frozen=True)
class Toggle(Command):
    """Play or pause the replay."""

    name: ClassVar[str] = "toggle"


@dataclass(frozen=True)
class Seek(Command):
    """Move the playhead by ``delta_s`` seconds, or to ``to``: seconds from the start, "start" or "end"."""

    name: ClassVar[str] = "seek"
    delta_s: float | None = None
    to: float | str | None = None


@dataclass(frozen=True)
class Speed(Command):
    name: ClassVar[str] = "speed"
    factor: float = 1.0


@dataclass(frozen=True)
class NextEvent(Command):
    name: ClassVar[str] = "next_event"


@dataclass(frozen=True)
class PrevEvent(Command):
    name: ClassVar[str] = "prev_event"


@dataclass(frozen=True)
class NextEpisode(Command):
    """Jump to the next throttling episode (a feed with a timeline)."""

    name: ClassVar[str] = "next_episode"


@dataclass(frozen=True)
class PrevEpisode(Command):
    name: ClassVar[str] = "prev_episode"


# ---------------------------------------------------------------------------- not a command


@dataclass(frozen=True)
class Unknown(Command):
    """A wire name no command has; feeds answer ``"<name>: not available ..."``."""

    wire_name: str = ""
    arguments: Mapping[str, Any] = field(default_factory=dict)

    def kwargs(self) -> dict[str, Any]:
        return dict(self.arguments)


@dataclass(frozen=True)
class Invalid(Command):
    """A known command whose arguments did not fit; ``message`` says why, in one line."""

    wire_name: str = ""
    message: str = ""

    def kwargs(self) -> dict[str, Any]:
        return {}


AnyCommand = Union[Command, str]

COMMANDS: dict[str, type[Command]] = {
    cls.name: cls
    for cls in (Pause, Resume, TogglePause, Mark, Stop, Detach, PowerMode, Core, Cores, JetsonClocks, Fan,
                Play, Toggle, Seek, Speed, NextEvent, PrevEvent, NextEpisode, PrevEpisode)
}
# What a session in its own process takes over its control socket (detach is the client's own).
SESSION_COMMAND_NAMES = frozenset(c.name for c in (Pause, Resume, TogglePause, Mark, Stop, PowerMode, Core,
                                                   JetsonClocks, Fan))
MACHINE_CONTROLS = (PowerMode, Core, Cores, JetsonClocks, Fan)
MACHINE_CONTROL_NAMES = frozenset(c.name for c in MACHINE_CONTROLS)


def parse(name: str, kw: Mapping[str, Any] | None = None) -> Command:
    """The command for a wire name and its arguments; arguments a command does not take are ignored."""
    kw = dict(kw or {})
    cls = COMMANDS.get(str(name))
    if cls is None:
        return Unknown(wire_name=str(name), arguments=kw)
    known = {f.name: f for f in fields(cls)}
    missing = [n for n, f in known.items()
               if n not in kw and f.default is MISSING and f.default_factory is MISSING]
    if missing:
        return Invalid(wire_name=cls.name, message=f"{cls.name}: missing argument '{missing[0]}'")
    return cls(**{k: v for k, v in kw.items() if k in known})


def as_command(cmd: AnyCommand, kw: Mapping[str, Any] | None = None) -> Command:
    """``cmd`` itself, or the command a wire name and its arguments stand for."""
    if isinstance(cmd, Command):
        return cmd
    return parse(cmd, kw)


def wire_name(cmd: Command) -> str:
    """The name a command travels under (an unknown one keeps the name it came with)."""
    if isinstance(cmd, (Unknown, Invalid)):
        return cmd.wire_name
    return cmd.name
