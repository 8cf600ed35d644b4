"""ruff and mypy are configured and run by .ci/run; mypy's baseline only shrinks and lists only
edgemon/emulate/; every noqa and type: ignore says why."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))

import typecheck  # noqa: E402 - scripts/ is put on sys.path just above

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib


def test_ruff_and_mypy_are_configured_and_run_by_ci():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert config["tool"]["ruff"]["lint"]["select"] and config["tool"]["mypy"]["files"] == ["edgemon"]
    assert {"ruff", "mypy"} <= {re.split(r"[<>=]", d)[0] for d in config["project"]["optional-dependencies"]["lint"]}
    ci = (REPO / ".ci" / "run").read_text()
    assert "ruff check ." in ci and "python scripts/typecheck.py" in ci
    assert ci.index("scripts/typecheck.py") < ci.index("pytest")


def test_the_baseline_catches_new_errors_and_only_shrinks():
    output = ("edgemon/a.py:10: error: Incompatible types  [assignment]\n"
              "edgemon/a.py:12:5: error: Incompatible types  [assignment]\n"
              "edgemon/a.py:12: note: a note\nFound 2 errors in 1 file\n")
    current = typecheck.normalise(output)
    assert current == ["edgemon/a.py: Incompatible types  [assignment]"] * 2
    assert typecheck.compare(current, current) == ([], [])
    new, fixed = typecheck.compare(current + ["edgemon/b.py: x  [misc]"], current)
    assert new == ["edgemon/b.py: x  [misc]"] and fixed == []
    new, fixed = typecheck.compare(current[:1], current)        # one fixed: the baseline must shrink
    assert new == [] and fixed == current[:1]


def test_the_baseline_lists_only_real_files():
    entries = typecheck.read_baseline()
    assert entries, "mypy-baseline.txt is empty: delete it and the baseline step instead"
    for entry in entries:
        path = entry.split(":", 1)[0]
        assert (REPO / path).is_file(), entry
    assert typecheck.outside_allowed(entries) == [], "only edgemon/emulate/ may have a mypy baseline"
    assert typecheck.outside_allowed(["edgemon/emulate/tree.py: x  [misc]", "edgemon/session/live.py: x  [misc]"]) \
        == ["edgemon/session/live.py: x  [misc]"]


_UNEXPLAINED = re.compile(r"#\s*noqa(:\s*[A-Z0-9, ]+)?\s*$|#\s*type:\s*ignore(\[[a-z0-9, -]+\])?\s*$")


def test_every_noqa_and_type_ignore_says_why():
    offenders = []
    for folder in ("edgemon", "runners", "benchmarks", "tests", "scripts"):
        for path in sorted((REPO / folder).rglob("*.py")):
            for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
                if _UNEXPLAINED.search(line):
                    offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert not offenders, "say why after the code (# noqa: E731 - why):\n" + "\n".join(offenders)
    assert _UNEXPLAINED.search("x = 1  # noqa: E731") and _UNEXPLAINED.search("x = f()  # type: ignore[arg-type]")
    assert not _UNEXPLAINED.search("x = 1  # noqa: E731 - a one-line helper")


def test_ruff_is_clean():
    try:
        import ruff  # noqa: F401 - only whether it is installed
    except ImportError:
        pytest.skip("ruff is not installed (pip install -e '.[lint]'; .ci/run does)")
    p = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=REPO, capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
