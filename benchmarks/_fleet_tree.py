"""A fleet tree of real recordings, and the code snippets of the docs, for the scripts (and tests)
that run those snippets on it.

``record_fleet(root)`` runs one short headless `edgemon run` per board at once (two emulated
Jetsons and this plain host) into ``root/<board>/<session>``. ``doc_snippets(path)`` returns
the fenced ``sql`` and ``python`` blocks of a Markdown file by the name in the
``<!-- snippet: NAME -->`` line above each; a block without one is an error, so that no
documented query goes unchecked.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# (board folder, extra `edgemon run` arguments)
BOARDS = (
    ("nano-01", ("--emulate", "nano")),
    ("orin-07", ("--emulate", "orin-nano")),
    ("host-01", ()),
)

_BLOCK = re.compile(r"(?:<!-- snippet: (?P<name>[\w-]+)[^>]*-->\n)?```(?P<lang>sql|python)\n(?P<code>.*?)```", re.S)


def doc_snippets(path: Path) -> dict[str, tuple[str, str]]:
    """``{name: (language, code)}`` of every ```sql / ```python block of ``path``."""
    out: dict[str, tuple[str, str]] = {}
    for m in _BLOCK.finditer(path.read_text(encoding="utf-8")):
        line = path.read_text(encoding="utf-8").count("\n", 0, m.start("code"))
        if not m.group("name"):
            raise ValueError(f"{path}:{line}: a {m.group('lang')} block without a <!-- snippet: NAME --> line")
        if m.group("name") in out:
            raise ValueError(f"{path}:{line}: snippet {m.group('name')} twice")
        out[m.group("name")] = (m.group("lang"), m.group("code"))
    return out


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra or {})
    return env


def record_fleet(root: Path, *, duration: str = "3s", boards=BOARDS, env: dict[str, str] | None = None) -> list[Path]:
    """Run one short headless session per board at once into ``root/<board>/session-<board>``."""
    procs = []
    for board, extra in boards:
        folder = root / board / f"session-{board}"
        folder.parent.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-m", "edgemon", "run", "--headless", "--duration", duration,
                "--record", str(folder), *extra]
        procs.append((folder, subprocess.Popen(argv, cwd=str(root), env=child_env(env), stdout=subprocess.PIPE,
                                               stderr=subprocess.STDOUT, text=True)))
    folders = []
    for folder, proc in procs:
        out, _ = proc.communicate(timeout=240)
        if proc.returncode != 0:
            raise RuntimeError(f"edgemon run for {folder} failed:\n{out}")
        folders.append(folder)
    return folders
