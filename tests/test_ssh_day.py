"""The SSH day with real processes: start a session in ~/bench, lose the connection, log back in
(the shell starts in ~), find it, attach to it and stop it from there; the session index under
$XDG_STATE_HOME (or ~/.local/state) is what finds it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from detach_helpers import REPO, end_process, kill_quietly, pid_alive, wait_for
from test_detach import _PtyDashboard

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def _env(home: Path, *, xdg: Path | None = None) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if k != "XDG_STATE_HOME"}
    e["PYTHONPATH"] = str(REPO) + os.pathsep + e.get("PYTHONPATH", "")
    e["HOME"] = str(home)
    if xdg is not None:
        e["XDG_STATE_HOME"] = str(xdg)
    return e


def _edgemon(*args: str, cwd: Path, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edgemon", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def _start(cwd: Path, env: dict[str, str], *extra: str) -> tuple[Path, int]:
    p = _edgemon("run", "--detach", "--duration", "120s", "--sample-hz", "10", *extra, cwd=cwd, env=env)
    assert p.returncode == 0, p.stdout + p.stderr
    folder = Path(re.search(r"recording into (\S+)", p.stdout).group(1))
    pid = int(re.search(r"\(pid (\d+)\)", p.stdout).group(1))
    assert folder.is_absolute(), p.stdout
    for line in p.stdout.splitlines()[1:]:      # every hint names the absolute folder
        if ":" in line:
            assert str(folder) in line or "session.log" in line, line
    return folder, pid


def test_start_in_one_folder_find_attach_and_stop_from_another(tmp_path):
    home = tmp_path / "home"
    bench = home / "bench"
    bench.mkdir(parents=True)
    env = _env(home)                      # no XDG_STATE_HOME: the index lives in ~/.local/state/edgemon
    first, pid1 = _start(bench, env)      # ./recordings under ~/bench
    elsewhere = tmp_path / "data" / "x"
    second, pid2 = _start(tmp_path, env, "--record", str(elsewhere))   # --record from another folder
    try:
        assert first.parent == bench / "recordings" and second == elsewhere
        entries = sorted((home / ".local" / "state" / "edgemon" / "sessions").glob("*.json"))
        assert len(entries) == 2
        assert {json.loads(e.read_text())["folder"] for e in entries} == {str(first), str(second)}

        # Log back in: the shell starts in ~, where there is no ./recordings at all.
        p = _edgemon("ls", cwd=home, env=env)
        assert p.returncode == 0, p.stderr
        assert str(first) in p.stdout and str(second) in p.stdout
        assert p.stdout.count("running (detached)") == 2
        rows = json.loads(_edgemon("ls", "--json", cwd=home, env=env).stdout)
        assert [r["path"] for r in rows] == [str(second), str(first)], "running first, newest first"

        # `stop latest` from ~ stops the newest running session: the second.
        p = _edgemon("stop", "latest", cwd=home, env=env)
        assert p.returncode == 0, p.stderr
        assert f"stopped: {second}" in p.stdout
        wait_for(lambda: not pid_alive(pid2), what="the second session to end")

        # `attach latest` from ~ now finds the first (the newest one still running) ...
        term = _PtyDashboard(None, home, args=["attach", "latest"], environ=env)
        try:
            wait_for(lambda: term.screen_has("quit"), what="the dashboard")
            term.press("q", then_wait_for="detach")
            term.press("s")                 # ... and stopping it there prints the summary
            assert term.proc.wait(60) == 0
            wait_for(lambda: f"recording: {first} (ended" in term.text(), what="the recording's folder")
            out = term.text()
            assert "median" in out and "throughput" in out and "measured iterations" in out
        finally:
            term.close()
        wait_for(lambda: not pid_alive(pid1), what="the first session to end")

        rows = json.loads(_edgemon("ls", "--json", cwd=home, env=env).stdout)
        assert {r["path"]: r["state"] for r in rows} == {str(first): "ended", str(second): "ended"}
        # `latest` for the other commands: the newest session wherever it recorded
        p = _edgemon("analyze", "latest", "--json", cwd=home, env=env, timeout=180)
        assert p.returncode == 0, p.stderr
        assert json.loads(p.stdout)["session"] == str(second)
    finally:
        for pid in (pid1, pid2):
            end_process(pid)


def test_died_gone_corrupt_and_prune(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    state = tmp_path / "state"
    env = _env(home, xdg=state)
    folder, pid = _start(tmp_path, env, "--record", str(tmp_path / "a"))
    gone, pid_gone = _start(tmp_path, env, "--record", str(tmp_path / "b"))
    try:
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not pid_alive(pid), what="the killed session process")
        assert _edgemon("stop", str(gone), cwd=home, env=env).returncode == 0
        wait_for(lambda: not pid_alive(pid_gone), what="the stopped session")
        import shutil

        shutil.rmtree(gone)
        index = state / "edgemon" / "sessions"
        (index / "junk.json").write_text("{ not json")
        p = _edgemon("ls", cwd=home, env=env)
        assert p.returncode == 0 and "Traceback" not in p.stderr
        assert p.stderr.count("\n") == 1 and "junk.json" in p.stderr and "--prune" in p.stderr
        assert "died" in p.stdout and f"edgemon recover {folder}" in p.stdout
        assert "gone" in p.stdout and str(gone) in p.stdout and "edgemon ls --prune" in p.stdout
        # latest skips the gone one: restore and replay name the died session's folder
        p = _edgemon("restore", "latest", cwd=home, env=env)
        assert p.returncode == 0 and str(folder) in p.stdout, p.stdout + p.stderr

        p = _edgemon("ls", "--prune", cwd=home, env=env)
        assert "pruned 2 index entries (1 gone, 1 corrupt)" in p.stdout, p.stdout
        assert str(gone) not in p.stdout and p.stderr == ""
        assert sorted(x.name for x in index.iterdir()) == sorted(
            x.name for x in index.iterdir() if json.loads(x.read_text())["folder"] == str(folder))
        assert folder.is_dir(), "prune never touches a recording"
    finally:
        kill_quietly(pid)
        end_process(pid_gone)


def test_a_launch_that_fails_is_not_latest(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = _env(home, xdg=tmp_path / "state")
    good = tmp_path / "good"
    p = _edgemon("run", "--headless", "--duration", "2s", "--record", str(good), cwd=tmp_path, env=env)
    assert p.returncode == 0, p.stderr
    bad = tmp_path / "bad"      # a worker interpreter that exits at once: the workload never ran
    p = _edgemon("run", "--headless", "--duration", "20s", "--record", str(bad), "--python", "/bin/false",
                 cwd=tmp_path, env=env)
    assert p.returncode == 1, p.stdout + p.stderr
    meta = json.loads((bad / "session.json").read_text())
    assert meta["end"].get("failed_to_start") is True and not meta.get("runner_hello"), (meta["state"], sorted(meta))
    rows = {r["path"]: r for r in json.loads(_edgemon("ls", "--json", cwd=home, env=env).stdout)}
    assert rows[str(bad)]["failed_to_start"] and rows[str(bad)]["state"] == "crashed"
    assert "failed to start" in _edgemon("ls", cwd=home, env=env).stdout
    p = _edgemon("analyze", "latest", "--json", cwd=home, env=env, timeout=180)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["session"] == str(good)


def test_the_summary_follows_a_dashboard_whose_session_reached_its_duration(tmp_path):
    """`edgemon run` with its dashboard until the duration ends the session: the header says so,
    its controls are off; q closes the dashboard and the headless summary follows in the terminal."""
    home = tmp_path / "home"
    home.mkdir()
    rec = tmp_path / "rec"
    env = _env(home, xdg=tmp_path / "state")
    term = _PtyDashboard(None, tmp_path, environ=env,
                         args=["run", "--duration", "6s", "--sample-hz", "10", "--record", str(rec)])
    try:
        wait_for(lambda: term.screen_has("session ended: duration reached"), timeout=120,
                 what="the end of the session in the header")
        assert term.proc.poll() is None, "the dashboard stays up until the user leaves it"
        term.press("q")
        assert term.proc.wait(60) == 0
        wait_for(lambda: f"recording: {rec} (ended" in term.text(), what="the recording's folder")
        after = term.text().rsplit("session ended: duration reached", 1)[1]
        assert "median" in after and "throughput" in after and "measured iterations" in after, after[-2000:]
    finally:
        term.close()
