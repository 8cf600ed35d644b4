"""Throttling episodes: a clock below what the current power mode allows, while the work is busy.

A clock sample counts as *throttled* when all of these hold:

* the clock is a CPU core (``cpuN_freq_mhz``), the GPU (``gpu_freq_mhz``) or the memory
  controller (``emc_freq_mhz``), and it was read (finite, > 0; a core offline, by its
  ``cpuN_online`` column or a ``core_online`` event, does not count);
* it is below the ceiling by more than ``tolerance_pct``. Ceilings come from
  ``session.json["clock_ceilings"]`` from the start and from each successful
  ``power_mode`` event's ``details["ceilings"]`` after it; where neither names a clock,
  the highest value that clock reached in that power-mode segment stands in (and the
  output says so: a clock throttled for a whole segment then looks unthrottled);
* the worker is busy: ``proc_worker_cpu_pct`` above ``busy_cpu_pct``, or an iteration
  running or just finished (latency rows around the sample); for a command
  (``session.json["kind"] == "command"``) also ``gpu_util_pct`` above ``busy_gpu_pct``, since a
  command need not report iterations. A recording without a worker (``"watch"``, ``"imported"``)
  is busy where the machine is: a core's or the average CPU load above ``busy_cpu_pct``, or the
  GPU's above ``busy_gpu_pct`` (:func:`busy_source` says which rule applied). A core or GPU whose own
  load (``cpuN_util_pct``, ``gpu_util_pct``) is below ``unit_busy_pct`` does not count
  either: there the DVFS governor lowers an idle clock, which is not throttling. The memory
  controller's clock follows demand (the activity monitor), so it counts only while its load
  (``emc_util_pct``) is at least ``emc_saturated_pct``: held below its ceiling while saturated.
  An unknown load (NaN, no column) vetoes nothing.

Per clock domain (cpu, gpu, emc) the throttled samples form runs; runs closer than
``merge_gap_s`` merge, and episodes shorter than ``min_episode_s`` are dropped. Each
episode gets its likely cause from what happened in the ``lookback_s`` before it began (up
to and including its first sample): what happened later cannot have caused it. First match
wins:

1. ``power_mode``: a power-mode change;
2. ``user_action``: a core switched, jetson_clocks or the fan changed;
3. ``power`` / ``thermal`` from a flag the hardware raised (NVML clock-event reasons
   SwPowerCap 0x4, HwPowerBrakeSlowdown 0x80 / SwThermalSlowdown 0x20, HwThermalSlowdown
   0x40; Raspberry Pi ``rpi_throttled_raw`` under-voltage 0x1 / soft temperature limit 0x8);
4. ``thermal``: a temperature within ``thermal_margin_c`` of its trip point
   (``session.json["trip_points"]``, NVML's ``gpu_temp_slowdown_c``);
5. ``power``: a rail within ``power_margin_pct`` of its limit (``session.json["power_limits"]``,
   NVML's ``gpu_power_limit_mw``); NVML HwSlowdown 0x8 or Pi "throttled" alone also land here
   or in thermal as weaker evidence;
6. ``unknown``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from edgemon.analysis.intervals import clip, overlap_s
from edgemon.analysis.intervals import union as union_of
from edgemon.recording.layout import section
from edgemon.telemetry import catalogue

DOMAINS = ("cpu", "gpu", "emc")
USER_EVENTS = ("core_online", "jetson_clocks", "fan")

# NVML clock-event reason bits
NVML_POWER = {0x4: "SwPowerCap", 0x80: "HwPowerBrakeSlowdown"}
NVML_THERMAL = {0x20: "SwThermalSlowdown", 0x40: "HwThermalSlowdown"}
NVML_HW_SLOWDOWN = 0x8
# vcgencmd get_throttled bits (current state)
RPI_UNDERVOLT, RPI_CAPPED, RPI_THROTTLED, RPI_SOFT_TEMP = 0x1, 0x2, 0x4, 0x8


@dataclass
class ThrottleOptions:
    busy_cpu_pct: float = 25.0
    busy_gpu_pct: float = 25.0
    unit_busy_pct: float = 20.0
    emc_saturated_pct: float = 75.0
    tolerance_pct: float = 1.0
    thermal_margin_c: float = 3.0
    power_margin_pct: float = 3.0
    min_episode_s: float = 1.0
    merge_gap_s: float = 1.0
    lookback_s: float = 2.0


def domain_of(metric: str) -> str | None:
    """``cpu``, ``gpu`` or ``emc`` for a clock with a ceiling (the catalogue's ``clock``), else None."""
    return catalogue.clock_domain(metric)


def unit_busy_threshold(domain: str, opts: ThrottleOptions) -> float:
    """The load of its own unit below which a lower clock is the governor following demand."""
    return opts.emc_saturated_pct if domain == "emc" else opts.unit_busy_pct


def core_of(metric: str) -> int | None:
    """The core of a ``cpuN_freq_mhz`` clock."""
    m = catalogue.lookup(metric)
    return m.index if m is not None and m.family is catalogue.CPU_FREQ else None


def positive_number(v: Any) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) and f > 0 else None


def _as_dict(d: Any) -> dict:
    return d if isinstance(d, dict) else {}


def ceilings_from(d: Any) -> dict[str, float] | None:
    if not isinstance(d, dict) or not d:
        return None
    out: dict[str, float] = {}
    for k, v in d.items():
        f = positive_number(v)
        if f is not None:
            out[str(k)] = f
    return out or None


# ------------------------------------------------------------------ ceilings


def busy_slack_s(sample_dt_s: float) -> float:
    """How close to an iteration a sample must be to count as busy."""
    return max(0.25, 1.5 * sample_dt_s)


def mode_segments(data) -> list[dict[str, Any]]:
    """Power-mode segments: ``[{t0_ns, mode, ceilings (dict|None), source}]``, t0 of the first is None."""
    meta = data.meta
    restore = section(meta, "restore")
    first_mode = meta.get("power_mode") if isinstance(meta.get("power_mode"), (str, int)) else None
    if first_mode is None:
        first_mode = restore.get("power_mode_name") or restore.get("power_mode_id")
    base = ceilings_from(meta.get("clock_ceilings"))
    segs = [{"t0_ns": None, "mode": first_mode, "ceilings": base, "source": "session.json" if base else None}]
    for ev in data.events_of("power_mode"):
        d = ev.details
        if d.get("ok") is False:
            continue  # the change failed: the old mode and its ceilings stand
        mode = d.get("name") if d.get("name") is not None else d.get("to_id")
        c = ceilings_from(d.get("ceilings"))
        segs.append({"t0_ns": ev.t_ns, "mode": mode, "ceilings": c, "source": "power_mode event" if c else None})
    return segs


def ceiling_for(ceilings: dict[str, float] | None, metric: str) -> float | None:
    if not ceilings:
        return None
    if metric in ceilings:
        return ceilings[metric]
    if core_of(metric) is not None:   # one ceiling for every core
        return ceilings.get("cpu_freq_mhz")
    return None


def _offline_mask(data, metric: str) -> np.ndarray:
    t = data.tel_t
    off = np.zeros(t.shape[0], dtype=bool)
    n = core_of(metric)
    if n is None:
        return off
    online_col = catalogue.CPU_ONLINE.name(n)
    if data.has(online_col):
        v = data.metric(online_col)
        off |= v < 0.5  # NaN compares False: unknown counts as online
    state_since: list[tuple[int, bool]] = []
    for ev in data.events_of("core_online"):
        d = ev.details
        if d.get("ok") is False or d.get("cpu") != n or not isinstance(d.get("online"), bool):
            continue
        state_since.append((ev.t_ns, d["online"]))
    for k, (t0, online) in enumerate(state_since):
        if online:
            continue
        t1 = state_since[k + 1][0] if k + 1 < len(state_since) else None
        a = int(np.searchsorted(t, t0, side="left"))
        b = int(np.searchsorted(t, t1, side="left")) if t1 is not None else t.shape[0]
        off[a:b] = True
    return off


@dataclass
class ClockTrack:
    metric: str
    domain: str
    values: np.ndarray
    ceiling: np.ndarray          # per sample
    valid: np.ndarray
    below: np.ndarray            # throttled samples (valid, busy, below ceiling)
    sources: list[str]           # per segment: where the ceiling came from


def clock_tracks(data, busy: np.ndarray, segs: list[dict[str, Any]], opts: ThrottleOptions) -> list[ClockTrack]:
    t = data.tel_t
    starts = np.array([s["t0_ns"] for s in segs[1:]], dtype=np.int64)
    seg_idx = np.searchsorted(starts, t, side="right") if starts.size else np.zeros(t.shape[0], dtype=np.int64)
    tracks = []
    for metric in data.tel_names:
        dom = domain_of(metric)
        if dom is None:
            continue
        v = data.metric(metric)
        valid = np.isfinite(v) & (v > 0) & ~_offline_mask(data, metric)
        if not valid.any():
            continue
        ceil = np.full(t.shape[0], np.nan)
        sources = []
        for k, seg in enumerate(segs):
            sel = seg_idx == k
            c = ceiling_for(seg["ceilings"], metric)
            src = seg["source"]
            if c is None:
                vals = v[sel & valid]
                c = float(vals.max()) if vals.size else None
                src = "observed max"
            ceil[sel] = np.nan if c is None else c
            sources.append(src if c is not None else "none")
        gate = np.ones(t.shape[0], dtype=bool)
        unit = catalogue.load_metric(metric)
        if unit and data.has(unit):
            u = data.metric(unit)
            gate = ~(u < unit_busy_threshold(dom, opts))  # NaN: unknown load, no veto
        with np.errstate(invalid="ignore"):
            below = valid & busy & gate & (v < ceil * (1.0 - opts.tolerance_pct / 100.0))
        tracks.append(ClockTrack(metric, dom, v, ceil, valid, below, sources))
    return tracks


# ------------------------------------------------------------------ busy


def busy_source(meta: Any) -> str:
    """What "busy" means for a recording: ``worker`` (a runner), ``command`` (a command: its tree,
    its rows, or GPU load) or ``machine`` (no worker: watch, imported)."""
    kind = meta.get("kind") if isinstance(meta, dict) else None
    if kind in ("watch", "imported"):
        return "machine"
    return "command" if kind == "command" else "worker"


def _pattern(name: str) -> str | None:
    family = catalogue.family_of(name)
    return family.pattern if family is not None else None


def _over(data, names: list[str], threshold: float) -> np.ndarray:
    """Samples where any of ``names`` is above ``threshold`` (NaN: not above)."""
    over = np.zeros(data.tel_t.shape[0], dtype=bool)
    for name in names:
        if data.has(name):
            over |= data.metric(name) > threshold
    return over


def load_names(names) -> tuple[list[str], list[str]]:
    """The CPU and the GPU load metrics among ``names`` (what "busy" means without a worker)."""
    cpus = [n for n in names if _pattern(n) in ("cpu_util_pct", "cpu{N}_util_pct")]
    gpus = [n for n in names if _pattern(n) in ("gpu_util_pct", "gpu{N}_util_pct")]
    return cpus, gpus


def busy_mask(data, opts: ThrottleOptions, activity: np.ndarray | None = None) -> np.ndarray:
    """Per telemetry sample: is the workload (or, without one, the machine) doing work?
    ``activity``: per sample, an iteration ran within :func:`busy_slack_s` of it
    (:class:`edgemon.analysis.scan.Activity`). The live classifier (``throttle_online.py``)
    applies the same rule one sample at a time."""
    source = busy_source(data.meta)
    cpus, gpus = load_names(data.tel_names)
    if source == "machine":
        return _over(data, cpus, opts.busy_cpu_pct) | _over(data, gpus, opts.busy_gpu_pct)
    busy = _worker_busy(data, opts, activity)
    if source == "command":
        busy |= _over(data, gpus, opts.busy_gpu_pct)
    return busy


def _worker_busy(data, opts: ThrottleOptions, activity: np.ndarray | None) -> np.ndarray:
    t = data.tel_t
    busy = np.zeros(t.shape[0], dtype=bool)
    if data.has("proc_worker_cpu_pct"):
        busy |= data.metric("proc_worker_cpu_pct") > opts.busy_cpu_pct
    if activity is not None and activity.shape[0] == t.shape[0]:
        busy |= activity
    return busy


def sample_durations(t: np.ndarray, dt_s: float) -> np.ndarray:
    """Seconds each sample stands for: up to the next one, capped at 3 periods (a stalled sampler)."""
    if t.shape[0] == 0:
        return np.empty(0)
    d = np.empty(t.shape[0])
    d[:-1] = np.diff(t) / 1e9
    d[-1] = dt_s
    return np.minimum(d, 3.0 * dt_s)


# ------------------------------------------------------------------ episodes


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1)


def _episodes_of(mask: np.ndarray, t: np.ndarray, dur_s: np.ndarray,
                 opts: ThrottleOptions) -> list[tuple[int, int, int, int]]:
    """``[(start_ns, end_ns, first_idx, stop_idx)]`` of merged runs of ``mask``."""
    a, b = _runs(mask)
    if a.size == 0:
        return []
    t_start = t[a]
    t_stop = t[b - 1] + (dur_s[b - 1] * 1e9).astype(np.int64)
    gap = int(opts.merge_gap_s * 1e9)
    merged: list[list[int]] = []
    for s, e, i, j in zip(t_start.tolist(), t_stop.tolist(), a.tolist(), b.tolist()):
        if merged and s - merged[-1][1] <= gap:
            merged[-1][1] = max(merged[-1][1], e)
            merged[-1][3] = j
        else:
            merged.append([s, e, i, j])
    keep = int(opts.min_episode_s * 1e9)
    return [(m[0], m[1], m[2], m[3]) for m in merged if m[1] - m[0] >= keep]


def _window(t: np.ndarray, lo: int, hi: int) -> slice:
    return slice(int(np.searchsorted(t, lo, side="left")), int(np.searchsorted(t, hi, side="right")))


def _limits(data, meta_key: str, limit_metric: str, value_metric: str) -> dict[str, float]:
    """``{metric: limit}`` from session.json, plus the lowest recorded ``limit_metric`` (NVML's
    slowdown temperature or power limit) for ``value_metric`` where the meta has none."""
    out = {}
    for k, v in _as_dict(data.meta.get(meta_key)).items():
        f = positive_number(v)
        if f is not None:
            out[str(k)] = f
    if data.has(limit_metric) and data.has(value_metric):
        v = data.metric(limit_metric)
        v = v[np.isfinite(v)]
        if v.size and value_metric not in out:
            out[value_metric] = float(v.min())
    return out


def _trip_points(data) -> dict[str, float]:
    return _limits(data, "trip_points", catalogue.GPU_TEMP_SLOWDOWN.name(), catalogue.TEMP.name("gpu"))


def _power_limits(data) -> dict[str, float]:
    return _limits(data, "power_limits", catalogue.GPU_POWER_LIMIT.name(), catalogue.GPU_POWER.name())


def _flag_bits(data, name: str, sl: slice) -> int:
    if not data.has(name):
        return 0
    v = data.metric(name)[sl]
    v = v[np.isfinite(v)]
    if v.size == 0:
        return 0
    return int(np.bitwise_or.reduce(v.astype(np.int64)))


def event_evidence(kind: str, details: dict[str, Any], at_s: float) -> tuple[str, str] | None:
    """``(evidence key, line)`` for an event that can explain a clock drop, else None."""
    at = f"at {at_s:.1f} s"
    if kind == "power_mode" and details.get("ok") is not False:
        name = details.get("name") if details.get("name") is not None else details.get("to_id")
        return "power_mode", f"power mode changed to {name} {at}"
    if kind in USER_EVENTS:
        d = {k: v for k, v in details.items() if k in ("cpu", "online", "to", "on", "pwm", "pct", "value")}
        return "user_action", f"{kind} {d or ''} {at}".replace("  ", " ")
    return None


# The flags the hardware raises: NVML's clock-event reasons, the Pi firmware's get_throttled bitmask
# (rpi_throttled is bit 2 alone).
FLAG_METRICS = (catalogue.GPU_CLOCK_EVENTS.name(), catalogue.RPI_THROTTLED_RAW.name())


def flag_evidence(nvml_bits: int, pi_bits: int) -> tuple[list[tuple[str, str]], list[str]]:
    """What the hardware's own throttle flags say, OR-ed over a window: ``([(key, line)], weak lines)``."""
    flags_power = [n for b, n in NVML_POWER.items() if nvml_bits & b]
    flags_thermal = [n for b, n in NVML_THERMAL.items() if nvml_bits & b]
    if pi_bits & RPI_UNDERVOLT:
        flags_power.append("Raspberry Pi under-voltage")
    if pi_bits & RPI_SOFT_TEMP:
        flags_thermal.append("Raspberry Pi soft temperature limit")
    found = [("power_flag", f"hardware reports {f}") for f in flags_power]
    found += [("thermal_flag", f"hardware reports {f}") for f in flags_thermal]
    weak = []
    if nvml_bits & NVML_HW_SLOWDOWN:
        weak.append("hardware reports HwSlowdown (thermal or power brake)")
    if pi_bits & (RPI_CAPPED | RPI_THROTTLED) and not pi_bits & (RPI_UNDERVOLT | RPI_SOFT_TEMP):
        weak.append("Raspberry Pi firmware reports its clock capped/throttled")
    return found, weak


def near_trip(value: float, trip: float, opts: ThrottleOptions) -> bool:
    return value >= trip - opts.thermal_margin_c


def near_limit(value: float, limit: float, opts: ThrottleOptions) -> bool:
    return value >= limit * (1.0 - opts.power_margin_pct / 100.0)


def thermal_line(metric: str, peak: float, trip: float) -> str:
    return f"{metric} reached {peak:.1f} C (trip point {trip:g} C)"


def power_line(metric: str, peak: float, limit: float) -> str:
    return f"{metric} reached {peak:.0f} mW (limit {limit:g} mW)"


CAUSE_ORDER = (("power_mode", "power_mode"), ("user_action", "user_action"), ("power_flag", "power"),
               ("thermal_flag", "thermal"), ("thermal", "thermal"), ("power", "power"))


def rank_causes(found: dict[str, list[str]], weak: list[str]) -> tuple[str, list[str], list[str]]:
    """(cause, causes in order, evidence lines) from evidence by key: the first match of
    :data:`CAUSE_ORDER` wins; weak hardware hints alone make ``thermal_or_power``."""
    causes: list[str] = []
    evidence: list[str] = []
    for key, cause in CAUSE_ORDER:
        if key in found:
            if cause not in causes:
                causes.append(cause)
            evidence += found[key]
    if not causes and weak:
        causes.append("thermal_or_power")
    evidence += weak
    return (causes[0] if causes else "unknown"), causes, evidence


def explain(data, lo: int, hi: int, opts: ThrottleOptions, trips: dict[str, float],
            limits: dict[str, float]) -> tuple[str, list[str], list[str]]:
    """(cause, causes in order, evidence lines) for an episode from ``lo`` to ``hi`` ns: only what
    happened from ``lookback_s`` before ``lo`` up to ``lo`` counts. The live classifier
    (:mod:`edgemon.analysis.throttle_online`) gathers the same evidence as samples arrive and
    ranks it with the same :func:`rank_causes`."""
    look = lo - int(opts.lookback_s * 1e9)
    hi = lo
    found: dict[str, list[str]] = {}

    def add(cause: str, why: str) -> None:
        found.setdefault(cause, []).append(why)

    for ev in data.events:
        if look <= ev.t_ns <= hi:
            hit = event_evidence(ev.kind, ev.details, data.rel_s(ev.t_ns))
            if hit is not None:
                add(*hit)

    t = data.tel_t
    sl = _window(t, look, hi)
    flags, weak = flag_evidence(*(_flag_bits(data, name, sl) for name in FLAG_METRICS))
    for key, line in flags:
        add(key, line)

    for metric, trip in trips.items():
        if not data.has(metric):
            continue
        v = data.metric(metric)[sl]
        v = v[np.isfinite(v)]
        if v.size and near_trip(float(v.max()), trip, opts):
            add("thermal", thermal_line(metric, float(v.max()), trip))
    for metric, limit in limits.items():
        if not data.has(metric):
            continue
        v = data.metric(metric)[sl]
        v = v[np.isfinite(v)]
        if v.size and near_limit(float(v.max()), limit, opts):
            add("power", power_line(metric, float(v.max()), limit))
    return rank_causes(found, weak)


# ------------------------------------------------------------------ latency inside / outside


# ------------------------------------------------------------------ the analysis


def analyze_throttling(data, opts: ThrottleOptions | None = None, *, activity: np.ndarray | None = None,
                       first_iteration_ns: int | None = None) -> dict[str, Any]:
    """Episodes, shares and causes. The latency inside/outside episodes and per episode is
    added by :func:`add_latency` once the latency scan has it; until then the result holds
    the episodes' times under private keys (``_union``, ``_by_domain``, ``_start_ns``)."""
    opts = opts or ThrottleOptions()
    out: dict[str, Any] = {"options": asdict(opts)}
    t = data.tel_t
    if t.shape[0] == 0:
        return {**out, "available": False, "reason": "no telemetry: clocks were not recorded"}
    segs = mode_segments(data)
    busy = busy_mask(data, opts, activity)
    tracks = clock_tracks(data, busy, segs, opts)
    if not tracks:
        return {**out, "available": False, "reason": "no CPU, GPU or EMC clock in the telemetry"}
    out["available"] = True
    dt = data.sample_dt_s
    dur_s = sample_durations(t, dt)

    out["ceilings"] = [
        {"from_s": 0.0 if s["t0_ns"] is None else data.rel_s(s["t0_ns"]), "mode": s["mode"],
         "source": s["source"] or "observed max",
         "mhz": {tr.metric: (None if not np.isfinite(c := _seg_ceiling(tr, t, segs, k)) else c) for tr in tracks},
         "sources": {tr.metric: tr.sources[k] for tr in tracks}}
        for k, s in enumerate(segs)
    ]
    observed = sorted({tr.metric for tr in tracks if "observed max" in tr.sources})
    if observed:
        out["ceiling_note"] = ("no recorded ceiling for " + ", ".join(observed) + ": the highest clock seen in "
                               "each power-mode segment stands in (a clock throttled for a whole segment "
                               "is not detected)")
    out["ceiling_changes"] = [
        {"at_s": data.rel_s(s["t0_ns"]), "mode": s["mode"], "source": s["source"] or "observed max"}
        for s in segs[1:]
    ]
    out["busy_s"] = float(dur_s[busy].sum())
    out["busy_from"] = busy_source(data.meta)

    trips, limits = _trip_points(data), _power_limits(data)
    episodes: list[dict[str, Any]] = []
    domain_time: dict[str, float] = {}
    domain_busy: dict[str, float] = {}
    intervals: list[tuple[int, int]] = []
    by_domain: dict[str, list[tuple[int, int]]] = {}
    for dom in DOMAINS:
        dtracks = [tr for tr in tracks if tr.domain == dom]
        if not dtracks:
            continue
        below = np.zeros(t.shape[0], dtype=bool)
        counted = np.zeros(t.shape[0], dtype=bool)
        for tr in dtracks:
            below |= tr.below
            counted |= tr.valid & busy
        domain_busy[dom] = float(dur_s[counted].sum())
        found = _episodes_of(below, t, dur_s, opts)
        domain_time[dom] = sum(e - s for s, e, _, _ in found) / 1e9
        by_domain[dom] = [(s, e) for s, e, _, _ in found]
        for k, (s, e, i, j) in enumerate(found):
            intervals.append((s, e))
            ep = _episode(data, dom, dtracks, s, e, i, j, opts, trips, limits)
            ep["_group"] = k
            episodes.append(ep)
    episodes.sort(key=lambda ep: ep["start_s"])
    out["episodes"] = episodes
    out["episode_count"] = len(episodes)
    out["throttled_s"] = domain_time
    out["share_throttled"] = {d: (domain_time[d] / domain_busy[d] if domain_busy[d] > 0 else 0.0) for d in domain_time}
    out["share_by_clock"] = {}
    for tr in tracks:
        denom = float(dur_s[tr.valid & busy].sum())
        out["share_by_clock"][tr.metric] = float(dur_s[tr.below].sum()) / denom if denom > 0 else 0.0
    union = union_of(intervals)
    out["throttled_any_s"] = sum(e - s for s, e in union) / 1e9
    out["share_throttled_any"] = out["throttled_any_s"] / out["busy_s"] if out["busy_s"] > 0 else 0.0

    # from the first iteration; a throttle that began before it (during the model build, or
    # left over from an earlier run) counts from the session start: never negative
    origin, origin_name = data.start_ns, "session start"
    if first_iteration_ns is not None and (not episodes or episodes[0]["start_ns"] >= first_iteration_ns):
        origin, origin_name = first_iteration_ns, "first iteration"
    out["time_to_first_throttle_s"] = max(0.0, (episodes[0]["start_ns"] - origin) / 1e9) if episodes else None
    out["time_to_first_throttle_from"] = origin_name
    out["_union"] = union
    out["_by_domain"] = by_domain
    return out


def add_latency(thr: dict[str, Any], scan) -> None:
    """Per-episode p50 and items/s, and latency inside vs outside all episodes, from a resolved
    :class:`edgemon.analysis.scan.LatencyScan` (None: no latency); drops the private keys."""
    union = thr.pop("_union", [])
    thr.pop("_by_domain", None)
    for ep in thr.get("episodes", []):
        s, e, dom, g = ep.pop("start_ns"), ep.pop("_end_ns"), ep["domain"], ep.pop("_group")
        fam = scan.episode_families.get(dom) if scan is not None else None
        if fam is not None:
            blk = scan.block(fam, g, (e - s) / 1e9)
            ep["latency_p50_ms"] = blk["p50_ms"]
            ep["throughput_ips"] = blk["throughput_ips"]
    if scan is not None and scan.inside is not None and scan.count:
        lo, hi = scan.measured_start_ns, scan.measured_end_ns
        in_s = overlap_s(clip(union, scan.active_intervals()), lo, hi)
        out_s = max(0.0, scan.active_s(lo, hi) - in_s)
        thr["inside"] = scan.block(scan.inside, 0, in_s)
        thr["outside"] = scan.block(scan.inside, 1, out_s)


def _seg_ceiling(tr: ClockTrack, t: np.ndarray, segs, k: int) -> float:
    lo = segs[k]["t0_ns"]
    hi = segs[k + 1]["t0_ns"] if k + 1 < len(segs) else None
    a = 0 if lo is None else int(np.searchsorted(t, lo, side="right"))
    b = t.shape[0] if hi is None else int(np.searchsorted(t, hi, side="right"))
    c = tr.ceiling[a:b]
    c = c[np.isfinite(c)]
    return float(c[0]) if c.size else float("nan")


def _episode(data, dom, dtracks, s, e, i, j, opts, trips, limits) -> dict[str, Any]:
    per = []
    for tr in dtracks:
        sel = tr.below[i:j]
        if not sel.any():
            continue
        v = tr.values[i:j][sel]
        c = tr.ceiling[i:j][sel]
        ceil = float(np.median(c))
        clock = float(np.median(v))
        per.append({"metric": tr.metric, "ceiling_mhz": ceil, "clock_mhz": clock, "min_clock_mhz": float(v.min()),
                    "drop_mhz": ceil - clock, "drop_pct": (ceil - clock) / ceil * 100.0})
    worst = max(per, key=lambda p: p["drop_pct"])
    cause, causes, evidence = explain(data, s, e, opts, trips, limits)
    ep: dict[str, Any] = {
        "domain": dom,
        "clocks": [p["metric"] for p in per],
        "start_ns": s,
        "start_s": data.rel_s(s),
        "end_s": data.rel_s(e),
        "duration_s": (e - s) / 1e9,
        "ceiling_mhz": worst["ceiling_mhz"],
        "clock_mhz": worst["clock_mhz"],
        "min_clock_mhz": worst["min_clock_mhz"],
        "drop_mhz": worst["drop_mhz"],
        "drop_pct": worst["drop_pct"],
        "cause": cause,
        "causes": causes,
        "evidence": evidence,
        "_end_ns": e,
    }
    return ep


# ------------------------------------------------------------------ one line per episode


def clocks_text(metrics: list[str]) -> str:
    """``["cpu0_freq_mhz", "cpu1_freq_mhz", "cpu2_freq_mhz", "gpu_freq_mhz"]`` -> ``"cpu0-2, gpu"``."""
    cores = sorted(c for c in (core_of(x) for x in metrics) if c is not None)
    parts: list[str] = []
    k = 0
    while k < len(cores):
        j = k
        while j + 1 < len(cores) and cores[j + 1] == cores[j] + 1:
            j += 1
        parts.append(f"cpu{cores[k]}" if j == k else f"cpu{cores[k]}-{cores[j]}")
        k = j + 1
    parts += [x.replace("_freq_mhz", "") for x in metrics if core_of(x) is None]
    return ", ".join(parts)


def merged_episodes(episodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Episodes of different clock domains that overlap in time are one event (a thermal trip
    caps CPU and GPU together): one entry each, with every clock involved, the worst drop, the
    causes once and the evidence once. For the text and HTML reports; ``--json`` keeps one
    episode per domain."""
    out: list[dict[str, Any]] = []
    for ep in sorted(episodes, key=lambda e: (e["start_s"], e["end_s"])):
        last = out[-1] if out else None
        if last is not None and ep["start_s"] < last["end_s"]:
            last["end_s"] = max(last["end_s"], ep["end_s"])
            last["parts"].append(ep)
        else:
            out.append({"start_s": ep["start_s"], "end_s": ep["end_s"], "parts": [ep]})
    for m in out:
        parts = m.pop("parts")
        worst = max(parts, key=lambda e: e["drop_pct"])
        clocks = [c for e in parts for c in e.get("clocks", [])]
        causes: list[str] = []
        evidence: list[str] = []
        for e in parts:
            for c in e.get("causes") or [e["cause"]]:
                if c not in causes:
                    causes.append(c)
            for line in e.get("evidence") or []:
                if line not in evidence:
                    evidence.append(line)
        first = min(parts, key=lambda e: e["start_s"])
        m.update(duration_s=m["end_s"] - m["start_s"], clocks=clocks, clocks_text=clocks_text(clocks),
                 domains=[e["domain"] for e in parts], cause=first["cause"], causes=causes, evidence=evidence,
                 clock_mhz=worst["clock_mhz"], ceiling_mhz=worst["ceiling_mhz"], drop_mhz=worst["drop_mhz"],
                 drop_pct=worst["drop_pct"], worst=worst["domain"], latency_p50_ms=first.get("latency_p50_ms"),
                 throughput_ips=first.get("throughput_ips"))
    return out
