"""What the dashboard and the status line say about throttling now: the header flag and the
clock ceilings, from the session's ``throttle_begin`` / ``throttle_end`` events (the live
classifier, :mod:`edgemon.analysis.throttle_online`) and its power-mode changes.

Headless (no Textual).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from edgemon.view import fmt
from edgemon.view.model import DashboardModel
from edgemon.view.timeline import CAUSE_LETTERS, CAUSE_NAMES

_CPU_FREQ = re.compile(r"^cpu\d+_freq_mhz$")
DOMAIN_ORDER = ("cpu", "gpu", "emc")


@dataclass(frozen=True)
class ThrottleFlag:
    """The open episodes, worst first. ``text`` for a wide header, ``medium`` and ``short`` for
    narrower ones, ``detail`` one line on the deepest episode (clock against ceiling, since when, why)."""

    domains: tuple[str, ...]
    cause: str
    text: str
    medium: str
    short: str
    detail: str

    @property
    def forms(self) -> tuple[str, str, str]:
        """Longest first: what a header tries until one fits."""
        return self.text, self.medium, self.short


def throttle_flag(model: DashboardModel) -> ThrottleFlag | None:
    """None while nothing is throttled."""
    if not model.throttled:
        return None
    episodes = sorted(model.throttled.values(),
                      key=lambda ev: (-_num(ev.details.get("drop_pct"), -1.0), DOMAIN_ORDER.index(
                          ev.details.get("domain")) if ev.details.get("domain") in DOMAIN_ORDER else 9))
    worst = episodes[0]
    domains = tuple(str(ev.details.get("domain", "?")) for ev in episodes)
    cause = str(worst.details.get("cause") or "unknown")
    text = f"THROTTLED {' '.join(domains)}: {CAUSE_NAMES.get(cause, cause)}"
    medium = f"THROTTLED {cause.replace('_', ' ')}"
    short = f"THR {CAUSE_LETTERS.get(cause, '?')}"
    detail = fmt.throttle_summary(worst.details)
    start = worst.details.get("start_ns")
    rel = model.relative_s(int(start)) if isinstance(start, int) else None
    if rel is not None:
        detail += f" since {fmt.clock(max(rel, 0.0))}"
    evidence = worst.details.get("evidence")
    if isinstance(evidence, list) and evidence:
        detail += f": {evidence[0]}"
    return ThrottleFlag(domains, cause, text, medium, short, detail)


def clock_ceiling(metric: str, meta: dict[str, Any], model: DashboardModel) -> float | None:
    """The ceiling the current power mode allows ``metric`` (MHz): the last power-mode change's,
    else the session's at start; None when neither names it."""
    for ceilings in (model.ceilings, meta.get("clock_ceilings")):
        if not isinstance(ceilings, dict) or not ceilings:
            continue
        value = ceilings.get(metric)
        if value is None and _CPU_FREQ.match(metric):
            value = ceilings.get("cpu_freq_mhz")
        if isinstance(value, (int, float)) and value > 0:
            return float(value)
        return None       # the newest ceilings are the current ones, even where they are silent
    return None


def _num(value: Any, default: float) -> float:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else default
