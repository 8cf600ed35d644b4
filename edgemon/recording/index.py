"""The per-user session index: where every session this user started records, wherever that is.

``edgemon run`` in ``~/bench`` records into ``~/bench/recordings/...``; after an SSH drop the
shell starts in ``~`` and ``./recordings`` is somewhere else. So every session registers its
absolute folder here when it starts, and ``edgemon ls``, ``attach latest``, ``stop latest``, ...
look here first (docs/architecture.md "Session index").

Layout: ``$XDG_STATE_HOME/edgemon/sessions/`` (``~/.local/state/edgemon/sessions/`` when
``XDG_STATE_HOME`` is unset or not absolute, as the XDG spec says), one small JSON file per
session::

    {"version": 1, "folder": "/abs/path", "started_unix_ns": ..., "pid": ..., "host": "..."}

One file per session, created under a unique name and renamed into place, so sessions that
start at the same moment never overwrite each other and a crash never leaves half an entry.
The index is data, not trusted: ``edgemon`` and ``sessions`` must be real folders (never
followed through a symlink), entries are opened with ``O_NOFOLLOW``, and an entry that is
not a small regular file with the fields above is skipped with one line of warning.
Standard library only: the CLI imports this at start-up.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import stat
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

INDEX_VERSION = 1
ENTRY_SUFFIX = ".json"
MAX_ENTRY_BYTES = 64 * 1024
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)

Warn = Callable[[str], None]


def _stderr_warning(message: str) -> None:
    try:
        print(f"edgemon: warning: {message}", file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


def state_home() -> Path:
    """``$XDG_STATE_HOME`` when it is an absolute path, else ``~/.local/state``."""
    env = os.environ.get("XDG_STATE_HOME", "")
    if env and os.path.isabs(env):
        return Path(env)
    return Path.home() / ".local" / "state"


def index_dir() -> Path:
    """Where the entries live (for messages; nothing is created)."""
    return state_home() / "edgemon" / "sessions"


@dataclass(frozen=True)
class IndexEntry:
    """One registered session. ``folder`` is absolute; ``file`` is the entry's own name."""

    folder: Path
    started_unix_ns: int
    pid: int
    host: str
    file: str

    @property
    def exists(self) -> bool:
        """The folder is still a recording (it may have been moved or deleted since)."""
        return (self.folder / "session.json").is_file()


@dataclass(frozen=True)
class BadEntry:
    """An index file that could not be used, and why (``edgemon ls --prune`` removes it)."""

    file: str
    reason: str


# ---------------------------------------------------------------------------- folders

def _open_dir(name: str, parent_fd: int | None, *, create: bool) -> int:
    """Open ``name`` (relative to ``parent_fd``) as a directory without following a symlink."""
    if create:
        try:
            os.mkdir(name, 0o700, dir_fd=parent_fd)
        except FileExistsError:
            pass
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise OSError(exc.errno, f"{name} is a symbolic link or not a folder; edgemon does not "
                                     "follow it") from None
        raise


def _index_fd(*, create: bool) -> int | None:
    """A descriptor on the sessions folder; None when it does not exist (and ``create`` is False)."""
    home = state_home()
    if create:
        os.makedirs(home, mode=0o700, exist_ok=True)
    try:
        base = os.open(str(home), os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        if create:
            raise
        return None
    try:
        try:
            top = _open_dir("edgemon", base, create=create)
        except FileNotFoundError:
            if create:
                raise
            return None
        try:
            return _open_dir("sessions", top, create=create)
        except FileNotFoundError:
            if create:
                raise
            return None
        finally:
            os.close(top)
    finally:
        os.close(base)


# ---------------------------------------------------------------------------- writing

def register(folder: Path, *, started_unix_ns: int | None = None, pid: int | None = None, host: str = "",
             warn: Warn = _stderr_warning) -> str | None:
    """Record that a session records into ``folder`` (made absolute). Returns the entry's file
    name, or None when the index cannot be written (one warning; the session goes on)."""
    started = int(started_unix_ns if started_unix_ns is not None else time.time_ns())
    pid = int(pid if pid is not None else os.getpid())
    data = {"version": INDEX_VERSION, "folder": str(Path(folder).absolute()), "started_unix_ns": started,
            "pid": pid, "host": str(host)}
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(started / 1e9))
    name = f"{stamp}-{pid}-{secrets.token_hex(4)}{ENTRY_SUFFIX}"
    tmp = f".{name}.tmp"
    try:
        fd = _index_fd(create=True)
        assert fd is not None
    except OSError as exc:
        warn(f"cannot write the session index in {index_dir()} ({exc.strerror or exc}); "
             f"`edgemon ls` and `latest` will not find {data['folder']} from other folders")
        return None
    try:
        out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0),
                      0o600, dir_fd=fd)
        try:
            os.write(out, (json.dumps(data, sort_keys=True) + "\n").encode("utf-8"))
            os.fsync(out)
        finally:
            os.close(out)
        os.rename(tmp, name, src_dir_fd=fd, dst_dir_fd=fd)
        os.fsync(fd)
    except OSError as exc:
        try:
            os.unlink(tmp, dir_fd=fd)
        except OSError:
            pass
        warn(f"cannot write the session index in {index_dir()} ({exc.strerror or exc}); "
             f"`edgemon ls` and `latest` will not find {data['folder']} from other folders")
        return None
    finally:
        os.close(fd)
    return name


def forget(files: list[str]) -> int:
    """Remove these entries (by file name) from the index; the recordings are never touched."""
    fd = _index_fd(create=False)
    if fd is None:
        return 0
    removed = 0
    try:
        for name in files:
            if "/" in name or name in (".", ".."):
                continue
            try:
                os.unlink(name, dir_fd=fd)
                removed += 1
            except FileNotFoundError:
                pass
    finally:
        os.close(fd)
    return removed


# ---------------------------------------------------------------------------- reading

def read_index(warn: Warn | None = _stderr_warning) -> tuple[list[IndexEntry], list[BadEntry]]:
    """Every entry (newest first) and the files that could not be read. Each bad file is one
    warning line through ``warn`` (None: quiet); nothing here raises for what is in the index."""
    try:
        fd = _index_fd(create=False)
    except OSError as exc:
        if warn is not None:
            warn(f"cannot read the session index in {index_dir()} ({exc.strerror or exc}); "
                 "sessions started elsewhere are not listed")
        return [], []
    if fd is None:
        return [], []
    good: list[IndexEntry] = []
    bad: list[BadEntry] = []
    try:
        for name in _names(fd):
            entry = _read_entry(fd, name)
            if isinstance(entry, BadEntry):
                bad.append(entry)
                if warn is not None:
                    warn(f"skipping the session index entry {index_dir() / name}: {entry.reason} "
                         "(`edgemon ls --prune` removes it)")
            else:
                good.append(entry)
    finally:
        os.close(fd)
    good.sort(key=lambda e: (e.started_unix_ns, e.file), reverse=True)
    return good, bad


def _names(fd: int) -> Iterator[str]:
    with os.scandir(fd) as it:
        names = [e.name for e in it if e.name.endswith(ENTRY_SUFFIX) and not e.name.startswith(".")]
    return iter(sorted(names))


def _read_entry(fd: int, name: str) -> IndexEntry | BadEntry:
    try:
        f = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0), dir_fd=fd)
    except OSError as exc:
        return BadEntry(name, "a symbolic link" if exc.errno == errno.ELOOP else (exc.strerror or str(exc)))
    try:
        st = os.fstat(f)
        if not stat.S_ISREG(st.st_mode):
            return BadEntry(name, "not a regular file")
        if st.st_size > MAX_ENTRY_BYTES:
            return BadEntry(name, f"too large ({st.st_size} bytes)")
        raw = os.read(f, MAX_ENTRY_BYTES + 1)
    except OSError as exc:
        return BadEntry(name, exc.strerror or str(exc))
    finally:
        os.close(f)
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return BadEntry(name, "not valid JSON")
    if not isinstance(data, dict):
        return BadEntry(name, "not a JSON object")
    folder = data.get("folder")
    if not isinstance(folder, str) or not folder.startswith("/") or "\0" in folder or len(folder) > 4096:
        return BadEntry(name, "no absolute 'folder'")
    started, pid, host = data.get("started_unix_ns"), data.get("pid"), data.get("host", "")
    if isinstance(started, bool) or not isinstance(started, int):
        return BadEntry(name, "no integer 'started_unix_ns'")
    if isinstance(pid, bool) or not isinstance(pid, int):
        pid = 0
    return IndexEntry(Path(os.path.normpath(folder)), started, pid, str(host)[:200], name)
