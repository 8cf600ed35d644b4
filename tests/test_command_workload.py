"""`edgemon run [options] -- CMD [ARGS...]`: any program as the workload, end to end.

Real commands, real sessions: the process tree's CPU and RSS, stdout/stderr in the session
folder, the exit code or signal, --duration with SIGTERM then SIGKILL, a command that ends
first, --latency-regex, detach/stop, a profile, Prometheus, pause by SIGSTOP, and bad input.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pyarrow.dataset as ds
import pytest
from cli_helpers import assert_one_line_error
from detach_helpers import edgemon, end_process, start_detached, wait_for

from edgemon.datatypes import EventKind
from edgemon.session.config import RunConfig
from edgemon.session.live import LiveSession
from edgemon.workload.spec import WorkloadSpec

pytestmark = pytest.mark.slow
PY = sys.executable


def _meta(folder: Path) -> dict:
    return json.loads((folder / "session.json").read_text())


def _telemetry(folder: Path):
    return ds.dataset(str(folder / "telemetry"), format="parquet").to_table()


def _events(folder: Path) -> list[tuple[str, dict]]:
    t = ds.dataset(str(folder / "events"), format="parquet").to_table()
    return [(k, json.loads(d)) for k, d in zip(t.column("kind").to_pylist(), t.column("details").to_pylist())]


def _latency(folder: Path):
    return ds.dataset(str(folder / "latency"), format="parquet").to_table()


def _script(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_a_command_that_ends_first_ends_the_session(tmp_path, run_edgemon):
    # sh runs a busy Python child: the tree's CPU is the child's; sh alone would read ~0.
    busy = _script(tmp_path, "busy.py", '''
        import sys, time
        print("child stdout", flush=True)
        print("child stderr", file=sys.stderr, flush=True)
        x, end = 0, time.monotonic() + 2.5
        data = bytearray(30 * 1024 * 1024)          # 30 MB the tree's RSS must include
        while time.monotonic() < end:
            x += 1
    ''')
    rec = tmp_path / "rec"
    p = run_edgemon("run", "--headless", "--duration", "60s", "--record", str(rec), "--sample-hz", "20",
                    "--", "sh", "-c", f"{PY} {busy}; echo 'sh says bye'")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "command      exited with code 0" in p.stdout
    assert "edgemon_probe" in p.stdout            # the summary says where latency would come from
    meta = _meta(rec)
    assert meta["state"] == "ended" and meta["kind"] == "command"
    assert meta["workload"]["command"][:2] == ["sh", "-c"] and meta["workload"]["runner"] == "command"
    worker = meta["end"]["worker"]
    assert worker["returncode"] == 0 and worker["signal"] is None and worker["lived_s"] < 60
    assert meta["end"]["reason"].startswith("command ended")
    stdout = (rec / "worker.stdout.log").read_text()
    assert "child stdout" in stdout and "sh says bye" in stdout and stdout.startswith("==== edgemon: worker 1")
    assert "child stderr" in (rec / "worker.stderr.log").read_text()
    assert meta["end"]["output"]["stdout"]["file"] == "worker.stdout.log"
    tel = _telemetry(rec)
    cpu = [v for v in tel.column("proc_worker_cpu_pct").to_pylist() if v is not None]
    rss = [v for v in tel.column("proc_worker_rss_mb").to_pylist() if v is not None]
    assert max(cpu) > 5.0                          # the child's work, seen through its parent sh
    assert max(rss) > 30.0                         # sh + the child's 30 MB
    assert _latency(rec).num_rows == 0


def test_duration_ends_a_command_with_sigterm_then_sigkill(tmp_path, run_edgemon):
    stubborn = _script(tmp_path, "stubborn.py", '''
        import signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        while True:
            time.sleep(0.1)
    ''')
    rec = tmp_path / "rec"
    p = run_edgemon("run", "--headless", "--duration", "2s", "--stop-grace", "1s", "--record", str(rec),
                    "--", PY, str(stubborn))
    assert p.returncode == 0, p.stdout + p.stderr  # the end of a timed run, not a failure
    worker = _meta(rec)["end"]["worker"]
    assert worker["signal_name"] == "SIGKILL" and worker["killed_by_monitor"] is True
    assert "did not end within 1 s of SIGTERM" in worker["reason"]
    assert _meta(rec)["state"] == "ended" and _meta(rec)["end"]["reason"] == "duration reached"

    rec2 = tmp_path / "rec2"
    p = run_edgemon("run", "--headless", "--duration", "2s", "--record", str(rec2), "--", "sleep", "60")
    assert p.returncode == 0, p.stdout + p.stderr
    worker = _meta(rec2)["end"]["worker"]
    assert worker["signal_name"] == "SIGTERM" and worker["reason"] == "ended by edgemon with SIGTERM"


def test_a_failing_command_is_recorded_with_its_exit_code(tmp_path, run_edgemon):
    rec = tmp_path / "rec"
    p = run_edgemon("run", "--headless", "--record", str(rec), "--", PY, "-c",
                    "import sys, time; time.sleep(1.5); print('it went wrong', file=sys.stderr); sys.exit(3)")
    assert p.returncode == 1, p.stdout + p.stderr
    assert "edgemon: command failed: exited with code 3: it went wrong" in p.stdout
    meta = _meta(rec)
    assert meta["state"] == "crashed" and meta["end"]["worker"]["returncode"] == 3
    assert meta["end"]["worker"]["stderr_tail"][-1] == "it went wrong"


def test_latency_from_printed_lines(tmp_path, run_edgemon):
    printer = _script(tmp_path, "printer.py", '''
        import time
        for i in range(60):
            print("batch %d took %d.5 ms for 4 images" % (i, i % 10), flush=True)
            print("some other line", flush=True)
            time.sleep(0.01)
        print("batch x took fast ms for 4 images", flush=True)   # matches, but no number
        time.sleep(1.2)
    ''')
    rec = tmp_path / "rec"
    p = run_edgemon("run", "--headless", "--record", str(rec), "--warmup", "10",
                    "--latency-regex", r"took (?P<ms>\S+) ms for (?P<items>\d+) images", "--", PY, str(printer))
    assert p.returncode == 0, p.stdout + p.stderr
    lat = _latency(rec)
    assert lat.num_rows == 60
    dur = lat.column("duration_ns").to_pylist()
    assert dur == [((i % 10) + 0.5) * 1e6 for i in range(60)]
    assert set(lat.column("items").to_pylist()) == {4}
    assert lat.column("warmup").to_pylist() == [True] * 10 + [False] * 50
    worker = _meta(rec)["end"]["worker"]
    assert worker["regex_rows"] == 60 and worker["regex_unusable_lines"] == 1
    assert any(k == EventKind.WARMUP_DONE and d["iterations"] == 10 for k, d in _events(rec))
    assert "50 measured iterations; 10 warm-up left out" in p.stdout


@pytest.mark.parametrize("args, needles", [
    (["--", "no-such-program-here"], ["command not found", "no-such-program-here"]),
    (["--", "/no/such/dir/prog"], ["command not found", "/no/such/dir/prog"]),
    (["--", "false"], ["ended at once", "exited with code 1"]),
    (["--latency-regex", "took ([0-9.]+) ms", "--", "sleep", "5"], ["named group", "(?P<ms>"]),
    (["--latency-regex", "took ((", "--", "sleep", "5"], ["not a regular expression"]),
    (["--latency-regex", "took (?P<ms>[0-9]+)"], ["command", "--"]),
    (["--"], ["nothing after --"]),
    (["--model", "resnet18", "--", "sleep", "1"], ["--model", "command"]),
])
def test_bad_command_input_is_one_line_and_exit_2(tmp_path, run_edgemon, args, needles):
    assert_one_line_error(run_edgemon("run", "--headless", "--record", str(tmp_path / "rec"), *args), *needles)


def test_detach_and_stop_a_command(tmp_path):
    rec = tmp_path / "rec"
    pid = start_detached(rec, "--", PY, "-c", "import time\nwhile True: time.sleep(0.05)", cwd=tmp_path)
    try:
        wait_for(lambda: _meta(rec).get("state") == "running" and (rec / "control.sock").exists(),
                 what="the detached command session")
        from edgemon.feeds.remote import open_remote

        feed = open_remote(rec)              # what `edgemon attach` shows
        try:
            wait_for(lambda: feed.drain().samples, what="samples through the control socket")
            assert feed.meta["workload"]["runner"] == "command"
        finally:
            feed.close()
        p = edgemon("stop", str(rec), cwd=tmp_path)
        assert p.returncode == 0, p.stderr
        wait_for(lambda: _meta(rec).get("state") == "ended", what="the session to end")
    finally:
        end_process(pid)
    worker = _meta(rec)["end"]["worker"]
    assert worker["reason"] == "ended by edgemon with SIGTERM" and _meta(rec)["end"]["reason"] == "stopped by user"


def test_a_profile_drives_a_command(tmp_path, run_edgemon):
    loop = _script(tmp_path, "loop.py", '''
        import time, edgemon_probe
        while True:
            with edgemon_probe.timed():
                time.sleep(0.01)
    ''')
    profile = tmp_path / "p.toml"
    profile.write_text('duration = "2s"\nrepetitions = 2\n\n[workload]\nrunner = "numpy"\n\n'
                       '[[schedule]]\nat = "1s"\nmark = "halfway"\n')
    rec = tmp_path / "rec"
    p = run_edgemon("run", "--headless", "--profile", str(profile), "--record", str(rec), "--", PY, str(loop))
    assert p.returncode == 0, p.stdout + p.stderr
    events = _events(rec)
    hellos = [d for k, d in events if k == EventKind.WORKER_HELLO]
    started = [h for h in hellos if h.get("source") == "edgemon"]          # edgemon's, per command start
    probes = [h for h in hellos if h.get("framework") == "edgemon_probe"]  # the probe's own
    assert len(started) == 2 and len(probes) == 2 and started[0]["pid"] != started[1]["pid"]
    assert any(k == EventKind.MARK and d.get("note") == "halfway" for k, d in events)
    assert _latency(rec).num_rows > 0
    assert _meta(rec)["profile"]["items"][0]["workload"]["command"] == [PY, str(loop)]


def test_prometheus_and_pause_on_a_command(tmp_path):
    prometheus = pytest.importorskip("prometheus_client.parser")
    loop = _script(tmp_path, "loop.py", '''
        import time, edgemon_probe
        for x in edgemon_probe.loop(iter(int, 1), items=2):
            time.sleep(0.005)
    ''')
    cfg = RunConfig(workload=WorkloadSpec(runner="command", model="loop.py", command=[PY, str(loop)]),
                    record_dir=tmp_path / "rec", headless=True, prometheus="127.0.0.1:0", hang_timeout_s=None)
    s = LiveSession(cfg)
    s.start()
    try:
        import urllib.request

        def scrape():
            with urllib.request.urlopen(f"http://127.0.0.1:{s.exporter.port}/metrics", timeout=10) as r:
                text = r.read().decode()
            fams = {smp.name: smp for f in prometheus.text_string_to_metric_families(text) for smp in f.samples}
            ok = fams.get("edgemon_latency_seconds_count") and fams["edgemon_latency_seconds_count"].value > 0 \
                and "edgemon_proc_worker_rss_bytes" in fams
            return fams if ok else None

        fams = wait_for(scrape, what="latency and the command's memory in the scrape", every=0.3)
        assert fams["edgemon_latency_seconds_count"].labels["runner"] == "command"
        assert s.command("pause") == "worker paused"
        assert s.worker.paused
        assert s.command("resume") == "worker resumed"
        s.command("stop")
        assert s.wait(30)
    finally:
        s.close()
    kinds = {k: d for k, d in _events(tmp_path / "rec")}
    assert kinds[EventKind.PAUSE]["signal"] == "SIGSTOP" and kinds[EventKind.RESUME]["signal"] == "SIGCONT"
