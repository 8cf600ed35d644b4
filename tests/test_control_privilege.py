"""Privilege strategies: direct as root, `sudo -n` otherwise, the jtop service when it runs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from control_helpers import DEFAULT_MODE, FakeBoard
from edgemon.control import Controls
from edgemon.control.context import ControlContext
from edgemon.control.privilege import Direct, Jtop, Sudo, choose_strategy, run_process


@pytest.fixture
def board(tmp_path):
    return FakeBoard(tmp_path)


def test_choose_strategy_root_is_direct_otherwise_sudo(board):
    assert [type(r) for r in choose_strategy(ControlContext(board.root, is_root=True))] == [Direct]
    assert [type(r) for r in choose_strategy(ControlContext(board.root, is_root=False),
                                             jtop_capable=True)] == [Sudo]   # no jtop socket here


def test_commands_get_end_of_file_on_stdin(tmp_path):
    script = tmp_path / "reader.py"
    script.write_text("import sys; print(repr(sys.stdin.read()))")
    outcome = run_process([sys.executable, str(script)], timeout=10)
    assert outcome.returncode == 0 and outcome.output.strip() == "''"


def test_timeout_stops_the_whole_process_group(tmp_path):
    pidfile = tmp_path / "child.pid"
    # sh starts in milliseconds, so the 2 s limit does not depend on how busy the machine is.
    script = f"sleep 60 & echo $! > {pidfile}; echo started; wait"
    outcome = run_process(["/bin/sh", "-c", script], timeout=2)
    assert outcome.timed_out and "started" in outcome.output
    child = int(pidfile.read_text())
    # The grandchild was in the same group and is gone (or a zombie awaiting init).
    state = subprocess.run(["ps", "-o", "stat=", "-p", str(child)], capture_output=True, text=True).stdout
    assert state.strip() in ("", "Z")


def test_sudo_is_non_interactive_and_its_refusal_names_the_sudoers_line(board):
    controls = Controls(board.root, board.executables("deny"), is_root=False, user="alice")
    result = controls.set_power_mode(1)
    assert not result.ok and result.strategy == "sudo"
    assert result.message == (
        f"nvpmodel needs root: add `alice ALL=(root) NOPASSWD: {board.nvpmodel}` with "
        "`sudo visudo -f /etc/sudoers.d/edgemon`, or install jetson-stats and start the jtop service")
    sudo_calls = board.calls("sudo")
    assert sudo_calls and all(c["argv"][0] == "-n" for c in sudo_calls)
    assert board.mode() == DEFAULT_MODE


def test_sysfs_write_refusal_names_tee_on_the_exact_path(board):
    controls = Controls(board.root, board.executables("deny"), is_root=False, user="alice")
    result = controls.set_core(2, False)
    path = board.online_file(2)
    assert not result.ok
    assert f"`alice ALL=(root) NOPASSWD: {board.tee} {path}`" in result.message
    assert "sudo visudo -f /etc/sudoers.d/edgemon" in result.message
    assert "jtop" not in result.message            # the jtop service cannot hot-plug cores
    assert path.read_text().strip() == "1"


def test_sudo_that_allows_runs_the_command_and_tee(board):
    controls = Controls(board.root, board.executables("allow"), is_root=False)
    assert controls.set_core(3, False).strategy == "sudo"
    assert board.online_file(3).read_text().strip() == "0"
    tee_calls = [c for c in board.calls("sudo") if c["argv"][2:3] == [board.tee]]
    assert tee_calls and tee_calls[0]["argv"] == ["-n", "--", board.tee, str(board.online_file(3))]


def test_missing_sudo_says_to_run_as_root(board):
    exes = {**board.executables(), "sudo": str(board.tmp / "no-such-sudo")}
    result = Controls(board.root, exes, is_root=False, user="bob").set_core(1, False)
    assert not result.ok and "sudo is not installed" in result.message
    assert f"bob ALL=(root) NOPASSWD: {board.tee} {board.online_file(1)}" in result.message


def test_sudoers_lines_cover_every_control(board):
    lines = Controls(board.root, board.executables(), is_root=False, user="carol").sudoers_lines()
    assert f"carol ALL=(root) NOPASSWD: {board.nvpmodel}" in lines
    assert f"carol ALL=(root) NOPASSWD: {board.jetson_clocks}" in lines
    assert f"carol ALL=(root) NOPASSWD: {board.tee} {board.online_file(1)}" in lines
    assert f"carol ALL=(root) NOPASSWD: {board.tee} {board.root}/sys/class/hwmon/hwmon0/pwm1" in lines
    assert f"carol ALL=(root) NOPASSWD: {board.tee} {board.fan_enable_file()}" in lines
    assert not any("cpu0" in ln for ln in lines)


# -- the jtop service (jetson-stats cannot be installed here: a stand-in package plays the client) --

_FAKE_JTOP = '''
import json
CFG = json.loads({cfg!r})

class _Model:
    def __init__(self, mode_id):
        self.id = mode_id

class jtop:
    def __enter__(self):
        if CFG["fail"]:
            raise RuntimeError("The jtop.service is not active. Please run:\\nsudo jtop --install-service")
        return self
    def __exit__(self, *exc):
        return False
    def ok(self):
        return True
    @property
    def nvpmodel(self):
        with open(CFG["state"]) as f:
            return _Model(json.load(f)["mode"])
    @nvpmodel.setter
    def nvpmodel(self, mode_id):
        with open(CFG["log"], "a") as f:
            f.write(json.dumps({{"tool": "jtop", "nvpmodel": mode_id}}) + "\\n")
        with open(CFG["state"], "w") as f:
            json.dump({{"mode": mode_id}}, f)
'''


@pytest.fixture
def fake_jtop(board, tmp_path, monkeypatch):
    def install(fail: bool):
        pkg = tmp_path / "site" / "jtop"
        pkg.mkdir(parents=True)
        cfg = json.dumps({"state": str(board.state), "log": str(board.log), "fail": fail})
        (pkg / "__init__.py").write_text(_FAKE_JTOP.format(cfg=cfg))
        monkeypatch.syspath_prepend(str(tmp_path / "site"))
        (board.root / "run").mkdir()
        (board.root / "run/jtop.sock").write_text("")
    yield install
    sys.modules.pop("jtop", None)


def test_jtop_service_switches_the_mode_when_sudo_cannot(board, fake_jtop):
    fake_jtop(fail=False)
    controls = Controls(board.root, board.executables("deny"), is_root=False)
    assert Jtop.probe(controls.ctx) == (True, "")
    result = controls.set_power_mode(1)
    assert result.ok, result.message
    assert result.strategy == "jtop"
    assert board.calls("jtop") == [{"tool": "jtop", "nvpmodel": 1}]
    assert not board.calls("sudo")                   # the service came first, sudo was not needed


def test_dead_jtop_service_falls_back_to_sudo_and_says_both(board, fake_jtop):
    fake_jtop(fail=True)
    denied = Controls(board.root, board.executables("deny"), is_root=False, user="dave").set_power_mode(1)
    assert not denied.ok
    assert f"dave ALL=(root) NOPASSWD: {board.nvpmodel}" in denied.message
    assert "fix the jtop service" in denied.message and "jtop.service is not active" in denied.message
    allowed = Controls(board.root, board.executables("allow"), is_root=False).set_power_mode(1)
    assert allowed.ok and allowed.strategy == "sudo"


def test_importing_controls_does_not_import_jtop(board):
    code = ("import sys; from edgemon.control import Controls; "
            f"c = Controls({str(board.root)!r}, {board.executables()!r}, is_root=False); "
            "c.available(); print('jtop' in sys.modules, 'textual' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
