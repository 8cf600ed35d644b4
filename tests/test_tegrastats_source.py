"""TegrastatsSource against a stand-in tegrastats (a real subprocess printing real lines)."""

from __future__ import annotations

import os

import pytest

from edgemon.telemetry.base import SourceContext
from edgemon.telemetry.tegrastats_source import TegrastatsSource, interval_ms, next_restart_delay

try:  # tests/ as a package or as a plain folder on sys.path
    from tests.tegrastats_expected import EXPECTED, LINES
    from tests.tegrastats_helpers import (
        child_pids, is_running, kill_quietly, make_fake_tegrastats, starts, wait_for)
except ImportError:
    from tegrastats_expected import EXPECTED, LINES
    from tegrastats_helpers import (
        child_pids, is_running, kill_quietly, make_fake_tegrastats, starts, wait_for)

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def make_source(tmp_path):
    made = []

    def make(runs, sample_hz=10.0, **kw):
        exe = make_fake_tegrastats(tmp_path, runs)
        ctx = SourceContext(root=tmp_path, sample_hz=sample_hz, executables={"tegrastats": str(exe)})
        kw.setdefault("restart_min_s", 0.05)
        kw.setdefault("restart_max_s", 0.2)
        kw.setdefault("stop_timeout_s", 0.5)
        src = TegrastatsSource(ctx, **kw)
        made.append((src, exe))
        return src, exe

    yield make
    for src, exe in made:
        src.close()
        for pid in child_pids(exe):
            kill_quietly(pid)


def _next_values(src, timeout=10.0):
    return wait_for(src.read, timeout=timeout)


# --- probe ----------------------------------------------------------------------------

def test_interval_from_sample_rate():
    assert interval_ms(10.0) == 100
    assert interval_ms(2.0) == 500
    assert interval_ms(1.0) == 1000
    assert interval_ms(50.0) == 100   # tegrastats' minimum
    assert interval_ms(0.0) == 1000   # nonsense rate: once a second


def test_probe_finds_configured_executable(make_source):
    src, exe = make_source([[("forever",)]], sample_hz=4.0)
    status = src.probe()
    assert status.available and status.name == "tegrastats"
    assert status.detail == f"{exe} --interval 250"
    assert starts(exe) == []  # probing does not start it


def test_probe_reports_missing_or_unusable_executable(tmp_path):
    missing = SourceContext(root=tmp_path, executables={"tegrastats": str(tmp_path / "nope")})
    status = TegrastatsSource(missing).probe()
    assert not status.available and "nope" in status.reason

    not_exec = tmp_path / "tegrastats"
    not_exec.write_text("#!/bin/sh\n")
    status = TegrastatsSource(SourceContext(root=tmp_path, executables={"tegrastats": str(not_exec)})).probe()
    assert not status.available and "not an executable" in status.reason


def test_probe_looks_under_the_root_when_not_configured(tmp_path):
    ctx = SourceContext(root=tmp_path)
    assert not TegrastatsSource(ctx).probe().available
    exe = make_fake_tegrastats(tmp_path, [[("forever",)]])
    (tmp_path / "usr" / "bin").mkdir(parents=True)
    os.symlink(exe, tmp_path / "usr" / "bin" / "tegrastats")
    status = TegrastatsSource(ctx).probe()
    assert status.available
    assert status.detail.startswith(str(tmp_path / "usr" / "bin" / "tegrastats") + " --interval")


# --- streaming ------------------------------------------------------------------------

def test_streams_parsed_lines_and_reports_each_line_once(make_source):
    src, exe = make_source([[("line", LINES["T21"]), ("forever",)]])
    assert src.probe().available
    values = _next_values(src)
    assert values == EXPECTED["T21"]
    assert src.read() == {}          # nothing new since
    assert src.last_line_t_ns > 0
    assert starts(exe)[0]["argv"] == ["--interval", "100"]
    stats = src.stats()
    assert (stats.lines, stats.skipped_tokens, stats.restarts) == (1, 0, 0)


def test_read_returns_the_newest_line(make_source):
    src, _ = make_source([[("line", LINES["T05"]), ("line", LINES["T06"]), ("line", LINES["T07"]),
                           ("forever",)]])
    src.read()  # starts the reader
    assert wait_for(lambda: src.stats().lines == 3)
    assert src.read() == EXPECTED["T07"]
    assert src.read() == {}


def test_lines_printed_at_the_interval(make_source):
    run = [step for tid in ("T25", "T28", "T32") for step in (("line", LINES[tid]), ("sleep", "interval"))]
    src, _ = make_source([run + [("forever",)]], sample_hz=20.0)
    seen = []
    while len(seen) < 3:
        values = _next_values(src)
        assert values, "no line arrived"
        seen.append(values)
        if values == EXPECTED["T32"]:
            break
    assert all(v in (EXPECTED["T25"], EXPECTED["T28"], EXPECTED["T32"]) for v in seen)
    assert seen[-1] == EXPECTED["T32"]


def test_read_never_waits_for_a_silent_tool(make_source):
    src, exe = make_source([[("forever",)]])
    assert src.read() == {}
    assert wait_for(lambda: starts(exe))
    assert src.read() == {}
    assert src.stats().lines == 0


# --- garbage, partial lines, exits, restarts -------------------------------------------

def test_garbage_is_counted_and_partial_line_is_dropped(make_source):
    src, _ = make_source(
        [[("line", "hello from a wrapper !!"), ("line", ""), ("line", LINES["T39"]),
          ("raw", "RAM 1180/39"), ("exit", 0)],
         [("forever",)]])
    values = _next_values(src)
    assert values == EXPECTED["T39"]
    stats = wait_for(lambda: (lambda s: s if s.partial_lines else None)(src.stats()))
    assert stats.lines == 2                      # the empty line is not a line
    assert stats.lines_with_values == 1
    assert stats.skipped_tokens == 5 + 2         # hello/from/a/wrapper/!! + FUTURE_TOKEN value
    assert stats.partial_lines == 1
    assert src.read() == {}                      # the cut "RAM 1180/39" was not parsed


def test_restarts_after_the_tool_exits(make_source):
    src, exe = make_source([
        [("line", LINES["T05"]), ("err", "tegrastats: boom"), ("exit", 3)],
        [("line", LINES["T06"]), ("forever",)],
    ])
    first = _next_values(src)
    assert first in (EXPECTED["T05"], EXPECTED["T06"])
    if first == EXPECTED["T05"]:
        assert _next_values(src) == EXPECTED["T06"]
    stats = src.stats()
    assert stats.restarts == 1 and stats.starts == 2
    assert stats.last_exit == 3
    assert stats.last_error == "tegrastats: boom"
    assert len(starts(exe)) == 2
    detail = src.status_detail()
    assert "1 restarts" in detail and "last exit 3" in detail and "boom" in detail


def test_restarts_when_the_tool_exits_but_its_child_keeps_the_pipe_open(make_source):
    src, exe = make_source([
        [("child",), ("line", "RAM 1/2MB"), ("exit", 2)],
        [("line", "RAM 3/4MB"), ("forever",)],
    ])
    values = _next_values(src)
    if values == {"ram_used_mb": 1.0, "ram_total_mb": 2.0}:
        values = _next_values(src)
    assert values == {"ram_used_mb": 3.0, "ram_total_mb": 4.0}
    assert src.stats().last_exit == 2
    child = child_pids(exe)[0]
    assert wait_for(lambda: not is_running(child), timeout=5)  # its process group was ended


def test_restart_delay_doubles_up_to_the_cap():
    delays = [1.0]
    for _ in range(5):
        delays.append(next_restart_delay(delays[-1], 5.0))
    assert delays == [1.0, 2.0, 4.0, 5.0, 5.0, 5.0]


def test_keeps_restarting_a_tool_that_always_fails(make_source):
    src, exe = make_source([[("err", "no permission"), ("exit", 1)]],
                           restart_min_s=0.01, restart_max_s=0.05)
    src.read()
    assert wait_for(lambda: len(starts(exe)) >= 5)
    stats = src.stats()
    assert stats.last_exit == 1 and stats.last_error == "no permission"
    src.close()
    stats = src.stats()
    assert stats.restarts == stats.starts - 1
    assert stats.starts >= len(starts(exe)) >= 5


def test_exec_failure_is_reported_not_raised(make_source, tmp_path):
    src, exe = make_source([[("forever",)]])
    exe.write_text("#!/nonexistent/interpreter\n")
    assert src.read() == {}
    stats = wait_for(lambda: (lambda s: s if s.start_failures else None)(src.stats()))
    assert stats.starts == 0
    assert "cannot run" in stats.last_error
    assert "failed starts" in src.status_detail()


def test_oversized_line_is_dropped_and_stream_continues(make_source):
    src, _ = make_source([[("raw", "X" * 5000), ("line", " more of the same"),
                           ("line", "RAM 1/2MB"), ("forever",)]], max_line_bytes=1000)
    assert _next_values(src) == {"ram_used_mb": 1.0, "ram_total_mb": 2.0}
    stats = src.stats()
    assert stats.partial_lines == 1 and stats.lines == 1


# --- shutdown -------------------------------------------------------------------------

def test_close_terminates_and_reaps_the_process_group(make_source):
    src, exe = make_source([[("child",), ("line", "RAM 1/2MB"), ("ignore_term",), ("forever",)]],
                           stop_timeout_s=0.3)
    assert _next_values(src) == {"ram_used_mb": 1.0, "ram_total_mb": 2.0}
    pid = starts(exe)[0]["pid"]
    child = child_pids(exe)[0]
    assert is_running(pid) and is_running(child)
    src.close()                               # SIGTERM is ignored: SIGKILL follows
    assert not os.path.exists(f"/proc/{pid}")  # reaped by us, not left a zombie
    assert wait_for(lambda: not is_running(child), timeout=5)
    assert src.read() == {}
    src.close()                               # idempotent
    assert len(starts(exe)) == 1              # no restart after close


def test_close_before_any_read_and_read_after_close(make_source):
    src, exe = make_source([[("forever",)]])
    src.close()
    assert src.read() == {}
    assert starts(exe) == []


# --- against the emulated Jetson's tegrastats (edgemon.emulate) -------------------------

@pytest.mark.parametrize("board_name", ["nano", "thor"])
def test_reads_the_emulated_boards_tegrastats(tmp_path, board_name):
    emulate = pytest.importorskip("edgemon.emulate")
    board = emulate.EmulatedBoard(board_name, tmp_path / "board").start()
    src = None
    try:
        ctx = SourceContext(root=board.root, sample_hz=10.0, executables=dict(board.executables))
        src = TegrastatsSource(ctx)
        assert src.probe().available
        values = _next_values(src, timeout=20)
        assert values, src.status_detail()
        stats = src.stats()
        assert stats.skipped_tokens == 0, src.status_detail()
        assert values["ram_total_mb"] > 0 and values["power_total_mw"] > 0
        assert values["cpu0_online"] == 1.0
    finally:
        if src is not None:
            src.close()
        board.stop()
