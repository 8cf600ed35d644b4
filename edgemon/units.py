"""Parsing of user-facing quantities: durations like ``90s``, ``10m``, ``3h``, ``1h30m``."""

from __future__ import annotations

import math
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


def parse_duration(text: str, *, what: str = "duration", minimum_s: float | None = None) -> float:
    """Seconds from ``90``, ``90s``, ``10m``, ``3h``, ``1h30m``, ``2.5m``; UserError otherwise
    (also for an empty text, a duration over a year, or one below ``minimum_s``)."""
    s = str(text).strip().lower().replace(" ", "")
    if not s:
        raise UserError(f"empty {what} (an unset shell variable?); use e.g. 90s, 10m or 3h")
    if len(s) > 40:
        raise UserError(f"{what} {_short(text)} is too long; use e.g. 90s, 10m, 3h or 1h30m")
    pos, total = 0, 0.0
    while pos < len(s):
        m = _PART.match(s, pos)
        if not m or m.end() == pos:
            raise UserError(f"malformed {what} {_short(text)}; use e.g. 90s, 10m, 3h or 1h30m")
        total += float(m.group(1)) * _UNITS[m.group(2) or "s"]
        pos = m.end()
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


def format_duration(seconds: float) -> str:
    """``3725`` -> ``1:02:05``; short and fixed-width-ish for headers."""
    seconds = max(0, int(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"
