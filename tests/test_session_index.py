"""The per-user session index: one file per session, written atomically, never through a
symlink; whatever is in it is untrusted (a bad entry is one warning, never a traceback)."""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

import pytest

from edgemon.recording import index
from edgemon.recording.listing import latest_session, user_sessions


@pytest.fixture
def state(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path / "state" / "edgemon" / "sessions"


def _register(args):
    folder, state_home = args
    os.environ["XDG_STATE_HOME"] = state_home
    return index.register(Path(folder), host="h")


def test_sessions_starting_at_the_same_moment_keep_every_entry(state, tmp_path):
    folders = [str(tmp_path / f"s{i}") for i in range(24)]
    with multiprocessing.get_context("spawn").Pool(6) as pool:
        names = pool.map(_register, [(f, os.environ["XDG_STATE_HOME"]) for f in folders])
    assert None not in names and len(set(names)) == 24
    entries, bad = index.read_index(warn=None)
    assert sorted(str(e.folder) for e in entries) == sorted(folders) and not bad
    assert not [p for p in state.iterdir() if p.name.startswith(".")], "no temporary file left behind"
    assert oct(state.stat().st_mode & 0o777) == "0o700"


def test_fallback_is_local_state_under_home(monkeypatch, tmp_path):
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert index.index_dir() == tmp_path / ".local" / "state" / "edgemon" / "sessions"
    monkeypatch.setenv("XDG_STATE_HOME", "relative/path")          # not absolute: ignored, as XDG says
    assert index.index_dir() == tmp_path / ".local" / "state" / "edgemon" / "sessions"


def test_a_symlinked_index_is_never_written_through(state, tmp_path):
    target = tmp_path / "elsewhere"
    target.mkdir()
    state.parent.mkdir(parents=True)
    state.symlink_to(target)
    warnings: list[str] = []
    assert index.register(tmp_path / "s", warn=warnings.append) is None
    assert len(warnings) == 1 and "symbolic link" in warnings[0]
    assert list(target.iterdir()) == []
    entries, bad = index.read_index(warn=warnings.append)
    assert entries == [] and bad == [] and "symbolic link" in warnings[-1]


def test_bad_entries_are_one_warning_each_and_prunable(state, tmp_path):
    rec = tmp_path / "rec"
    rec.mkdir()
    (rec / "session.json").write_text(json.dumps({"state": "ended"}))
    index.register(rec)
    index.register(tmp_path / "gone")
    (state / "a.json").write_text("{ not json")
    (state / "b.json").write_text(json.dumps({"folder": "relative/x", "started_unix_ns": 1}))
    (state / "c.json").write_text(json.dumps({"folder": "/x", "started_unix_ns": "soon"}))
    (state / "d.json").write_bytes(b"x" * (index.MAX_ENTRY_BYTES + 10))
    (state / "e.json").symlink_to("/etc/passwd")
    os.mkfifo(state / "f.json")                                  # never blocks: opened non-blocking
    warnings: list[str] = []
    entries, bad = index.read_index(warn=warnings.append)
    assert len(entries) == 2 and len(bad) == 6 and len(warnings) == 6
    assert all("\n" not in w and "--prune" in w for w in warnings)
    infos, bad = user_sessions([tmp_path / "nothing"], warn=lambda m: None)
    states = {i.path: i.state for i in infos}
    assert states == {str(rec): "ended", str(tmp_path / "gone"): "gone"}
    assert latest_session([tmp_path / "nothing"]) == rec, "a gone entry is never latest"
    assert index.forget([b.file for b in bad] + [i.index_file for i in infos if i.state == "gone"]) == 7
    assert len(list(state.iterdir())) == 1 and rec.is_dir()


@pytest.fixture(scope="module")
def _index_seen_by_a_module_fixture():
    return os.environ.get("XDG_STATE_HOME", "")


def test_shared_fixtures_never_see_the_developers_index(_index_seen_by_a_module_fixture, tmp_path_factory):
    """A module-scoped fixture (a recorded fleet, a real session shared by tests) runs before the
    per-test index is set; it still registers in a throwaway index under pytest's temp folder."""
    assert _index_seen_by_a_module_fixture
    assert Path(_index_seen_by_a_module_fixture).is_relative_to(tmp_path_factory.getbasetemp())
