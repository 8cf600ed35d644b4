"""``edgemon recover``: turn what a crash left in a recording folder into plain Parquet.

* every ``<stream>/part-N.arrows`` tail -> ``part-N.parquet`` with all its complete batches
  (a torn last batch is dropped and its bytes counted);
* a tail whose Parquet twin already exists and is complete (killed between rename and
  delete) is just deleted;
* stale temporary files edgemon names (``part-N.parquet.tmp``, ``session.json.tmp``) and the
  space reserve (``session.reserve``) are removed; nothing else is deleted, and nothing is
  followed through a symlink (layout.sorted_files lists regular files only);
* ``session.json`` saying ``"running"`` becomes ``"crashed"`` with ``recovered_wall``;
* every segment of a stream is rewritten to the stream's one schema with the ``session_id``
  column (:mod:`edgemon.recording.unify`); a schema-1 recording (edgemon before session ids)
  gets its ``session_id`` here and becomes schema 2.

Refuses while a live writer holds ``session.lock``; holds that lock itself while working,
so two recovers (or a recover and a new writer) never interleave. Running it again
finds nothing to do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from edgemon.errors import UserError
from edgemon.recording.layout import (
    SCHEMA_VERSION,
    SEGMENT_SUFFIX,
    SESSION_FILE,
    STREAMS,
    TAIL_SUFFIX,
    TMP_SUFFIX,
    FolderLock,
    live_writer_error,
    load_session_json,
    new_session_id,
    recording_folder,
    section,
    sorted_files,
    write_json_atomic,
)

# The only names recover deletes: what edgemon's own writer leaves behind.
_OUR_SEGMENT_TMP = re.compile(r"^part-\d+\.parquet\.tmp$")
_OUR_TAIL = re.compile(r"^part-\d+\.arrows$")
_OUR_TOP_TMP = (SESSION_FILE + TMP_SUFFIX,)


@dataclass
class RecoverReport:
    path: Path
    converted: list[str] = field(default_factory=list)       # Parquet files written from tails
    rows: dict[str, int] = field(default_factory=lambda: {k: 0 for k in STREAMS})  # rows kept per stream
    bytes_dropped: int = 0                                    # torn tails: bytes after the last complete batch
    removed_tmp: list[str] = field(default_factory=list)
    removed_tails: list[str] = field(default_factory=list)   # tails deleted without a new file (see problems)
    rewritten: list[str] = field(default_factory=list)       # segments rewritten to the stream's one schema
    problems: list[str] = field(default_factory=list)
    state_before: str | None = None
    state_after: str | None = None

    @property
    def changed(self) -> bool:
        return bool(self.converted or self.removed_tmp or self.removed_tails or self.rewritten
                    or self.state_before != self.state_after)

    def summary(self) -> str:
        """One line for the CLI."""
        if not self.changed:
            return f"{self.path}: nothing to recover"
        rows = ", ".join(f"{n} {k}" for k, n in self.rows.items() if n)
        parts = [f"{len(self.converted)} tail(s) converted" + (f" ({rows} rows)" if rows else "")]
        if self.bytes_dropped:
            parts.append(f"{self.bytes_dropped} bytes of torn batches dropped")
        if self.removed_tmp:
            parts.append(f"{len(self.removed_tmp)} temporary file(s) removed")
        if self.rewritten:
            parts.append(f"{len(self.rewritten)} segment(s) rewritten to one schema per stream")
        if self.state_before != self.state_after:
            parts.append(f"state {self.state_before} -> {self.state_after}")
        return f"{self.path}: " + "; ".join(parts)


def recover(path: Path | str, *, fsync: bool = True) -> RecoverReport:
    """Recover the recording at ``path`` (see module docstring). UserError while it is live."""
    folder = recording_folder(path)
    lock = FolderLock(folder)
    try:
        got = lock.acquire()
    except OSError as e:
        raise UserError(f"cannot recover {folder}: {e.strerror or e}; the folder must be writable") from None
    if not got:
        raise live_writer_error(folder, "stop that session first (recover is for a session that died)")
    report = RecoverReport(folder)
    try:
        _recover_locked(folder, report, fsync)
    except OSError as e:
        raise UserError(f"cannot recover {folder}: {e.strerror or e} ({e.filename or ''})") from None
    finally:
        lock.release(remove=True)
    return report


def _recover_locked(folder: Path, report: RecoverReport, fsync: bool) -> None:
    from edgemon.recording.faults import RESERVE_FILE
    from edgemon.recording.segments import parquet_is_complete, tail_to_parquet

    try:
        meta: dict | None = load_session_json(folder)
    except UserError as e:
        meta = None
        report.problems.append(f"{SESSION_FILE} left as it is: {e}")
    session_id = _session_id(folder, meta, fsync) if meta is not None else None
    for kind in STREAMS:
        sub = folder / kind
        for tmp in sorted_files(sub, TMP_SUFFIX):
            if not _OUR_SEGMENT_TMP.match(tmp.name):
                continue
            tmp.unlink()
            report.removed_tmp.append(str(tmp.relative_to(folder)))
        for tail in sorted_files(sub, TAIL_SUFFIX):
            if not _OUR_TAIL.match(tail.name):
                report.problems.append(f"{tail.relative_to(folder)}: not a name edgemon writes; left as it is")
                continue
            rel = str(tail.relative_to(folder))
            twin = tail.with_suffix(SEGMENT_SUFFIX)
            if twin.exists() and parquet_is_complete(twin):
                tail.unlink()  # the writer died after renaming the Parquet, before deleting the tail
                report.removed_tails.append(rel)
                continue
            contents = tail_to_parquet(tail, session_id=session_id, fsync=fsync)
            report.bytes_dropped += contents.dropped_bytes
            if contents.rows:
                report.converted.append(str(twin.relative_to(folder)))
                report.rows[kind] += contents.rows
            else:
                report.removed_tails.append(rel)
                report.problems.append(
                    f"{rel}: no complete batch ({contents.error}); {contents.total_bytes} bytes dropped"
                )
    for tmp in sorted_files(folder, TMP_SUFFIX):
        if tmp.name in _OUR_TOP_TMP:
            tmp.unlink()
            report.removed_tmp.append(tmp.name)
    reserve = folder / RESERVE_FILE
    if reserve.is_symlink() or reserve.is_file():   # unlink removes a link itself, never its target
        reserve.unlink()
    if meta is None or session_id is None:
        return
    from edgemon.recording.unify import unify_session

    unified = unify_session(folder, session_id, fsync=fsync)
    report.rewritten += unified.rewritten
    report.problems += unified.skipped
    report.state_before = report.state_after = meta.get("state")
    changed = False
    if meta.get("state") == "running":
        from edgemon.recording.writer import utc_iso

        meta["state"] = "crashed"
        meta["recovered_wall"] = utc_iso()
        report.state_after = "crashed"
        changed = True
    if meta.get("schema_version") != SCHEMA_VERSION:
        meta["schema_version"] = SCHEMA_VERSION
        changed = True
    if changed:
        write_json_atomic(folder / SESSION_FILE, meta, fsync=fsync)


def _session_id(folder: Path, meta: dict, fsync: bool) -> str:
    """The session's id; a schema-1 recording gets one now (written before any segment names it)."""
    sid = meta.get("session_id")
    if isinstance(sid, str) and sid:
        return sid
    unix_ns = section(meta, "clock").get("unix_ns")
    unix_ns = unix_ns if isinstance(unix_ns, int) else None
    meta["session_id"] = new_session_id(str(meta.get("host") or "host"), unix_ns)
    write_json_atomic(folder / SESSION_FILE, meta, fsync=fsync)
    return meta["session_id"]
