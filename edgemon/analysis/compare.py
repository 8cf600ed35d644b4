"""`edgemon compare DIR...`: one row per session and the speedup against a reference session.

Speedups: ``speedup_throughput`` = throughput / reference throughput, ``speedup_p50`` =
reference median latency / median latency (both > 1 mean faster than the reference).
"""

from __future__ import annotations

import csv
import io
import math
from typing import Any

from edgemon.recording.layout import section

COLUMNS = ("session", "board", "host", "runner", "model", "batch", "power_mode", "p50_ms", "p90_ms", "p99_ms",
           "throughput_ips", "avg_power_w", "mj_per_item", "share_throttled", "speedup_throughput", "speedup_p50",
           "problems")


def _power_mode(meta: dict[str, Any], result: dict[str, Any]) -> str | None:
    mode = meta.get("power_mode")
    if isinstance(mode, dict):
        mode = mode.get("name") or mode.get("id")
    if mode is None:
        restore = section(meta, "restore")
        mode = restore.get("power_mode_name") or restore.get("power_mode_id")
    changes = [c["mode"] for c in (result.get("throttling") or {}).get("ceiling_changes", []) or []]
    names = [str(x) for x in [mode, *changes] if x is not None]
    return " -> ".join(names) if names else None


def session_row(path: str, meta: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    from pathlib import Path

    lat = result["latency_ms"]
    en = result.get("energy") or {}
    th = result.get("throttling") or {}
    board = result.get("board")  # board_of(meta): the platform model, else the emulated board
    return {
        "session": Path(path).name,
        "path": str(path),
        "board": board,
        "host": result.get("host"),
        "runner": result.get("runner"),
        "model": result.get("model"),
        "batch": result.get("batch"),
        "power_mode": _power_mode(meta, result),
        "p50_ms": lat["median"],
        "p90_ms": lat["p90"],
        "p99_ms": lat["p99"],
        "throughput_ips": result["throughput_ips"],
        "avg_power_w": en["avg_power_mw"] / 1000.0 if en.get("available") else None,
        "mj_per_item": en.get("mj_per_item") if en.get("available") else None,
        "share_throttled": th.get("share_throttled_any") if th.get("available") else None,
        "problems": len(result.get("problems") or []),
    }


def _ratio(a: Any, b: Any) -> float | None:
    if not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
        return None
    if not (math.isfinite(a) and math.isfinite(b)) or b == 0:
        return None
    return float(a) / float(b)


def compare(recordings: list, reference: int = 0, options=None) -> dict[str, Any]:
    """``{"reference": session name, "rows": [...]}``; ``recordings`` are opened Recordings."""
    from edgemon.analysis.summary import analyze

    rows = [session_row(str(r.path), r.meta, analyze(r, options)) for r in recordings]
    ref = rows[reference]
    for row in rows:
        row["speedup_throughput"] = _ratio(row["throughput_ips"], ref["throughput_ips"])
        row["speedup_p50"] = _ratio(ref["p50_ms"], row["p50_ms"])
    return {"reference": ref["session"], "rows": rows}


def _cell(v: Any, digits: int = 3) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return "-" if math.isnan(v) else f"{v:.{digits}f}"
    return str(v)


def format_compare(table: dict[str, Any]) -> str:
    head = ["session", "board", "runner", "model", "mode", "p50 ms", "p90 ms", "p99 ms", "items/s", "W",
            "mJ/item", "throttled", "x thr", "x p50"]
    rows = []
    for r in table["rows"]:
        rows.append([r["session"], _cell(r["board"]), _cell(r["runner"]), _cell(r["model"]), _cell(r["power_mode"]),
                     _cell(r["p50_ms"]), _cell(r["p90_ms"]), _cell(r["p99_ms"]), _cell(r["throughput_ips"], 1),
                     _cell(r["avg_power_w"], 2), _cell(r["mj_per_item"], 2),
                     "-" if r["share_throttled"] is None else f"{r['share_throttled'] * 100:.1f}%",
                     _cell(r["speedup_throughput"], 2), _cell(r["speedup_p50"], 2)])
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
    lines = ["  ".join(h.ljust(w) if i < 5 else h.rjust(w) for i, (h, w) in enumerate(zip(head, widths)))]
    for row in rows:
        lines.append("  ".join(c.ljust(w) if i < 5 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
    lines.append(f"speedups against {table['reference']} (x thr: throughput ratio; x p50: median latency ratio, "
                 "> 1 is faster)")
    return "\n".join(lines)


def to_csv(table: dict[str, Any]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(COLUMNS) + ["path"], extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in table["rows"]:
        w.writerow({k: ("" if r.get(k) is None or (isinstance(r.get(k), float) and math.isnan(r[k])) else r.get(k))
                    for k in list(COLUMNS) + ["path"]})
    return buf.getvalue()


def to_json(table: dict[str, Any]) -> str:
    from edgemon.analysis.summary import to_json as _j

    return _j(table)
