"""What several commands share: the session argument and how 'latest' is found. Standard library only.

'latest' means the newest session of this user wherever it records: the per-user session index
(:mod:`edgemon.recording.index`) and ./recordings (sessions recorded before the index existed).
A session that failed to start is never 'latest'. Every path handed back is absolute, so every
message that names it can be pasted into any shell, in any folder.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from edgemon.errors import UserError

LATEST_HELP = ("a recording folder, or 'latest' for this user's newest session wherever it records "
               "(`edgemon ls` lists them)")


def session_arg(p: argparse.ArgumentParser, *, optional: bool = False) -> None:
    p.add_argument(
        "session",
        nargs="?" if optional else None,
        default="latest" if optional else None,
        metavar="DIR",
        help=LATEST_HELP,
    )


def resolve_running_session(arg: str, *, root: Path = Path("recordings")) -> Path:
    """Like resolve_session, but 'latest' prefers the newest session running in the background."""
    if arg == "latest":
        from edgemon.recording.listing import latest_session

        found = latest_session([root], running=True)
        if found is not None:
            return found
    return resolve_session(arg, root=root)


def resolve_session(arg: str, *, root: Path = Path("recordings")) -> Path:
    """A session folder (absolute) from DIR or 'latest'."""
    if arg != "latest":
        path = Path(os.path.abspath(os.path.expanduser(arg)))
        if not path.exists():
            raise UserError(f"no such recording folder: {path}")
        return path
    from edgemon.recording.index import index_dir
    from edgemon.recording.listing import latest_session

    found = latest_session([root])
    if found is None:
        raise UserError(f"no sessions yet: none in the session index ({index_dir()}) nor under "
                        f"{os.path.abspath(root)}; run `edgemon run` first or pass a folder")
    return found
