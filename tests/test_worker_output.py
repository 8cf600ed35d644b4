"""What a worker prints never reaches its frames and is kept, bounded, in the session folder
(issue 12.4); a timed run waits for a long iteration, and one cut at the end is not a crash (12.5)."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from edgemon.workload.output import OutputFile, TextTail, WorkerOutput

PY = sys.executable


def _meta(folder: Path) -> dict:
    return json.loads((folder / "session.json").read_text())


@pytest.mark.slow
def test_a_printing_wrapper_and_a_printing_runner_lose_no_frame(tmp_path, run_edgemon):
    wrapper = tmp_path / "python-wrapper"
    wrapper.write_text(f"#!/bin/sh\necho 'Welcome: this banner goes to stdout before the runner starts'\n"
                       f"echo 'and a word on stderr' >&2\nexec {PY} \"$@\"\n")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    rec = tmp_path / "rec"
    p = run_edgemon("run", "--headless", "--duration", "3s", "--record", str(rec), "--python", str(wrapper),
                    "--opt", "print_every=1", "--opt", "sleep_ms=1")
    assert p.returncode == 0, p.stdout + p.stderr
    rows = ds.dataset(str(rec / "latency"), format="parquet").to_table().num_rows
    stdout = (rec / "worker.stdout.log").read_text().splitlines()
    stderr = (rec / "worker.stderr.log").read_text().splitlines()
    assert stdout[1] == "Welcome: this banner goes to stdout before the runner starts"
    printed = [ln for ln in stdout if ln.startswith("test hook print_every: iteration ")]
    assert rows > 50
    # every iteration printed once on stdout and once on stderr, and every one has its row
    assert len(printed) == rows
    assert len([ln for ln in stderr if ln.startswith("test hook print_every")]) == rows
    assert "and a word on stderr" in stderr
    worker = _meta(rec)["end"]["worker"]
    assert "protocol_error" not in worker and worker["iterations"] == rows


def test_output_file_keeps_the_newest_within_its_limit(tmp_path):
    out = OutputFile(tmp_path / "worker.stdout.log", limit_bytes=8192)
    for i in range(1000):
        out.write(b"line %04d %s\n" % (i, b"x" * 40))
    out.close()
    current = (tmp_path / "worker.stdout.log").read_bytes()
    older = (tmp_path / "worker.stdout.log.1").read_bytes()
    assert len(current) <= 4096 and len(older) <= 4096
    assert current.endswith(b"line 0999 " + b"x" * 40 + b"\n")
    assert older.splitlines()[-1].split()[1] == b"%04d" % (int(current.split()[1]) - 1)   # no gap
    s = out.summary()
    assert s["bytes"] == 1000 * 51 and s["bytes_not_kept"] == 1000 * 51 - len(current) - len(older)


def test_output_file_never_writes_through_a_planted_symlink(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    folder = tmp_path / "rec"
    folder.mkdir()
    os.symlink(victim, folder / "worker.stderr.log")
    with pytest.raises(FileExistsError):
        WorkerOutput(folder)
    assert victim.read_text() == "precious\n"
    assert (folder / "worker.stdout.log").read_bytes() == b""    # created, empty, and closed again


def test_output_file_rotation_replaces_a_planted_symlink_not_its_target(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    out = OutputFile(tmp_path / "log", limit_bytes=8192)
    os.symlink(victim, tmp_path / "log.1")
    out.write(b"a" * 4000)
    out.write(b"b" * 200)               # rotates: log -> log.1, replacing the link itself
    out.close()
    assert victim.read_text() == "precious\n"
    assert not (tmp_path / "log.1").is_symlink() and (tmp_path / "log.1").read_bytes() == b"a" * 4000


def test_text_tail_keeps_the_last_lines():
    tail = TextTail(lines=3, keep_bytes=64)
    for i in range(100):
        tail.feed(b"line %d\n" % i)
    tail.feed(b"partial")
    assert tail.lines() == ["line 98", "line 99", "partial"]
    assert tail.line_count == 100


@pytest.mark.slow
def test_a_long_iteration_is_waited_for_at_the_end(tmp_path, run_edgemon):
    rec = tmp_path / "rec"
    p = run_edgemon("run", "--headless", "--duration", "1s", "--record", str(rec), "--opt", "sleep_ms=8000")
    assert p.returncode == 0, p.stdout + p.stderr
    meta = _meta(rec)
    assert meta["state"] == "ended" and meta["end"]["worker"]["reason"] == "finished (stopped)"
    lat = ds.dataset(str(rec / "latency"), format="parquet").to_table()
    assert lat.num_rows == 1 and lat.column("duration_ns")[0].as_py() >= 8e9   # the whole iteration


@pytest.mark.slow
def test_an_iteration_cut_at_the_end_is_reported_as_cut_not_as_a_crash(tmp_path, run_edgemon):
    rec = tmp_path / "rec"
    p = run_edgemon("run", "--headless", "--duration", "1s", "--stop-grace", "1s", "--record", str(rec),
                    "--opt", "sleep_ms=20000")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "crashed" not in p.stdout
    assert "the iteration in progress did not finish within the 1 s grace" in p.stdout
    meta = _meta(rec)
    worker = meta["end"]["worker"]
    assert meta["state"] == "ended" and worker["cut_iteration"] is True and worker["signal_name"] == "SIGTERM"
    kinds = ds.dataset(str(rec / "events"), format="parquet").to_table().column("kind").to_pylist()
    assert "worker_exit" in kinds and "worker_crashed" not in kinds
