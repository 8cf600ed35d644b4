"""The stress runner as a program: CPU burners (threads, processes), memory pressure, GPU error paths."""

from __future__ import annotations

import os
import signal
import time

import pytest

from edgemon.errors import UserError
from edgemon.workload.spec import WorkloadSpec
from edgemon.workload import registry
from edgemon.workload.worker import Worker
from runner_models_helpers import error_reason, proto, run
from workload_helpers import PY36, Collector, py36_with_numpy

SCRIPT = "stress_runner.py"
stress = registry.runner_module("stress")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead for our purpose
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _wait_gone(pids, guard_s=15.0) -> list[int]:
    end = time.monotonic() + guard_s  # a hang guard, not a performance expectation
    alive = list(pids)
    while alive and time.monotonic() < end:
        alive = [p for p in alive if _alive(p)]
        time.sleep(0.05)
    return alive


def test_catalogue_lists_every_combination():
    assert set(stress.MODELS) == {"cpu", "memory", "gpu", "cpu+memory", "cpu+gpu", "all"}
    for entry in stress.MODELS.values():
        assert {"input_shape", "params", "gflops", "description"} <= set(entry)
    assert stress.MODELS["cpu"]["gflops"] == pytest.approx(2 * 512 ** 3 / 1e9)


def test_cpu_threads_time_one_product_per_iteration():
    rc, frames, err, s = run(SCRIPT, "--model", "cpu", "--iterations", "5", "--warmup-iters", "1",
                             "--opt", "workers=2", "--opt", "size=64")
    assert rc == 0, err
    hello = s["hello"]
    assert hello["components"] == ["cpu"] and hello["workers"] == 2 and hello["mode"] == "threads"
    assert hello["inputs"] == [{"name": "a", "shape": [64, 64], "dtype": "float32"}]
    assert hello["timed"] == "cpu matmul 64x64 float32" and hello["blas_threads"] == 1
    assert s["warm"] == [True] + [False] * 5
    assert s["bye"] == {"reason": "done", "iterations": 6}


def test_cpu_processes_end_with_the_runner():
    rc, frames, err, s = run(SCRIPT, "--model", "cpu", "--iterations", "3", "--opt", "workers=3",
                             "--opt", "mode=processes", "--opt", "size=32")
    assert rc == 0, err
    pids = s["hello"]["burner_pids"]
    assert len(pids) == 2 and os.getpid() not in pids
    assert _wait_gone(pids) == []


def test_cpu_processes_die_when_the_runner_is_killed():
    spec = WorkloadSpec(runner="stress", model="cpu", options={"workers": "2", "mode": "processes", "size": "32"})
    c = Collector()
    w = Worker(spec, **c.callbacks()).start()
    try:
        assert c.wait_for(lambda: c.hello is not None), w.stderr_tail
        pids = c.hello["burner_pids"]
        assert all(_alive(p) for p in pids)
        os.kill(w.pid, signal.SIGKILL)  # no clean-up code runs in the runner
        assert c.wait_for(lambda: c.exits)
    finally:
        w.stop(timeout=2)
    assert _wait_gone(pids) == []


def test_memory_grows_in_steps_and_reports_each():
    rc, frames, err, s = run(SCRIPT, "--model", "memory", "--iterations", "5",
                             "--opt", "mem_mb=80", "--opt", "mem_step_mb=32")
    assert rc == 0, err
    steps = [e["held_mb"] for e in s["events"] if e["kind"] == "memory"]
    assert steps == [32, 64, 80]
    reached = [e for e in s["events"] if e["kind"] == "memory_target_reached"]
    assert len(reached) == 1 and reached[0]["held_mb"] == 80
    assert s["hello"]["inputs"] == [] and s["hello"]["components"] == ["memory"]
    assert len(s["durations"]) == 6  # the first (warm-up) one, then 5 measured: growing steps, re-touches


def test_cpu_and_memory_together_and_nothing_after_bye():
    rc, frames, err, s = run(SCRIPT, "--model", "cpu+memory", "--duration", "0.6", "--opt", "workers=1",
                             "--opt", "size=32", "--opt", "mem_mb=64", "--opt", "mem_step_mb=32")
    assert rc == 0, err
    assert s["hello"]["components"] == ["cpu", "memory"]
    assert [e["held_mb"] for e in s["events"] if e["kind"] == "memory"] == [32, 64]
    assert s["order"][-1] == proto.BYE  # background threads stopped before the goodbye
    assert s["bye"]["reason"] == "duration" and len(s["durations"]) == s["bye"]["iterations"]


def test_gpu_needs_cuda_pytorch():
    rc, frames, err, s = run(SCRIPT, "--model", "gpu", "--iterations", "2", "--opt", "gpu_size=256")
    if rc == 0:  # a machine with CUDA PyTorch: then the GPU product is what is timed
        assert s["hello"]["device"] == "gpu" and s["hello"]["timed"].startswith("gpu matmul")
        return
    assert rc == 3, err
    assert "GPU stress needs PyTorch with CUDA" in error_reason(s)
    assert s["hello"] is None and s["bye"]["reason"] == "error"


def test_all_runs_without_a_gpu_and_says_why():
    rc, frames, err, s = run(SCRIPT, "--model", "all", "--iterations", "2", "--opt", "workers=1",
                             "--opt", "size=32", "--opt", "mem_mb=32", "--opt", "gpu_size=256")
    assert rc == 0, err
    hello = s["hello"]
    if "gpu" in hello["components"]:
        assert hello["components"] == ["cpu", "memory", "gpu"]
        return
    assert hello["components"] == ["cpu", "memory"] and hello["gpu"].startswith("skipped: GPU stress needs")
    assert [e for e in s["events"] if e["kind"] == "warning"]


@pytest.mark.parametrize("options, needle", [
    ({"mode": "fibers"}, "use threads or processes"),
    ({"workers": "0"}, "must be >= 1"),
    ({"mem_mb": "lots"}, "expected an integer"),
    ({"gpu": "maybe"}, "use 1 or 0"),
    ({"turbo": "1"}, "turbo"),
])
def test_bad_options_fail_before_a_worker_starts(options, needle):
    with pytest.raises(UserError, match=needle):
        registry.validate(WorkloadSpec(runner="stress", model="cpu", options=options))


def test_unknown_model_is_a_user_error():
    with pytest.raises(UserError, match="unknown model 'disk'"):
        registry.validate(WorkloadSpec(runner="stress", model="disk"))


def test_stress_runner_under_python36():
    why = py36_with_numpy()
    if why:
        pytest.skip(why)
    rc, frames, err, s = run(SCRIPT, "--model", "cpu+memory", "--iterations", "3", "--opt", "workers=2",
                             "--opt", "mode=processes", "--opt", "size=32", "--opt", "mem_mb=16",
                             "--opt", "mem_step_mb=16", python=PY36)
    assert rc == 0, err
    assert s["hello"]["python"].startswith("3.6.") and s["bye"] == {"reason": "done", "iterations": 4}  # the first (warm-up) + 3
