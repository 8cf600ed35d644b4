"""The Prometheus exporter: real HTTP on 127.0.0.1, scraped with urllib, parsed with prometheus_client's parser."""

from __future__ import annotations

import socket
import sys
import time
import urllib.request

import numpy as np
import pytest

from edgemon.datatypes import Event, LatencyBatch, Sample
from edgemon.errors import UserError
from edgemon.prometheus import exporter as prom
from edgemon.prometheus.exporter import PrometheusExporter
from edgemon.prometheus.listen import parse_listen_address, require_prometheus_client
from edgemon.prometheus.names import series_name

parser = pytest.importorskip("prometheus_client.parser")

META = {
    "host": "nano-01",
    "platform": {"kind": "jetson", "model": "NVIDIA Jetson Nano Developer Kit", "l4t_release": "32.7.1"},
    "workload": {"runner": "numpy", "model": "mnist_1d", "batch": 4},
    "emulated": True,
    "emulated_board": "nano",
    "edgemon_version": "0.1.0",
    "record_path": "/somewhere/recordings/20260101-100000-nano-01-numpy-mnist_1d",
    "restore": {"power_mode_name": "MAXN", "power_mode_id": 0},
}
LABELS = {"host": "nano-01", "board": "NVIDIA Jetson Nano Developer Kit", "runner": "numpy", "model": "mnist_1d",
          "session": "20260101-100000-nano-01-numpy-mnist_1d", "emulated": "true"}


def scrape(ex: PrometheusExporter) -> dict[str, list]:
    """``{sample name: [(labels, value), ...]}`` from one real scrape."""
    assert ex.host == "127.0.0.1"
    with urllib.request.urlopen(f"http://127.0.0.1:{ex.port}/metrics", timeout=10) as resp:
        text = resp.read().decode("utf-8")
    out: dict[str, list] = {}
    for family in parser.text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def one(samples: dict, name: str, **labels) -> float:
    hits = [v for lab, v in samples.get(name, []) if all(lab.get(k) == str(w) for k, w in labels.items())]
    assert len(hits) == 1, (name, labels, samples.get(name))
    return hits[0]


@pytest.fixture
def exporter():
    ex = PrometheusExporter(0, "127.0.0.1", META).start()
    yield ex
    ex.close()


# ---------------------------------------------------------------------------- names and addresses

@pytest.mark.parametrize("metric, name, labels, scale", [
    ("cpu0_freq_mhz", "edgemon_cpu_freq_hertz", {"cpu": "0"}, 1e6),
    ("cpu11_util_pct", "edgemon_cpu_util_ratio", {"cpu": "11"}, 0.01),
    ("cpu3_online", "edgemon_cpu_online", {"cpu": "3"}, 1.0),
    ("cpu_util_pct", "edgemon_cpu_util_mean_ratio", {}, 0.01),
    ("ram_used_mb", "edgemon_ram_used_bytes", {}, 1048576.0),
    ("iram_used_kb", "edgemon_iram_used_bytes", {}, 1024.0),
    ("temp_soc012_c", "edgemon_temperature_celsius", {"zone": "soc012"}, 1.0),
    ("power_vdd_in_mw", "edgemon_power_watts", {"rail": "vdd_in"}, 1e-3),
    ("power_vdd_in_avg_mw", "edgemon_power_average_watts", {"rail": "vdd_in"}, 1e-3),
    ("power_total_mw", "edgemon_power_total_watts", {}, 1e-3),
    ("gpu_util_pct", "edgemon_gpu_util_ratio", {}, 0.01),
    ("gpu_gpc1_freq_mhz", "edgemon_gpu_gpc_freq_hertz", {"gpc": "1"}, 1e6),
    ("engine_nvdec_freq_mhz", "edgemon_engine_freq_hertz", {"engine": "nvdec"}, 1e6),
    ("engine_mts_bg_util_pct", "edgemon_engine_util_ratio", {"engine": "mts_bg"}, 0.01),
    ("fan0_pwm_pct", "edgemon_fan_pwm_ratio", {"fan": "0"}, 0.01),
    ("fan1_rpm", "edgemon_fan_rpm", {"fan": "1"}, 1.0),
    ("load1", "edgemon_load1", {}, 1.0),
    ("gpu_clock_event_reasons", "edgemon_gpu_clock_event_reasons", {}, 1.0),
    ("proc_worker_rss_mb", "edgemon_proc_worker_rss_bytes", {}, 1048576.0),
    ("weird-name.x", "edgemon_weird_name_x", {}, 1.0),
])
def test_metric_names_follow_prometheus_conventions(metric, name, labels, scale):
    s = series_name(metric)
    assert (s.name, dict(s.labels), s.scale) == (name, labels, scale)


@pytest.mark.parametrize("text, expected", [
    ("9400", ("127.0.0.1", 9400)),
    (":9400", ("0.0.0.0", 9400)),
    ("0.0.0.0:9400", ("0.0.0.0", 9400)),
    ("192.168.1.20:9100", ("192.168.1.20", 9100)),
    ("[::1]:9400", ("::1", 9400)),
    ("0", ("127.0.0.1", 0)),
])
def test_listen_address(text, expected):
    assert parse_listen_address(text) == expected


@pytest.mark.parametrize("text, message", [
    ("abc", "expects PORT or HOST:PORT"),
    ("host:", "expects PORT or HOST:PORT"),
    ("70000", "out of range"),
    ("::1:9400", "IPv6 address in brackets"),
    ("[::1]9400", "expects PORT or HOST:PORT"),
])
def test_bad_listen_address_is_one_line(text, message):
    with pytest.raises(UserError, match=message) as info:
        parse_listen_address(text)
    assert "\n" not in str(info.value)


# ---------------------------------------------------------------------------- scraping

def test_telemetry_gauges_in_base_units_with_session_labels(exporter):
    now = time.monotonic_ns()
    exporter.on_sample(Sample(now, {"cpu0_freq_mhz": 1479.0, "cpu1_freq_mhz": 921.6, "temp_cpu_c": 41.5,
                                    "power_vdd_in_mw": 5120.0, "ram_used_mb": 1500.0, "cpu_util_pct": 37.0}))
    s = scrape(exporter)
    assert one(s, "edgemon_cpu_freq_hertz", cpu=0) == pytest.approx(1479.0e6)
    assert one(s, "edgemon_cpu_freq_hertz", cpu=1) == pytest.approx(921.6e6)
    assert one(s, "edgemon_temperature_celsius", zone="cpu") == pytest.approx(41.5)
    assert one(s, "edgemon_power_watts", rail="vdd_in") == pytest.approx(5.12)
    assert one(s, "edgemon_ram_used_bytes") == pytest.approx(1500.0 * 1024 * 1024)
    assert one(s, "edgemon_cpu_util_mean_ratio") == pytest.approx(0.37)
    # every series of every family carries the session's labels
    for name, rows in s.items():
        for labels, _ in rows:
            assert {k: labels.get(k) for k in LABELS} == LABELS, name
    # the latest reading of each metric wins; one absent from the samples between two reads of
    # its slow source (memory twice a second) stays, one not read for STALE_S (a core went
    # offline) disappears
    from edgemon.prometheus.exporter import STALE_NS

    exporter.on_sample(Sample(now + 100_000_000, {"cpu0_freq_mhz": 102.0, "cpu1_freq_mhz": 800.0,
                                                  "temp_cpu_c": 42.0, "power_vdd_in_mw": 5000.0}))
    s = scrape(exporter)
    assert one(s, "edgemon_cpu_freq_hertz", cpu=0) == pytest.approx(102.0e6)
    assert one(s, "edgemon_ram_used_bytes") == pytest.approx(1500.0 * 1024 * 1024)   # kept between reads
    later = now + 100_000_000 + STALE_NS
    exporter.on_sample(Sample(later, {"cpu0_freq_mhz": 103.0}))
    s = scrape(exporter)
    assert one(s, "edgemon_cpu_freq_hertz", cpu=0) == pytest.approx(103.0e6)
    assert one(s, "edgemon_cpu_freq_hertz", cpu=1) == pytest.approx(800.0e6)   # read STALE_S ago: kept
    assert "edgemon_ram_used_bytes" not in s and "edgemon_cpu_util_mean_ratio" not in s   # STALE_S + 0.1 s
    exporter.on_sample(Sample(later + 200_000_000, {"cpu0_freq_mhz": 104.0}))
    s = scrape(exporter)
    assert len(s["edgemon_cpu_freq_hertz"]) == 1 and "edgemon_temperature_celsius" not in s
    assert one(s, "edgemon_telemetry_age_seconds") >= 0


def test_latency_histogram_counters_and_window_match_numpy(exporter):
    rng = np.random.default_rng(7)
    now = time.monotonic_ns()
    warm = LatencyBatch.from_lists([now - 9_000_000_000] * 5, [400_000_000] * 5, [4] * 5, warmup=True)
    exporter.on_latency(warm)
    batches, durations = [], []
    for k in range(6):   # six 100 ms frames in the last second, like a runner's flushes
        d = rng.lognormal(np.log(3e6), 0.5, 200).astype(np.int64)
        t = now - (6 - k) * 100_000_000 + np.arange(200) * 400_000
        batches.append(LatencyBatch(t, d, np.full(200, 4, np.int32)))
        durations.append(d)
    for b in batches:
        exporter.on_latency(b)
    exporter.on_latency(LatencyBatch.from_lists([], [], []))
    d = np.concatenate(durations)
    s = scrape(exporter)

    # histogram: cumulative "<= le" counts of measured iterations only
    buckets = {float(lab["le"]): v for lab, v in s["edgemon_latency_seconds_bucket"]}
    assert len(buckets) == len(prom.DEFAULT_BUCKETS_S) + 1
    for le, count in buckets.items():
        assert count == np.count_nonzero(d <= le * 1e9), le
    assert one(s, "edgemon_latency_seconds_count") == d.size
    assert one(s, "edgemon_latency_seconds_sum") == pytest.approx(d.sum() / 1e9)

    # counters include warm-up (work done); items = iterations x batch
    assert one(s, "edgemon_iterations_total") == d.size + 5
    assert one(s, "edgemon_items_total") == 4 * (d.size + 5)
    assert one(s, "edgemon_warmup_iterations_total") == 5

    # live percentiles: edgemon's log histogram, within one bucket (~1.5 %) of nearest rank
    srt = np.sort(d)
    assert one(s, "edgemon_latency_window_iterations") == d.size
    for q in (0.5, 0.9, 0.99):
        exact = srt[int(np.ceil(q * d.size)) - 1] / 1e9
        assert one(s, "edgemon_latency_window_seconds", quantile=q) == pytest.approx(exact, rel=0.015)


def test_latency_older_than_the_window_leaves_the_percentiles(exporter):
    old = time.monotonic_ns() - 60_000_000_000
    exporter.on_latency(LatencyBatch.from_lists([old, old + 1], [2_000_000, 3_000_000], [1, 1]))
    s = scrape(exporter)
    assert one(s, "edgemon_latency_seconds_count") == 2          # all-session histogram keeps them
    assert "edgemon_latency_window_seconds" not in s                # the last 10 s have none


def test_events_counted_and_worker_state_follows_them(exporter):
    def state(s):
        current = [lab["state"] for lab, v in s["edgemon_worker_state"] if v == 1]
        assert len(current) == 1 and len(s["edgemon_worker_state"]) == len(prom.STATES)
        return current[0]

    t = time.monotonic_ns()
    assert state(scrape(exporter)) == "starting"
    steps = [
        (Event(t, "session_start", {}), "starting"),
        (Event(t, "worker_hello", {"framework": "numpy", "framework_version": "2.4"}), "running"),
        (Event(t, "pause", {}), "paused"),
        (Event(t, "resume", {}), "running"),
        (Event(t, "worker_hung", {"silent_s": 31}), "hung"),
        # the hung worker killed for a restart: its exit is not the end
        (Event(t, "worker_crashed", {"replaced": True, "signal_name": "SIGKILL"}), "hung"),
        (Event(t, "worker_restarted", {"restarts": 1}), "running"),
        (Event(t, "power_mode", {"ok": True, "to_id": 1, "name": "5W"}), "running"),
        (Event(t, "worker_crashed", {"signal_name": "SIGSEGV"}), "crashed"),
        (Event(t, "session_end", {"state": "crashed"}), "crashed"),
    ]
    for event, expected in steps:
        exporter.on_event(event)
        assert state(scrape(exporter)) == expected, event.kind
    s = scrape(exporter)
    assert one(s, "edgemon_events_total", kind="worker_crashed") == 2
    assert one(s, "edgemon_events_total", kind="pause") == 1
    assert one(s, "edgemon_power_mode_info", id=1, mode="5W") == 1
    assert one(s, "edgemon_session_info", framework="numpy", l4t="32.7.1", batch=4) == 1
    start = one(s, "edgemon_session_start_time_seconds")
    assert abs(start - time.time()) < 3600   # unix time, not the monotonic clock


def test_each_workload_of_a_suite_gets_its_own_series(exporter):
    t = time.monotonic_ns()
    exporter.on_event(Event(t, "worker_hello", {"runner": "numpy", "model": "mnist_1d"}))
    exporter.on_latency(LatencyBatch.from_lists([t - 2_000_000, t], [1_000_000, 1_000_000], [4, 4]))
    exporter.on_event(Event(t, "worker_exit", {}))
    exporter.on_event(Event(t, "worker_hello", {"runner": "torch", "model": "resnet18"}))
    exporter.on_latency(LatencyBatch.from_lists([t], [30_000_000], [1]))
    exporter.on_sample(Sample(t, {"gpu_util_pct": 90.0}))
    s = scrape(exporter)
    assert one(s, "edgemon_latency_seconds_count", model="mnist_1d") == 2
    assert one(s, "edgemon_latency_seconds_count", model="resnet18", runner="torch") == 1
    assert one(s, "edgemon_items_total", model="mnist_1d") == 8
    assert one(s, "edgemon_events_total", model="resnet18", kind="worker_hello") == 1
    # gauges carry the current workload's labels; the live window is the current workload's only
    assert one(s, "edgemon_gpu_util_ratio", model="resnet18") == pytest.approx(0.9)
    assert one(s, "edgemon_latency_window_iterations", model="resnet18") == 1
    assert exporter.labels["model"] == "resnet18"


def test_a_clean_end(exporter):
    t = time.monotonic_ns()
    for kind in ("session_start", "worker_hello", "worker_exit", "session_end"):
        exporter.on_event(Event(t, kind, {"state": "ended"} if kind == "session_end" else {}))
    s = scrape(exporter)
    assert [lab["state"] for lab, v in s["edgemon_worker_state"] if v == 1] == ["ended"]


def test_bad_input_is_counted_never_raised(exporter):
    exporter.on_sample(Sample(1, {"x": "not a number"}))            # type: ignore[dict-item]  # wrong on purpose
    exporter.on_latency(object())                                   # type: ignore[arg-type]  # wrong on purpose
    exporter.on_event(None)                                         # type: ignore[arg-type]  # wrong on purpose
    assert exporter.callback_errors == 3
    assert one(scrape(exporter), "edgemon_exporter_errors_total") == 3


# ---------------------------------------------------------------------------- errors and life cycle

def test_port_in_use_is_a_one_line_user_error():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        ex = PrometheusExporter(port, "127.0.0.1", META)
        with pytest.raises(UserError, match=f"port {port} on 127.0.0.1 is already in use") as info:
            ex.start()
        assert "\n" not in str(info.value)
        ex.close()


def test_missing_prometheus_client_names_the_extra(monkeypatch):
    for name in [m for m in sys.modules if m == "prometheus_client" or m.startswith("prometheus_client.")]:
        monkeypatch.setitem(sys.modules, name, None)   # None in sys.modules: import raises ImportError
    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    with pytest.raises(UserError) as info:
        PrometheusExporter(0, "127.0.0.1", META).start()
    from edgemon.install_hint import install_hint

    assert str(info.value) == f"--prometheus needs prometheus_client: {install_hint('prometheus')}"
    assert "edgemon[prometheus]'" not in str(info.value), "edgemon is not on the package index"
    with pytest.raises(UserError, match="needs prometheus_client"):
        require_prometheus_client()


def test_too_old_prometheus_client_says_so(monkeypatch):
    import importlib.metadata

    real = importlib.metadata.version
    monkeypatch.setattr(importlib.metadata, "version",
                        lambda name: "0.16.0" if name == "prometheus_client" else real(name))
    with pytest.raises(UserError, match=r"needs prometheus_client 0\.20 or newer \(found 0\.16\)"):
        PrometheusExporter(0, "127.0.0.1", META).start()


def test_close_frees_the_port_and_is_idempotent():
    ex = PrometheusExporter(0, "127.0.0.1", META).start()
    port = ex.port
    assert port > 0 and ex.url == f"http://127.0.0.1:{port}/metrics"
    assert "edgemon_worker_state" in scrape(ex)
    with pytest.raises(UserError, match="already in use"):   # a second session on the same port
        PrometheusExporter(port, "127.0.0.1", META).start()
    ex.close()
    ex.close()
    again = PrometheusExporter(port, "127.0.0.1", META).start()   # the next session may take the port
    try:
        assert again.port == port and "edgemon_worker_state" in scrape(again)
    finally:
        again.close()


def test_exporter_from_option_and_labels_without_a_recording():
    ex = prom.exporter_from_option("0", {"host": "h", "workload": {"runner": "numpy", "model": "m"}},
                                   session="custom")
    assert (ex.host, ex.port) == ("127.0.0.1", 0)
    assert ex.labels == {"host": "h", "board": "", "runner": "numpy", "model": "m", "session": "custom",
                         "emulated": "false"}


def test_module_import_is_light():
    import subprocess

    code = ("import sys; import edgemon.prometheus.exporter; "
            "print(' '.join(m for m in ('numpy', 'prometheus_client', 'pyarrow') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""
