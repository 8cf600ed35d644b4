"""What every telemetry source looks like.

A source turns one part of the machine into ``{metric_name: float}`` (names as
in docs/architecture.md "Metric names"). Every path it reads is under ``ctx.root`` and every command it
runs is configurable, so fixture trees, the emulator and real boards run the
same code. A source that is absent says so in :meth:`probe` and is skipped; a
source whose reads keep failing is disabled by the sampler with the reason.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from edgemon.telemetry import catalogue


@dataclass
class SourceContext:
    """Shared, mutable knowledge the sources need."""

    root: Path = Path("/")
    sample_hz: float = 10.0
    worker_pid: int | None = None   # changes when a worker is (re)started
    worker_pids: frozenset[int] = frozenset()   # the worker's process tree, as the process source saw it last
    monitor_pid: int = field(default_factory=os.getpid)
    executables: dict[str, str] = field(default_factory=dict)  # e.g. {"tegrastats": "/usr/bin/tegrastats"}

    def path(self, absolute: str) -> Path:
        """``/sys/class/thermal`` under the configured root."""
        return self.root / absolute.lstrip("/")


@dataclass
class SourceStatus:
    """What ``edgemon info`` and the dashboard say about a source."""

    name: str
    available: bool
    reason: str = ""          # why not available / why disabled; empty when fine
    detail: str = ""          # e.g. "4 zones", "pynvml 12.535", "tegrastats --interval 100"


class Source:
    """Base class. Subclasses set ``name`` and implement ``probe`` and ``read``."""

    name = "source"
    # Read at most this often (seconds), not at every tick; None: every tick (sampler.py).
    every_s: float | None = None
    # Values this source dropped itself as physically impossible (the metric catalogue's
    # ranges: a -256 C "sensor off" zone, a utilisation over 100 %); the sampler adds the
    # ones it drops and shows the total in the source's status.
    implausible = 0

    def __init__(self, ctx: SourceContext):
        self.ctx = ctx

    def plausible(self, metric: str, value: float) -> bool:
        """True when ``value`` is physically possible for ``metric``; otherwise counts it."""
        if catalogue.is_plausible(metric, value):
            return True
        self.implausible += 1
        return False

    def probe(self) -> SourceStatus:
        """Cheap check whether this source works here. Must not raise."""
        raise NotImplementedError

    def read(self) -> dict[str, float]:
        """One reading. May raise OSError/ValueError; the sampler counts and handles it.

        A source fed by a long-running command (tegrastats) returns ``{}`` when no new
        line has arrived since the previous read."""
        raise NotImplementedError

    def capture(self) -> object:
        """What one reading needs from the machine, taken at the tick (the sampler calls this).

        The sampler hands the captures of a few ticks to :meth:`decode` together, in order
        (``sampler.py``): a source that splits its read into copying bytes here and parsing
        them there does the parsing warm, for several ticks in a row. The default takes the
        whole reading now."""
        return self.read()

    def decode(self, captured: object) -> dict[str, float]:
        """The reading of one :meth:`capture`; called in capture order. May raise like ``read``."""
        return captured  # type: ignore[return-value]  # the default capture is the reading itself

    @property
    def files(self) -> "OpenFiles":
        """The files this source reads every tick, kept open (see :class:`OpenFiles`)."""
        files = self.__dict__.get("_open_files")
        if files is None:
            files = self.__dict__["_open_files"] = OpenFiles()
        return files

    def close(self) -> None:
        """Release files, subprocesses, handles."""
        files = self.__dict__.pop("_open_files", None)
        if files is not None:
            files.close()


class SplitSource(Source):
    """A source whose tick only copies bytes (:meth:`capture`) and whose parsing waits for
    the batch (:meth:`decode`); subclasses implement those two, and a read is both at once."""

    def read(self) -> dict[str, float]:
        return self.decode(self.capture())

    def capture(self) -> object:
        raise NotImplementedError

    def decode(self, captured: object) -> dict[str, float]:
        raise NotImplementedError


def read_raw(path) -> bytes:
    """Bytes of a small sysfs/procfs file; raises OSError.

    ``os.open``/``os.read`` rather than ``open()``: no buffered/text wrapper objects,
    about 40 % cheaper per file, and the sampler reads dozens of files ten times a second.
    One read suffices: sysfs attributes are at most a page and procfs seq_files fill the
    whole buffer.
    """
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return os.read(fd, 65536)
    finally:
        os.close(fd)


class OpenFiles:
    """Files re-read every tick, kept open and read with ``pread`` at offset 0.

    One syscall per read instead of three (open, read, close): sysfs and procfs produce a
    fresh value on every read from offset 0, so nothing is lost, and a device that goes
    away answers the read with an error (ENODEV), which drops the descriptor and raises.
    """

    def __init__(self) -> None:
        self._fds: dict[str, int] = {}

    def raw(self, path) -> bytes:
        key = path if type(path) is str else os.fspath(path)
        fd = self._fds.get(key)
        if fd is None:
            fd = self._fds[key] = os.open(key, os.O_RDONLY | os.O_CLOEXEC)
        try:
            return os.pread(fd, 65536, 0)
        except OSError:
            self._fds.pop(key, None)
            os.close(fd)
            raise

    def forget(self, path) -> None:
        """Close the file of ``path`` if it is open (a process that ended, a device gone)."""
        fd = self._fds.pop(path if type(path) is str else os.fspath(path), None)
        if fd is not None:
            os.close(fd)

    def int(self, path) -> int | None:
        """First integer of the file; ``None`` if missing, unreadable or not a number."""
        try:
            return int(self.raw(path).split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def close(self) -> None:
        for fd in self._fds.values():
            try:
                os.close(fd)
            except OSError:
                pass
        self._fds.clear()


def read_text(path: str | Path) -> str | None:
    """Contents of a small sysfs/procfs file, stripped; ``None`` if missing or unreadable."""
    try:
        return read_raw(path).decode("utf-8", "replace").strip()
    except OSError:
        return None


def read_int(path: str | Path) -> int | None:
    text = read_text(path)
    if text is None:
        return None
    try:
        return int(text.split()[0])
    except (ValueError, IndexError):
        return None
