"""Text output for headless runs: a one-line status and the end-of-run summary table.

Plain ASCII, so it reads the same in a log file, over a slow link and in CI.
"""

from __future__ import annotations

import math

from edgemon.feeds.base import FeedStatus
from edgemon.view import fmt
from edgemon.view.metric_groups import max_temperature
from edgemon.view.model import DashboardModel
from edgemon.view.throttle import throttle_flag


def status_line(model: DashboardModel, status: FeedStatus) -> str:
    """E.g. ``running 01:23 (08:37 left) | 12,345 it | 153 it/s | p50 6.51 p99 9.02 ms | cpu 43% | ...``."""
    parts = []
    when = fmt.clock(status.position_s if status.state == "replay" else status.elapsed_s)
    if status.remaining_s is not None:
        when += f" ({fmt.clock(status.remaining_s)} left)"
    parts.append(f"{status.state} {when}")

    now, warm = model.throughput_now()
    if model.iterations or not model.warmup_iterations:
        parts.append(f"{fmt.count(model.iterations)} it")
        parts.append(f"{fmt.rate(now)} it/s")
    else:
        parts.append(f"warm-up {fmt.count(model.warmup_iterations)} it, {fmt.rate(warm)} it/s")
    stats = model.latency_stats()
    if stats.count:
        parts.append(f"p50 {fmt.ms(stats.p50_ms)} p99 {fmt.ms(stats.p99_ms)} ms")

    values = model.latest
    cpu = values.get("cpu_util_pct")
    if cpu is not None:
        parts.append(f"cpu {cpu:.0f}%")
    hottest = max_temperature(values)
    if hottest is not None:
        parts.append(f"{hottest[0]} {hottest[1]:.1f}C")
    power = values.get("power_total_mw")
    if power is not None:
        parts.append(fmt.watts(power))
    flag = throttle_flag(model)
    if flag is not None:
        parts.append(f"{flag.text} ({flag.detail})")
    if status.recording_level in ("warn", "fail"):   # a recording in trouble is said on every line
        parts.append(status.recording)
    if status.message:
        parts.append(status.message)
    elif model.last_event is not None:
        event = model.last_event
        parts.append("last: " + fmt.event_summary(event.kind, event.details))
    return " | ".join(parts)


_ROWS = (
    ("count", None),
    ("min", "min_ms"),
    ("mean", "mean_ms"),
    ("median", "p50_ms"),
    ("p90", "p90_ms"),
    ("p95", "p95_ms"),
    ("p99", "p99_ms"),
    ("p99.9", "p999_ms"),
    ("max", "max_ms"),
)


def summary_table(model: DashboardModel, status: FeedStatus, meta: dict | None = None) -> str:
    """Latency statistics (ms, measured iterations only) and throughput, one per line; without any
    iteration, where latency would come from (``meta``: the session description)."""
    from edgemon.view.meta import kind, latency_hint

    stats = model.latency_stats()
    lines = []
    if stats.count or model.warmup_iterations or meta is None or kind(meta) == "runner":
        lines.append(f"latency (ms, {fmt.count(stats.count)} measured iterations; "
                     f"{fmt.count(model.warmup_iterations)} warm-up left out)")
        for label, attr in _ROWS:
            if attr is None:
                value = fmt.count(stats.count)
            else:
                value = fmt.ms(getattr(stats, attr))
            lines.append(f"  {label:<8}{value:>12}")
        mean_rate = model.throughput_mean()
        lines.append(f"throughput   {fmt.rate(mean_rate):>9} items/s "
                     f"({fmt.count(model.items)} items in the measured window)")
    else:
        lines.append(f"latency      {latency_hint(meta)}")
    ended = model.exit.details if model.exit is not None and model.crash is None else {}
    if ended and meta is not None and kind(meta) == "command":
        lines.append(f"command      {ended.get('reason', '')}")
    elif ended.get("cut_iteration"):       # a stop that could not wait for the iteration in progress
        lines.append(f"worker       {ended.get('reason', '')}")
    startup = _startup(model)
    if startup:
        lines.append(f"start-up     {startup}")
    throttling = _throttling(model)
    if throttling:
        lines.append(f"throttling   {throttling}")
    if status.elapsed_s and math.isfinite(status.elapsed_s):
        lines.append(f"elapsed      {fmt.clock(status.elapsed_s):>9} ({status.state})")
    if model.crash is not None:
        reason = str(model.crash.details.get("reason") or "").splitlines()
        what = "command failed" if meta is not None and kind(meta) == "command" else "worker crashed"
        lines.append(f"{what}: " + (reason[0] if reason else fmt.event_summary(model.crash.kind, {})))
    return "\n".join(lines)


def _startup(model: DashboardModel) -> str:
    """Model build time and the first inference on its own, as benchmark_app and benchmark_model report them."""
    parts = []
    build_ms = model.hello.get("build_ms")
    if isinstance(build_ms, (int, float)):
        parts.append(f"model build {fmt.ms(build_ms)} ms")
    first_ms = model.warmup_done.get("first_inference_ms")
    if isinstance(first_ms, (int, float)):
        parts.append(f"first inference {fmt.ms(first_ms)} ms")
    return ", ".join(parts)


def _throttling(model: DashboardModel) -> str:
    """``3 episodes (thermal), cpu 41.2 s, gpu 40.0 s`` from the live throttle events ("" without)."""
    episodes = model.throttle_episodes()
    if not episodes:
        return ""
    per: dict[str, float] = {}
    causes: list[str] = []
    for start_ns, end_ns, details in episodes:
        domain = str(details.get("domain", "?"))
        per[domain] = per.get(domain, 0.0) + max(0, end_ns - start_ns) / 1e9
        cause = str(details.get("cause") or "unknown")
        if cause not in causes:
            causes.append(cause)
    n = len(episodes)
    return (f"{n} episode{'s' if n != 1 else ''} ({', '.join(c.replace('_', ' ') for c in causes)}), "
            + ", ".join(f"{d} {s:.1f} s" for d, s in per.items()) + " throttled")
