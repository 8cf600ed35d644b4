"""Durations, the one place they are parsed and formatted: ``90s``, ``10m``, ``3h``, ``1h30m`` in;
``01:30`` / ``1:02:05`` (clocks) and ``1h30m`` (amounts) out."""

from __future__ import annotations

import math
import numbers
import re

from edgemon.errors import UserError

# A year: longer is a typo (or a 400-digit number) and would overflow nanosecond clocks.
MAX_DURATION_S = 366 * 86400.0
# Ranges of workload numbers (command line and profiles): beyond them a value is a typo and would
# exhaust memory in the worker.
MAX_BATCH = 65536
MAX_THREADS = 4096
MAX_REPETITIONS = 10000
# The runners send a latency batch about every 0.1 s; a shorter watchdog restarts healthy workers.
MIN_HANG_TIMEOUT_S = 1.0

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|min|s|m|h|d)?")


def seconds_of(text: str) -> float | None:
    """Seconds from ``90``, ``90s``, ``10m``, ``3h``, ``1h30m``, ``2.5m``, ``500ms``; None when malformed or empty."""
    s = str(text).strip().lower().replace(" ", "")
    if not s:
        return None
    pos, total = 0, 0.0
    while pos < len(s):
        m = _PART.match(s, pos)
        if not m or m.end() == pos:
            return None
        total += float(m.group(1)) * _UNITS[m.group(2) or "s"]
        pos = m.end()
    return total


def parse_duration(text: str, *, what: str = "duration", minimum_s: float | None = None) -> float:
    """:func:`seconds_of` for a positive duration the user gave; UserError otherwise (also for an
    empty text, a duration over a year, or one below ``minimum_s``)."""
    if not str(text).strip():
        raise UserError(f"empty {what} (an unset shell variable?); use e.g. 90s, 10m or 3h")
    if len(str(text).strip()) > 40:
        raise UserError(f"{what} {_short(text)} is too long; use e.g. 90s, 10m, 3h or 1h30m")
    total = seconds_of(text)
    if total is None:
        raise UserError(f"malformed {what} {_short(text)}; use e.g. 90s, 10m, 3h or 1h30m")
    if not math.isfinite(total) or total > MAX_DURATION_S:
        raise UserError(f"{what} {_short(text)} is longer than a year; use e.g. 90s, 10m, 3h or 1h30m")
    if total <= 0:
        raise UserError(f"{what} must be positive, got {text!r}")
    if minimum_s is not None and total < minimum_s:
        raise UserError(f"{what} must be at least {minimum_s:g}s, got {text!r}")
    return total


def _short(text: str) -> str:
    t = repr(str(text))
    return t if len(t) <= 42 else t[:39] + "...'"


_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)$")
_SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(text: str, *, what: str = "size") -> int:
    """Bytes from ``0``, ``500M``, ``2G``, ``64MiB``, ``1.5g`` (binary units); UserError otherwise."""
    s = str(text).strip().lower()
    m = _SIZE.match(s) if len(s) <= 24 else None
    if not m:
        raise UserError(f"malformed {what} {_short(text)}; use e.g. 0, 500M or 2G")
    value = float(m.group(1)) * _SIZE_UNITS[m.group(2)]
    if not math.isfinite(value) or value > 1 << 60:
        raise UserError(f"{what} {_short(text)} is too large; use e.g. 500M or 2G")
    return int(value)


def parse_warmup(text: str) -> tuple[int, float]:
    """``--warmup``: ``50`` (iterations), ``5s`` (seconds), or ``50,5s`` (both; whichever ends later).

    Returns ``(iterations, seconds)``; ``0`` disables warm-up.
    """
    iters, secs = 0, 0.0
    for part in str(text).split(","):
        part = part.strip().lower()
        if not part:
            continue
        if part.isascii() and part.isdigit():
            if len(part) > 10:
                raise UserError(f"--warmup {part} iterations is more than anyone can wait for; use e.g. 50 or 5s")
            iters = int(part)
        else:
            try:
                secs = parse_duration(part, what="warm-up")
            except UserError:
                raise UserError(f"malformed --warmup {text!r}; use iterations (50), a time (5s) "
                                "or both (50,5s)") from None
    return iters, secs


def format_clock(seconds: float | None, *, missing: str = "--:--", always_hours: bool = False) -> str:
    """``83.4`` -> ``01:23``; over an hour (or ``always_hours``) ``1:02:03``; negative with a sign;
    ``missing`` for None, NaN or anything that is not a number."""
    if isinstance(seconds, bool) or not isinstance(seconds, numbers.Real) or not math.isfinite(seconds):
        return missing
    sign = "-" if seconds < 0 else ""
    h, rem = divmod(int(abs(seconds)), 3600)
    m, sec = divmod(rem, 60)
    return f"{sign}{h}:{m:02d}:{sec:02d}" if h or always_hours else f"{sign}{m:02d}:{sec:02d}"


def format_duration(seconds: float) -> str:
    """``3725`` -> ``1:02:05``: a length for headers, never negative."""
    return format_clock(max(0.0, seconds))


def format_seconds(s: float) -> str:
    """An amount of time as a profile writes it: 3600 -> "1h", 5400 -> "1h30m", 90 -> "1m30s", 2.5 -> "2.5s"."""
    if s != int(s) or s < 60:
        return f"{s:g}s"
    h, rem = divmod(int(s), 3600)
    m, sec = divmod(rem, 60)
    return "".join(f"{v}{u}" for v, u in ((h, "h"), (m, "m"), (sec, "s")) if v) or "0s"


def number_ranges(numbers: list[int]) -> list[str]:
    """Runs of consecutive numbers: ``[0, 3, 4, 5, 9]`` -> ``["0", "3-5", "9"]`` (the kernel's
    cpu-list form once joined with commas; line numbers in a report)."""
    parts, i = [], 0
    while i < len(numbers):
        j = i
        while j + 1 < len(numbers) and numbers[j + 1] == numbers[j] + 1:
            j += 1
        parts.append(str(numbers[i]) if i == j else f"{numbers[i]}-{numbers[j]}")
        i = j + 1
    return parts
