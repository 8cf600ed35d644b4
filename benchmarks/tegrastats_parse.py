"""How fast is edgemon.telemetry.tegrastats.parse_line?

Parses every real tegrastats line of tests/tegrastats_expected.py (or a file given
with --lines, one JSON record or plain line per row) repeatedly and prints
lines/s and µs/line overall and per line. tegrastats prints 10 lines/s at
--interval 100, so the parser's share of one core is rate × µs/line.

    .venv/bin/python benchmarks/tegrastats_parse.py [--seconds 2] [--lines FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from edgemon.telemetry.tegrastats import parse_line  # noqa: E402 - after the sys.path line


def reference_lines() -> list[tuple[str, str]]:
    """The real lines the parser tests use, one of every form from L4T 24 to JetPack 7."""
    sys.path.insert(0, str(HERE.parent / "tests"))
    from tegrastats_expected import LINES

    return list(LINES.items())


def load(path: Path) -> list[tuple[str, str]]:
    out = []
    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines()):
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw)
            out.append((str(rec.get("id", n)), rec["line"]))
        except (ValueError, KeyError, TypeError, AttributeError):
            out.append((str(n), raw))
    return out


def rate(lines: list[str], seconds: float) -> tuple[int, float]:
    """(lines parsed, elapsed s) looping over ``lines`` for about ``seconds``."""
    n = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for line in lines:
            parse_line(line)
        n += len(lines)
        now = time.perf_counter()
        if now >= deadline:
            return n, now - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=Path, default=None, help="lines to parse (default: the tests' reference lines)")
    ap.add_argument("--seconds", type=float, default=3.0, help="total duration of the overall run")
    ap.add_argument("--rounds", type=int, default=7, help="rounds; best and median are reported")
    args = ap.parse_args()
    records = load(args.lines) if args.lines is not None else reference_lines()
    if not records:
        sys.exit(f"no lines in {args.lines}")
    lines = [line for _, line in records]
    rate(lines, 0.2)  # warm-up
    us = sorted(t / n * 1e6 for n, t in (rate(lines, args.seconds / args.rounds)
                                         for _ in range(args.rounds)))
    best, median = us[0], us[len(us) // 2]
    print(f"{len(lines)} distinct lines from {args.lines}")
    print(f"overall ({sys.implementation.name} {sys.version.split()[0]}, {args.rounds} rounds): "
          f"best {best:.1f} µs/line = {1e6 / best:,.0f} lines/s; median {median:.1f} µs/line")
    print(f"at tegrastats --interval 100 (10 lines/s): {10 * median / 1e4:.3f} % of one core here")
    per = max(args.seconds / len(lines) / 3, 0.02)
    for ident, line in records:
        best_line = min(t / k * 1e6 for k, t in (rate([line], per) for _ in range(3)))
        print(f"  {ident:>6}  {best_line:6.1f} µs/line  {len(line.split()):3d} tokens")


if __name__ == "__main__":
    main()
