"""mypy over edgemon/: clean, except the emulator's known errors, a baseline that only shrinks.

    python scripts/typecheck.py            # fails on an error that is not in the baseline, on a
                                           # baseline entry that no longer occurs, and on a
                                           # baseline entry outside edgemon/emulate/
    python scripts/typecheck.py --update   # drops the entries that no longer occur (never adds one)

The configuration is in pyproject.toml ([tool.mypy]). ``mypy-baseline.txt`` lists the errors
known when the check was introduced, as ``path: message  [code]`` (no line numbers, so edits
elsewhere in a file do not churn it), one line per occurrence. Only edgemon/emulate/ (the Jetson
emulator, which only tests use) may have entries: the headless core and the rest of edgemon/ are
clean. Fix the emulator's errors when you touch it and run ``--update``.
A new error is fixed, or, where mypy is wrong, silenced with ``# type: ignore[code]  # why``.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BASELINE = REPO / "mypy-baseline.txt"
HEADER = ("# mypy errors known when the check was introduced, in edgemon/emulate/ only; this list only "
          "shrinks (scripts/typecheck.py)\n")
# The only paths the baseline may list; everything else must be clean.
ALLOWED = ("edgemon/emulate/",)
_ERROR = re.compile(r"^(?P<path>[^:\s]+\.py):\d+(?::\d+)?: error: (?P<message>.*)$")


def normalise(output: str) -> list[str]:
    """``path: message  [code]`` for every error line of mypy's output, sorted."""
    out = []
    for line in output.splitlines():
        m = _ERROR.match(line.strip())
        if m:
            out.append(f"{m['path']}: {m['message'].strip()}")
    return sorted(out)


def compare(current: list[str], baseline: list[str]) -> tuple[list[str], list[str]]:
    """(errors not in the baseline, baseline entries that no longer occur), as multisets."""
    now, known = Counter(current), Counter(baseline)
    return sorted((now - known).elements()), sorted((known - now).elements())


def outside_allowed(entries: list[str]) -> list[str]:
    """The baseline entries for a path outside ``ALLOWED`` (there must be none)."""
    return [e for e in entries if not e.startswith(ALLOWED)]


def read_baseline(path: Path = BASELINE) -> list[str]:
    if not path.exists():
        return []
    return sorted(line for line in path.read_text().splitlines() if line.strip() and not line.startswith("#"))


def run_mypy() -> tuple[int, str]:
    p = subprocess.run([sys.executable, "-m", "mypy"], cwd=REPO, capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--update", action="store_true", help="drop baseline entries that no longer occur")
    args = ap.parse_args(argv)
    code, output = run_mypy()
    current = normalise(output)
    if code not in (0, 1) or (code == 1 and not current):
        print(output, end="")
        print(f"mypy did not run (exit {code})")
        return 2
    baseline = read_baseline()
    new, fixed = compare(current, baseline)
    if new:
        print(output, end="")
        print(f"\n{len(new)} mypy error(s) not in {BASELINE.name}:")
        print("\n".join(f"  {e}" for e in new))
        return 1
    if fixed:
        if args.update:
            BASELINE.write_text(HEADER + "".join(f"{e}\n" for e in current))
            print(f"{BASELINE.name}: dropped {len(fixed)} fixed entr{'y' if len(fixed) == 1 else 'ies'}")
            baseline = current
        else:
            print(f"{len(fixed)} baseline entr{'y' if len(fixed) == 1 else 'ies'} no longer occur; run "
                  f"python scripts/typecheck.py --update to drop them (the baseline only shrinks):")
            print("\n".join(f"  {e}" for e in fixed))
            return 1
    stray = outside_allowed(baseline)
    if stray:
        files = sorted({e.split(":", 1)[0] for e in stray})
        print(f"{BASELINE.name} lists {len(stray)} error(s) outside {', '.join(ALLOWED)} (in {', '.join(files)}): "
              f"only the emulator may have a baseline; fix them")
        return 1
    print(f"mypy: no new errors ({len(current)} known in {BASELINE.name})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
