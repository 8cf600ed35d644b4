"""What ``edgemon info`` shows: the platform, every telemetry source and every runner.

Cheap by design: it probes sources (a few small file reads), times two reads of
each (not of command-based sources, which would start their tool), and asks the workload
registry (if present) about runners; nothing heavy is imported here.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

def runner_statuses() -> list[dict[str, Any]]:
    """Runners with framework version or the reason they cannot run here; never raises."""
    try:
        from edgemon.workload.registry import runner_statuses as statuses

        return statuses()
    except Exception as exc:
        return [{"name": "runners", "available": False, "reason": f"runner registry failed: {exc}"}]


def _measure(source: Any, reads: int) -> float | None:
    """Microseconds for one read (the last of ``reads``; the first may only prime)."""
    cost = None
    for _ in range(reads):
        t0 = time.perf_counter_ns()
        try:
            source.read()
        except Exception:
            return None
        cost = (time.perf_counter_ns() - t0) / 1000.0
    return cost


def collect_info(root: Path | str = Path("/"), *, measure_reads: int = 2) -> dict[str, Any]:
    """Everything ``edgemon info`` prints, as plain JSON-able data."""
    from edgemon import __version__
    from edgemon.platform.detect import detect
    from edgemon.telemetry.base import SourceContext
    from edgemon.telemetry.registry import build_sources, is_command_source

    root = Path(root)
    platform = detect(root)
    ctx = SourceContext(root=root)
    sources, statuses = build_sources(ctx, platform)
    costs: dict[str, float] = {}
    try:
        if measure_reads > 0:
            for src in sources:
                if is_command_source(src):
                    continue        # reading would start the tool; its cost lives in its own thread
                cost = _measure(src, measure_reads)
                if cost is not None:
                    costs[src.name] = cost
    finally:
        for src in sources:
            try:
                src.close()
            except Exception:
                pass
    return {
        "edgemon_version": __version__,
        "platform": platform.to_dict(),
        "sources": [
            {"name": s.name, "available": s.available, "reason": s.reason, "detail": s.detail,
             "us_per_read": costs.get(s.name) if s.available else None}
            for s in statuses
        ],
        "runners": runner_statuses(),
        "probe_path": _probe_path(),
    }


def _probe_path() -> str | None:
    """The folder to put on another interpreter's PYTHONPATH to ``import edgemon_probe``."""
    try:
        from edgemon.workload.registry import probe_dir

        path = probe_dir()
    except Exception:  # noqa: BLE001 - a broken install is reported by the runners' list already
        return None
    return str(path) if (path / "edgemon_probe.py").is_file() else None


def format_info(d: dict[str, Any]) -> str:
    """A readable text block of :func:`collect_info`'s result."""
    p = d.get("platform", {})
    lines = [f"edgemon {d.get('edgemon_version', '?')}", "", "Platform"]
    kind = p.get("kind", "?") + (" (in a container)" if p.get("in_container") else "")
    rows = [
        ("kind", kind),
        ("model", p.get("model") or "unknown"),
        ("host", p.get("hostname") or "unknown"),
        ("kernel", f"{p.get('kernel', '?')} ({p.get('arch', '?')})"),
        ("cpu", f"{p.get('cpu_model') or 'unknown'}, {p.get('cpu_count', '?')} cores"
                f" ({p.get('cpu_online', '?')} online)"),
    ]
    if p.get("l4t_release"):
        rows.append(("L4T", p["l4t_release"] + (f" (JetPack {p['jetpack']})" if p.get("jetpack") else
                                                " (JetPack release not known to this edgemon)")))
    if p.get("root", "/") != "/":
        rows.append(("root", p["root"]))
    lines += [f"  {k:<8} {v}" for k, v in rows]

    lines += ["", "Telemetry sources"]
    sources = d.get("sources", [])
    width = max((len(s.get("name", "")) for s in sources), default=4)
    for s in sources:
        mark = "ok" if s.get("available") else "--"
        text = s.get("detail", "") if s.get("available") else s.get("reason", "")
        cost = s.get("us_per_read")
        if cost is not None:
            text = f"{text}, {cost:.0f} us/read" if text else f"{cost:.0f} us/read"
        lines.append(f"  {mark} {s.get('name', '?'):<{width}}  {text}".rstrip())
    if not sources:
        lines.append("  (none)")

    runners = d.get("runners", [])
    lines += ["", "Runners"]
    if not runners:
        lines.append("  (runner registry not available)")
    width = max((len(str(r.get("name", ""))) for r in runners), default=4)
    for r in runners:
        available = r.get("available")          # None: the registry only lists names
        version = r.get("version") or r.get("framework_version") or ""
        framework = r.get("framework") or ""
        if available is False:
            mark, text = "--", r.get("reason") or "unavailable"
        else:
            mark, text = ("ok" if available else "  "), " ".join(x for x in (framework, version) if x)
        lines.append(f"  {mark} {str(r.get('name', '?')):<{width}}  {text}".rstrip())
    if d.get("probe_path"):
        lines += ["", "edgemon_probe (time your own loop; `edgemon run -- CMD` puts it on the path)",
                  f"  PYTHONPATH={d['probe_path']}"]
    return "\n".join(lines)
