"""edgemon_probe: a program's own loop timed, under edgemon (frames on the pipe) and without it.

Real processes throughout: the probe script is run by a Worker as `edgemon run -- CMD` runs it,
with Python 3.11 and, where present, the Python 3.6 that has no numpy (JetPack 4.6's case).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from workload_helpers import PY36, WAIT_S, Collector

from edgemon.datatypes import EventKind
from edgemon.workload import registry
from edgemon.workload.spec import WorkloadSpec
from edgemon.workload.worker import Worker

PROBE_DIR = registry.probe_dir()

LOOP = textwrap.dedent('''
    import sys, time
    import edgemon_probe as probe
    assert "EDGEMON_FRAMES_FD" not in __import__("os").environ   # taken, not left for children
    print("a line on stdout that must not reach the frames", flush=True)
    probe.phase("warmup")
    for i in range(5):
        with probe.timed(items=4):
            time.sleep(0.001)
    probe.phase("measure")
    timer = probe.timed(items=4)
    for i in range(40):
        with timer:
            time.sleep(0.001)
    for x in probe.loop(range(30), items=2):
        time.sleep(0.001)
    t0 = probe.now_ns()
    t1 = t0 + 2500000
    probe.iteration(t0, t1, items=3)
    probe.event("epoch", n=1, loss=0.5)
    try:
        with probe.timed():
            raise KeyError("an iteration that raises has no row")
    except KeyError:
        pass
    sys.stdout.write("active=%s\\n" % probe.active())
''')


def _run_probe(tmp_path, python: str, script: str = LOOP) -> Collector:
    path = tmp_path / "loop.py"
    path.write_text(script)
    col = Collector()
    w = Worker(WorkloadSpec(runner="command", command=[python, str(path)]), **col.callbacks())
    w.start()
    assert w.wait(WAIT_S * 2), "the probe loop did not end"
    return col


def _check_frames(col: Collector) -> None:
    assert col.exit.kind == EventKind.WORKER_EXIT, col.exit.details
    assert col.exit.details["bye_reason"] == "done" and col.exit.details["returncode"] == 0
    assert col.hello["framework"] == "edgemon_probe" and col.hello["runner"] == "command"
    assert col.hello["pid"] == col.exit.details["pid"]
    warm = [b for b in col.batches if b.warmup]
    measured = [b for b in col.batches if not b.warmup]
    assert sum(len(b) for b in warm) == 5
    assert sum(len(b) for b in measured) == 40 + 30 + 1          # the raising block left no row
    items = np.concatenate([b.items for b in measured])
    assert list(items) == [4] * 40 + [2] * 30 + [3]
    dur = np.concatenate([b.duration_ns for b in measured])
    assert (dur[:70] >= 900_000).all()                           # each row spans its sleep
    assert abs(int(dur[-1]) - 2_500_000) <= 1_000                # iteration() as given (3.6: float clock)
    ends = np.concatenate([b.t_end_ns for b in col.batches])
    assert (np.diff(ends) >= 0).all()
    kinds = col.kinds()
    assert kinds.index(EventKind.PHASE) < kinds.index(EventKind.WARMUP_DONE)
    assert col.first(EventKind.WARMUP_DONE).details["iterations"] == 5
    epoch = col.first("epoch")
    assert epoch.details == {"n": 1, "loss": 0.5}
    assert col.exit.details["bye_reason"] == "done" and col.exit.details["iterations"] == 76


def test_probe_loop_speaks_the_runner_protocol(tmp_path):
    _check_frames(_run_probe(tmp_path, sys.executable))


@pytest.mark.skipif(not PY36.is_file(), reason=f"no Python 3.6 interpreter at {PY36} (set EDGEMON_TEST_PY36)")
def test_probe_loop_under_python36_without_numpy(tmp_path):
    has_numpy = subprocess.run([str(PY36), "-c", "import numpy"], capture_output=True).returncode == 0
    col = _run_probe(tmp_path, str(PY36))
    _check_frames(col)
    assert col.hello["python"].startswith("3.6")
    if not has_numpy:                  # the point: the probe needs nothing but the standard library
        assert "numpy" not in col.exit.details.get("stderr_tail", [])


def _standalone(tmp_path, script: str, env: dict | None = None, python: str = sys.executable):
    path = tmp_path / "alone.py"
    path.write_text(script)
    e = {k: v for k, v in os.environ.items() if not k.startswith("EDGEMON_")}
    e["PYTHONPATH"] = str(PROBE_DIR)
    e.update(env or {})
    return subprocess.run([python, str(path)], capture_output=True, text=True, env=e, timeout=WAIT_S)


ALONE = textwrap.dedent('''
    import time, edgemon_probe as probe
    for i in range(50):
        with probe.timed(items=2):
            time.sleep(0.002)
    print("active", probe.active(), "summary", probe.summary())
''')


def test_without_edgemon_the_probe_is_idle_and_silent(tmp_path):
    p = _standalone(tmp_path, ALONE)
    assert p.returncode == 0, p.stderr
    assert "active False summary {'count': 0}" in p.stdout
    assert p.stderr == ""


def test_without_edgemon_a_summary_at_exit_when_asked(tmp_path):
    p = _standalone(tmp_path, ALONE, env={"EDGEMON_PROBE_SUMMARY": "1"})
    assert p.returncode == 0, p.stderr
    assert "'count': 50" in p.stdout and "'items': 100" in p.stdout
    line = p.stderr.strip().splitlines()[-1]
    assert line.startswith("edgemon_probe: 50 iterations, 100 items; latency p50 ")
    p50 = float(line.split("p50 ")[1].split(" ms")[0])
    assert 2.0 <= p50 < 30.0           # the 2 ms sleep, within a bucket; never below it


def test_a_stale_frames_variable_is_ignored(tmp_path):
    # EDGEMON_FRAMES_FD naming a descriptor that is not a pipe (here: a regular file) must never
    # make the probe write frames into it.
    target = tmp_path / "not-a-pipe"
    target.write_bytes(b"")
    script = textwrap.dedent('''
        import os, sys
        fd = os.open(sys.argv[1], os.O_WRONLY)
        os.environ["EDGEMON_FRAMES_FD"] = str(fd)
        import edgemon_probe as probe
        with probe.timed():
            pass
        print(probe.active())
    ''')
    path = tmp_path / "stale.py"
    path.write_text(script)
    e = {k: v for k, v in os.environ.items() if not k.startswith("EDGEMON_")}
    e["PYTHONPATH"] = str(PROBE_DIR)
    p = subprocess.run([sys.executable, str(path), str(target)], capture_output=True, text=True, env=e,
                       timeout=WAIT_S)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "False"
    assert target.read_bytes() == b""


def test_a_forked_child_does_not_write_into_the_parents_pipe(tmp_path):
    script = textwrap.dedent('''
        import os, time
        import edgemon_probe as probe
        pid = os.fork()
        if pid == 0:
            for i in range(20):
                with probe.timed(items=7):
                    time.sleep(0.001)
            probe._flush()
            os._exit(0)
        os.waitpid(pid, 0)
        with probe.timed(items=1):
            pass
    ''')
    col = _run_probe(tmp_path, sys.executable, script)
    assert col.exit.kind == EventKind.WORKER_EXIT
    rows = np.concatenate([b.items for b in col.batches])
    assert list(rows) == [1]           # the child's 20 rows of 7 items never arrived


def test_edgemon_goes_away_and_the_program_carries_on(tmp_path):
    # A closed pipe (the monitor killed) must not kill or slow the measured program.
    script = textwrap.dedent('''
        import os, time
        import edgemon_probe as probe
        os.close(probe._sink.writer._out.fileno())     # as if edgemon had died
        for i in range(300):
            with probe.timed():
                time.sleep(0.001)
        print("finished", probe.active())
    ''')
    path = tmp_path / "orphan.py"
    path.write_text(script)
    r, w = os.pipe()
    e = {k: v for k, v in os.environ.items() if not k.startswith("EDGEMON_")}
    e.update(PYTHONPATH=str(PROBE_DIR), EDGEMON_FRAMES_FD=str(w))
    p = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, env=e, pass_fds=(w,),
                       timeout=WAIT_S)
    os.close(w)
    os.close(r)
    assert p.returncode == 0, p.stderr
    assert "finished False" in p.stdout
    assert "Traceback" not in p.stderr


def test_another_interpreter_finds_the_probe_where_edgemon_info_says(tmp_path):
    # JetPack's system Python, outside `edgemon run`: PYTHONPATH=<the folder `edgemon info` prints>
    info = subprocess.run([sys.executable, "-m", "edgemon", "info", "--json"], capture_output=True, text=True,
                          timeout=120)
    assert info.returncode == 0, info.stderr
    folder = json.loads(info.stdout)["probe_path"]
    assert [f for f in os.listdir(folder) if f.endswith(".py")] == ["edgemon_probe.py"]   # nothing else on the path
    python = str(PY36) if PY36.is_file() else sys.executable
    p = _standalone(tmp_path, ALONE, env={"PYTHONPATH": folder, "EDGEMON_PROBE_SUMMARY": "1"}, python=python)
    assert p.returncode == 0, p.stderr
    assert "edgemon_probe: 50 iterations" in p.stderr
