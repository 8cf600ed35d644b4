"""Where a board's own tools (tegrastats, nvpmodel, jetson_clocks) live under a root.

On the real root they are on PATH or in /usr/bin and /usr/sbin. Under any other root (a
fixture tree, an emulated board, a board's filesystem mounted elsewhere) they are looked up
only inside that root, never on the host: a fixture must never drive the host's nvpmodel.
"""

from __future__ import annotations

import os
from pathlib import Path

TOOL_DIRS = ("usr/sbin", "usr/bin", "bin")


def board_tool(root: Path, name: str) -> str | None:
    """Absolute path of an executable ``name`` in root's usr/sbin, usr/bin or bin; else None."""
    for folder in TOOL_DIRS:
        candidate = Path(root) / folder / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None
