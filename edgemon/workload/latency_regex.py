"""``--latency-regex``: latency rows from the lines a program prints, for programs that cannot
import anything.

The pattern needs one named group that says the unit of the number it captures:
``(?P<ms>...)``, ``(?P<us>...)``, ``(?P<s>...)`` or ``(?P<ns>...)``, for example
``took (?P<ms>[0-9.]+) ms``. An optional ``(?P<items>[0-9]+)`` gives the items of that
iteration (default 1). Each matching line of stdout or stderr is one row: its duration from the
group, its end the moment edgemon read the line (CLOCK_MONOTONIC), so the end times are as good
as the program's flushing: edgemon sets ``PYTHONUNBUFFERED=1``; other programs should flush or
line-buffer their output (``stdbuf -oL``). A matching line whose number is not a finite,
non-negative value is counted, not recorded.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from edgemon.errors import UserError

UNITS_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
FLUSH_NS = 100_000_000       # rows go out about every 100 ms, as a runner's frames do


def _unit_help() -> str:
    return "(?P<ms>...), (?P<us>...), (?P<s>...) or (?P<ns>...)"


@dataclass(frozen=True)
class LatencyPattern:
    """A checked ``--latency-regex``."""

    text: str
    regex: re.Pattern
    unit: str

    @classmethod
    def parse(cls, text: str) -> "LatencyPattern":
        """UserError (one line) for a pattern that is not a regular expression or lacks the group."""
        try:
            regex = re.compile(text)
        except (re.error, OverflowError, RecursionError) as exc:
            raise UserError(f"--latency-regex {text!r} is not a regular expression: {exc}") from None
        units = [u for u in UNITS_NS if u in regex.groupindex]
        if len(units) != 1:
            what = "has none" if not units else f"has {len(units)} ({', '.join(units)})"
            raise UserError(f"--latency-regex {text!r} needs exactly one named group for the time, "
                            f"{_unit_help()}, and {what}; e.g. 'took (?P<ms>[0-9.]+) ms'")
        return cls(text, regex, units[0])

    def duration_ns(self, line: str) -> tuple[int, int] | None:
        """``(duration_ns, items)`` for a matching line; None when it does not match; ``UNUSABLE``
        when it matches but its number is not a finite, non-negative time."""
        m = self.regex.search(line)
        if m is None:
            return None
        try:
            value = float(m.group(self.unit))
            items = int(m.group("items")) if "items" in self.regex.groupindex and m.group("items") else 1
        except (TypeError, ValueError, OverflowError):
            return UNUSABLE
        ns = value * UNITS_NS[self.unit]
        if not math.isfinite(ns) or ns < 0 or ns >= 2 ** 62 or not 0 < items < 2 ** 31:
            return UNUSABLE
        return int(round(ns)), items


UNUSABLE = (-1, 0)      # a matching line whose number is no duration


@dataclass
class LineTimer:
    """Turns matching lines into rows; hands them on in batches (``emit(t_end, dur, items)``)."""

    pattern: LatencyPattern
    emit: Callable[[list[int], list[int], list[int]], object]
    matched: int = 0
    unusable: int = 0
    _t_end: list[int] = field(default_factory=list)
    _dur: list[int] = field(default_factory=list)
    _items: list[int] = field(default_factory=list)
    _next_flush: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def feed(self, line: bytes, t_ns: int | None = None) -> None:
        found = self.pattern.duration_ns(line.decode("utf-8", "replace"))
        if found is None:
            return
        if found == UNUSABLE:
            self.unusable += 1
            return
        with self._lock:     # stdout and stderr feed one timer: rows stay in time order
            t = time.monotonic_ns() if t_ns is None else t_ns
            self.matched += 1
            self._t_end.append(t)
            self._dur.append(found[0])
            self._items.append(found[1])
            if t >= self._next_flush:
                self._flush()

    def flush(self) -> None:
        with self._lock:
            self._flush()

    def _flush(self) -> None:
        rows = self._t_end, self._dur, self._items
        self._t_end, self._dur, self._items = [], [], []
        self._next_flush = time.monotonic_ns() + FLUSH_NS
        if rows[0]:
            self.emit(*rows)    # under the lock: batches leave in the order their rows came
