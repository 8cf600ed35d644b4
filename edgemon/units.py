"""Parsing of user-facing quantities: durations like ``90s``, ``10m``, ``3h``, ``1h30m``."""

from __future__ import annotations

import re

from edgemon.errors import UserError

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|min|s|m|h|d)?")


def parse_duration(text: str, *, what: str = "duration") -> float:
    """Seconds from ``90``, ``90s``, ``10m``, ``3h``, ``1h30m``, ``2.5m``; UserError otherwise."""
    s = str(text).strip().lower().replace(" ", "")
    if not s:
        raise UserError(f"empty {what}; use e.g. 90s, 10m or 3h")
    pos, total = 0, 0.0
    while pos < len(s):
        m = _PART.match(s, pos)
        if not m or m.end() == pos:
            raise UserError(f"malformed {what} {text!r}; use e.g. 90s, 10m, 3h or 1h30m")
        total += float(m.group(1)) * _UNITS[m.group(2) or "s"]
        pos = m.end()
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


def format_duration(seconds: float) -> str:
    """``3725`` -> ``1:02:05``; short and fixed-width-ish for headers."""
    seconds = max(0, int(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


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
