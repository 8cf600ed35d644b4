"""Where things live inside a recording folder, and the small file-system helpers all parts share.

Layout (docs/architecture.md "Recording layout")::

    <session>/session.json          meta + schema_version + clock anchor + state
    <session>/session.lock          flock'ed by the live writer (absent or unlocked: no writer)
    <session>/<stream>/part-NNNNN.arrows    live tail (Arrow IPC stream, fsync'ed per flush)
    <session>/<stream>/part-NNNNN.parquet   rolled segment (zstd), written tmp + fsync + rename

This module imports nothing heavy (no pyarrow): the CLI and the writer import it at start-up.
"""

from __future__ import annotations

import errno
from contextlib import contextmanager
import fcntl
import json
import os
import re
from pathlib import Path
from typing import Any, Iterator

from edgemon.errors import UserError
from edgemon.recording.safe_io import (
    create_exclusive,
    fd_path,
    is_real_dir,
    is_regular,
    open_regular,
    read_text,
)

# 2: every Parquet segment has a ``session_id`` column, and the segments of one stream of a
#    closed (or recovered) session share one schema. 1: neither (``edgemon recover`` upgrades).
SCHEMA_VERSION = 2
SESSION_ID_COLUMN = "session_id"
SESSION_FILE = "session.json"
LOCK_FILE = "session.lock"
STREAMS = ("telemetry", "latency", "events")
TAIL_SUFFIX = ".arrows"
SEGMENT_SUFFIX = ".parquet"
TMP_SUFFIX = ".tmp"

# Values no recording of ours can hold (a corrupt or forged file): readers leave such rows out
# and name them in their problems.
MAX_T_NS = 100 * 365 * 86400 * 10**9     # CLOCK_MONOTONIC counts from boot
MAX_LATENCY_NS = 86400 * 10**9           # one iteration longer than a day
MAX_ITEMS = 1 << 24

_PART = re.compile(r"^part-(\d+)$")


def new_session_id(host: str, unix_ns: int | None = None) -> str:
    """A session's identity: ``<UTC start, YYYYmmddTHHMMSSZ>-<host>-<6 hex>``, unique across a fleet
    (the random part tells apart sessions a host starts in the same second), safe in any path,
    SQL literal or Prometheus label. It is in session.json and in every Parquet row."""
    import datetime as _dt
    import secrets
    import time

    from edgemon.recording.naming import safe_name_part

    ns = time.time_ns() if unix_ns is None else unix_ns
    stamp = _dt.datetime.fromtimestamp(ns / 1e9, tz=_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{safe_name_part(host, 'host')}-{secrets.token_hex(3)}"


def part_name(index: int, suffix: str) -> str:
    return f"part-{index:05d}{suffix}"


def part_index(path: Path) -> int | None:
    """``part-00012.parquet`` -> 12; None for a name we did not make."""
    m = _PART.match(path.stem)
    return int(m.group(1)) if m else None


def sorted_files(folder: Path, suffix: str) -> list[Path]:
    """Regular files ending in ``suffix`` (never a symlink, and nothing in a folder that is a
    symlink): our parts in numeric order first, then anything else by name."""
    if not is_real_dir(folder):
        return []
    try:
        found = [p for p in folder.iterdir() if p.name.endswith(suffix) and is_regular(p)]
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(found, key=lambda p: (part_index(p) is None, part_index(p) or 0, p.name))


def fsync_dir(folder: Path) -> None:
    """Make a create/rename/unlink in ``folder`` durable (the directory entry itself)."""
    fd = os.open(str(folder), os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    fd = open_regular(path)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_file(dest: Path, *, fsync: bool = True) -> Iterator[Path]:
    """Yield a path to a new temporary file beside ``dest``; on success fsync it and rename it
    to ``dest``.

    The temporary file (``dest`` + ``.tmp``) is created here without following links (a
    leftover of that name is removed first: safe_io), and the yielded path names that file
    itself (``/proc/self/fd/N``), so a writer that opens it by path cannot be sent elsewhere.
    A crash leaves either the old ``dest`` or the new one, never half of one (a stray
    ``*.tmp`` is removed by recover); on an error the temporary file is deleted. A ``dest``
    that is a symlink is replaced, its target untouched.
    """
    tmp = dest.with_name(dest.name + TMP_SUFFIX)
    fd = create_exclusive(tmp, replace_stale=True)
    try:
        yield Path(fd_path(fd, tmp))
        if fsync:
            os.fsync(fd)
        os.replace(tmp, dest)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise
    finally:
        os.close(fd)
    if fsync:
        fsync_dir(dest.parent)


def write_json_atomic(path: Path, data: dict[str, Any], *, fsync: bool = True) -> None:
    """Write ``path`` so that a crash leaves either the old or the new file, never half of one."""
    text = json.dumps(data, indent=2, sort_keys=True, default=str) + "\n"
    with atomic_file(path, fsync=fsync) as tmp:
        tmp.write_text(text, encoding="utf-8")


def not_a_recording(path: Path) -> UserError:
    return UserError(
        f"{path} is not an edgemon recording (no {SESSION_FILE}); pass a folder made by `edgemon run`"
    )


def load_session_json(folder: Path) -> dict[str, Any]:
    """``session.json`` as a dict; UserError when missing or unreadable."""
    path = folder / SESSION_FILE
    try:
        text = read_text(path)
    except FileNotFoundError:
        raise not_a_recording(folder) from None
    except OSError as e:
        raise UserError(f"cannot read {path}: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise UserError(f"{path} is corrupt (not UTF-8 text: {e.reason} at byte {e.start}); the data in "
                        "telemetry/, latency/, events/ is still plain Parquet/Arrow, read it with pyarrow or duckdb"
                        ) from None
    try:
        data = json.loads(text)
    except RecursionError:
        raise UserError(f"{path} is corrupt (JSON nested too deeply); read the Parquet folders directly") from None
    except ValueError as e:
        raise UserError(
            f"{path} is corrupt ({e}); the data in telemetry/, latency/, events/ is still plain "
            "Parquet/Arrow, read it with pyarrow or duckdb"
        ) from None
    if not isinstance(data, dict):
        raise UserError(f"{path} is corrupt (not a JSON object); read the Parquet folders directly")
    return data


def recording_folder(path: Path | str) -> Path:
    """The folder for a user-given path (the folder itself, or its session.json); UserError if absent."""
    p = Path(os.path.abspath(Path(path).expanduser()))    # messages name it absolute
    if p.name == SESSION_FILE and p.is_file():
        p = p.parent
    if not p.exists():
        raise UserError(f"{p} does not exist; pass a recording folder made by `edgemon run`")
    if not p.is_dir():
        raise UserError(f"{p} is not a folder; pass a recording folder made by `edgemon run`")
    if not is_regular(p / SESSION_FILE):
        if (p / SESSION_FILE).exists() or os.path.islink(p / SESSION_FILE):
            raise UserError(f"{p / SESSION_FILE} is not a regular file (a link, a FIFO or a folder); edgemon "
                            "opens only regular files in a recording folder")
        raise not_a_recording(p)
    return p


def writer_pid(folder: Path) -> int | None:
    """The pid the live writer wrote into ``session.lock`` (for messages only)."""
    try:
        pid = int(read_text(folder / LOCK_FILE, limit=64).strip() or 0)
    except (OSError, ValueError):
        return None
    return pid if 0 < pid < 1 << 22 else None


def is_live(folder: Path) -> bool:
    """True while some process holds the writer's flock on ``session.lock``.

    flock, not a pid check: the kernel drops the lock when the writer dies, however it dies.
    """
    try:
        fd = open_regular(folder / LOCK_FILE)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as e:
        return e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES)
    finally:
        os.close(fd)  # also releases our probe lock
    return False


class FolderLock:
    """The exclusive writer lock (Recorder while recording, recover while converting)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.path = folder / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> bool:
        """Take the lock without waiting; False when another process holds it.

        The lock file is never opened through a symlink: a new one is created exclusively; an
        existing one (left by a crash, or held by a live writer: it must stay the same file) is
        opened only when it is a regular file, and written only when it has no other name (a
        hard link planted to some other file is not truncated)."""
        try:
            fd = create_exclusive(self.path)
            created = True
        except FileExistsError:
            fd = open_regular(self.path, os.O_RDWR)
            created = False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return False
            raise
        self._fd = fd
        try:  # the pid is only for messages ("being recorded by pid N")
            if created or os.fstat(fd).st_nlink == 1:
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()}\n".encode())
        except OSError:
            pass
        return True

    def release(self, *, remove: bool = True) -> None:
        """Drop the lock; ``remove`` deletes the lock file first (a finished recording has none)."""
        if self._fd is None:
            return
        if remove:
            try:
                self.path.unlink()
            except OSError:
                pass
        try:
            os.close(self._fd)
        finally:
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None


def live_writer_error(folder: Path, what: str) -> UserError:
    pid = writer_pid(folder)
    by = f"a running edgemon (pid {pid})" if pid else "a running edgemon"
    return UserError(f"{folder} is being recorded by {by}; {what}")


def section(meta: dict[str, Any], key: str) -> dict[str, Any]:
    """``meta[key]`` when it is an object (session.json's platform, workload, restore, ...), else ``{}``."""
    value = meta.get(key)
    return value if isinstance(value, dict) else {}


def board_of(meta: dict[str, Any]) -> str | None:
    """The board's name from session.json: product/device-tree model, else the emulated board, else the kind."""
    plat = section(meta, "platform")
    for value in (plat.get("model"), meta.get("emulated_board"), plat.get("kind")):
        if value:
            return str(value)
    return None
