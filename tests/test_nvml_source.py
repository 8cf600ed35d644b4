"""NVML source against a stand-in ``pynvml`` (no NVIDIA GPU here) and the real binding's failure.

The stand-in copies the names, constants, return shapes and error class of nvidia-ml-py
(``NVMLError(value)`` with ``.value``, ``NVML_ERROR_NOT_SUPPORTED == 3``, utilisation and memory
structs with ``.gpu`` / ``.used`` in bytes, power in mW, energy in mJ).
"""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

import pytest

from edgemon.platform.detect import detect
from edgemon.telemetry.base import SourceContext
from edgemon.telemetry.nvml import (CLOCK_EVENT_REASONS, JETSON_REASON, NvmlSource, build_sources,
                                    decode_reasons, gpu_prefix)
from fixtures.jetson.boards import build_tree as build_jetson

NOT_SUPPORTED = 3
NO_PERMISSION = 4
LIBRARY_NOT_FOUND = 12
FUNCTION_NOT_FOUND = 13
GPU_IS_LOST = 15
MIB = 1024 * 1024


class FakeGpu:
    """What one GPU answers; a field set to an int error code raises NVMLError(code)."""

    def __init__(self, name="NVIDIA GeForce RTX 3090", **over):
        self.name = name
        self.v = dict(util=87, mem_used=10_240 * MIB, sm=1695, mem_clock=9751, power=312_456,
                      limit=350_000, energy=123_456_789, temp=71, slowdown=93, shutdown=98,
                      max_sm=2100, max_mem=9751, event_reasons=0x24, throttle_reasons=0x24)
        self.err: dict[str, int] = {}
        for k, value in over.items():
            self.v[k] = value


def make_fake_pynvml(gpus: list[FakeGpu], *, init_error: int | None = None,
                     with_event_reasons: bool = True) -> types.ModuleType:
    nv = types.ModuleType("pynvml")
    nv.NVML_ERROR_NOT_SUPPORTED = NOT_SUPPORTED
    nv.NVML_ERROR_NO_PERMISSION = NO_PERMISSION
    nv.NVML_ERROR_LIBRARY_NOT_FOUND = LIBRARY_NOT_FOUND
    nv.NVML_ERROR_FUNCTION_NOT_FOUND = FUNCTION_NOT_FOUND
    nv.NVML_ERROR_GPU_IS_LOST = GPU_IS_LOST
    nv.NVML_CLOCK_GRAPHICS, nv.NVML_CLOCK_SM, nv.NVML_CLOCK_MEM = 0, 1, 2
    nv.NVML_TEMPERATURE_GPU = 0
    nv.NVML_TEMPERATURE_THRESHOLD_SHUTDOWN, nv.NVML_TEMPERATURE_THRESHOLD_SLOWDOWN = 0, 1
    strings = {NOT_SUPPORTED: "Not Supported", NO_PERMISSION: "Insufficient Permissions",
               LIBRARY_NOT_FOUND: "NVML Shared Library Not Found", GPU_IS_LOST: "GPU is lost",
               FUNCTION_NOT_FOUND: "Function Not Found"}

    class NVMLError(Exception):
        def __init__(self, value):
            super().__init__(value)
            self.value = value

        def __str__(self):
            return strings.get(self.value, f"NVML Error with code {self.value}")

    nv.NVMLError = NVMLError
    nv.calls = []
    nv.live = 0            # nvmlInit minus nvmlShutdown

    def nvmlInit():
        nv.calls.append("nvmlInit")
        if init_error is not None:
            raise NVMLError(init_error)
        nv.live += 1

    def nvmlShutdown():
        nv.calls.append("nvmlShutdown")
        nv.live -= 1

    def answer(h, key):
        nv.calls.append(key)
        gpu = gpus[h]
        if key in gpu.err:
            raise NVMLError(gpu.err[key])
        return gpu.v[key]

    nv.nvmlInit, nv.nvmlShutdown = nvmlInit, nvmlShutdown
    nv.nvmlSystemGetDriverVersion = lambda: "550.54.14"
    nv.nvmlDeviceGetCount = lambda: len(gpus)
    nv.nvmlDeviceGetHandleByIndex = lambda i: i
    nv.nvmlDeviceGetName = lambda h: gpus[h].name
    nv.nvmlDeviceGetUtilizationRates = lambda h: types.SimpleNamespace(gpu=answer(h, "util"), memory=12)
    nv.nvmlDeviceGetMemoryInfo = lambda h: types.SimpleNamespace(
        total=24_576 * MIB, used=answer(h, "mem_used"), free=24_576 * MIB - gpus[h].v["mem_used"])
    nv.nvmlDeviceGetClockInfo = lambda h, t: answer(h, {1: "sm", 2: "mem_clock"}[t])
    nv.nvmlDeviceGetMaxClockInfo = lambda h, t: answer(h, {1: "max_sm", 2: "max_mem"}[t])
    nv.nvmlDeviceGetPowerUsage = lambda h: answer(h, "power")
    nv.nvmlDeviceGetEnforcedPowerLimit = lambda h: answer(h, "limit")
    nv.nvmlDeviceGetTotalEnergyConsumption = lambda h: answer(h, "energy")
    nv.nvmlDeviceGetTemperature = lambda h, s: answer(h, {0: "temp"}[s])
    nv.nvmlDeviceGetTemperatureThreshold = lambda h, t: answer(h, {0: "shutdown", 1: "slowdown"}[t])
    if with_event_reasons:
        nv.nvmlDeviceGetCurrentClocksEventReasons = lambda h: answer(h, "event_reasons")
    nv.nvmlDeviceGetCurrentClocksThrottleReasons = lambda h: answer(h, "throttle_reasons")
    return nv


@pytest.fixture
def fake_nvml(monkeypatch):
    """Install a stand-in pynvml in sys.modules; returns a function that builds it."""

    def install(gpus, **kwargs):
        nv = make_fake_pynvml(gpus, **kwargs)
        monkeypatch.setitem(sys.modules, "pynvml", nv)
        return nv

    return install


@pytest.fixture
def jetson_platform(tmp_path):
    build_jetson("orin-nano", tmp_path)
    platform = detect(tmp_path)
    assert platform.kind == "jetson"
    return platform


def probed(ctx=None, platform=None):
    src = NvmlSource(ctx or SourceContext(), platform)
    return src, src.probe()


# --------------------------------------------------------------------------- decoding


def test_reason_bits_are_nvmls():
    bits = dict((name, bit) for bit, name in CLOCK_EVENT_REASONS)
    assert bits["GpuIdle"] == 0x1
    assert bits["ApplicationsClocksSetting"] == 0x2
    assert bits["SwPowerCap"] == 0x4
    assert bits["HwSlowdown"] == 0x8
    assert bits["SyncBoost"] == 0x10
    assert bits["SwThermalSlowdown"] == 0x20
    assert bits["HwThermalSlowdown"] == 0x40
    assert bits["HwPowerBrakeSlowdown"] == 0x80
    assert bits["DisplayClockSetting"] == 0x100


@pytest.mark.skipif(importlib.util.find_spec("pynvml") is None, reason="nvidia-ml-py not installed")
def test_reason_bits_match_the_installed_binding():
    """Every reason the binding names has our bit. Releases differ in which they name (BoardLimit and
    Reliability are in 13.615's throttle-reasons API, in neither API of 13.610), never in a value."""
    import pynvml
    named = set()
    for bit, name in CLOCK_EVENT_REASONS:
        value = getattr(pynvml, f"nvmlClocksEventReason{name}", None)
        if value is None:
            value = getattr(pynvml, f"nvmlClocksThrottleReason{name}", None)
        if value is not None:
            assert value == bit, name
            named.add(name)
    assert {"GpuIdle", "SwPowerCap", "HwSlowdown", "SwThermalSlowdown", "HwThermalSlowdown"} <= named


@pytest.mark.parametrize("mask, names", [
    (0, []),
    (0x1, ["GpuIdle"]),
    (0x24, ["SwPowerCap", "SwThermalSlowdown"]),
    (0x48, ["HwSlowdown", "HwThermalSlowdown"]),
    (0x88, ["HwSlowdown", "HwPowerBrakeSlowdown"]),
    (0x112, ["ApplicationsClocksSetting", "SyncBoost", "DisplayClockSetting"]),
    (0x1004, ["SwPowerCap", "0x1000"]),
    (36.0, ["SwPowerCap", "SwThermalSlowdown"]),     # as recorded: a float
    (None, []),
])
def test_decode_reasons(mask, names):
    assert decode_reasons(mask) == names


def test_gpu_prefix():
    assert [gpu_prefix(i) for i in range(3)] == ["gpu", "gpu1", "gpu2"]


# --------------------------------------------------------------------------- desktop GPUs


def test_one_gpu_every_metric(fake_nvml):
    nv = fake_nvml([FakeGpu()])
    src, status = probed()
    assert status.available, status
    assert "NVIDIA GeForce RTX 3090" in status.detail and "550.54.14" in status.detail
    assert src.read() == {
        "gpu_util_pct": 87.0,
        "gpu_mem_used_mb": 10_240.0,
        "gpu_freq_mhz": 1695.0,
        "gpu_mem_freq_mhz": 9751.0,
        "gpu_power_mw": 312_456.0,
        "gpu_power_limit_mw": 350_000.0,
        "gpu_energy_mj": 123_456_789.0,
        "temp_gpu_c": 71.0,
        "gpu_temp_slowdown_c": 93.0,
        "gpu_clock_event_reasons": float(0x24),
    }
    src.close()
    assert nv.live == 0


def test_values_follow_the_gpu(fake_nvml):
    gpu = FakeGpu()
    fake_nvml([gpu])
    src, _ = probed()
    src.read()
    gpu.v.update(util=3, power=45_000, event_reasons=0x1)
    out = src.read()
    assert (out["gpu_util_pct"], out["gpu_power_mw"]) == (3.0, 45_000.0)
    assert decode_reasons(out["gpu_clock_event_reasons"]) == ["GpuIdle"]
    src.close()


def test_second_gpu_gets_an_indexed_prefix(fake_nvml):
    fake_nvml([FakeGpu(), FakeGpu("NVIDIA A100-SXM4-40GB", util=12, temp=40)])
    src, status = probed()
    assert status.available and status.detail.startswith("2 GPUs")
    out = src.read()
    assert out["gpu_util_pct"] == 87.0 and out["gpu1_util_pct"] == 12.0
    assert out["temp_gpu_c"] == 71.0 and out["temp_gpu1_c"] == 40.0
    assert {"gpu1_freq_mhz", "gpu1_mem_used_mb", "gpu1_power_mw", "gpu1_clock_event_reasons",
            "gpu1_temp_slowdown_c"} <= set(out)
    src.close()


def test_not_supported_field_is_dropped_for_that_gpu_only(fake_nvml):
    old, new = FakeGpu("Tesla P4"), FakeGpu()
    old.err["energy"] = NOT_SUPPORTED          # pre-Volta: no energy counter
    old.err["mem_clock"] = FUNCTION_NOT_FOUND  # an old driver without the entry point
    nv = fake_nvml([old, new])
    src, status = probed()
    assert status.available
    assert "gpu_energy_mj" in status.detail and "gpu_mem_freq_mhz" in status.detail
    calls_before = nv.calls.count("energy")
    out = src.read()
    assert "gpu_energy_mj" not in out and "gpu_mem_freq_mhz" not in out
    assert out["gpu1_energy_mj"] == 123_456_789.0
    assert nv.calls.count("energy") == calls_before + 1       # only GPU 1 is asked again
    src.close()


def test_event_reasons_fall_back_to_throttle_reasons(fake_nvml):
    nv = fake_nvml([FakeGpu(throttle_reasons=0x40)], with_event_reasons=False)   # pynvml < 12.535
    src, _ = probed()
    assert decode_reasons(src.read()["gpu_clock_event_reasons"]) == ["HwThermalSlowdown"]
    src.close()
    gpu = FakeGpu(throttle_reasons=0x4)
    gpu.err["event_reasons"] = FUNCTION_NOT_FOUND     # new binding, driver older than 535
    nv = fake_nvml([gpu])
    src, _ = probed()
    assert decode_reasons(src.read()["gpu_clock_event_reasons"]) == ["SwPowerCap"]
    assert "throttle_reasons" in nv.calls
    src.close()


def test_limits(fake_nvml):
    gpu = FakeGpu()
    fake_nvml([gpu])
    src, _ = probed()
    lim = src.limits()[0]
    assert (lim.name, lim.temp_slowdown_c, lim.temp_shutdown_c) == ("NVIDIA GeForce RTX 3090", 93.0, 98.0)
    assert (lim.max_sm_mhz, lim.max_mem_mhz, lim.power_limit_mw) == (2100.0, 9751.0, 350_000.0)
    gpu.v["limit"] = 250_000                # nvidia-smi -pl 250
    assert src.limits()[0].power_limit_mw == 250_000.0
    src.close()


def test_slowdown_threshold_not_supported_is_left_out(fake_nvml):
    gpu = FakeGpu()
    gpu.err["slowdown"] = NOT_SUPPORTED
    fake_nvml([gpu])
    src, status = probed()
    assert status.available
    assert "gpu_temp_slowdown_c" not in src.read()
    assert src.limits()[0].temp_slowdown_c is None
    src.close()


def test_transient_error_drops_the_field_for_one_read(fake_nvml):
    gpu = FakeGpu()
    fake_nvml([gpu])
    src, _ = probed()
    gpu.err["power"] = 999                   # NVML_ERROR_UNKNOWN-like, once
    assert "gpu_power_mw" not in src.read()
    del gpu.err["power"]
    assert src.read()["gpu_power_mw"] == 312_456.0
    src.close()


def test_lost_gpu_makes_read_raise_so_the_sampler_disables_it(fake_nvml):
    gpu = FakeGpu()
    fake_nvml([gpu])
    src, _ = probed()
    for key in list(gpu.v):
        gpu.err[key] = GPU_IS_LOST
    with pytest.raises(OSError, match="GPU is lost"):
        src.read()
    src.close()


# --------------------------------------------------------------------------- stepping aside


def test_init_failure_is_unavailable_with_the_reason(fake_nvml):
    nv = fake_nvml([FakeGpu()], init_error=LIBRARY_NOT_FOUND)
    src, status = probed()
    assert not status.available
    assert "nvmlInit failed: NVML Shared Library Not Found" in status.reason
    assert nv.live == 0
    with pytest.raises(OSError):
        src.read()


def test_no_gpu(fake_nvml):
    nv = fake_nvml([])
    _, status = probed()
    assert not status.available and status.reason == "NVML sees no GPU"
    assert nv.live == 0 and nv.calls[-1] == "nvmlShutdown"


def test_every_query_not_supported_on_a_desktop(fake_nvml):
    gpu = FakeGpu()
    gpu.err.update({k: NOT_SUPPORTED for k in gpu.v})
    nv = fake_nvml([gpu])
    _, status = probed()
    assert not status.available and status.reason.startswith("NVML answers no query on any GPU")
    assert "Not Supported" in status.reason and nv.live == 0


def test_jetson_not_supported_steps_aside(fake_nvml, jetson_platform):
    gpu = FakeGpu("Orin (nvgpu)")
    gpu.err.update(util=NOT_SUPPORTED, mem_used=NOT_SUPPORTED)   # JetPack 6: init works, queries don't
    nv = fake_nvml([gpu])
    src, status = probed(platform=jetson_platform)
    assert not status.available
    assert status.reason == JETSON_REASON
    assert nv.live == 0
    with pytest.raises(OSError):
        src.read()                          # no zeros, nothing at all


def test_jetson_any_core_query_not_supported_steps_aside(fake_nvml, jetson_platform):
    gpu = FakeGpu("Orin (nvgpu)")
    gpu.err["sm"] = NOT_SUPPORTED           # load and memory answer, the clock does not
    fake_nvml([gpu])
    _, status = probed(platform=jetson_platform)
    assert not status.available and status.reason == JETSON_REASON


def test_jetson_init_failure_steps_aside(fake_nvml, jetson_platform):
    fake_nvml([], init_error=NOT_SUPPORTED)
    _, status = probed(platform=jetson_platform)
    assert not status.available
    assert status.reason.startswith(JETSON_REASON) and "nvmlInit: Not Supported" in status.reason


def test_same_not_supported_on_a_desktop_only_drops_the_field(fake_nvml):
    gpu = FakeGpu()
    gpu.err["sm"] = NOT_SUPPORTED
    fake_nvml([gpu])
    src, status = probed(platform=detect(Path("/")))
    if status.reason and "Tegra" in status.reason:
        pytest.skip("this machine is a Jetson")
    assert status.available and "gpu_freq_mhz" not in src.read()
    src.close()


def test_other_root_is_not_this_machine(fake_nvml, tmp_path):
    nv = fake_nvml([FakeGpu()])
    _, status = probed(SourceContext(root=tmp_path))
    assert not status.available and str(tmp_path) in status.reason
    assert nv.calls == []                     # never touched the driver


def test_missing_pynvml(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)      # import raises ImportError
    _, status = probed()
    assert not status.available and "nvidia-ml-py" in status.reason


def test_registry_hook_passes_the_platform(jetson_platform):
    (src,) = build_sources(SourceContext(), jetson_platform)
    assert isinstance(src, NvmlSource) and src.platform is jetson_platform


@pytest.mark.skipif(importlib.util.find_spec("pynvml") is None, reason="nvidia-ml-py not installed")
def test_real_binding_on_this_machine():
    """No GPU here: the real pynvml fails to load libnvidia-ml and the source says so."""
    src, status = probed(platform=detect(Path("/")))
    try:
        if status.available:
            out = src.read()
            assert "gpu_util_pct" in out and 0 <= out["gpu_util_pct"] <= 100
        else:
            assert status.reason
    finally:
        src.close()


def test_benchmark_script_runs_against_the_stand_in(fake_nvml, tmp_path, capsys):
    """benchmarks/nvml_probe.py is run by hand on a GPU machine; keep it from rotting here."""
    import runpy
    smi = tmp_path / "nvidia-smi"
    smi.write_text('#!/bin/sh\necho "0, 310.12, 71, 1695, 87"\n')     # csv,noheader,nounits
    smi.chmod(0o755)
    fake_nvml([FakeGpu()])
    script = Path(__file__).resolve().parent.parent / "benchmarks" / "nvml_probe.py"
    main = runpy.run_path(str(script))["main"]
    assert main(["--seconds", "0.25", "--hz", "20", "--smi", str(smi)]) == 0
    out = capsys.readouterr().out
    assert "gpu_clock_event_reasons -> 0x24 ['SwPowerCap', 'SwThermalSlowdown']" in out
    assert "power.draw smi 310.12 / nvml 312.456" in out
    assert "|nvml - smi| GPU 0 clocks.sm: mean 0, max 0" in out


def test_benchmark_script_reports_unavailable(fake_nvml, capsys):
    import runpy
    fake_nvml([], init_error=LIBRARY_NOT_FOUND)
    script = Path(__file__).resolve().parent.parent / "benchmarks" / "nvml_probe.py"
    assert runpy.run_path(str(script))["main"](["--seconds", "0.1", "--smi", ""]) == 1
    assert "nvmlInit failed" in capsys.readouterr().out


def test_jetson_without_libnvidia_ml_steps_aside(fake_nvml, jetson_platform):
    fake_nvml([], init_error=LIBRARY_NOT_FOUND)          # JetPack 4/5: no libnvidia-ml at all
    _, status = probed(platform=jetson_platform)
    assert not status.available
    assert status.reason == ("NVML not usable on this Jetson (nvmlInit: NVML Shared Library Not Found); "
                             "the Jetson sysfs readers are used instead")


def test_the_energy_counter_is_read_once_a_second(fake_nvml, monkeypatch):
    """Its query took ~3 ms on an H200 (the others 2-9 us): at 10 Hz the monitor would spend 3 % of a
    core on a counter. Between its reads the metric is absent, never a stale value."""
    import edgemon.telemetry.nvml as nvml_mod

    fake_nvml([FakeGpu("A")])
    clock = [100.0]
    monkeypatch.setattr(nvml_mod, "time", types.SimpleNamespace(monotonic=lambda: clock[0]))
    src, status = probed()
    assert status.available
    seen = []
    for _ in range(20):                     # 2.5 s at 8 Hz (steps exact in binary)
        seen.append("gpu_energy_mj" in src.read())
        clock[0] += 0.125
    assert [i for i, read in enumerate(seen) if read] == [0, 8, 16]
    assert all("gpu_power_mw" in src.read() for _ in range(3))    # the others every read


def test_the_highest_sm_clock_is_the_gpu_clock_ceiling(fake_nvml):
    """The throttling analysis compares gpu_freq_mhz with its ceiling; without one it takes the
    highest clock seen (and says so), which a GPU throttled all session long never shows."""
    from edgemon.telemetry.limits import clock_ceilings

    fake_nvml([FakeGpu("A", max_sm=1980), FakeGpu("B", max_sm=2100)])
    src, status = probed()
    assert status.available
    assert clock_ceilings([src]) == {"gpu_freq_mhz": 1980.0, "gpu1_freq_mhz": 2100.0}
