"""Shared pytest setup. Area-specific helpers live in tests/<area>_helpers.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session", autouse=True)
def _private_session_index_for_shared_fixtures(tmp_path_factory):
    """Module- and session-scoped fixtures record sessions before any test's own index is set:
    they register in a throwaway index of the whole run, never the developer's."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("xdg-state-shared")))
        yield


@pytest.fixture(autouse=True)
def _private_session_index(tmp_path_factory, monkeypatch):
    """Each test's sessions register in its own throwaway session index (XDG_STATE_HOME), never
    in the developer's, and 'latest' in one test never finds another test's session."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("xdg-state")))


@pytest.fixture
def edgemon_cmd():
    """argv prefix that runs this checkout's edgemon CLI in a fresh interpreter."""
    return [sys.executable, "-m", "edgemon"]


@pytest.fixture
def run_edgemon(tmp_path, edgemon_cmd):
    """Run `edgemon ARGS...` in tmp_path; returns CompletedProcess (text)."""

    def run(*args, timeout=120, cwd=None, env=None):
        e = dict(os.environ)
        e["PYTHONPATH"] = str(REPO) + os.pathsep + e.get("PYTHONPATH", "")
        if env:
            e.update(env)
        return subprocess.run(
            [*edgemon_cmd, *args], cwd=cwd or tmp_path, env=e, capture_output=True, text=True, timeout=timeout
        )

    return run
