"""What a worker prints: kept in the session folder, bounded, and the last lines at hand.

A worker's frames travel on a pipe of their own (``EDGEMON_FRAMES_FD``), so its stdout and
stderr are free text: a ``--python`` wrapper's banner, a library's print, a command's whole
output. :class:`OutputFile` keeps one stream in ``<session>/worker.stdout.log`` or
``worker.stderr.log``; when a file reaches half its limit it becomes ``<name>.1`` (replacing
the previous one) and a new file starts, so the folder holds at most the limit per stream and
always the most recent output. Every worker of a session (repetitions, restarts) appends to
the same files after a header line. :class:`TextTail` keeps the last lines in memory for the
crash report, recording or not.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from pathlib import Path

STDOUT_NAME = "worker.stdout.log"
STDERR_NAME = "worker.stderr.log"
DEFAULT_LIMIT_BYTES = 64 * 1024 * 1024      # per stream, the rotated file included
_OPEN_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


class OutputFile:
    """One stream of worker output in a file of bounded size (see the module docstring).

    Thread-safe. A write error (disk full) stops the file, keeps what it holds and is
    remembered in ``error``; it never reaches the worker's reader thread.
    """

    def __init__(self, path: Path, limit_bytes: int = DEFAULT_LIMIT_BYTES):
        self.path = Path(path)
        self.half = max(4096, int(limit_bytes) // 2)
        self.bytes_written = 0          # everything ever written (rotated-out bytes included)
        self.bytes_rotated = 0          # bytes that went to <name>.1 and were later replaced
        self.error: str | None = None
        self._lock = threading.Lock()
        self._size = 0
        self._fd: int | None = self._open()

    def _open(self) -> int:
        # O_EXCL | O_NOFOLLOW: a planted file or symlink of this name is never written through.
        return os.open(str(self.path), _OPEN_FLAGS, 0o644)

    def write(self, data: bytes) -> None:
        if not data:
            return
        with self._lock:
            if self._fd is None:
                return
            try:
                if self._size + len(data) > self.half and self._size:
                    self._rotate()
                view = memoryview(data)
                while view:
                    n = os.write(self._fd, view)
                    view = view[n:]
                self._size += len(data)
                self.bytes_written += len(data)
            except OSError as exc:
                self.error = f"{self.path}: {exc.strerror or exc}"
                self._close_fd()

    def _rotate(self) -> None:
        old = self.path.with_name(self.path.name + ".1")
        self._close_fd()
        if old.exists() and not old.is_symlink():
            self.bytes_rotated += old.stat().st_size
        os.replace(self.path, old)      # replaces the name itself, never a symlink's target
        self._fd = self._open()
        self._size = 0

    def header(self, text: str) -> None:
        """A line of edgemon's own between workers (``==== edgemon: ...``)."""
        self.write(f"==== edgemon: {text}\n".encode("utf-8", "replace"))

    def _close_fd(self) -> None:
        if self._fd is not None:
            try:
                os.close(self._fd)
            except OSError:
                pass
            self._fd = None

    def close(self) -> None:
        with self._lock:
            self._close_fd()

    def summary(self) -> dict:
        """For session.json: where the output is and how much of it was kept."""
        out = {"file": self.path.name, "bytes": self.bytes_written}
        if self.bytes_rotated:
            out["bytes_not_kept"] = self.bytes_rotated
        if self.error:
            out["error"] = self.error
        return out


class WorkerOutput:
    """The two output files of a session, shared by its workers."""

    def __init__(self, folder: Path, limit_bytes: int = DEFAULT_LIMIT_BYTES):
        self.stdout = OutputFile(Path(folder) / STDOUT_NAME, limit_bytes)
        try:
            self.stderr = OutputFile(Path(folder) / STDERR_NAME, limit_bytes)
        except OSError:
            self.stdout.close()
            raise

    def header(self, text: str) -> None:
        self.stdout.header(text)
        self.stderr.header(text)

    def close(self) -> None:
        self.stdout.close()
        self.stderr.close()

    def summary(self) -> dict:
        return {"stdout": self.stdout.summary(), "stderr": self.stderr.summary()}


class TextTail:
    """The last ``lines`` lines of a byte stream fed in chunks, and how many lines it had."""

    def __init__(self, lines: int = 50, keep_bytes: int = 64 * 1024):
        self.max_lines = lines
        self.keep_bytes = keep_bytes
        self._chunks: deque[bytes] = deque()
        self._size = 0
        self.line_count = 0
        self._lock = threading.Lock()

    def feed(self, data: bytes) -> None:
        with self._lock:
            self.line_count += data.count(b"\n")
            self._chunks.append(data)
            self._size += len(data)
            while self._size - len(self._chunks[0]) >= self.keep_bytes:
                self._size -= len(self._chunks.popleft())

    def lines(self) -> list[str]:
        with self._lock:
            data = b"".join(self._chunks)[-self.keep_bytes:]
        text = data.decode("utf-8", "replace").replace("\r\n", "\n")
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        return lines[-self.max_lines:]
