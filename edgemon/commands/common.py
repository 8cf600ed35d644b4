"""What several commands share: the session argument and how 'latest' is found. Standard library only."""

from __future__ import annotations

import argparse
from pathlib import Path

from edgemon.errors import UserError


def session_arg(p: argparse.ArgumentParser, *, optional: bool = False) -> None:
    p.add_argument(
        "session",
        nargs="?" if optional else None,
        default="latest" if optional else None,
        metavar="DIR",
        help="a recording folder, or 'latest' for the newest one under ./recordings",
    )


def resolve_running_session(arg: str, *, root: Path = Path("recordings")) -> Path:
    """Like resolve_session, but 'latest' prefers the newest session running in the background."""
    if arg == "latest":
        from edgemon.recording.listing import latest_running

        found = latest_running([root])
        if found is not None:
            return found
    return resolve_session(arg, root=root)


def resolve_session(arg: str, *, root: Path = Path("recordings")) -> Path:
    """A session folder from DIR or 'latest' (newest folder with a session.json under ./recordings)."""
    if arg != "latest":
        path = Path(arg)
        if not path.exists():
            raise UserError(f"no such recording folder: {arg}")
        return path
    candidates = [p.parent for p in root.glob("*/session.json")]
    if not candidates:
        raise UserError(f"no recordings under {root}/ yet; run `edgemon run` first or pass a folder")
    return max(candidates, key=lambda p: (p / "session.json").stat().st_mtime)
