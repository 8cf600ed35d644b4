"""Wall-clock times in the forms logs carry them, and the line numbers that could not be read."""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass, field

from edgemon.errors import UserError
from edgemon.units import number_ranges

_MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                                       "nov", "dec"), 1)}
# `date`'s default output: "Tue Jan 26 18:22:31 UTC 2021" (the zone may be absent or any abbreviation).
_DATE_CMD = re.compile(r"^\s*(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)\w*,?\s+([A-Z][a-z]{2})\w*\s+(\d{1,2})\s+"
                       r"(\d{1,2}):(\d{2}):(\d{2})(?:\s+([A-Za-z]{1,6}|[+-]\d{2,4}))?\s+(\d{4})\s*$")
# ISO forms: `date -Iseconds`, `date '+%F %T'`, jtop's datetime: "2024-01-04 10:00:00.123456".
_ISO = re.compile(r"^\s*(\d{4}-\d{2}-\d{2}[T ]\d{1,2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?)\s*$")
# tegrastats --logfile: "01-03-2023 16:07:54 RAM ..." (MM-DD-YYYY, the board's local time)
TEGRASTATS_STAMP = re.compile(r"^\s*(\d{1,2})-(\d{1,2})-(\d{4})\s+(\d{1,2}):(\d{2}):(\d{2})\s+")
_UTC_NAMES = {"utc", "gmt", "z", "ut"}


def _local_ns(dt: _dt.datetime) -> int:
    """Nanoseconds since the epoch; a naive time is this machine's local time."""
    if dt.tzinfo is None:
        dt = dt.astimezone()      # local time, DST as of that date
    return int(round(dt.timestamp() * 1e6)) * 1000


def parse_datetime(text: str) -> int | None:
    """Unix ns of an ISO date-time (``2024-01-04 10:00:00[.fff][Z|+01:00]``), of ``date``'s default
    output (``Tue Jan 26 18:22:31 UTC 2021``), or of Unix seconds (``1704362400.5``); None otherwise.
    Without a zone the time is local (run with ``TZ=...`` for logs of a board in another zone)."""
    text = str(text).strip()
    if not text:
        return None
    m = _ISO.match(text)
    if m:
        iso = m.group(1).replace(" ", "T", 1)
        if iso.endswith("Z"):
            iso = iso[:-1] + "+00:00"
        iso = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", iso)
        iso = re.sub(r"\.(\d{6})\d+", r".\1", iso)            # fromisoformat takes microseconds at most
        frac = re.search(r"\.(\d{1,5})(?=$|[+-])", iso)
        if frac:                                              # ... and exactly 3 or 6 digits before 3.11
            iso = iso[:frac.start(1)] + frac.group(1).ljust(6, "0") + iso[frac.end(1):]
        try:
            return _local_ns(_dt.datetime.fromisoformat(iso))
        except ValueError:
            return None
    m = _DATE_CMD.match(text)
    if m:
        mon, day, hh, mm, ss, zone, year = m.groups()
        month = _MONTHS.get(mon.lower())
        if month is None:
            return None
        try:
            dt = _dt.datetime(int(year), month, int(day), int(hh), int(mm), int(ss))
        except ValueError:
            return None
        if zone and zone.lower() in _UTC_NAMES:
            dt = dt.replace(tzinfo=_dt.timezone.utc)
        return _local_ns(dt)
    try:
        seconds = float(text)
    except ValueError:
        return None
    if not 1e8 < seconds < 1e11:          # 1973 .. 5138: anything else is not a Unix time
        return None
    return int(round(seconds * 1e9))


def tegrastats_stamp(line: str) -> tuple[int | None, int]:
    """``(unix ns or None, length of the prefix)`` of a ``--logfile`` line's leading timestamp."""
    m = TEGRASTATS_STAMP.match(line)
    if not m:
        return None, 0
    mo, d, y, hh, mm, ss = (int(g) for g in m.groups())
    try:
        return _local_ns(_dt.datetime(y, mo, d, hh, mm, ss)), m.end()
    except ValueError:
        return None, 0


def parse_start(text: str) -> int:
    """``--start``: UserError when it is no time."""
    t = parse_datetime(text)
    if t is None:
        raise UserError(f"--start {text!r}: expected a date and time such as 2024-01-04T10:00:00 "
                        "(local time, or with Z / +01:00) or Unix seconds")
    return t


def iso(unix_ns: int) -> str:
    return _dt.datetime.fromtimestamp(unix_ns / 1e9).astimezone().isoformat(timespec="seconds")


@dataclass
class LineProblems:
    """Lines that could not be used: counted, and their numbers kept (the first ``keep``)."""

    what: str = "lines"
    keep: int = 1000
    count: int = 0
    numbers: list[int] = field(default_factory=list)

    def add(self, number: int) -> None:
        self.count += 1
        if len(self.numbers) < self.keep:
            self.numbers.append(number)

    def ranges(self) -> str:
        """``"3, 17-20, 31"`` (and ``" and N more"`` past ``keep``)."""
        text = ", ".join(number_ranges(self.numbers))
        if self.count > len(self.numbers):
            text += f" and {self.count - len(self.numbers)} more"
        return text

    def to_dict(self) -> dict:
        return {"count": self.count, "lines": self.ranges()}
