"""Which machine, and which boot of it, this is: what ``edgemon restore`` checks a recording
against (the state a session saved applies to that machine during that boot only).

Always the host's own files, whatever ``--sysfs-root`` says: a session reading a fixture tree
or a mounted board still runs on this machine.
"""

from __future__ import annotations

import re
from pathlib import Path

MACHINE_ID_FILES = ("/etc/machine-id", "/var/lib/dbus/machine-id")
BOOT_ID_FILE = "/proc/sys/kernel/random/boot_id"
_ID = re.compile(r"^[0-9a-fA-F-]{8,64}$")


def _first_id(paths) -> str | None:
    for path in paths:
        try:
            text = Path(path).read_text(encoding="ascii", errors="replace").strip()
        except OSError:
            continue
        if _ID.match(text):
            return text.lower()
    return None


def machine_id() -> str | None:
    return _first_id(MACHINE_ID_FILES)


def boot_id() -> str | None:
    return _first_id((BOOT_ID_FILE,))


def identity() -> dict[str, str | None]:
    """``{"machine_id": ..., "boot_id": ...}`` for session.json's ``machine``."""
    return {"machine_id": machine_id(), "boot_id": boot_id()}
