"""Platform detection on fixture trees (x86, Raspberry Pi, Jetson) and on this machine."""

from __future__ import annotations

import os
import platform as std_platform
from pathlib import Path

import pytest

from edgemon.platform.detect import detect, parse_cpu_model, parse_l4t_release
from telemetry_linux_helpers import make_jetson_nano, make_rpi, make_x86_host, write


def test_x86_host(tmp_path):
    info = detect(make_x86_host(tmp_path))
    assert info.kind == "linux"
    assert info.model == "OptiPlex 7090"
    assert info.cpu_model == "Intel(R) Core(TM) i7-10700 CPU @ 2.90GHz"
    assert (info.cpu_count, info.cpu_online) == (4, 3)
    assert info.l4t_release is None
    assert info.in_container is False
    assert info.root == str(tmp_path)


def test_raspberry_pi(tmp_path):
    info = detect(make_rpi(tmp_path))
    assert info.kind == "rpi"
    assert info.model == "Raspberry Pi 4 Model B Rev 1.4"     # trailing NUL stripped
    assert info.cpu_model == "Cortex-A72"                      # from CPU implementer/part
    assert info.compatible == ["raspberrypi,4-model-b", "brcm,bcm2711"]
    assert info.cpu_count == 4


def test_jetson_nano(tmp_path):
    info = detect(make_jetson_nano(tmp_path))
    assert info.kind == "jetson" and info.is_jetson
    assert info.l4t_release == "32.7.1"
    assert info.model == "NVIDIA Jetson Nano Developer Kit"
    assert info.cpu_model == "Cortex-A57"


def test_jetson_by_device_tree_only(tmp_path):
    write(tmp_path, "/sys/firmware/devicetree/base/model", b"NVIDIA Jetson Orin Nano Developer Kit\x00")
    write(tmp_path, "/sys/firmware/devicetree/base/compatible", b"nvidia,p3768-0000+p3767-0005\x00"
                                                                 b"nvidia,tegra234\x00")
    info = detect(tmp_path)
    assert info.kind == "jetson" and info.l4t_release is None
    assert info.model == "NVIDIA Jetson Orin Nano Developer Kit"


@pytest.mark.parametrize("text, expected", [
    ("# R32 (release), REVISION: 7.1, GCID: 29818004, BOARD: t210ref, EABI: aarch64", "32.7.1"),
    ("# R38 (release), REVISION: 2.0, GCID: 41844464, BOARD: generic, EABI: aarch64", "38.2.0"),
    ("# R24 (release), REVISION: 2.1, GCID: 8028265, BOARD: t210ref, EABI: aarch64", "24.2.1"),
    ("# R39 (release), REVISION: 2.0, GCID: 45755727\n# KERNEL_VARIANT: oot\n", "39.2.0"),
    ("something else", None),
    ("", None),
    (None, None),
])
def test_parse_l4t_release(text, expected):
    assert parse_l4t_release(text) == expected


def test_parse_cpu_model_fallbacks():
    assert parse_cpu_model("processor : 0\nmodel name : ARMv7 Processor rev 4 (v7l)\n") == \
        "ARMv7 Processor rev 4 (v7l)"
    assert parse_cpu_model("CPU implementer : 0x4e\nCPU part : 0x004\n") == "NVIDIA Carmel"
    assert parse_cpu_model("CPU implementer : 0x99\nCPU part : 0x001\nHardware : Foo SoC\n") == "Foo SoC"
    assert parse_cpu_model(None) == ""


def test_container_hints(tmp_path):
    write(tmp_path, "/proc/1/cgroup", "0::/system.slice/docker-0123abcd.scope\n")
    assert detect(tmp_path).in_container is True
    other = tmp_path / "other"
    write(other, "/.dockerenv", "")
    assert detect(other).in_container is True


def test_empty_root_never_raises(tmp_path):
    info = detect(tmp_path)
    assert info.kind == "linux" and info.model == "" and info.cpu_model == ""
    assert info.cpu_count == 0


@pytest.mark.skipif(not Path("/sys/devices/system/cpu").exists(), reason="needs Linux sysfs")
def test_this_machine():
    info = detect("/")
    assert info.kind in ("jetson", "rpi", "linux")
    assert info.cpu_online == os.cpu_count()
    assert info.cpu_count >= info.cpu_online
    assert info.kernel == std_platform.release()
    assert info.arch == std_platform.machine()
    assert info.to_dict()["kind"] == info.kind
