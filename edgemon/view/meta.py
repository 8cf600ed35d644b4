"""Read what the dashboard shows from a session description (``session.json`` / ``Feed.meta``).

LiveSession nests fields (``workload.runner``, ``platform.model``); fixtures and
older recordings may have them flat. These accessors accept both.
"""

from __future__ import annotations

from typing import Any


def _nested(meta: dict[str, Any], group: str, key: str) -> Any:
    value = meta.get(group)
    return value.get(key) if isinstance(value, dict) else None


def runner(meta: dict[str, Any]) -> str:
    return str(meta.get("runner") or _nested(meta, "workload", "runner") or meta.get("framework") or "")


def model(meta: dict[str, Any]) -> str:
    return str(meta.get("model") or _nested(meta, "workload", "model") or "")


def board(meta: dict[str, Any]) -> str:
    return str(meta.get("board") or _nested(meta, "platform", "model") or "")


def is_jetson(meta: dict[str, Any]) -> bool:
    return _nested(meta, "platform", "kind") == "jetson" or "jetson" in board(meta).lower()


def host(meta: dict[str, Any]) -> str:
    return str(meta.get("host") or _nested(meta, "platform", "hostname") or "?")


def workload(meta: dict[str, Any]) -> str:
    """``runner model`` (either may be missing); ``monitor only`` without a workload."""
    if kind(meta) == "watch":
        return "monitor only"
    return " ".join(x for x in (runner(meta), model(meta)) if x)


def kind(meta: dict[str, Any]) -> str:
    """``runner``, ``command``, ``watch`` or ``imported`` (older recordings: ``runner``)."""
    from edgemon.workload.spec import session_kind

    return session_kind(meta)


def latency_hint(meta: dict[str, Any]) -> str:
    """Where latency rows come from, for a latency panel that has none (yet)."""
    from edgemon.workload.spec import latency_source_hint

    return latency_source_hint(meta)
