"""The worker's process tree: CPU and RSS of a command's children (real processes), and its GPU
memory through NVML's per-process lists (a stand-in pynvml: there is no NVIDIA GPU here)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import types

import pytest
from test_nvml_source import MIB, NOT_SUPPORTED, FakeGpu, make_fake_pynvml

from edgemon.telemetry.base import SourceContext
from edgemon.telemetry.nvml import NvmlSource
from edgemon.telemetry.process import ProcessSource

pytest.importorskip("psutil")

BUSY_CHILD = ("import time\nx = bytearray(40 * 1024 * 1024)\nend = time.monotonic() + 60\n"
              "while time.monotonic() < end:\n    pass\n")


@pytest.fixture
def tree():
    """sh (the worker, idle) with a busy Python child holding 40 MB."""
    proc = subprocess.Popen(["sh", "-c", f'{sys.executable} -c "$0"; true', BUSY_CHILD], start_new_session=True)
    yield proc
    try:
        os.killpg(proc.pid, 9)
    except ProcessLookupError:
        pass
    proc.wait(10)


def test_cpu_and_rss_of_the_whole_tree(tree):
    ctx = SourceContext(worker_pid=tree.pid)
    src = ProcessSource(ctx)
    assert src.probe().available
    reads = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        out = src.read()
        if "proc_worker_cpu_pct" in out and len(ctx.worker_pids) == 2 and out["proc_worker_rss_mb"] > 40:
            reads.append(out)
            if len(reads) >= 3:
                break
        time.sleep(0.3)
    assert len(reads) >= 3, "the child never showed up in the tree"
    assert tree.pid in ctx.worker_pids
    # sh alone uses no CPU; what is counted is the busy child's (any share of a core > 0)
    assert max(r["proc_worker_cpu_pct"] for r in reads) > 1.0
    os.killpg(tree.pid, 9)
    tree.wait(10)
    assert src.read().get("proc_worker_rss_mb") is None and ctx.worker_pids == frozenset()


def _with(nv, lists):
    for name, answer in lists.items():
        setattr(nv, name, answer)
    return nv


def _source(monkeypatch, nv, pids):
    monkeypatch.setitem(sys.modules, "pynvml", nv)
    src = NvmlSource(SourceContext(worker_pids=frozenset(pids)))
    assert src.probe().available
    return src


def test_gpu_memory_of_the_tree_from_nvml(monkeypatch):
    me, parent = os.getpid(), os.getppid()
    proc = types.SimpleNamespace
    nv = _with(make_fake_pynvml([FakeGpu(), FakeGpu()]), {
        "nvmlDeviceGetComputeRunningProcesses": lambda h: [proc(pid=me, usedGpuMemory=(300 + h) * MIB),
                                                         proc(pid=parent, usedGpuMemory=999 * MIB)],
        "nvmlDeviceGetGraphicsRunningProcesses": lambda h: [proc(pid=me, usedGpuMemory=5 * MIB)],
    })
    src = _source(monkeypatch, nv, {me})
    assert src.read()["proc_worker_gpu_mem_mb"] == pytest.approx(300 + 301 + 5 + 5)   # both GPUs, both lists
    src.close()


def test_gpu_memory_absent_where_nvml_cannot_tell(monkeypatch):
    me = os.getpid()
    proc = types.SimpleNamespace

    def unsupported(nv):
        def answer(h):
            raise nv.NVMLError(NOT_SUPPORTED)
        return {"nvmlDeviceGetComputeRunningProcesses": answer, "nvmlDeviceGetGraphicsRunningProcesses": answer}

    cases = [
        unsupported,
        # NVML_VALUE_NOT_AVAILABLE (MIG, WDDM): listed, memory unknown
        lambda nv: {"nvmlDeviceGetComputeRunningProcesses": lambda h: [proc(pid=me, usedGpuMemory=None)]},
        # pids of another pid namespace (a container): none of them exists here
        lambda nv: {"nvmlDeviceGetComputeRunningProcesses": lambda h: [proc(pid=2 ** 22 + 17, usedGpuMemory=MIB)]},
    ]
    for case in cases:
        nv = make_fake_pynvml([FakeGpu()])
        src = _source(monkeypatch, _with(nv, case(nv)), {me})
        assert "proc_worker_gpu_mem_mb" not in src.read(), case
        assert "proc_worker_gpu_mem_mb" not in src.read(), case     # and stays so
        src.close()
    # listed and readable, but the tree uses no GPU: 0 MB is an answer
    nv = make_fake_pynvml([FakeGpu()])
    src = _source(monkeypatch, _with(nv, {
        "nvmlDeviceGetComputeRunningProcesses": lambda h: [proc(pid=os.getppid(), usedGpuMemory=MIB)]}), {me})
    assert src.read()["proc_worker_gpu_mem_mb"] == 0.0
    src.close()
