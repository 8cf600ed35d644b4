"""``session.json`` as the readers may trust it: every known field of the type they expect.

A recording is data from anywhere (another board, an older edgemon, a hand edit, a disk
error). Readers (``ls``, ``analyze``, ``report``, ``replay``, ``compare``, ``restore``) index
into the session description freely, so :func:`checked_meta` drops each known field whose
type or range is wrong -- a list where an object belongs, a clock of 10**30 ns, a duration of
``inf`` -- and names it in a one-line problem; unknown fields (a newer edgemon's) are kept.
"""

from __future__ import annotations

import math
from typing import Any, Callable

INT64_MAX = (1 << 63) - 1
# Monotonic clocks count from boot: a century of uptime is more than any machine has.
MAX_MONOTONIC_NS = 100 * 365 * 86400 * 10**9
# Wall clock: 1970 .. 9999-12-31 (what datetime can show).
MAX_UNIX_NS = 253402300799 * 10**9


def _int_in(lo: int, hi: int) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi


def _number_in(lo: float, hi: float) -> Callable[[Any], bool]:
    return lambda v: (isinstance(v, (int, float)) and not isinstance(v, bool)
                      and math.isfinite(v) and lo <= v <= hi)


def _optional(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: v is None or check(v)


def _is(kind: type) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, kind) and not (kind is int and isinstance(v, bool))


def _dict_of(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, dict) and all(isinstance(k, str) and check(x) for k, x in v.items())


def _list_of(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, list) and all(check(x) for x in v)


_str = _is(str)
_bool = _is(bool)
_dict = _is(dict)
_ns = _int_in(0, MAX_MONOTONIC_NS)
_count = _int_in(0, INT64_MAX)
_finite = _number_in(-1e15, 1e15)
_positive = _number_in(0.0, 1e15)
_mhz = _number_in(0.0, 1e7)
_celsius = _number_in(-300.0, 1e4)

# Top-level fields and their checks; nested objects in _NESTED.
_FIELDS: dict[str, Callable[[Any], bool]] = {
    "state": _str,
    "host": _str,
    "edgemon_version": _str,
    "record_path": _str,
    "sysfs_root": _str,
    "ended_wall": _str,
    "recovered_wall": _str,
    "recording_error": _str,
    "emulated": _bool,
    "emulated_board": _optional(_str),
    "schema_version": _int_in(0, 1 << 20),
    "writer_pid": _int_in(0, 1 << 22),
    "ended_monotonic_ns": _ns,
    "duration_s": _optional(_number_in(0.0, 1e10)),
    "sample_hz": _number_in(0.0, 1e6),
    "idle_baseline_mw": _optional(_positive),
    "power_mode": _optional(lambda v: isinstance(v, (str, int)) and not isinstance(v, bool)),
    "argv": _list_of(_str),
    "clock": _dict,
    "workload": _dict,
    "platform": _dict,
    "runner_hello": _dict,
    "end": _dict,
    "restore": _optional(_dict),
    "profile": _optional(_dict),
    "executables": _dict_of(_str),
    "rows": _dict_of(_count),
    "dropped_rows": _dict_of(_count),
    "clock_ceilings": _dict_of(_optional(_mhz)),
    "power_limits": _dict,
    "trip_points": _dict_of(_celsius),
    "sources": _list_of(_dict),
    "recording_failed": _dict,
    "machine": _dict,
}

_NESTED: dict[str, dict[str, Callable[[Any], bool]]] = {
    "clock": {"monotonic_ns": _ns, "unix_ns": _int_in(0, MAX_UNIX_NS), "wall_time": _str, "source": _str},
    "workload": {"runner": _str, "model": _str, "batch": _int_in(0, 1 << 31), "threads": _optional(_int_in(0, 1 << 20)),
                 "warmup_iters": _int_in(0, INT64_MAX), "warmup_s": _number_in(0.0, 1e10), "options": _dict,
                 "python": _optional(_str)},
    "platform": {"model": _str, "kind": _str, "hostname": _str, "l4t_release": _optional(_str),
                 "cpu_count": _int_in(0, 1 << 20), "root": _str},
    "end": {"reason": _str, "worker": _dict, "restore": _list_of(_str), "session": _str},
    "recording_failed": {"kind": _str, "reason": _str, "headline": _str, "after_s": _finite, "detail": _str,
                         "rows_kept": _dict_of(_count)},
    "machine": {"machine_id": _optional(_str), "boot_id": _optional(_str)},
}


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def checked_meta(meta: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """``(meta without the fields it cannot use, one problem line per dropped field)``."""
    out: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in meta.items():
        check = _FIELDS.get(key)
        if check is not None and not check(value):
            problems.append(f"session.json: {key!r} is {_show(value)}, not what edgemon writes there; ignored")
            continue
        nested = _NESTED.get(key)
        if nested is not None and isinstance(value, dict):
            kept = {}
            for sub, v in value.items():
                sub_check = nested.get(sub)
                if sub_check is not None and not sub_check(v):
                    problems.append(f"session.json: '{key}.{sub}' is {_show(v)}, not what edgemon writes there; "
                                    "ignored")
                    continue
                kept[sub] = v
            value = kept
        out[key] = value
    return out, problems
