"""`edgemon serve`: the dashboard in a real (headless) Chromium, through textual-serve.

The served dashboard must outlive the terminal check (it has no terminal), and closing the
tab must only detach: the live session goes on, and no second session is ever started.
"""

from __future__ import annotations

import json
import socket
import time

import pytest

from serve_helpers import (
    dashboards,
    load_chromium,
    session_processes,
    start_server,
    state,
    stop_server,
    wait_for,
)

pytest.importorskip("textual_serve")


def _cli(capsys, *argv):
    from edgemon.cli import main

    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_port_in_use_and_other_bad_input_one_line_exit_2(tmp_path, capsys):
    from analysis_helpers import build_session

    folder = build_session(tmp_path / "rec", sample=lambda t: {"cpu_util_pct": 1.0}, duration_s=2)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out, err = _cli(capsys, "serve", "replay", str(folder), "--port", str(port))
    assert code == 2 and out == "" and f"port {port} on 127.0.0.1 is already in use" in err
    assert len(err.strip().splitlines()) == 1
    cases = [
        (["serve", "attach", str(folder), "--port", "0"], "out of range"),
        (["serve", "attach", str(folder)], "has ended (state ended); use `edgemon replay"),
        (["serve", "watch", str(folder)], "the mode is attach or replay, got 'watch'"),
        (["serve", str(tmp_path / "nope")], "no such recording folder"),
        (["serve", "replay", str(tmp_path)], "is not an edgemon recording"),
        (["serve", "--host", "no.such.host.invalid", str(folder)], "no such address"),
    ]
    for argv, message in cases:
        code, out, err = _cli(capsys, *argv)
        assert code == 2 and out == "", argv
        assert len(err.strip().splitlines()) == 1 and message in err, (argv, err)


@pytest.mark.slow
def test_a_live_session_in_chromium_survives_the_page_and_the_terminal_check(tmp_path, run_edgemon):
    chromium = load_chromium()
    if chromium.find_browser() is None:
        pytest.skip("no chromium on PATH (apt-get install chromium)")
    from edgemon.tui.app import TERMINAL_CHECK_S

    folder = tmp_path / "recordings" / "live"
    r = run_edgemon("run", "--detach", "--duration", "5m", "--record", str(folder), timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    server = None
    try:
        assert wait_for(lambda: state(folder) == "running" and session_processes(folder), 60)
        (session,) = session_processes(folder)
        server, port = start_server(tmp_path, "attach", str(folder))
        with chromium.Chromium(1280, 820) as browser:
            tab = browser.open(f"http://127.0.0.1:{port}/")
            assert wait_for(lambda: dashboards(server.pid, "attach", folder), 60), "no dashboard for the tab"
            (dashboard,) = dashboards(server.pid, "attach", folder)
            # past the terminal check: a served dashboard has no terminal and must not quit
            time.sleep(TERMINAL_CHECK_S * 2)
            assert dashboard.is_running(), "the served dashboard quit on its own"
            shot = browser.screenshot(tab, tmp_path / "attach.png")
            assert shot.stat().st_size > 20_000       # a rendered dashboard, not a blank page
            browser.close_tab(tab)
            assert wait_for(lambda: not dashboard.is_running(), 60), "closing the tab left its dashboard running"
        # the session goes on, detached, and it is still the only one
        assert state(folder) == "running" and session.is_running()
        assert [p.pid for p in session_processes(folder)] == [session.pid]
        assert [p.name for p in (tmp_path / "recordings").iterdir()] == ["live"]
        assert server.poll() is None
    finally:
        if server is not None:
            stop_server(server)
        run_edgemon("stop", str(folder), timeout=120)
    assert json.loads((folder / "session.json").read_text())["state"] == "ended"


@pytest.mark.slow
def test_a_recording_replays_in_chromium(tmp_path):
    chromium = load_chromium()
    if chromium.find_browser() is None:
        pytest.skip("no chromium on PATH (apt-get install chromium)")
    from analysis_helpers import back_to_back, build_session

    folder = build_session(tmp_path / "rec", sample=lambda t: {"cpu_util_pct": 50.0, "temp_cpu_c": 40 + t},
                           latency=back_to_back(0, 30, 5.0), duration_s=30)
    server, port = start_server(tmp_path, str(folder))       # no mode: an ended session replays
    try:
        with chromium.Chromium(1280, 820) as browser:
            tab = browser.open(f"http://127.0.0.1:{port}/")
            assert wait_for(lambda: dashboards(server.pid, "replay", folder), 60)
            (dashboard,) = dashboards(server.pid, "replay", folder)
            browser.close_tab(tab)
            assert wait_for(lambda: not dashboard.is_running(), 60)
    finally:
        out = stop_server(server)
    assert f"serving the dashboard (replay {folder})" in out
