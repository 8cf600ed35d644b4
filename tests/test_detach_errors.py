"""Attaching where there is nothing to attach to: one line, exit 2, never a traceback."""

from __future__ import annotations

import json
import os
import socket

import pytest
from detach_helpers import edgemon

from edgemon.errors import UserError
from edgemon.recording.layout import FolderLock
from edgemon.feeds.remote import open_remote


def _error(p, *needles):
    assert p.returncode == 2, p.stdout + p.stderr
    assert "Traceback" not in p.stderr
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, p.stderr
    for n in needles:
        assert n in lines[0], lines[0]


def _running(folder):
    folder.mkdir()
    (folder / "session.json").write_text(json.dumps({"state": "running"}))
    return folder


def test_foreign_and_missing_folders(tmp_path):
    (tmp_path / "junk").mkdir()
    for cmd in ("attach", "stop"):
        _error(edgemon(cmd, str(tmp_path / "junk"), cwd=tmp_path), "not an edgemon recording")
        _error(edgemon(cmd, str(tmp_path / "missing"), cwd=tmp_path), "missing")
        _error(edgemon(cmd, cwd=tmp_path), "no sessions yet")   # latest, with nothing recorded


def test_a_session_in_its_own_terminal_cannot_be_attached(tmp_path):
    rec = _running(tmp_path / "rec")
    lock = FolderLock(rec)
    assert lock.acquire()
    try:
        _error(edgemon("attach", str(rec), cwd=tmp_path), "runs in a terminal", "edgemon replay")
    finally:
        lock.release()
    # and once its writer is gone it died
    _error(edgemon("attach", str(rec), cwd=tmp_path), "died", "edgemon recover")


def test_stale_socket_means_the_session_died(tmp_path):
    rec = _running(tmp_path / "rec")
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(rec / "control.sock"))
    s.close()                                   # the file stays, nobody listens
    with pytest.raises(UserError, match="stale.*edgemon recover"):
        open_remote(rec)


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a socket to another user needs root")
def test_a_socket_of_another_user_is_refused(tmp_path):
    rec = _running(tmp_path / "rec")
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(rec / "control.sock"))
    s.listen()
    try:
        os.chown(rec / "control.sock", 4242, 4242)
        with pytest.raises(UserError, match="belongs to uid 4242"):
            open_remote(rec)
    finally:
        s.close()
