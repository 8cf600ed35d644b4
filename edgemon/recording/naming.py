"""Default recording folder names: ``<root>/<YYYYmmdd-HHMMSS>-<host>-<workload>``."""

from __future__ import annotations

import datetime as _dt
import re
from pathlib import Path

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_PART = 40


def safe_name_part(text: str, fallback: str = "unknown") -> str:
    """``"my model (v2).onnx"`` -> ``"my_model_v2_.onnx"``-like: letters, digits, ``._-`` only."""
    s = _UNSAFE.sub("_", str(text)).strip("._-")[:_MAX_PART].strip("._-")
    return s or fallback


def default_session_dir(root: Path, host: str, workload: str, now: _dt.datetime | None = None) -> Path:
    """A folder name that sorts by start time (local time) and is free; adds ``-2``, ``-3``... if taken.

    Only checks existence; the Recorder creates the folder.
    """
    now = now or _dt.datetime.now()
    base = f"{now:%Y%m%d-%H%M%S}-{safe_name_part(host, 'host')}-{safe_name_part(workload, 'workload')}"
    root = Path(root)
    candidate = root / base
    n = 2
    while candidate.exists():
        candidate = root / f"{base}-{n}"
        n += 1
    return candidate
