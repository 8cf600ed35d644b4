"""`edgemon restore` runs only this machine's tools, and only for a session of this machine and boot.

A recording is data: its session.json may name any program under "executables" and any tree
under "sysfs_root" (a recording copied from another board, or forged). Restore must resolve
the tools the way a live session does on this machine, and refuse a recording from another
machine or another boot with one line.
"""

from __future__ import annotations

import json
import os
import shutil
import stat

import pytest
from control_helpers import FakeBoard

from edgemon import cli
from edgemon.platform.identity import boot_id, machine_id

needs_ids = pytest.mark.skipif(boot_id() is None, reason="no /proc/sys/kernel/random/boot_id on this machine")


def _board(tmp_path):
    board = FakeBoard(tmp_path, mode=2)
    # the board's own tools, where a live session with --sysfs-root finds them (platform/tools.py)
    tools = board.root / "usr" / "sbin"
    tools.mkdir(parents=True)
    for name in ("nvpmodel", "jetson_clocks"):
        shutil.copy(board.bin / name, tools / name)
    return board


def _evil(tmp_path):
    marker = tmp_path / "evil-ran"
    script = tmp_path / "evil.sh"
    script.write_text(f"#!/bin/sh\necho \"$0 $*\" >> {marker}\n")
    script.chmod(0o755)
    return script, marker


def _recording(tmp_path, board, evil, **meta):
    rec = tmp_path / "rec"
    rec.mkdir()
    data = {
        "state": "crashed",
        "sysfs_root": str(board.root),
        "executables": {"nvpmodel": str(evil), "jetson_clocks": str(evil), "sudo": str(evil), "tee": str(evil)},
        "restore": {"power_mode_id": 1, "power_mode_name": "MODE_15W", "jetson_clocks": False},
        "machine": {"machine_id": machine_id(), "boot_id": boot_id()},
    }
    data.update(meta)
    (rec / "session.json").write_text(json.dumps(data))
    return rec


def _restore(capsys, *args):
    code = cli.main(["restore", *map(str, args)])
    out = capsys.readouterr()
    return code, out.out, out.err


@needs_ids
def test_tools_come_from_this_machine_never_from_the_recording(tmp_path, capsys):
    board = _board(tmp_path)
    evil, marker = _evil(tmp_path)
    rec = _recording(tmp_path, board, evil)
    code, out, err = _restore(capsys, rec, "--sysfs-root", board.root)
    assert code == 0, out + err
    assert not marker.exists(), marker.read_text()
    assert board.mode() == 1
    assert [c["argv"][:2] for c in board.calls("nvpmodel") if "-m" in c["argv"]] == [["-m", "1"]]


@needs_ids
def test_a_recorded_sysfs_root_is_not_followed(tmp_path, capsys):
    board = _board(tmp_path)
    evil, marker = _evil(tmp_path)
    rec = _recording(tmp_path, board, evil)
    code, out, err = _restore(capsys, rec)            # no --sysfs-root: the recording's is not used
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert f"was recorded with --sysfs-root {board.root}" in err
    assert not marker.exists() and board.mode() == 2 and not board.calls()


@pytest.mark.parametrize("machine, why", [
    ({"machine_id": "0" * 32, "boot_id": "11111111-2222-3333-4444-555555555555"}, "recorded on another machine"),
    ("same-machine-old-boot", "during an earlier boot of this machine"),
    (None, "does not say which machine and boot"),
])
@needs_ids
def test_a_recording_of_another_machine_or_boot_is_refused(tmp_path, capsys, machine, why):
    board = _board(tmp_path)
    evil, marker = _evil(tmp_path)
    if machine == "same-machine-old-boot":
        machine = {"machine_id": machine_id(), "boot_id": "11111111-2222-3333-4444-555555555555"}
    rec = _recording(tmp_path, board, evil, machine=machine)
    code, out, err = _restore(capsys, rec, "--sysfs-root", board.root)
    assert code == 2, out + err
    assert why in err and "sudo nvpmodel -m 1" in err and len(err.strip().splitlines()) == 1
    assert not marker.exists() and board.mode() == 2 and not board.calls()


@needs_ids
@pytest.mark.parametrize("plant", ["symlink", "other-owner", "outside"])
def test_an_untrusted_clock_store_is_not_handed_to_jetson_clocks(tmp_path, capsys, plant):
    board = _board(tmp_path)
    evil, marker = _evil(tmp_path)
    from edgemon.control import Controls

    assert Controls(board.root, board.executables("allow"), is_root=True).set_jetson_clocks(True).ok
    target = tmp_path / "attacker.conf"
    target.write_text("/etc/passwd:owned\n")
    rec_dir = tmp_path / "rec"
    store = rec_dir / "l4t_dfs.conf"
    recorded = str(store)
    rec = _recording(tmp_path, board, evil, restore={"jetson_clocks": False, "jetson_clocks_store": recorded})
    if plant == "symlink":
        os.symlink(target, store)
    elif plant == "other-owner":
        shutil.copy(target, store)
        os.chown(store, 65534, 65534)
    else:
        rec_json = json.loads((rec / "session.json").read_text())
        rec_json["restore"]["jetson_clocks_store"] = str(target)
        (rec / "session.json").write_text(json.dumps(rec_json))
    _restore(capsys, rec, "--sysfs-root", board.root)
    restores = [c["argv"] for c in board.calls("jetson_clocks") if c["argv"][:1] == ["--restore"]]
    assert all(str(target) not in argv and recorded not in argv for argv in restores), restores
    assert target.read_text() == "/etc/passwd:owned\n" and not marker.exists()


@needs_ids
def test_a_trusted_clock_store_in_the_session_folder_is_used(tmp_path, capsys):
    board = _board(tmp_path)
    evil, _ = _evil(tmp_path)
    from edgemon.control import Controls

    rec = _recording(tmp_path, board, evil, restore={"jetson_clocks": False,
                                                      "jetson_clocks_store": str(tmp_path / "rec" / "l4t_dfs.conf")})
    controls = Controls(board.root, board.executables("allow"), is_root=True)
    assert controls.store_clocks(rec / "l4t_dfs.conf").ok
    assert controls.set_jetson_clocks(True).ok
    assert stat.S_ISREG(os.lstat(rec / "l4t_dfs.conf").st_mode)
    code, out, err = _restore(capsys, rec, "--sysfs-root", board.root)
    assert code == 0, out + err
    restores = [c["argv"] for c in board.calls("jetson_clocks") if c["argv"][:1] == ["--restore"]]
    assert restores[-1] == ["--restore", str((rec / "l4t_dfs.conf").absolute())]
