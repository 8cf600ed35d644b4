"""When a recording stops early: what happened, in words, and how much was kept; and the disk
watch that stops it cleanly before the disk is full.

A recording that stops is a fault the whole session reports (README "Exit codes"): the
recorder turns the first write error into a :class:`RecordingFault` (``disk full after
6.2 s``), ``session.json`` gets ``state: recording_failed`` with it, the dashboard and the
status line say so at once, the summary says how much was kept, and a headless run exits
with :data:`EXIT_RECORDING_FAILED`.

:class:`DiskWatch` checks the recording's file system once per flush: the free space, the
rate the recording grows at, and when it must stop (less than ``min_free_bytes`` plus room
to roll its open segments into Parquet) -- so a full disk is normally never reached.
:class:`SpaceReserve` keeps a little space aside for the cases where it is (another program
filled the disk): released at the fault, it lets ``session.json`` say what happened.
"""

from __future__ import annotations

import errno
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from edgemon.recording.safe_io import create_exclusive

# `edgemon run --headless` (and a session process) exits with this when its recording stopped
# early, so a script can tell "the data is incomplete" from "the workload failed" (1).
EXIT_RECORDING_FAILED = 3

STATE_RECORDING_FAILED = "recording_failed"
RESERVE_FILE = "session.reserve"
RESERVE_BYTES = 256 * 1024               # room for session.json (temporary name + rename) on a full disk
DEFAULT_MIN_FREE_BYTES = 64 * 1024 * 1024
WARN_LEFT_S = 600.0                      # "less than 10 minutes of recording left"
REARM_LEFT_S = 900.0                     # the warning comes back after space was freed and ran low again
RATE_AFTER_S = 10.0                      # the recording rate is measured over the first seconds

# Fault kinds, and what a user reads for each.
DISK_FULL = "disk_full"
READ_ONLY = "read_only"
FOLDER_GONE = "folder_gone"
IO_ERROR = "io_error"
STALLED = "stalled"
LOW_SPACE = "low_space"
OTHER = "error"

_BY_ERRNO = {
    errno.ENOSPC: (DISK_FULL, "disk full"),
    errno.EDQUOT: (DISK_FULL, "disk quota exceeded"),
    errno.EROFS: (READ_ONLY, "file system read-only"),
    errno.ENOENT: (FOLDER_GONE, "recording folder removed"),
    errno.ENOTDIR: (FOLDER_GONE, "recording folder removed"),
    errno.ESTALE: (FOLDER_GONE, "recording folder removed"),
    errno.EIO: (IO_ERROR, "I/O error"),
    errno.EACCES: (OTHER, "permission denied"),
    errno.EPERM: (OTHER, "permission denied"),
}


class FolderGone(OSError):
    """The recording folder was removed or replaced while recording."""

    def __init__(self, folder: Path):
        super().__init__(errno.ENOENT, "the recording folder was removed or replaced", str(Path(folder).absolute()))


class DiskStalled(OSError):
    """No write completed for ``seconds``: a frozen, hung or very slow file system."""

    def __init__(self, seconds: float, folder: Path):
        super().__init__(errno.ETIMEDOUT, f"no write finished for {seconds:.0f} s", str(Path(folder).absolute()))
        self.seconds = seconds


class LowSpace(OSError):
    """Free space fell below what the recording keeps free; it stopped cleanly."""

    def __init__(self, free_bytes: int, folder: Path):
        super().__init__(errno.ENOSPC, f"{human_bytes(free_bytes)} left on its file system",
                         str(Path(folder).absolute()))
        self.free_bytes = free_bytes


def classify(exc: BaseException) -> tuple[str, str]:
    """``(kind, reason)`` of a write error, e.g. ``("disk_full", "disk full")``."""
    if isinstance(exc, LowSpace):
        return LOW_SPACE, "stopped before the disk was full"
    if isinstance(exc, DiskStalled):
        return STALLED, "disk stalled"
    if isinstance(exc, FolderGone):
        return FOLDER_GONE, "recording folder removed"
    if isinstance(exc, OSError) and exc.errno in _BY_ERRNO:
        return _BY_ERRNO[exc.errno]
    text = str(exc)
    # pyarrow wraps OS errors in its own exceptions, keeping only the text
    for code, (kind, reason) in _BY_ERRNO.items():
        if os.strerror(code) in text:
            return kind, reason
    return OTHER, type(exc).__name__


def describe(exc: BaseException) -> str:
    """The OS message with the file, one line."""
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror or exc}"
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:300]


@dataclass
class RecordingFault:
    """Why and when a recording stopped, and what it kept."""

    kind: str
    reason: str                  # "disk full", "disk stalled", ...
    after_s: float               # seconds of recording before it stopped
    detail: str                  # the OS message, with the file
    folder: str
    rows_kept: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_exception(cls, exc: BaseException, *, after_s: float, folder: Path,
                       rows_kept: dict[str, int]) -> RecordingFault:
        kind, reason = classify(exc)
        return cls(kind, reason, round(max(0.0, after_s), 1), describe(exc), str(Path(folder).absolute()),
                   dict(rows_kept))

    @property
    def headline(self) -> str:
        """``disk full after 6.2 s``."""
        return f"{self.reason} after {self.after_s:.1f} s"

    @property
    def message(self) -> str:
        """One line for logs and events."""
        return (f"recording stopped: {self.headline} ({self.detail}); the session goes on unrecorded; "
                f"what was recorded before is kept in {self.folder}")

    def kept(self) -> str:
        """``62 telemetry rows, 98,765 latency rows, 12 events``."""
        names = {"telemetry": "telemetry rows", "latency": "latency rows", "events": "events"}
        return ", ".join(f"{n:,} {names.get(k, k)}" for k, n in self.rows_kept.items()) or "nothing"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["headline"] = self.headline
        return d


def human_bytes(n: float) -> str:
    """Binary units, as --min-free takes them: ``64.0 MiB``."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def human_hours(seconds: float) -> str:
    if seconds >= 2 * 3600:
        return f"{seconds / 3600:.0f} h"
    if seconds >= 120:
        return f"{seconds / 60:.0f} min"
    return f"{max(0.0, seconds):.0f} s"


def free_bytes(folder: Path) -> int | None:
    """Bytes an unprivileged writer may still use on ``folder``'s file system (None: unknown)."""
    try:
        st = os.statvfs(str(folder))
    except OSError:
        return None
    return int(st.f_bavail) * int(st.f_frsize)


def existing_parent(folder: Path) -> Path:
    """``folder`` or its nearest existing parent (the file system it will be on)."""
    p = Path(folder).absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


@dataclass
class DiskCheck:
    """One look at the disk: what the recording should do about it."""

    free_bytes: int | None
    rate_bytes_per_s: float | None       # growth of the recording on disk, since it began
    left_s: float | None                 # recording time left before it must stop
    rate_report: bool = False            # first measurement of the rate: say it once
    warn: bool = False                   # less than WARN_LEFT_S left: warn (once per descent)
    stop: bool = False                   # below the floor: stop cleanly now

    def to_dict(self) -> dict:
        rate = self.rate_bytes_per_s
        return {"free_bytes": self.free_bytes,
                "rate_bytes_per_h": None if rate is None else round(rate * 3600),
                "left_s": None if self.left_s is None else round(self.left_s, 1)}


class DiskWatch:
    """Free space and recording rate of one recording (see the module docstring)."""

    def __init__(self, folder: Path, *, min_free_bytes: int = DEFAULT_MIN_FREE_BYTES,
                 warn_left_s: float = WARN_LEFT_S, clock: Callable[[], float] = time.monotonic,
                 statvfs: Callable[[Path], int | None] = free_bytes):
        self.folder = Path(folder)
        self.min_free_bytes = max(0, int(min_free_bytes))
        self.warn_left_s = warn_left_s
        self._clock = clock
        self._free = statvfs
        self._start = clock()
        self._rate_reported = False
        self._warned = False
        self._identity = _identity(self.folder)
        self.last: DiskCheck | None = None

    def floor(self, open_tail_bytes: int) -> int:
        """Free bytes below which the recording stops: the minimum plus room to roll its open
        segments into Parquet (never larger than the segments themselves). A minimum of 0
        means "until the disk is full": no floor at all."""
        if self.min_free_bytes <= 0:
            return 0
        return self.min_free_bytes + max(0, int(open_tail_bytes))

    def check(self, recorded_bytes: int, open_tail_bytes: int) -> DiskCheck:
        """Raises :class:`FolderGone` when the folder was removed or replaced."""
        if _identity(self.folder) != self._identity:
            raise FolderGone(self.folder)
        now = self._clock()
        free = self._free(self.folder)
        elapsed = now - self._start
        rate = recorded_bytes / elapsed if elapsed >= RATE_AFTER_S and recorded_bytes > 0 else None
        left = None
        if free is not None and rate:
            left = max(0.0, (free - self.floor(open_tail_bytes)) / rate)
        check = DiskCheck(free, rate, left)
        if rate is not None and not self._rate_reported:
            self._rate_reported = check.rate_report = True
        if free is not None and self.min_free_bytes > 0 and free < self.floor(open_tail_bytes):
            check.stop = True
        elif left is not None and left < self.warn_left_s and not self._warned:
            self._warned = check.warn = True
        elif left is not None and left > REARM_LEFT_S:
            self._warned = False
        self.last = check
        return check


def _identity(folder: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(str(folder))
    except OSError:
        return None
    return st.st_dev, st.st_ino


class SpaceReserve:
    """A small file that holds space for the last word on a full disk (see the module docstring)."""

    def __init__(self, folder: Path, size: int = RESERVE_BYTES):
        self.path = Path(folder) / RESERVE_FILE
        self.size = size
        self.held = False

    def take(self) -> None:
        """Best effort: a file system too full for it simply has no reserve."""
        try:
            fd = create_exclusive(self.path, mode=0o600, replace_stale=True)
        except OSError:
            return
        try:
            try:
                os.posix_fallocate(fd, 0, self.size)
            except (OSError, AttributeError):
                os.write(fd, b"\0" * self.size)
            self.held = True
        except OSError:
            pass
        finally:
            os.close(fd)
        if not self.held:
            self.release()

    def release(self) -> None:
        try:
            os.unlink(self.path)
        except OSError:
            pass
        self.held = False
