"""Live metrics for an existing Prometheus + Grafana: ``edgemon run --prometheus [HOST:]PORT``.

:class:`PrometheusExporter` is a subscriber like the recorder: the session hands it every
Sample, LatencyBatch and Event (``on_sample``/``on_latency``/``on_event``, called from the
sampler and worker-reader threads). Those calls only update in-memory state under a short
lock (latency: one ``searchsorted`` + ``bincount`` per batch, no per-row Python) and never
raise. A scrape (prometheus_client's HTTP server, its own thread) copies that state under
the same lock and builds the exposition outside it, so a slow scraper never holds up the
sampler. Memory is fixed: each metric's latest reading, fixed bucket arrays, counters per event kind.

Names follow Prometheus conventions (base units, ``_total`` counters, labels instead of
numbers in names; :mod:`edgemon.prometheus.names`); docs/fleet.md lists them. Besides the
latest sample: the latency histogram (classic buckets fine enough for ``histogram_quantile``
to land within 15 % of the true quantile, see :data:`DEFAULT_BUCKETS_S`), the clock ceilings
of the power mode in force, the throttling state from the session's ``throttle_begin`` /
``throttle_end`` events (the online classifier: the dashboard's rule), the energy integrated
at the sample rate (a scrape every 15 s cannot average a power gauge into energy), and the
free space where the session records. Every series carries the session's labels
host, board, runner, model, session (recording folder name) and emulated; runner and model
follow the worker's hello, so each workload of a suite has its own histogram and counters.

prometheus_client is an optional extra (``pip install -e '.[prometheus]'`` in a checkout), imported only
when the exporter starts; this module itself imports nothing heavy.
"""

from __future__ import annotations

import math
import os
import re
import threading
import time
from typing import Any, Iterable

from edgemon.prometheus.listen import DEFAULT_HOST, bind_error, parse_listen_address, require_prometheus_client
from edgemon.prometheus.names import STATIC_LABELS, series_name, static_labels, unit_note

# Latency histogram buckets in seconds: 17 per decade from 1 us to 100 s, each bound 14.5 %
# above the one before (137 buckets). histogram_quantile() interpolates inside the bucket that
# holds the true quantile, so its answer can be off by at most one bucket's width: under 15 %,
# for any distribution, from a 30-us batch-1 MLP to a 100-ms detector. Native histograms
# would do this in one series, but prometheus_client writes them only in OpenMetrics 2.0 text,
# which no released Prometheus server reads (2.x takes them over protobuf only), so these
# are classic buckets. The live percentiles over the last seconds (within ~1.5 %) are the
# edgemon_latency_window_seconds summary.
BUCKETS_PER_DECADE = 17
DEFAULT_BUCKETS_S: tuple[float, ...] = tuple(
    float(f"{10.0 ** (k / BUCKETS_PER_DECADE - 6):.4g}") for k in range(8 * BUCKETS_PER_DECADE + 1))

WINDOW_S = 10.0
# A metric missing from the samples this long is gone (an offlined core, a source that stopped);
# shorter gaps are a slow source's rhythm (docs/metrics.md "How often": at most once a second).
STALE_S = 3.0
STALE_NS = int(STALE_S * 1e9)
WINDOW_QUANTILES = (0.5, 0.9, 0.99)

# The worker's state as the events tell it (kube-state-metrics style: one series per state, 1 = current).
STATES = ("starting", "running", "paused", "hung", "ended", "crashed")
_STATE_BY_EVENT = {
    "session_start": "starting",
    "worker_hello": "running",
    "pause": "paused",
    "resume": "running",
    "worker_hung": "hung",
    "worker_restarted": "running",
    "worker_crashed": "crashed",
    "worker_exit": "ended",
}
_MAX_EVENT_KINDS = 64   # runners may invent kinds; beyond this many they count as "other"
POWER_TOTAL = "power_total_mw"
MAX_ENERGY_GAP_S = 5.0  # power is not integrated across a longer gap between samples (a stalled sampler)
CLOCK_DOMAINS = (("cpu", re.compile(r"^cpu\d+_freq_mhz$")), ("gpu", re.compile(r"^gpu_freq_mhz$")),
                 ("emc", re.compile(r"^emc_freq_mhz$")))
_MAX_WORKLOADS = 64     # workloads of a suite with their own series; more are counted with the last


# ---------------------------------------------------------------------------- exporter

class PrometheusExporter:
    """Serves one session's live metrics on ``http://host:port/metrics``.

    ``start()`` binds (UserError when prometheus_client is missing or the port cannot be used)
    and returns self; ``close()`` stops serving (idempotent). ``port`` 0 picks a free port:
    read :attr:`port` after ``start()``.
    """

    def __init__(
        self,
        port: int,
        host: str = DEFAULT_HOST,
        meta: dict[str, Any] | None = None,
        *,
        session: str | None = None,
        buckets_s: Iterable[float] = DEFAULT_BUCKETS_S,
        window_s: float = WINDOW_S,
    ):
        import numpy as np

        from edgemon.view.histogram import WindowedHistogram

        # A reference, not a copy: the session adds the power mode it found (restore) and the
        # runner's hello to its meta after the exporter starts; scrapes read them from here.
        self._meta = meta if meta is not None else {}
        self.host = host
        self.port = int(port)
        labels = static_labels(self._meta, session)
        self.buckets_s = tuple(sorted(float(b) for b in buckets_s))
        if not self.buckets_s or not all(b > 0 and math.isfinite(b) for b in self.buckets_s):
            raise ValueError("buckets_s must be positive, finite upper bounds")
        self._bounds_ns = np.asarray(self.buckets_s, dtype=np.float64) * 1e9
        self.window_s = float(window_s)
        self.callback_errors = 0          # on_* calls that failed (never raised into the session)

        self._lock = threading.Lock()
        self._values: dict[str, float] = {}
        self._seen_ns: dict[str, int] = {}    # metric -> time of the sample that last had it
        self._sample_t_ns: int | None = None
        # Counters and histograms per workload: a suite (profile) runs several models in one
        # session, and one model's latency must not mix into another's series.
        self._workloads: dict[tuple[str, str], _Workload] = {}
        self._current = self._workload(labels)
        self._window = WindowedHistogram(self.window_s)       # the current workload's last seconds
        self._state = "starting"
        self._power_mode: tuple[str, str] | None = None     # from power_mode events; else meta["restore"]
        self._hello: dict[str, Any] = {}                     # from the worker_hello event; else meta
        self._start_unix_s: float | None = None
        self._ceilings: dict[str, float] | None = None       # from power_mode events; else meta
        self._throttled: dict[str, dict[str, Any]] = {}      # open episodes by domain (throttle_begin details)
        self._throttled_s: dict[str, float] = {}             # closed episodes' seconds, by domain
        self._episodes: dict[tuple[str, str], int] = {}      # ended episodes by (domain, final cause)
        self._last_power: tuple[int, float] | None = None    # (t_ns, mW) of the latest sample with power
        self._server: Any = None     # prometheus_client's WSGI server once started
        self._thread: threading.Thread | None = None
        self._closed = False

    def _workload(self, labels: dict[str, str]) -> "_Workload":
        key = (labels["runner"], labels["model"])
        if key not in self._workloads:
            if len(self._workloads) >= _MAX_WORKLOADS:
                return self._current
            self._workloads[key] = _Workload(labels, len(self.buckets_s) + 1)
        return self._workloads[key]

    @property
    def labels(self) -> dict[str, str]:
        """The labels of the current workload's series (host, board, runner, model, session, emulated)."""
        return dict(self._current.labels)

    # ------------------------------------------------------------ life cycle
    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    def start(self) -> "PrometheusExporter":
        require_prometheus_client()
        from prometheus_client import CollectorRegistry
        from prometheus_client.exposition import start_http_server

        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Collector(self))
        try:
            server, thread = start_http_server(self.port, addr=self.host, registry=registry)
        except OSError as exc:
            raise bind_error(exc, self.host, self.port) from None
        self._server, self._thread = server, thread
        self.port = int(server.server_address[1])
        if self._start_unix_s is None:
            self._start_unix_s = time.time()
        return self

    def close(self) -> None:
        """Stop serving and free the port. Safe to call twice, and before start()."""
        if self._closed:
            return
        self._closed = True
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5.0)

    def __enter__(self) -> "PrometheusExporter":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------ subscriber API (any thread, never raises)
    def on_sample(self, sample) -> None:
        try:
            fresh = {k: float(v) for k, v in sample.values.items()
                     if v is not None and math.isfinite(float(v))}
            t_ns = int(sample.t_ns)
            with self._lock:
                # Each metric's latest reading: a slow source's metric (memory twice a second)
                # is absent from the samples between its reads, so it is kept; one not read for
                # STALE_S (an offlined core, a source that stopped) vanishes.
                seen = self._seen_ns
                for k in fresh:
                    seen[k] = t_ns
                values = dict(self._values)
                values.update(fresh)
                for k in [k for k in values if k not in fresh and t_ns - seen.get(k, t_ns) > STALE_NS]:
                    del values[k], seen[k]
                self._values = values             # replaced, never mutated (a scrape shares it)
                self._sample_t_ns = t_ns
                power = values.get(POWER_TOTAL)
                if power is not None:
                    self._integrate(t_ns, power)
        except Exception:  # noqa: BLE001 - a subscriber never raises into the session; counted instead - the exporter must never disturb the sampler
            self.callback_errors += 1

    def _integrate(self, t_ns: int, power_mw: float) -> None:
        """Under the lock: the trapezoid from the previous power sample to this one, into the
        current workload's energy (every sample, not every scrape: the counter is exact to the
        sampled power however rarely Prometheus scrapes)."""
        last, self._last_power = self._last_power, (t_ns, power_mw)
        if last is None:
            return
        dt_s = (t_ns - last[0]) / 1e9
        if 0 < dt_s <= MAX_ENERGY_GAP_S:
            self._current.energy_j += (last[1] + power_mw) / 2.0 * dt_s / 1000.0

    def on_latency(self, batch) -> None:
        try:
            self._on_latency(batch)
        except Exception:  # noqa: BLE001 - a subscriber never raises into the session; counted instead - nor the worker's reader thread
            self.callback_errors += 1

    def _on_latency(self, batch) -> None:
        import numpy as np

        n = len(batch)
        if n == 0:
            return
        items = int(np.asarray(batch.items).sum(dtype=np.int64))
        if batch.warmup:   # warm-up counts as work done, not in the latency statistics
            with self._lock:
                w = self._current
                w.iterations += n
                w.items += items
                w.warmup_iterations += n
            return
        dur = np.asarray(batch.duration_ns, dtype=np.int64)
        # Prometheus buckets are "<= le": the first bound >= d; index len(bounds) is +Inf.
        counts = np.bincount(np.searchsorted(self._bounds_ns, dur, side="left"),
                             minlength=len(self.buckets_s) + 1)
        total = int(dur.sum())
        with self._lock:
            w = self._current
            w.bucket_counts += counts
            w.latency_sum_ns += total
            w.latency_count += n
            w.iterations += n
            w.items += items
            self._window.add(batch.t_end_ns, dur)

    def on_event(self, event) -> None:
        try:
            self._on_event(event)
        except Exception:  # noqa: BLE001 - a subscriber never raises into the session; counted instead
            self.callback_errors += 1

    def _on_event(self, event) -> None:
        kind = str(event.kind)
        details = event.details if isinstance(event.details, dict) else {}
        with self._lock:
            if kind == "worker_hello":   # a suite's next workload: its own series from here on
                labels = dict(self._current.labels)
                labels["runner"] = str(details.get("runner") or labels["runner"])
                labels["model"] = str(details.get("model") or labels["model"])
                workload = self._workload(labels)
                if workload is not self._current:
                    self._current = workload
                    self._window.reset()
                self._hello = dict(details)
            events = self._current.events
            if kind not in events and len(events) >= _MAX_EVENT_KINDS:
                kind = "other"
            events[kind] = events.get(kind, 0) + 1
            if kind == "session_start":
                self._start_unix_s = time.time() - (time.monotonic_ns() - int(event.t_ns)) / 1e9
            if kind == "session_end":
                self._state = "crashed" if details.get("state") == "crashed" or self._state == "crashed" else "ended"
            elif kind in _STATE_BY_EVENT and not details.get("replaced"):
                # a hung worker replaced by a new one: its exit is not the session's end
                self._state = _STATE_BY_EVENT[kind]
            if kind == "power_mode" and details.get("ok", True) and details.get("to_id") is not None:
                self._power_mode = (_label(details.get("to_id")), _label(details.get("name")))
                if isinstance(details.get("ceilings"), dict):
                    self._ceilings = _ceiling_values(details["ceilings"])
            if kind in ("throttle_begin", "throttle_end"):
                self._on_throttle(kind, details, int(event.t_ns))

    def _on_throttle(self, kind: str, details: dict[str, Any], t_ns: int) -> None:
        """Under the lock: an episode of the online classifier began or ended in one clock domain."""
        domain = str(details.get("domain") or "unknown")
        given = details.get("start_ns")
        start = given if isinstance(given, int) else t_ns
        if kind == "throttle_begin":
            self._throttled[domain] = {"cause": str(details.get("cause") or "unknown"),
                                       "clock": str(details.get("clock") or ""), "start_ns": start}
            return
        begun = self._throttled.pop(domain, None)
        if begun is not None:
            start = begun["start_ns"]
        given = details.get("end_ns")
        end = given if isinstance(given, int) else t_ns
        self._throttled_s[domain] = self._throttled_s.get(domain, 0.0) + max(0, end - start) / 1e9
        key = (domain, str(details.get("cause") or (begun or {}).get("cause") or "unknown"))
        self._episodes[key] = self._episodes.get(key, 0) + 1

    # ------------------------------------------------------------ scrape
    def snapshot(self) -> dict[str, Any]:
        """A consistent copy of the state (under the lock; the scrape formats it outside)."""
        now_ns = time.monotonic_ns()
        with self._lock:
            self._window.expire(now_ns)
            window = self._window.histogram()       # a fresh merged copy
            return {
                "values": self._values,             # replaced, never mutated: safe to share
                "sample_t_ns": self._sample_t_ns,
                "workloads": [w.copy() for w in self._workloads.values()],
                "labels": dict(self._current.labels),
                "state": self._state,
                "power_mode": self._power_mode or _meta_power_mode(self._meta),
                "info": _info(self._meta, self._hello),
                "start_unix_s": self._start_unix_s,
                "window": window,
                "now_ns": now_ns,
                "ceilings": dict(self._ceilings if self._ceilings is not None
                                 else _ceiling_values(self._meta.get("clock_ceilings"))),
                "throttled": {d: dict(v) for d, v in self._throttled.items()},
                "throttled_s": dict(self._throttled_s),
                "episodes": dict(self._episodes),
                "record_path": self._meta.get("record_path"),
            }


class _Workload:
    """What one workload (runner + model) of the session did: its latency histogram and counters."""

    def __init__(self, labels: dict[str, str], n_buckets: int):
        import numpy as np

        self.labels = dict(labels)
        self.bucket_counts = np.zeros(n_buckets, dtype=np.int64)   # last slot: +Inf
        self.latency_sum_ns = 0
        self.latency_count = 0
        self.iterations = 0
        self.items = 0
        self.warmup_iterations = 0
        self.energy_j = 0.0
        self.events: dict[str, int] = {}

    def copy(self) -> "_Workload":
        other = _Workload(self.labels, self.bucket_counts.size)
        other.bucket_counts = self.bucket_counts.copy()
        other.events = dict(self.events)
        for name in ("latency_sum_ns", "latency_count", "iterations", "items", "warmup_iterations", "energy_j"):
            setattr(other, name, getattr(self, name))
        return other


def _label(v: Any) -> str:
    return "" if v is None else str(v)


def _section(meta: dict[str, Any], key: str) -> dict[str, Any]:
    value = meta.get(key)
    return value if isinstance(value, dict) else {}


def _meta_power_mode(meta: dict[str, Any]) -> tuple[str, str] | None:
    """The power mode the session found at start (session.json "restore"), if it has one."""
    restore = _section(meta, "restore")
    if restore.get("power_mode_id") is None and not restore.get("power_mode_name"):
        return None
    return _label(restore.get("power_mode_id")), _label(restore.get("power_mode_name"))


def _ceiling_values(ceilings: Any) -> dict[str, float]:
    """``{clock metric: MHz}`` of a ``clock_ceilings`` dict, numbers only."""
    out: dict[str, float] = {}
    for metric, mhz in (ceilings.items() if isinstance(ceilings, dict) else ()):
        if isinstance(mhz, (int, float)) and not isinstance(mhz, bool) and math.isfinite(mhz) and mhz > 0:
            out[str(metric)] = float(mhz)
    return out


def _domains(values: dict[str, float], ceilings: dict[str, float]) -> list[str]:
    """Clock domains this machine has (a clock read now, or a ceiling known)."""
    names = list(values) + list(ceilings)
    return [d for d, rx in CLOCK_DOMAINS if any(rx.match(n) for n in names)]


def _disk(path: Any) -> tuple[float, float] | None:
    """(free bytes for an unprivileged writer, size) of the file system holding ``path``."""
    if not path:
        return None
    try:
        st = os.statvfs(str(path))
    except OSError:
        return None
    return float(st.f_bavail * st.f_frsize), float(st.f_blocks * st.f_frsize)


def _info(meta: dict[str, Any], hello: dict[str, Any]) -> dict[str, str]:
    hello = hello or _section(meta, "runner_hello")
    return {
        "l4t": _label(_section(meta, "platform").get("l4t_release")),
        "edgemon_version": _label(meta.get("edgemon_version")),
        "batch": _label(_section(meta, "workload").get("batch")),
        "framework": _label(hello.get("framework")),
        "framework_version": _label(hello.get("framework_version")),
        "session_id": _label(meta.get("session_id")),
    }


class _Collector:
    """prometheus_client custom collector: one snapshot per scrape, families built from it."""

    def __init__(self, exporter: PrometheusExporter):
        self.exporter = exporter

    def describe(self):
        return []   # no duplicate-name check against other collectors (we own the registry)

    def collect(self):
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
            Sample,
            SummaryMetricFamily,
        )

        ex = self.exporter
        snap = ex.snapshot()
        keys = list(STATIC_LABELS)
        base = [snap["labels"][k] for k in keys]     # gauges: the current workload's labels

        def gauge(name: str, doc: str, value: float, extra: dict[str, str] | None = None):
            extra = extra or {}
            g = GaugeMetricFamily(name, doc, labels=keys + list(extra))
            g.add_metric(base + list(extra.values()), value)
            return g

        # telemetry: the latest sample, grouped into families
        families: dict[str, tuple[list[str], str, dict[tuple[str, ...], float]]] = {}
        for metric, value in snap["values"].items():
            s = series_name(metric)
            label_names = [k for k, _ in s.labels]
            fam = families.get(s.name)
            if fam is None:
                fam = families[s.name] = (label_names, s.pattern, {})
            if fam[0] != label_names:
                continue   # a foreign name that maps onto a family with other labels: keep the family valid
            fam[2][tuple(v for _, v in s.labels)] = value * s.scale
        for name in sorted(families):
            label_names, pattern, rows = families[name]
            g = GaugeMetricFamily(name, f"edgemon telemetry {pattern}" + unit_note(name), labels=keys + label_names)
            for lv in sorted(rows):
                g.add_metric(base + list(lv), rows[lv])
            yield g
        if snap["sample_t_ns"] is not None:
            yield gauge("edgemon_telemetry_age_seconds", "time since the latest telemetry sample",
                        max(0.0, (snap["now_ns"] - snap["sample_t_ns"]) / 1e9))

        # latency (measured iterations; warm-up excluded) and counters: one series per workload
        workloads = snap["workloads"]
        h = HistogramMetricFamily("edgemon_latency_seconds",
                                  "per-iteration latency of measured (non-warm-up) iterations",
                                  labels=keys)
        for w in workloads:
            cum = w.bucket_counts.cumsum()
            buckets = [(_le(b), float(c)) for b, c in zip(ex.buckets_s, cum[:-1])] + [("+Inf", float(cum[-1]))]
            h.add_metric([w.labels[k] for k in keys], buckets, sum_value=w.latency_sum_ns / 1e9)
        yield h
        # A summary in the Go client's sense: quantiles over a sliding window (the last
        # window_s), _count and _sum cumulative. Only the current workload has a window.
        window = snap["window"]
        current = next((w for w in workloads if w.labels == snap["labels"]), None)
        summary = SummaryMetricFamily("edgemon_latency_window_seconds",
                                      f"latency quantiles over the last {ex.window_s:g} s of measured iterations "
                                      "(count and sum since the start)", labels=keys)
        if current is not None:
            summary.add_metric(base, count_value=float(current.latency_count), sum_value=current.latency_sum_ns / 1e9)
            if window.count:
                for q, v in zip(WINDOW_QUANTILES, window.percentiles([q * 100 for q in WINDOW_QUANTILES])):
                    summary.samples.append(Sample("edgemon_latency_window_seconds",
                                                  dict(zip(keys + ["quantile"], base + [_le(q)])), float(v) / 1e9))
            yield summary
        if window.count:
            yield gauge("edgemon_latency_window_iterations", f"measured iterations in the last {ex.window_s:g} s",
                        float(window.count))

        # throughput counters (rate() them)
        for name, doc, key in (
            ("edgemon_iterations", "inference iterations run (warm-up included)", "iterations"),
            ("edgemon_items", "items processed (iterations x batch; warm-up included)", "items"),
            ("edgemon_warmup_iterations", "warm-up iterations run", "warmup_iterations"),
        ):
            c = CounterMetricFamily(name, doc, labels=keys)
            for w in workloads:
                c.add_metric([w.labels[k] for k in keys], float(getattr(w, key)))
            yield c

        c = CounterMetricFamily("edgemon_energy_joules", "energy used while this workload ran: power_total_mw "
                                "integrated over every telemetry sample (trapezoid)", labels=keys)
        for w in workloads:
            c.add_metric([w.labels[k] for k in keys], w.energy_j)
        yield c

        yield from _ceiling_families(snap, keys, base)
        yield from _throttle_families(snap, keys, base)
        disk = _disk(snap["record_path"])
        if disk is not None:
            yield gauge("edgemon_recording_disk_free_bytes", "free space where the session records "
                        "(for an unprivileged writer)", disk[0])
            yield gauge("edgemon_recording_disk_size_bytes", "size of the file system the session records to",
                        disk[1])

        c = CounterMetricFamily("edgemon_events", "session events by kind", labels=keys + ["kind"])
        for w in workloads:
            for kind in sorted(w.events):
                c.add_metric([w.labels[k] for k in keys] + [kind], float(w.events[kind]))
        yield c

        g = GaugeMetricFamily("edgemon_worker_state", "1 for the worker's current state, 0 for the others",
                              labels=keys + ["state"])
        for state in STATES:
            g.add_metric(base + [state], 1.0 if snap["state"] == state else 0.0)
        yield g

        if snap["power_mode"] is not None:
            mode_id, mode_name = snap["power_mode"]
            yield gauge("edgemon_power_mode_info", "the Jetson power mode (nvpmodel) in force", 1.0,
                        {"id": mode_id, "mode": mode_name})
        yield gauge("edgemon_session_info", "static facts about the session", 1.0, snap["info"])
        if snap["start_unix_s"] is not None:
            yield gauge("edgemon_session_start_time_seconds", "when the session started, unix time",
                        snap["start_unix_s"])
        if ex.callback_errors:
            c = CounterMetricFamily("edgemon_exporter_errors", "samples/batches/events the exporter could not use",
                                    labels=keys)
            c.add_metric(base, float(ex.callback_errors))
            yield c


def _ceiling_families(snap: dict[str, Any], keys: list[str], base: list[str]):
    """The power mode's ceiling of each clock, as a family beside the clock's own with the same
    labels: ``edgemon_cpu_freq_ceiling_hertz{cpu="0"}`` beside ``edgemon_cpu_freq_hertz{cpu="0"}``,
    so ``edgemon_cpu_freq_hertz / edgemon_cpu_freq_ceiling_hertz`` is the clock's share of it."""
    from prometheus_client.core import GaugeMetricFamily

    families: dict[str, tuple[list[str], list[tuple[list[str], float]]]] = {}
    for metric, mhz in sorted(snap["ceilings"].items()):
        s = series_name(metric)
        if not s.name.endswith("_hertz"):
            continue
        name = s.name[: -len("_hertz")] + "_ceiling_hertz"
        label_names, rows = families.setdefault(name, ([k for k, _ in s.labels], []))
        if label_names == [k for k, _ in s.labels]:
            rows.append(([v for _, v in s.labels], mhz * 1e6))
    for name, (label_names, rows) in sorted(families.items()):
        g = GaugeMetricFamily(name, "the clock's ceiling in the power mode in force (session.json clock_ceilings, "
                              "then each power_mode event), in hertz", labels=keys + label_names)
        for values, hz in rows:
            g.add_metric(base + values, hz)
        yield g


def _throttle_families(snap: dict[str, Any], keys: list[str], base: list[str]):
    """Throttling as the session's online classifier says (throttle_begin / throttle_end events)."""
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    open_ = snap["throttled"]
    domains = sorted(set(_domains(snap["values"], snap["ceilings"])) | set(open_) | set(snap["throttled_s"]))
    if not domains:
        return
    g = GaugeMetricFamily("edgemon_throttled", "1 while a clock of the domain is below its power-mode ceiling "
                          "with the worker busy (a throttling episode), else 0", labels=keys + ["domain"])
    for d in domains:
        g.add_metric(base + [d], 1.0 if d in open_ else 0.0)
    yield g
    info = GaugeMetricFamily("edgemon_throttled_info", "1 for each open throttling episode, labelled with its cause "
                             "so far (thermal, power, power_mode, user_action, thermal_or_power, unknown) and the "
                             "clock that dropped most", labels=keys + ["domain", "cause", "clock"])
    for d in sorted(open_):
        info.add_metric(base + [d, open_[d]["cause"], open_[d]["clock"]], 1.0)
    yield info
    seconds = CounterMetricFamily("edgemon_throttled_seconds", "time spent in throttling episodes, by domain",
                                  labels=keys + ["domain"])
    for d in domains:
        running = max(0, snap["now_ns"] - open_[d]["start_ns"]) / 1e9 if d in open_ else 0.0
        seconds.add_metric(base + [d], snap["throttled_s"].get(d, 0.0) + running)
    yield seconds
    episodes = CounterMetricFamily("edgemon_throttle_episodes", "throttling episodes that ended, by domain and final "
                                   "cause", labels=keys + ["domain", "cause"])
    for (d, cause), n in sorted(snap["episodes"].items()):
        episodes.add_metric(base + [d, cause], float(n))
    yield episodes


def _le(v: float) -> str:
    """Bucket bound / quantile as Prometheus writes it (``0.001``, ``1.0``)."""
    from prometheus_client.utils import floatToGoString

    return floatToGoString(v)


def exporter_from_option(option: str, meta: dict[str, Any], *, session: str | None = None) -> PrometheusExporter:
    """The exporter for a ``--prometheus [HOST:]PORT`` value (not started)."""
    host, port = parse_listen_address(option)
    return PrometheusExporter(port, host, meta, session=session)
