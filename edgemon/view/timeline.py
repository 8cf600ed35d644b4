"""The replay timeline: a whole session as throttled stretches (by cause) and event marks.

Headless (no Textual). A feed that knows its whole recording (ReplayFeed) builds a
:class:`Timeline` from the analysis' throttling episodes and its events; the
dashboard's timeline strip asks :func:`cells` what each terminal cell shows and
:func:`playhead_cell` where the playhead is, so the drawing is a dumb loop and the
arithmetic is tested without a terminal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable

from edgemon.datatypes import EventKind
from edgemon.view import fmt

if TYPE_CHECKING:
    from edgemon.analysis.result import Throttling

# cause (edgemon.analysis.throttling) -> one letter for the strip and the tables
CAUSE_LETTERS = {
    "thermal": "T",
    "power": "P",
    "thermal_or_power": "H",
    "power_mode": "M",
    "user_action": "U",
    "unknown": "?",
}
CAUSE_NAMES = {
    "thermal": "thermal",
    "power": "power cap",
    "thermal_or_power": "hardware slowdown",
    "power_mode": "power-mode change",
    "user_action": "user action",
    "unknown": "unknown cause",
}

# event kind -> mark kind; kinds not listed get no mark (the event log still lists them)
MARK_KINDS = {
    EventKind.WORKER_CRASHED: "crash",
    EventKind.WORKER_HUNG: "crash",
    EventKind.POWER_MODE: "mode",
    EventKind.MARK: "mark",
    EventKind.CORE_ONLINE: "control",
    EventKind.JETSON_CLOCKS: "control",
    EventKind.FAN: "control",
}
# when two marks share a cell, the first of these wins
MARK_PRIORITY = ("crash", "mode", "mark", "control")
_MARK_RANK = {kind: rank for rank, kind in enumerate(MARK_PRIORITY)}


@dataclass(frozen=True)
class Episode:
    """One throttling episode, in seconds from the session start."""

    start_s: float
    end_s: float
    domain: str                 # cpu, gpu, emc
    cause: str                  # thermal, power, power_mode, user_action, thermal_or_power, unknown
    clock: str = ""             # the clock that dropped most (e.g. gpu_freq_mhz)
    clock_mhz: float = math.nan
    ceiling_mhz: float = math.nan
    drop_pct: float = math.nan

    @property
    def letter(self) -> str:
        return CAUSE_LETTERS.get(self.cause, "?")

    def describe(self) -> str:
        """E.g. ``gpu throttled -18% (thermal)``."""
        drop = f" -{self.drop_pct:.0f}%" if math.isfinite(self.drop_pct) else ""
        return f"{self.domain} throttled{drop} ({CAUSE_NAMES.get(self.cause, self.cause)})"


@dataclass(frozen=True)
class Mark:
    at_s: float
    kind: str                   # crash, mode, mark, control
    label: str                  # the event in one line


@dataclass(frozen=True)
class Timeline:
    """What the strip shows. ``state``: ``ready``, or ``analysing`` while the episodes are
    not known yet, or ``unavailable`` (``note`` says why: no clocks, analysis failed)."""

    length_s: float
    episodes: tuple[Episode, ...] = ()
    marks: tuple[Mark, ...] = ()
    state: str = "ready"
    note: str = ""

    def episode_at(self, position_s: float) -> Episode | None:
        """The episode covering ``position_s`` (the one with the largest drop if several)."""
        found = [e for e in self.episodes if e.start_s <= position_s < e.end_s]
        if not found:
            return None
        return max(found, key=lambda e: (e.drop_pct if math.isfinite(e.drop_pct) else -1.0, -e.start_s))

    def next_episode(self, position_s: float, tolerance_s: float = 1e-3) -> Episode | None:
        later = [e for e in self.episodes if e.start_s > position_s + tolerance_s]
        return min(later, key=lambda e: e.start_s) if later else None

    def prev_episode(self, position_s: float, tolerance_s: float = 1e-3) -> Episode | None:
        earlier = [e for e in self.episodes if e.start_s < position_s - tolerance_s]
        return max(earlier, key=lambda e: e.start_s) if earlier else None


@dataclass(frozen=True)
class Cell:
    """One terminal cell of the strip: the cause shading it (None: not throttled), whether a
    throttled stretch starts here (it gets the cause letter) and the mark drawn in it."""

    cause: str | None = None
    start: bool = False
    mark: str | None = None


def _num(value: Any) -> float:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return math.nan
    return f


def episodes_from_throttling(throttling: Throttling | dict[str, Any] | None) -> list[Episode]:
    """Episodes of the analysis' throttling part (empty when it is missing or unavailable)."""
    from edgemon.analysis.result import Throttling

    if isinstance(throttling, dict):
        throttling = Throttling.from_dict(throttling)
    if throttling is None or not throttling.available:
        return []
    out = []
    for ep in throttling.episodes or []:
        start, end = _num(ep.start_s), _num(ep.end_s)
        if not (math.isfinite(start) and math.isfinite(end)):
            continue
        clocks = ep.clocks or []
        out.append(Episode(
            start_s=start, end_s=max(end, start), domain=str(ep.domain or "?"),
            cause=str(ep.cause or "unknown"), clock=str(clocks[0]) if clocks else "",
            clock_mhz=_num(ep.clock_mhz), ceiling_mhz=_num(ep.ceiling_mhz),
            drop_pct=_num(ep.drop_pct),
        ))
    out.sort(key=lambda e: e.start_s)   # stable: the analysis' own order on ties (its table rows)
    return out


def marks_from_events(events: Iterable[tuple[float, str, dict[str, Any]]]) -> list[Mark]:
    """Marks for ``(seconds from start, kind, details)`` events; a failed control change is no mark."""
    out = []
    for at_s, kind, details in events:
        mark = MARK_KINDS.get(kind)
        if mark is None:
            continue
        if mark in ("mode", "control") and isinstance(details, dict) and details.get("ok") is False:
            continue
        out.append(Mark(float(at_s), mark, fmt.event_summary(kind, details if isinstance(details, dict) else {})))
    out.sort(key=lambda m: m.at_s)
    return out


def _cell_of(at_s: float, length_s: float, width: int) -> int:
    if length_s <= 0 or width <= 0:
        return 0
    return min(width - 1, max(0, int(math.floor(at_s / length_s * width))))


def playhead_cell(position_s: float, length_s: float, width: int) -> int:
    """The cell the playhead is in (the last cell at the very end)."""
    return _cell_of(position_s, length_s, width)


def cells(timeline: Timeline, width: int) -> list[Cell]:
    """``width`` cells covering ``[0, length_s]``; cell ``i`` is ``[i, i + 1) * length / width``.

    A cell is shaded by the episode overlapping most of it (any overlap counts, so an
    episode shorter than a cell still shows); a stretch starts where the cause changes.
    """
    if width <= 0:
        return []
    length = timeline.length_s
    causes: list[str | None] = [None] * width
    if length > 0 and timeline.episodes:
        best = [0.0] * width
        step = length / width
        for ep in timeline.episodes:
            a = _cell_of(ep.start_s, length, width)
            b = _cell_of(max(ep.start_s, ep.end_s - 1e-9), length, width)
            for i in range(a, b + 1):
                lo, hi = i * step, (i + 1) * step
                overlap = max(min(ep.end_s, hi) - max(ep.start_s, lo), 1e-12)
                if overlap > best[i]:
                    best[i] = overlap
                    causes[i] = ep.cause
    marks: list[str | None] = [None] * width
    for m in timeline.marks:
        i = _cell_of(m.at_s, length, width)
        current = marks[i]
        if current is None or _MARK_RANK.get(m.kind, 99) < _MARK_RANK.get(current, 99):
            marks[i] = m.kind
    out = []
    for i in range(width):
        start = causes[i] is not None and (i == 0 or causes[i - 1] != causes[i])
        out.append(Cell(causes[i], start, marks[i]))
    return out
