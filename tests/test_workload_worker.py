"""Worker end to end with the real numpy runner: frames, warm-up, pause, stop, and every way to die."""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest

from edgemon.datatypes import EventKind
from edgemon.errors import UserError
from edgemon.workload.spec import WorkloadSpec
from edgemon.workload import Worker
from workload_helpers import PY36, Collector, py36_with_numpy

# sleep_ms keeps these runs cheap on a 2-core CI machine; the loop and the frames are the same.
CHEAP = {"sleep_ms": "1"}


@pytest.fixture
def spawn():
    """Start Workers and make sure none outlives its test."""
    started: list[Worker] = []

    def make(spec: WorkloadSpec, **kw):
        col = Collector()
        w = Worker(spec, **col.callbacks(), **kw)
        started.append(w)
        w.start()
        return w, col

    yield make
    for w in started:
        w.stop(timeout=1.0, kill_after=1.0)
        assert w.wait(10), "exit event never delivered"
        assert not w.running


def _wait_for_hang(w: Worker) -> None:
    deadline = time.monotonic() + 30
    while not any("hanging now" in line for line in w.stderr_tail):
        assert time.monotonic() < deadline and w.running, "runner never reached its hang"
        time.sleep(0.01)


def _no_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return True


def test_hello_latency_bye_with_warmup_flags(spawn):
    spec = WorkloadSpec(model="mnist_1d", batch=2, warmup_iters=5, options=dict(CHEAP))
    w, col = spawn(spec)
    assert col.wait_for(lambda: col.rows() >= 30)
    rc = w.stop()
    assert rc == 0 and w.wait(10)

    hello = col.hello
    assert hello["runner"] == "numpy" and hello["model"] == "mnist_1d" and hello["batch"] == 2
    assert hello["params"] == 407_050 and hello["pid"] == w.pid
    assert hello["inputs"] == [{"name": "input", "shape": [2, 784], "dtype": "float32"}]
    assert hello["framework_version"] == np.__version__

    flags = np.concatenate([np.full(len(b), b.warmup) for b in col.batches])
    assert flags[:5].all() and not flags[5:].any()
    t_end = np.concatenate([b.t_end_ns for b in col.batches])
    dur = np.concatenate([b.duration_ns for b in col.batches])
    items = np.concatenate([b.items for b in col.batches])
    assert t_end.dtype == np.int64 and dur.dtype == np.int64 and items.dtype == np.int32
    assert (np.diff(t_end) > 0).all() and (dur > 0).all() and (items == 2).all()
    # each iteration starts after the previous one ended
    assert (t_end[1:] - dur[1:] >= t_end[:-1]).all()

    warm = col.first(EventKind.WARMUP_DONE)
    assert warm.details["iterations"] == 5 and warm.details["first_inference_ms"] > 0
    assert warm.t_ns == t_end[4]
    assert col.kinds().count(EventKind.WARMUP_DONE) == 1

    ex = col.exit
    assert ex.kind == EventKind.WORKER_EXIT and ex.details["returncode"] == 0
    assert ex.details["bye_reason"] == "stopped"
    assert ex.details["iterations"] == len(t_end) == w.iterations
    assert w.warmup_iterations == 5
    assert _no_zombie(w.pid)
    assert col.threads == {"edgemon-worker-dispatch"}, "callbacks come from one thread"


def test_warmup_by_time_and_duration_limit(spawn):
    w, col = spawn(WorkloadSpec(warmup_s=0.2, options=dict(CHEAP)), duration_s=0.6)
    assert w.wait(20)
    assert col.exit.kind == EventKind.WORKER_EXIT and col.exit.details["bye_reason"] == "duration"
    warm = col.first(EventKind.WARMUP_DONE)
    assert warm.details["seconds"] >= 0.2
    warm_rows = sum(len(b) for b in col.batches if b.warmup)
    assert warm.details["iterations"] == warm_rows > 0
    t_end = np.concatenate([b.t_end_ns for b in col.batches])
    first_start = col.batches[0].t_end_ns[0] - col.batches[0].duration_ns[0]
    assert t_end[-1] - first_start >= 0.6e9  # ran until the deadline, warm-up included


def test_pause_stops_the_flow_and_resume_restarts_it(spawn):
    w, col = spawn(WorkloadSpec(options=dict(CHEAP)))
    assert col.wait_for(lambda: col.rows() >= 10)
    assert w.pause()
    assert col.wait_for(lambda: col.first(EventKind.PAUSE) is not None)
    at_pause = col.first(EventKind.PAUSE).details["iterations"]
    # the runner flushed everything before acknowledging, and nothing follows while paused
    assert col.rows() == at_pause
    assert not col.wait_for(lambda: col.rows() > at_pause, timeout=0.3)
    assert w.resume()
    assert col.wait_for(lambda: col.rows() > at_pause + 5)
    assert col.first(EventKind.RESUME).details["iterations"] == at_pause


def test_stop_while_paused_is_graceful(spawn):
    w, col = spawn(WorkloadSpec(options=dict(CHEAP)))
    assert col.wait_for(lambda: col.rows() >= 3)
    w.pause()
    assert col.wait_for(lambda: col.first(EventKind.PAUSE) is not None)
    assert w.stop() == 0
    assert w.wait(10)
    assert col.exit.kind == EventKind.WORKER_EXIT and col.exit.details["bye_reason"] == "stopped"
    assert w.send({"cmd": "resume"}) is False  # nobody left to tell


def test_exception_in_the_model_is_a_crash_with_the_reason(spawn):
    w, col = spawn(WorkloadSpec(options={"crash_after": "7"}))
    assert w.wait(20)
    ex = col.exit
    assert ex.kind == EventKind.WORKER_CRASHED
    assert ex.details["returncode"] == 3 and ex.details["signal"] is None
    assert "crash_after=7" in ex.details["reason"] and ex.details["reason"].startswith("exited with code 3")
    assert any("RuntimeError: test hook crash_after=7" in line for line in ex.details["stderr_tail"])
    err = col.first(EventKind.ERROR)
    assert "Traceback" in err.details["traceback"] and err.details["stage"] == "run"
    assert ex.details["iterations"] == col.rows() == 7  # iterations before the failure were kept
    assert ex.details["oom"] is False


def test_build_failure_is_a_crash_before_hello(spawn):
    w, col = spawn(WorkloadSpec(model="matmul", options={"size": "zero"}))
    assert w.wait(20)
    assert col.hello is None
    assert col.exit.kind == EventKind.WORKER_CRASHED and col.exit.details["returncode"] == 3
    assert "size=zero" in col.exit.details["reason"]
    assert col.first(EventKind.ERROR).details["stage"] == "build"


def test_sigkill_from_outside(spawn):
    w, col = spawn(WorkloadSpec(options=dict(CHEAP)))
    assert col.wait_for(lambda: col.hello is not None)
    os.kill(w.pid, signal.SIGKILL)
    assert w.wait(20)
    ex = col.exit
    assert ex.kind == EventKind.WORKER_CRASHED
    assert ex.details["signal"] == signal.SIGKILL and ex.details["signal_name"] == "SIGKILL"
    assert ex.details["reason"].startswith("killed by SIGKILL (")
    assert "killed_by_monitor" not in ex.details
    assert _no_zombie(w.pid)


def test_segfault(spawn):
    w, col = spawn(WorkloadSpec(options={"segfault_after": "3"}))
    assert w.wait(20)
    ex = col.exit
    assert ex.kind == EventKind.WORKER_CRASHED
    assert ex.details["signal_name"] == "SIGSEGV" and ex.details["returncode"] == -signal.SIGSEGV
    assert ex.details["reason"] == "segmentation fault (SIGSEGV)"
    assert any("Segmentation fault" in line for line in ex.details["stderr_tail"])  # faulthandler


def test_memory_growth_under_address_space_limit_is_reported(spawn):
    spec = WorkloadSpec(options={"alloc_mb_per_s": "4000", "rlimit_as_extra_mb": "300"})
    w, col = spawn(spec)
    assert w.wait(30)
    ex = col.exit
    assert ex.kind == EventKind.WORKER_CRASHED
    assert ex.details["oom"] is True
    assert "MemoryError" in ex.details["reason"]


def test_unresponsive_runner_is_terminated_by_stop(spawn):
    # A stop that needed a signal ends the run with its iteration cut: not a crash (issue 12.5).
    w, col = spawn(WorkloadSpec(options={"hang_after": "3"}))
    _wait_for_hang(w)
    rc = w.stop(timeout=0.3, kill_after=2.0)
    assert rc == -signal.SIGTERM
    assert w.wait(10)
    ex = col.exit
    assert ex.kind == EventKind.WORKER_EXIT and ex.details["signal_name"] == "SIGTERM"
    assert ex.details["killed_by_monitor"] is True and ex.details["cut_iteration"] is True
    assert "0.3 s grace" in ex.details["reason"] and "cut" in ex.details["reason"]
    assert _no_zombie(w.pid)


def test_runner_that_survives_sigterm_gets_sigkill(spawn):
    w, col = spawn(WorkloadSpec(options={"hang_after": "2"}))
    _wait_for_hang(w)
    # A stopped process does not act on SIGTERM (it stays pending) but SIGKILL still ends it:
    # the same as a runner stuck where SIGTERM cannot reach it.
    os.kill(w.pid, signal.SIGSTOP)
    rc = w.stop(timeout=0.2, kill_after=0.3)
    assert rc == -signal.SIGKILL
    assert w.wait(10)
    assert col.exit.details["signal_name"] == "SIGKILL" and col.exit.details["killed_by_monitor"] is True
    assert col.exit.kind == EventKind.WORKER_EXIT and col.exit.details["cut_iteration"] is True


def test_unstartable_interpreter_is_a_user_error(tmp_path):
    not_exec = tmp_path / "python"
    not_exec.write_text("")  # exists, not executable
    w = Worker(WorkloadSpec(python=str(not_exec)))
    with pytest.raises(UserError, match="cannot start the numpy runner"):
        w.start()
    assert not w.running


def test_threads_set_the_blas_environment(spawn):
    w, col = spawn(WorkloadSpec(threads=1, options=dict(CHEAP)))
    assert col.wait_for(lambda: col.hello is not None)
    assert col.hello["threads"] == 1 and col.hello["blas_threads"] == "1"
    assert w.stop() == 0


def test_worker_under_python36(spawn):
    why = py36_with_numpy()
    if why:
        pytest.skip(why)
    w, col = spawn(WorkloadSpec(python=str(PY36), warmup_iters=2, options=dict(CHEAP)), duration_s=0.3)
    assert w.wait(30)
    assert col.hello["python"].startswith("3.6.")
    assert col.exit.kind == EventKind.WORKER_EXIT, col.exit.details
    flags = [b.warmup for b in col.batches for _ in range(len(b))]
    assert flags[:2] == [True, True] and not any(flags[2:])
