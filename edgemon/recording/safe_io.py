"""Open files in a recording folder without ever following a symbolic link.

edgemon often runs as root, on recordings copied from other machines and in folders other
users can reach; a planted ``session.lock -> /etc/shadow`` must not make it overwrite the
target (docs/architecture.md "Recording layout"). So every file edgemon creates or rewrites
in a recording folder -- ``session.json`` (through its temporary name), the lock, the live
tails, Parquet segments and their temporary names, ``session.log``, the jetson_clocks store,
a report -- is created here with ``O_CREAT | O_EXCL | O_NOFOLLOW`` (a name that is already
there, link or not, is never written through), and files edgemon reads are opened with
``O_NOFOLLOW | O_NONBLOCK`` and must be regular files (a FIFO planted as ``session.json``
must not hang a command).

Libraries that take a path (pyarrow) get ``/proc/self/fd/N`` of the file opened here, which
names that very file, whatever happens to its name afterwards.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
_PROC_FD = Path("/proc/self/fd")

# session.json is a few kB; a "session.json" of gigabytes is not one of ours.
MAX_META_BYTES = 16 * 1024 * 1024


class NotRegularFile(OSError):
    """A name in a recording folder that is a link, a FIFO, a device or a folder."""


def _not_regular(path: Path | str, st_mode: int | None) -> NotRegularFile:
    if st_mode is None or stat.S_ISLNK(st_mode):
        what = "a symbolic link"
    elif stat.S_ISDIR(st_mode):
        what = "a folder"
    elif stat.S_ISFIFO(st_mode):
        what = "a FIFO"
    else:
        what = "not a regular file"
    return NotRegularFile(errno.ELOOP if what == "a symbolic link" else errno.EINVAL,
                          f"{what}; edgemon only opens regular files in a recording folder", str(path))


def create_exclusive(path: Path | str, *, mode: int = 0o644, replace_stale: bool = False) -> int:
    """A new, empty file at ``path`` open for writing (an fd). Nothing already at ``path`` -- a
    file, a symlink, a FIFO -- is ever opened. ``replace_stale``: a leftover at that name (a
    crash's temporary file) is unlinked first (unlink removes a link, never its target)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW
    try:
        return os.open(str(path), flags, mode)
    except FileExistsError:
        if not replace_stale:
            raise
    st = os.lstat(str(path))
    if stat.S_ISDIR(st.st_mode):
        raise _not_regular(path, st.st_mode)
    os.unlink(str(path))
    return os.open(str(path), flags, mode)


def open_new(path: Path | str, mode: str = "wb", *, buffering: int = -1, replace_stale: bool = False):
    """:func:`create_exclusive` as a Python file object (``"wb"`` or ``"w"``)."""
    fd = create_exclusive(path, replace_stale=replace_stale)
    try:
        if "b" in mode:
            return os.fdopen(fd, mode, buffering=buffering)
        return os.fdopen(fd, mode, buffering=buffering, encoding="utf-8")
    except BaseException:
        os.close(fd)
        raise


def open_regular(path: Path | str, flags: int = os.O_RDONLY) -> int:
    """An fd of the regular file at ``path``; a symlink, FIFO, device or folder is an OSError
    (:class:`NotRegularFile`), and nothing blocks on opening it."""
    try:
        fd = os.open(str(path), flags | _NOFOLLOW | os.O_NONBLOCK)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise _not_regular(path, None) from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _not_regular(path, st.st_mode)
    except BaseException:
        os.close(fd)
        raise
    return fd


def is_regular(path: Path | str) -> bool:
    """A regular file, not a link to one (lstat)."""
    try:
        return stat.S_ISREG(os.lstat(str(path)).st_mode)
    except OSError:
        return False


def is_real_dir(path: Path | str) -> bool:
    """A folder, not a link to one (lstat)."""
    try:
        return stat.S_ISDIR(os.lstat(str(path)).st_mode)
    except OSError:
        return False


def read_bytes(path: Path | str, *, limit: int = MAX_META_BYTES) -> bytes:
    """The contents of a regular file (see :func:`open_regular`); OSError(EFBIG) over ``limit``."""
    fd = open_regular(path)
    try:
        size = os.fstat(fd).st_size
        if size > limit:
            raise OSError(errno.EFBIG, f"{size} bytes, more than the {limit} expected", str(path))
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            total += len(chunk)
            if total > limit:
                raise OSError(errno.EFBIG, f"more than the {limit} bytes expected", str(path))
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_text(path: Path | str, *, limit: int = MAX_META_BYTES) -> str:
    """UTF-8 text of a regular file; bytes that are not UTF-8 are a ValueError (UnicodeDecodeError)."""
    return read_bytes(path, limit=limit).decode("utf-8")


def fd_path(fd: int, fallback: Path | str) -> str:
    """A path that names the open file ``fd`` itself (``/proc/self/fd/N``), for libraries that
    only take paths; ``fallback`` (its name) where /proc is not mounted."""
    if _PROC_FD.is_dir():
        return str(_PROC_FD / str(fd))
    return str(fallback)


@contextmanager
def regular_file_path(path: Path | str) -> Iterator[str]:
    """Open ``path`` as a regular file (no link, no FIFO) and yield a path naming that file."""
    fd = open_regular(path)
    try:
        yield fd_path(fd, path)
    finally:
        os.close(fd)
