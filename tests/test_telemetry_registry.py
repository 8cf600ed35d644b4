"""build_sources: probing, order (= merge precedence), optional modules loaded lazily."""

from __future__ import annotations

import sys
import textwrap

import pytest

from edgemon.platform.detect import detect
from edgemon.telemetry.base import SourceContext
from edgemon.telemetry.registry import build_sources
from edgemon.telemetry.sampler import Sampler
from telemetry_linux_helpers import make_jetson_nano, make_x86_host, write

GENERIC = ["procstat", "cpufreq", "meminfo", "loadavg", "thermal", "hwmon"]


@pytest.fixture
def built():
    """build_sources, closing whatever it returns at the end of the test."""
    opened = []

    def build(*args, **kwargs):
        sources, statuses = build_sources(*args, **kwargs)
        opened.extend(sources)
        return sources, statuses

    yield build
    for src in opened:
        src.close()


@pytest.fixture
def fake_package(tmp_path, monkeypatch):
    """A package of optional source modules, the way other engineers' modules look."""
    pkg = tmp_path / "pkgs" / "fake_sources"
    modules = {
        "__init__.py": "",
        "jetson_temps.py": '''
            from edgemon.telemetry.base import Source, SourceStatus

            class _Base(Source):          # a helper base without a name: not a source
                def probe(self):
                    return SourceStatus("base", True)

            class JetsonTempSource(_Base):
                name = "jetson_temps"
                replaces = ("thermal",)
                def probe(self):
                    return SourceStatus(self.name, True, detail="sysfs")
                def read(self):
                    return {"temp_cpu_c": 40.0}
        ''',
        "tegrastats_src.py": '''
            from edgemon.telemetry.base import Source, SourceStatus

            class TegrastatsSource(Source):
                name = "tegrastats"
                def probe(self):
                    return SourceStatus(self.name, True)
                def read(self):
                    return {"temp_cpu_c": 39.0, "ram_used_mb": 1.0, "gpu_util_pct": 50.0}
        ''',
        "nvml.py": '''
            import edgemon_no_such_dependency_xyz
        ''',
        "vcgencmd.py": '''
            raise RuntimeError("half-written module")
        ''',
        "rapl.py": '''
            from edgemon.telemetry.base import Source, SourceStatus

            def build_sources(ctx, platform):
                class Rapl(Source):
                    name = "rapl"
                    def probe(self):
                        return SourceStatus(self.name, False, "no /sys/class/powercap")
                return [Rapl(ctx)]
        ''',
        "jetson_broken_probe.py": '''
            from edgemon.telemetry.base import Source

            class BrokenProbe(Source):
                name = "jetson_broken_probe"
                def probe(self):
                    raise PermissionError("debugfs")
        ''',
    }
    for name, text in modules.items():
        write(pkg, name, textwrap.dedent(text))
    monkeypatch.syspath_prepend(str(tmp_path / "pkgs"))
    yield "fake_sources"
    for mod in [m for m in sys.modules if m == "fake_sources" or m.startswith("fake_sources.")]:
        del sys.modules[mod]


def test_x86_fixture_sources_in_order(tmp_path, built):
    ctx = SourceContext(root=make_x86_host(tmp_path))
    sources, statuses = built(ctx, detect(ctx.root))
    names = [s.name for s in sources]
    assert [n for n in names if n in GENERIC] == GENERIC
    assert names[-1] == "process"
    by_name = {s.name: s for s in statuses}
    assert set(GENERIC + ["process"]) <= set(by_name)
    assert all(by_name[n].available for n in GENERIC)
    assert by_name["thermal"].detail == "2 zones"


def test_jetson_thermal_zones_named_like_tegrastats(tmp_path, built):
    root = make_jetson_nano(tmp_path)
    write(root, "/sys/class/thermal/thermal_zone0/type", "CPU-therm\n")
    write(root, "/sys/class/thermal/thermal_zone0/temp", "35500\n")
    ctx = SourceContext(root=root)
    sources, _ = built(ctx)                      # platform detected under root: a Jetson
    thermal = next(s for s in sources if s.name == "thermal")
    assert thermal.read() == {"temp_cpu_c": 35.5}


def test_empty_root_gives_reasons_not_exceptions(tmp_path, built):
    sources, statuses = built(SourceContext(root=tmp_path))
    assert [s.name for s in sources] == ["process"]
    for status in statuses:
        if status.name != "process":
            assert not status.available and status.reason, status


def test_optional_modules_order_replacement_and_failures(tmp_path, fake_package, built):
    ctx = SourceContext(root=make_x86_host(tmp_path))
    sources, statuses = built(ctx, detect(ctx.root), optional_package=fake_package)
    names = [s.name for s in sources]
    assert names == ["jetson_temps", "procstat", "cpufreq", "meminfo", "loadavg", "hwmon",
                     "tegrastats", "process"]
    by_name = {s.name: s for s in statuses}
    assert by_name["thermal"].reason == "replaced by jetson_temps"
    assert "edgemon_no_such_dependency_xyz" in by_name["nvml"].reason
    assert "half-written module" in by_name["vcgencmd"].reason
    assert by_name["rapl"].reason == "no /sys/class/powercap"
    assert "PermissionError" in by_name["jetson_broken_probe"].reason
    assert "base" not in by_name

    sample = Sampler(sources, 10, lambda s: None).tick()
    assert sample.values["temp_cpu_c"] == 40.0          # sysfs reader placed before tegrastats wins
    assert sample.values["gpu_util_pct"] == 50.0        # tegrastats fills what sysfs lacks
    assert sample.values["ram_used_mb"] == pytest.approx((16315740 - 12287588) / 1024)


def test_missing_optional_package_module_is_skipped(tmp_path):
    ctx = SourceContext(root=tmp_path)
    from edgemon.telemetry import registry

    assert registry._instantiate("edgemon.telemetry", "no_such_module_xyz", ctx, None) == ([], [])
