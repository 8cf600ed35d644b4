"""Board identification (edgemon.platform.jetson) from fixture trees and real strings."""

from __future__ import annotations

import shutil

import pytest

from edgemon.platform.jetson import FAMILIES, family_for, identify, jetpack_for, parse_l4t_release
from fixtures.jetson.boards import BOARDS, build_tree


@pytest.mark.parametrize("board", sorted(BOARDS))
def test_identify_every_board(tmp_path, board):
    spec = BOARDS[board]
    build_tree(board, tmp_path)
    found = identify(tmp_path)
    assert found.is_jetson
    assert found.family == spec.family
    assert found.model == spec.model
    assert found.compatible == spec.compatible
    assert found.module == spec.module
    assert found.module_name                       # every fixture module is in the table
    assert found.soc == spec.soc
    assert found.l4t == spec.l4t
    assert found.jetpack == spec.jetpack
    assert found.release_line == spec.release
    if found.cpu_clusters:                         # where known, the clusters cover every core once
        cpus = sorted(c for cl in found.cpu_clusters for c in cl.cpus)
        assert cpus == list(range(spec.cpu.count))


def test_tx2_clusters_and_module_from_dtsfilename(tmp_path):
    build_tree("tx2", tmp_path)
    board = identify(tmp_path)
    assert board.module == "p3310-1000"            # compatible names only the carrier p2771
    assert board.cluster_of(0).name == "A57"
    assert board.cluster_of(1).core == "Denver2"
    assert board.cluster_of(2).core == "Denver2"
    assert [board.cluster_of(c).name for c in (3, 4, 5)] == ["A57"] * 3


def test_carrier_is_not_taken_for_the_module(tmp_path):
    build_tree("xavier-nx", tmp_path)              # p3509-0000 (carrier, also TX2 NX's) + p3668-0001
    board = identify(tmp_path)
    assert (board.module, board.carrier, board.family) == ("p3668-0001", "p3509-0000", "xavier-nx")


def test_identify_from_sys_firmware_without_proc_link(tmp_path):
    build_tree("thor", tmp_path)
    (tmp_path / "proc/device-tree").unlink()
    board = identify(tmp_path)
    assert (board.family, board.module, board.jetpack) == ("thor", "p3834-0008", "7.0")


def test_release_file_alone_still_identifies_a_jetson(tmp_path):
    build_tree("orin-nano", tmp_path)
    shutil.rmtree(tmp_path / "sys/firmware")
    board = identify(tmp_path)
    assert board.is_jetson
    assert board.family == "unknown"
    assert board.l4t == "36.4.3"


def test_non_jetson_root(tmp_path):
    (tmp_path / "sys/class/dmi/id").mkdir(parents=True)
    (tmp_path / "sys/class/dmi/id/product_name").write_text("ThinkPad\n")
    board = identify(tmp_path)
    assert not board.is_jetson
    assert board.family == "unknown"
    assert board.cpu_clusters == ()
    assert board.family in FAMILIES


@pytest.mark.parametrize("text, l4t, jetpack", [
    ("# R35 (release), REVISION: 4.1, GCID: 33958178, BOARD: t186ref, EABI: aarch64, DATE: x", "35.4.1", "5.1.2"),
    ("# R38 (release), REVISION: 2.0, GCID: 41844464, BOARD: generic, EABI: aarch64, DATE: Fri Aug 22", "38.2.0", "7.0"),
    ("# R39 (release), REVISION: 2.0, GCID: 45755727, BOARD: generic\n# KERNEL_VARIANT: oot\n", "39.2.0", "7.2"),
    ("# R32 (release), REVISION: 7.1, GCID: 29818004, BOARD: t210ref", "32.7.1", "4.6.1"),
    ("# R28 (release), REVISION: 2.1, GCID: 11272647, BOARD: t186ref", "28.2.1", "3.3 | 3.2.1"),
    ("# R99 (release), REVISION: 1.0", "99.1.0", ""),
    ("garbage", "", ""),
    ("", "", ""),
])
def test_parse_l4t_release(text, l4t, jetpack):
    assert parse_l4t_release(text)[0] == l4t
    assert jetpack_for(l4t) == jetpack


@pytest.mark.parametrize("module, model, soc, family", [
    ("p3767-0000", "", "tegra234", "orin-nx"),
    ("p3767-0001", "", "tegra234", "orin-nx"),
    ("p3767-0003", "", "tegra234", "orin-nano"),
    ("p3767-0004", "", "tegra234", "orin-nano"),
    ("p3701-0004", "", "tegra234", "agx-orin"),
    ("p2888-0004", "", "tegra194", "agx-xavier"),
    ("p3636-0001", "", "tegra186", "tx2"),
    ("p2180-1000", "", "tegra210", "tx1"),
    ("p3448-0003", "", "tegra210", "nano"),
    ("", "NVIDIA Jetson Orin NX Engineering Reference Developer Kit", "tegra234", "orin-nx"),
    ("", "NVIDIA Jetson AGX Orin", "tegra234", "agx-orin"),
    ("", "Jetson-AGX", "tegra194", "agx-xavier"),
    ("", "quill", "", "tx2"),
    ("", "", "tegra264", "thor"),
    ("", "", "tegra210", "unknown"),            # Nano or TX1: not decidable from the SoC
])
def test_family_for(module, model, soc, family):
    assert family_for(module, model, soc) == family
