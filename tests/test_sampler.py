"""The sampler: merge order, failing sources, fixed-delay scheduling that never piles up."""

from __future__ import annotations

import threading
import time

import pytest

from edgemon.datatypes import Sample
from edgemon.telemetry.base import Source, SourceContext, SourceStatus
from edgemon.telemetry.sampler import Sampler

CTX = SourceContext()


class Const(Source):
    def __init__(self, name: str, values: dict[str, float]):
        super().__init__(CTX)
        self.name = name
        self.values = values
        self.closed = 0
        self.reads = 0

    def probe(self) -> SourceStatus:
        return SourceStatus(self.name, True)

    def read(self) -> dict[str, float]:
        self.reads += 1
        return dict(self.values)

    def close(self) -> None:
        self.closed += 1


class Failing(Const):
    """Fails on the reads whose (1-based) numbers are in ``fail_on`` (all when None)."""

    def __init__(self, name: str, fail_on: set[int] | None = None):
        super().__init__(name, {"flaky": 1.0})
        self.fail_on = fail_on

    def read(self) -> dict[str, float]:
        self.reads += 1
        if self.fail_on is None or self.reads in self.fail_on:
            raise OSError(5, "Input/output error")
        return dict(self.values)


class Slow(Const):
    def __init__(self, seconds: float):
        super().__init__("slow", {"slow": 1.0})
        self.seconds = seconds

    def read(self) -> dict[str, float]:
        time.sleep(self.seconds)
        return super().read()


def test_first_source_wins_on_a_shared_key():
    sysfs = Const("sysfs", {"gpu_freq_mhz": 921.6, "temp_cpu_c": 40.0})
    tegrastats = Const("tegrastats", {"gpu_freq_mhz": 921.0, "ram_used_mb": 1000.0})
    got: list[Sample] = []
    sampler = Sampler([sysfs, tegrastats], 10, got.append)
    sample = sampler.tick()
    assert got == [sample]
    assert sample.values == {"gpu_freq_mhz": 921.6, "temp_cpu_c": 40.0, "ram_used_mb": 1000.0}


def test_failing_source_is_disabled_with_a_reason_and_others_keep_going():
    good = Const("good", {"load1": 0.5})
    bad = Failing("bad")
    reported: list[SourceStatus] = []
    sampler = Sampler([bad, good], 10, lambda s: None, on_status=reported.append, max_failures=3)
    for _ in range(6):
        assert sampler.tick().values == {"load1": 0.5}
    assert bad.reads == 3                         # not read after being disabled
    assert bad.closed == 1
    assert good.reads == 6
    assert len(reported) == 1
    assert reported[0].name == "bad" and not reported[0].available
    assert "3 consecutive" in reported[0].reason and "OSError" in reported[0].reason
    by_name = {s.name: s for s in sampler.statuses()}
    assert by_name["good"].available and not by_name["bad"].available
    assert by_name["bad"].reason == reported[0].reason


def test_occasional_failures_do_not_disable():
    flaky = Failing("flaky", fail_on={1, 2, 4, 5, 7, 8})
    reported: list[SourceStatus] = []
    sampler = Sampler([flaky], 10, lambda s: None, on_status=reported.append, max_failures=3)
    for _ in range(9):
        sampler.tick()
    assert reported == []
    assert sampler.statuses()[0].available
    assert "6 errors" in sampler.statuses()[0].detail


def test_sink_errors_are_counted_and_sampling_goes_on():
    def sink(sample):
        raise RuntimeError("queue full")

    sampler = Sampler([Const("a", {"x": 1.0})], 10, sink)
    sampler.tick()
    sampler.tick()
    assert sampler.sink_errors == 2 and "queue full" in sampler.last_sink_error


def test_a_source_returning_garbage_counts_as_a_failure():
    class Garbage(Const):
        def read(self):
            return None

    reported: list[SourceStatus] = []
    sampler = Sampler([Garbage("garbage", {}), Const("ok", {"x": 1.0})], 10, lambda s: None,
                      on_status=reported.append, max_failures=2)
    for _ in range(3):
        assert sampler.tick().values == {"x": 1.0}
    assert [r.name for r in reported] == ["garbage"] and "TypeError" in reported[0].reason


def test_no_empty_samples():
    got: list[Sample] = []
    sampler = Sampler([Const("quiet", {})], 10, got.append)
    assert sampler.tick() is None and got == []


def test_costs_and_duplicate_names():
    a, b = Const("same", {"x": 1.0}), Const("same", {"y": 2.0})
    sampler = Sampler([a, b], 10, lambda s: None)
    assert sampler.costs() == {}
    sampler.tick()
    costs = sampler.costs()
    assert sorted(costs) == ["same", "same#2"]
    assert all(c >= 0 for c in costs.values())


def test_rate_must_be_positive():
    with pytest.raises(ValueError):
        Sampler([], 0, lambda s: None)


def test_thread_delivers_samples_and_stop_joins_and_closes():
    src = Const("c", {"x": 1.0})
    got: list[Sample] = []
    enough = threading.Event()

    def sink(sample):
        got.append(sample)
        if len(got) >= 3:
            enough.set()

    sampler = Sampler([src], 200, sink)
    sampler.start()
    assert enough.wait(10), "sampler delivered fewer than 3 samples in 10 s"
    sampler.stop()
    assert not sampler.running
    assert src.closed == 1
    n = len(got)
    time.sleep(0.02)
    assert len(got) == n                          # nothing after stop
    assert all(a.t_ns < b.t_ns for a, b in zip(got, got[1:]))
    assert sampler.stats().ticks == n


def test_slow_source_does_not_pile_up_ticks():
    period_s, sleep_s = 0.01, 0.03                # each read takes 3 periods
    slow = Slow(sleep_s)
    got: list[Sample] = []
    enough = threading.Event()

    def sink(sample):
        got.append(sample)
        if len(got) >= 6:
            enough.set()

    sampler = Sampler([slow], 1 / period_s, sink)
    sampler.start()
    assert enough.wait(20), "sampler delivered fewer than 6 samples in 20 s"
    sampler.stop()
    stats = sampler.stats()
    # Every tick sleeps sleep_s, so no more ticks than fit into the elapsed time back to back.
    assert stats.ticks <= stats.elapsed_ns / (sleep_s * 1e9) + 1
    assert stats.overruns >= stats.ticks - 1      # each slow tick missed at least one deadline
    # After an overrun the next tick waits a full period: no burst of catch-up ticks.
    gaps = [(b.t_ns - a.t_ns) / 1e9 for a, b in zip(got, got[1:])]
    assert min(gaps) >= sleep_s + period_s * 0.5


def test_a_slow_source_is_read_at_its_own_pace_and_its_metrics_are_absent_between(monkeypatch):
    import types

    import edgemon.telemetry.sampler as sampler_mod

    now = [10**12]
    monkeypatch.setattr(sampler_mod, "time", types.SimpleNamespace(
        monotonic_ns=lambda: now[0], perf_counter_ns=time.perf_counter_ns, thread_time_ns=time.thread_time_ns))
    fast = Const("fast", {"cpu_util_pct": 5.0})
    slow = Const("meminfo", {"ram_used_mb": 100.0})
    slow.every_s = 0.5
    later = Const("tegrastats", {"ram_used_mb": 999.0, "gpu_util_pct": 7.0})  # the same metric, read every tick
    got: list[Sample] = []
    s = Sampler([fast, slow, later], 10.0, got.append)
    for _ in range(20):
        s.tick()
        now[0] += 100_000_000 + 3_000_000 * (len(got) % 2)     # ticks a little late now and then
    assert fast.reads == later.reads == 20
    assert slow.reads == 4                                     # every fifth tick of 100 ms, no drift
    with_ram = [k for k, sample in enumerate(got) if "ram_used_mb" in sample.values]
    assert with_ram == [0, 5, 10, 15]
    assert all(got[k].values["ram_used_mb"] == 100.0 for k in with_ram)   # never the later source's value
    assert all(sample.values["gpu_util_pct"] == 7.0 for sample in got)


def test_the_slow_sources_of_this_project_say_so():
    from edgemon.telemetry.loadavg import LoadAvgSource
    from edgemon.telemetry.memory import MemorySource
    from edgemon.telemetry.procstat import ProcStatSource

    assert LoadAvgSource.every_s == 1.0 and MemorySource.every_s == 0.5
    assert ProcStatSource.every_s is None        # CPU load is read at every tick
    from edgemon.telemetry.process import ProcessSource

    assert ProcessSource.every_s == 0.5          # /proc/PID/stat counts 10 ms ticks: 2 % steps at 2 Hz


class Split(Const):
    """Captures a counter at the tick; decodes it later (raising on the decodes in ``bad``)."""

    def __init__(self, name: str, bad: set[int] = frozenset()):
        super().__init__(name, {})
        self.bad = bad
        self.captures = 0
        self.decoded: list[int] = []

    def read(self):
        return self.decode(self.capture())

    def capture(self):
        self.captures += 1
        return self.captures

    def decode(self, captured):
        self.decoded.append(captured)
        if captured in self.bad:
            raise ValueError(f"bad capture {captured}")
        return {"n": float(captured)}


def test_captures_are_decoded_in_order_and_a_source_disabled_midway_is_not_decoded_again():
    src = Split("split", bad={2, 3, 4})
    got: list[Sample] = []
    reported: list[SourceStatus] = []
    sampler = Sampler([src, Const("other", {"x": 1.0})], 10, got.append, on_status=reported.append,
                      max_failures=3)
    for _ in range(6):
        sampler._capture()                      # what the thread does between deliveries
    assert got == [] and src.decoded == []      # nothing decoded or handed on at the tick itself
    sampler._deliver()
    # decoded in capture order; after the third failure in a row (capture 4) it is disabled and
    # the captures 5 and 6 of the same batch are dropped, not decoded
    assert src.decoded == [1, 2, 3, 4]
    assert [r.name for r in reported] == ["split"] and "ValueError: bad capture 4" in reported[0].reason
    assert [s.values.get("n") for s in got] == [1.0, None, None, None, None, None]
    assert all(s.values["x"] == 1.0 for s in got)
    assert [s.t_ns for s in got] == sorted(s.t_ns for s in got) and len({s.t_ns for s in got}) == 6


def test_a_capture_that_raises_is_judged_in_order_with_the_decodes():
    class CaptureFails(Split):
        def capture(self):
            n = super().capture()
            if n in (1, 3):
                raise OSError(5, "Input/output error")
            return n

    src = CaptureFails("cf", bad={2})
    sampler = Sampler([src], 10, lambda s: None, max_failures=3)
    for _ in range(4):
        sampler._capture()
    sampler._deliver()
    # capture 1 failed, 2 decoded badly, 3 failed: three in a row disable it; 4 is never decoded
    assert src.decoded == [2]
    assert not sampler.statuses()[0].available and "OSError" in sampler.statuses()[0].reason


def test_the_thread_hands_samples_on_in_batches_and_the_rest_at_stop():
    src = Split("split")
    arrivals: list[tuple[Sample, int]] = []
    sampler = Sampler([src], 20, lambda s: arrivals.append((s, time.monotonic_ns())))
    assert sampler.batch_ticks == 10            # half a second of ticks at 20 Hz
    sampler.start()
    deadline = time.monotonic() + 10
    while len(arrivals) < 10 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.12)                            # a few ticks more, not yet a whole batch
    sampler.stop()
    samples = [s for s, _ in arrivals]
    assert len(samples) == sampler.stats().ticks >= 11   # the ticks after the last batch came at stop
    assert [s.values["n"] for s in samples] == [float(k) for k in range(1, len(samples) + 1)]
    # the first sample was handed on no earlier than the tenth tick: the batch waited for it
    assert arrivals[0][1] >= samples[9].t_ns
    assert [a for _, a in arrivals[:10]] == sorted(a for _, a in arrivals[:10])


def test_one_tick_a_second_is_handed_on_at_once():
    assert Sampler([], 1, lambda s: None).batch_ticks == 1
    assert Sampler([], 2, lambda s: None).batch_ticks == 1
    assert Sampler([], 10, lambda s: None).batch_ticks == 5
