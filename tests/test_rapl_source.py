"""RAPL energy counters on x86 fixture trees (tests/fixtures/x86): power from deltas, wraps, permissions."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from edgemon.telemetry.base import SourceContext
from edgemon.telemetry.rapl import ROOT_ONLY_REASON, RaplSource, energy_delta_uj, find_zones
from fixtures.x86 import HOSTS, build_tree, set_energy
from fixtures.x86.hosts import AMD_RANGE_UJ, INTEL_RANGE_UJ


class Clock:
    """A monotonic_ns stand-in the test advances by hand (the source reads it once per zone)."""

    def __init__(self, t_ns: int = 1_000_000_000):
        self.t = t_ns

    def __call__(self) -> int:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += int(seconds * 1e9)


def energies(key: str) -> dict[str, int]:
    return {z.zone: z.energy_uj for z in HOSTS[key].rapl}


def make(tmp_path, key):
    root = build_tree(key, tmp_path)
    clock = Clock()
    src = RaplSource(SourceContext(root=root), clock=clock)
    return root, clock, src


def step(root, clock, seconds, watts: dict[str, float], start: dict[str, int]) -> dict[str, int]:
    """Advance every named zone's counter by ``watts * seconds`` and the clock by ``seconds``."""
    now = dict(start)
    for zone, w in watts.items():
        now[zone] = start[zone] + round(w * seconds * 1e6)
        set_energy(root, zone, now[zone])
    clock.advance(seconds)
    return now


def test_energy_delta_wraps_at_max_range():
    assert energy_delta_uj(100, 350, INTEL_RANGE_UJ) == 250
    assert energy_delta_uj(INTEL_RANGE_UJ - 100, 400, INTEL_RANGE_UJ) == 500
    assert energy_delta_uj(INTEL_RANGE_UJ - 100, 400, None) is None


def test_zones_and_metric_names_intel_desktop(tmp_path):
    root = build_tree("intel-desktop", tmp_path)
    zones, skipped = find_zones(SourceContext(root=root))
    assert [(z.zone, z.name, z.metric, z.is_package) for z in zones] == [
        ("intel-rapl:0", "package-0", "power_package_0_mw", True),
        ("intel-rapl:0:0", "core", "power_core_mw", False),
        ("intel-rapl:0:1", "uncore", "power_uncore_mw", False),
        ("intel-rapl:0:2", "dram", "power_dram_mw", False),
    ]
    assert {z.max_range_uj for z in zones} == {INTEL_RANGE_UJ} and skipped == {}


def test_two_sockets_keep_sub_zones_apart(tmp_path):
    root = build_tree("xeon-2s", tmp_path)
    zones, _ = find_zones(SourceContext(root=root))
    assert [z.metric for z in zones] == ["power_package_0_mw", "power_dram_mw",
                                         "power_package_1_mw", "power_package_1_dram_mw"]


def test_mmio_duplicate_is_ignored_and_psys_kept(tmp_path):
    root = build_tree("intel-laptop", tmp_path)
    zones, _ = find_zones(SourceContext(root=root))
    assert [z.zone for z in zones] == ["intel-rapl:0", "intel-rapl:0:0", "intel-rapl:0:1", "intel-rapl:1"]
    assert [z.metric for z in zones][-1] == "power_psys_mw"


def test_mmio_zones_used_when_they_are_all_there_is(tmp_path):
    root = build_tree("intel-laptop", tmp_path)
    for link in (root / "sys/class/powercap").iterdir():
        if link.name.startswith("intel-rapl:"):
            link.unlink()
    zones, _ = find_zones(SourceContext(root=root))
    assert [(z.zone, z.metric) for z in zones] == [("intel-rapl-mmio:0", "power_package_0_mw")]


def test_first_read_primes_then_power_from_deltas(tmp_path):
    root, clock, src = make(tmp_path, "intel-desktop")
    status = src.probe()
    assert status.available and status.detail == "4 zones (package-0, core, uncore, dram)"
    assert src.read() == {}
    step(root, clock, 0.1, {"intel-rapl:0": 35.0, "intel-rapl:0:0": 20.0,
                            "intel-rapl:0:1": 1.5, "intel-rapl:0:2": 4.0}, energies("intel-desktop"))
    out = src.read()
    assert out == pytest.approx({
        "power_package_0_mw": 35_000.0, "power_core_mw": 20_000.0, "power_uncore_mw": 1_500.0,
        "power_dram_mw": 4_000.0, "power_total_mw": 35_000.0,
    })


def test_wrap_between_two_reads(tmp_path):
    root, clock, src = make(tmp_path, "amd-desktop")
    set_energy(root, "intel-rapl:0", AMD_RANGE_UJ - 1_000_000)       # 1 J before the wrap
    set_energy(root, "intel-rapl:0:0", 5_000_000)
    assert src.probe().available
    assert src.read() == {}
    set_energy(root, "intel-rapl:0", 2_000_000)                       # wrapped: 3 J used in 0.5 s
    set_energy(root, "intel-rapl:0:0", 6_000_000)                     # 1 J in 0.5 s
    clock.advance(0.5)
    out = src.read()
    assert out["power_package_0_mw"] == pytest.approx(6_000.0)
    assert out["power_core_mw"] == pytest.approx(2_000.0)
    assert out["power_total_mw"] == pytest.approx(6_000.0)


def test_wrap_without_max_range_drops_only_that_reading(tmp_path):
    root, clock, src = make(tmp_path, "amd-desktop")
    (root / "sys/devices/virtual/powercap/intel-rapl/intel-rapl:0/max_energy_range_uj").unlink()
    assert src.probe().available
    src.read()
    set_energy(root, "intel-rapl:0", 10)
    set_energy(root, "intel-rapl:0:0", energies("amd-desktop")["intel-rapl:0:0"] + 1_000_000)
    clock.advance(1.0)
    out = src.read()
    assert "power_package_0_mw" not in out and "power_total_mw" not in out
    assert out["power_core_mw"] == pytest.approx(1_000.0)
    set_energy(root, "intel-rapl:0", 1_000_010)
    clock.advance(1.0)
    assert src.read()["power_package_0_mw"] == pytest.approx(1_000.0)    # back on the next tick


def test_total_is_the_sum_of_packages_only(tmp_path):
    root, clock, src = make(tmp_path, "xeon-2s")
    assert src.probe().available
    src.read()
    step(root, clock, 0.25, {"intel-rapl:0": 80.0, "intel-rapl:0:0": 9.0,
                             "intel-rapl:1": 70.0, "intel-rapl:1:0": 8.0}, energies("xeon-2s"))
    out = src.read()
    assert out["power_total_mw"] == pytest.approx(150_000.0)
    assert out["power_package_1_dram_mw"] == pytest.approx(8_000.0)


def test_psys_is_not_the_total(tmp_path):
    root, clock, src = make(tmp_path, "intel-laptop")
    assert src.probe().available
    src.read()
    step(root, clock, 1.0, {"intel-rapl:0": 12.0, "intel-rapl:1": 18.0}, energies("intel-laptop"))
    out = src.read()
    assert out["power_psys_mw"] == pytest.approx(18_000.0)
    assert out["power_total_mw"] == pytest.approx(12_000.0)


def test_no_powercap(tmp_path):
    status = RaplSource(SourceContext(root=tmp_path)).probe()
    assert not status.available and "no RAPL zones" in status.reason


def test_counters_vanishing_make_read_raise(tmp_path):
    root, _, src = make(tmp_path, "amd-desktop")
    assert src.probe().available
    shutil.rmtree(root / "sys/devices/virtual/powercap")
    with pytest.raises(OSError, match="no RAPL counter readable"):
        src.read()


def _probe_as_nobody(root: Path) -> dict:
    """Probe in a forked child that dropped root, so the kernel really refuses the read."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:                                    # child
        try:
            os.close(rfd)
            os.setgid(65534)
            os.setuid(65534)
            status = RaplSource(SourceContext(root=root)).probe()
            os.write(wfd, json.dumps({"available": status.available, "reason": status.reason}).encode())
        finally:
            os._exit(0)
    os.close(wfd)
    with os.fdopen(rfd, "rb") as f:
        data = f.read()
    os.waitpid(pid, 0)
    return json.loads(data)


def test_root_only_counters_are_unavailable_with_the_reason():
    # Outside pytest's tmp_path (mode 0700 under /tmp/pytest-of-<user>) so an unprivileged child can walk it.
    base = Path(tempfile.mkdtemp(prefix="edgemon-rapl-"))
    try:
        root = build_tree("intel-desktop", base)
        for dirpath, _dirnames, filenames in os.walk(base):
            os.chmod(dirpath, 0o755)
            for name in filenames:
                os.chmod(os.path.join(dirpath, name), 0o444)
        for zone in (root / "sys/devices/virtual/powercap/intel-rapl").glob("**/energy_uj"):
            os.chmod(zone, 0o400)                   # as since Linux 5.10
        if os.geteuid() == 0:
            result = _probe_as_nobody(root)
        else:
            status = RaplSource(SourceContext(root=root)).probe()
            result = {"available": status.available, "reason": status.reason}
    finally:
        shutil.rmtree(base)
    assert result["available"] is False
    assert result["reason"].endswith("energy_uj: permission denied; " + ROOT_ONLY_REASON)
    assert "CVE-2020-8694" in result["reason"] and "Linux 5.10" in result["reason"]
