"""Durations, the one place they are parsed and formatted: ``90s``, ``10m``, ``3h``, ``1h30m`` in;
``01:30`` / ``1:02:05`` (clocks) and ``1h30m`` (amounts) out."""

from __future__ import annotations

import math
import numbers
import re

from edgemon.errors import UserError

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


def parse_duration(text: str, *, what: str = "duration") -> float:
    """:func:`seconds_of` for a positive duration the user gave; UserError otherwise."""
    if not str(text).strip():
        raise UserError(f"empty {what}; use e.g. 90s, 10m or 3h")
    total = seconds_of(text)
    if total is None:
        raise UserError(f"malformed {what} {text!r}; use e.g. 90s, 10m, 3h or 1h30m")
    if total <= 0:
        raise UserError(f"{what} must be positive, got {text!r}")
    return total


def parse_warmup(text: str) -> tuple[int, float]:
    """``--warmup``: ``50`` (iterations), ``5s`` (seconds), or ``50,5s`` (both; whichever ends later).

    Returns ``(iterations, seconds)``; ``0`` disables warm-up.
    """
    iters, secs = 0, 0.0
    for part in str(text).split(","):
        part = part.strip().lower()
        if not part:
            continue
        if part.isdigit():
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
