"""Short number/time formats shared by the status line and the dashboard."""

from __future__ import annotations

import math

from edgemon.units import format_clock


def clock(seconds: float | None) -> str:
    """``83.4`` -> ``01:23``; over an hour ``1:02:03``; None/NaN -> ``--:--``."""
    return format_clock(seconds)


def ms(value: float | None) -> str:
    """Milliseconds with 3 significant figures (``6.51``, ``12.3``, ``153``, ``0.0786``, and for
    a loop of a microsecond or less, ``0.00123``, ``0.000312``: never ``0.000`` for a time that
    is not zero); ``-`` if unknown."""
    if value is None or not math.isfinite(value):
        return "-"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    if value >= 1:
        return f"{value:.2f}"
    if 0 < value < 0.1:
        return f"{value:#.3g}"  # trailing zeros kept: 0.0100, 0.000312; 1.23e-05 below 100 ns
    return f"{value:.3f}"


def rate(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}"


def count(n: int) -> str:
    return f"{n:,}"


def count_short(n: int) -> str:
    """At most 3 significant figures and a k/M/G suffix: ``987``, ``12.3k``, ``4.56M``.

    For numbers shown side by side that grow all the time (histogram bins): a panel whose
    text does not change is not redrawn, and exact counts would change on every redraw."""
    n = int(n)
    if abs(n) < 1000:
        return str(n)
    for suffix, scale in (("k", 1e3), ("M", 1e6), ("G", 1e9)):
        value = n / scale
        digits = 2 if abs(value) < 10 else 1 if abs(value) < 100 else 0
        if abs(round(value, digits)) < 1000 or suffix == "G":
            break
    text = f"{value:.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text + suffix


def watts(mw: float | None) -> str:
    if mw is None or not math.isfinite(mw):
        return "-"
    return f"{mw / 1000:.2f} W" if mw < 10_000 else f"{mw / 1000:.1f} W"


def megabytes(mb: float | None) -> str:
    if mb is None or not math.isfinite(mb):
        return "-"
    return f"{mb / 1024:.1f}G" if mb >= 1024 else f"{mb:.0f}M"


def event_summary(kind: str, details: dict) -> str:
    """One line for an event, e.g. ``worker_crashed: killed by SIGKILL``."""
    if kind in ("throttle_begin", "throttle_end"):
        return f"{kind}: {throttle_summary(details, ended=kind == 'throttle_end')}"
    for key in ("reason", "note", "message", "name"):
        value = details.get(key)
        if value:
            text = str(value).splitlines()[0] if str(value).strip() else ""
            return f"{kind}: {text}"
    if kind == "power_mode" and "to_id" in details:
        return f"{kind}: -> {details['to_id']}"
    if kind == "core_online" and "cpu" in details:
        return f"{kind}: cpu{details['cpu']} {'on' if details.get('online') else 'off'}"
    if details:
        parts = [f"{k}={v}" for k, v in sorted(details.items()) if not isinstance(v, (dict, list))][:3]
        return f"{kind}: {' '.join(parts)}" if parts else kind
    return kind


def mhz_against(mhz: float | None, ceiling: float | None) -> str:
    """``612/918 MHz``; just ``612 MHz`` without a ceiling."""
    if mhz is None or not math.isfinite(mhz):
        return "- MHz"
    if ceiling is None or not math.isfinite(ceiling) or ceiling <= 0:
        return f"{mhz:.0f} MHz"
    return f"{mhz:.0f}/{ceiling:.0f} MHz"


def throttle_summary(details: dict, *, ended: bool = False) -> str:
    """A throttling episode in one line: ``gpu 612/918 MHz -33% (thermal)``, ended: ``gpu for 12.3 s``."""
    from edgemon.view.timeline import CAUSE_NAMES

    def num(key: str) -> float | None:
        value = details.get(key)
        return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None

    domain = str(details.get("domain", "?"))
    cause = str(details.get("cause") or "unknown")
    text = f"{domain} {mhz_against(num('clock_mhz'), num('ceiling_mhz'))}"
    drop = num("drop_pct")
    if drop is not None:
        text += f" -{drop:.0f}%"
    if ended and num("duration_s") is not None:
        text += f" for {num('duration_s'):.1f} s"
    return f"{text} ({CAUSE_NAMES.get(cause, cause)})"
