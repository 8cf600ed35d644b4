"""What every machine control needs: where the machine is, which tools to run, who we are.

All paths are under ``root`` and every tool is looked up through ``executables``
(name -> path), so fixture trees, the emulated board and real Jetsons run the
same code.
"""

from __future__ import annotations

import os
import pwd
import shutil
from dataclasses import dataclass, field
from pathlib import Path

# Where L4T installs its tools; used only when no path is configured.
DEFAULT_EXECUTABLES = {
    "nvpmodel": "/usr/sbin/nvpmodel",
    "jetson_clocks": "/usr/bin/jetson_clocks",
    "sudo": "/usr/bin/sudo",
    "tee": "/usr/bin/tee",
}
# Board tools are only taken from the host when the root is the real "/": a fixture
# tree must never drive the host's nvpmodel.
BOARD_TOOLS = frozenset({"nvpmodel", "jetson_clocks"})

SUDOERS_FILE = "/etc/sudoers.d/edgemon"
JTOP_HINT = "or install jetson-stats and start the jtop service"


def _current_user() -> str:
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return os.environ.get("USER") or str(os.getuid())


@dataclass
class ControlResult:
    """The outcome of one control action. ``message`` says what happened or exactly what to configure."""

    ok: bool
    message: str
    detail: str = ""          # raw tool output, for logs
    strategy: str = ""        # "direct", "sudo", "jtop", or "" when nothing ran
    denied: bool = False      # no privilege (another strategy may still work)

    def to_dict(self) -> dict:
        return {"ok": self.ok, "message": self.message, "strategy": self.strategy}


@dataclass
class ControlContext:
    root: Path = Path("/")
    executables: dict[str, str] = field(default_factory=dict)
    is_root: bool = field(default_factory=lambda: os.geteuid() == 0)
    user: str = field(default_factory=_current_user)
    timeout_s: float = 10.0
    jtop_socket: str = "/run/jtop.sock"

    def __post_init__(self) -> None:
        self.root = Path(self.root)

    def path(self, absolute: str) -> Path:
        """``/sys/...`` under the configured root."""
        return self.root / str(absolute).lstrip("/")

    def executable(self, name: str) -> str | None:
        """Absolute path of tool ``name``, or None when it is not here."""
        given = self.executables.get(name)
        if given:
            if os.sep in given:
                return given if os.access(given, os.X_OK) else None
            return shutil.which(given)
        if name in BOARD_TOOLS and self.root != Path("/"):
            from edgemon.platform.tools import board_tool

            return board_tool(self.root, name)
        default = DEFAULT_EXECUTABLES.get(name)
        if default and os.access(default, os.X_OK):
            return default
        return shutil.which(name)

    def sudoers_line(self, command: str) -> str:
        return f"{self.user} ALL=(root) NOPASSWD: {command}"

    def needs_root(self, what: str, sudoers_command: str, *, jtop_hint: bool = False) -> str:
        """The one-line message that says exactly what to configure."""
        msg = (f"{what} needs root: add `{self.sudoers_line(sudoers_command)}` "
               f"with `sudo visudo -f {SUDOERS_FILE}`")
        return msg + (f", {JTOP_HINT}" if jtop_hint else "")
