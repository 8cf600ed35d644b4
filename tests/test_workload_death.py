"""Exit classification and the OOM guess from cgroup counters (fixture trees under a fake root)."""

from __future__ import annotations

import signal
from pathlib import Path

from edgemon.datatypes import EventKind
from edgemon.workload import death
from edgemon.workload.death import ExitFacts, OomCounters, classify


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _v2_tree(root: Path, pid: int, oom_kill: int) -> Path:
    _write(root / f"proc/{pid}/cgroup", "0::/user.slice/edgemon.scope\n")
    folder = root / "sys/fs/cgroup/user.slice/edgemon.scope"
    _write(folder / "memory.events", f"low 0\nhigh 0\nmax 3\noom 1\noom_kill {oom_kill}\n")
    return folder


def _v1_tree(root: Path, pid: int, oom_kill: int) -> Path:
    _write(root / f"proc/{pid}/cgroup", "9:name=systemd:/\n4:memory:/docker/abc\n0::/\n")
    folder = root / "sys/fs/cgroup/memory/docker/abc"
    _write(folder / "memory.oom_control", f"oom_kill_disable 0\nunder_oom 0\noom_kill {oom_kill}\n")
    return folder


def _sigkill(before, after, **kw) -> dict:
    kind, details = classify(ExitFacts(returncode=-signal.SIGKILL, oom_before=before, oom_after=after, **kw))
    assert kind == EventKind.WORKER_CRASHED
    assert details["signal_name"] == "SIGKILL"
    return details


def test_v2_oom_kill_rise_means_oom(tmp_path):
    folder = _v2_tree(tmp_path, 42, 0)
    dirs = death.oom_dirs_for(42, tmp_path)
    before = OomCounters.read(dirs)
    assert before.readable
    (folder / "memory.events").write_text("oom 2\noom_kill 1\n")
    d = _sigkill(before, OomCounters.read(dirs))
    assert d["oom"] is True and "likely the OOM killer" in d["reason"]


def test_v1_parent_cgroup_counts_too(tmp_path):
    _v1_tree(tmp_path, 7, 5)
    parent = tmp_path / "sys/fs/cgroup/memory/docker"
    _write(parent / "memory.oom_control", "oom_kill 0\n")
    dirs = death.oom_dirs_for(7, tmp_path)
    before = OomCounters.read(dirs)
    (parent / "memory.oom_control").write_text("oom_kill 1\n")  # the limit sat on the parent
    assert _sigkill(before, OomCounters.read(dirs))["oom"] is True


def test_unchanged_counter_means_someone_else_killed_it(tmp_path):
    _v1_tree(tmp_path, 7, 3)
    dirs = death.oom_dirs_for(7, tmp_path)
    counters = OomCounters.read(dirs)
    d = _sigkill(counters, OomCounters.read(dirs))
    assert d["oom"] is False and "not the OOM killer" in d["reason"]


def test_unreadable_counters_say_possibly(tmp_path):
    assert death.oom_dirs_for(99, tmp_path) == []  # no /proc/99/cgroup under this root
    empty = OomCounters.read([])
    d = _sigkill(empty, empty)
    assert d["oom"] is True and d["oom_certain"] is False and "possibly" in d["reason"]


def test_signal_we_sent_is_not_blamed_on_the_kernel():
    kind, d = classify(ExitFacts(returncode=-signal.SIGKILL, sent_signal=signal.SIGKILL))
    assert kind == EventKind.WORKER_CRASHED and d["killed_by_monitor"] is True and d["oom"] is False
    assert "sent by edgemon" in d["reason"]


def test_clean_exit_needs_code_zero_and_bye():
    kind, d = classify(ExitFacts(returncode=0, said_bye=True, bye={"reason": "duration", "iterations": 9}))
    assert kind == EventKind.WORKER_EXIT and d["iterations"] == 9 and d["bye_reason"] == "duration"
    kind, d = classify(ExitFacts(returncode=0, stderr_tail=["ok", ""]))
    assert kind == EventKind.WORKER_CRASHED and "without saying goodbye" in d["reason"]


def test_exit_code_reason_prefers_the_runner_error_then_stderr():
    kind, d = classify(ExitFacts(returncode=3, error={"reason": "ValueError: bad shape", "exception": "ValueError"},
                                 stderr_tail=["Traceback", "ValueError: bad shape"]))
    assert d["reason"] == "exited with code 3: ValueError: bad shape" and d["oom"] is False
    kind, d = classify(ExitFacts(returncode=1, stderr_tail=["Traceback (most recent call last):",
                                                            "ModuleNotFoundError: No module named 'numpy'", ""]))
    assert d["reason"] == "exited with code 1: ModuleNotFoundError: No module named 'numpy'"
    kind, d = classify(ExitFacts(returncode=3, error={"reason": "MemoryError: x", "exception": "MemoryError"}))
    assert d["oom"] is True


def test_signals_read_as_words():
    for signum, text in ((signal.SIGSEGV, "segmentation fault (SIGSEGV)"), (signal.SIGABRT, "aborted (SIGABRT)"),
                         (signal.SIGUSR1, "killed by SIGUSR1")):
        kind, d = classify(ExitFacts(returncode=-signum))
        assert d["reason"] == text and d["signal"] == signum
    assert death.signal_name(200) == "signal 200"
