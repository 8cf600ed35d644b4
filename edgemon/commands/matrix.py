"""`edgemon matrix`: every model on every runner, briefly (:mod:`edgemon.workload.matrix`).

Standard library only at module level.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from edgemon.errors import UserError
from edgemon.help_format import HelpFormatter


def _split(text: str | None) -> list[str] | None:
    return [t.strip() for t in text.split(",") if t.strip()] if text else None


def _options(pairs: list[str]) -> dict[str, dict[str, str]]:
    """``--opt [RUNNER:]KEY=VALUE`` -> {runner or "*": {key: value}}."""
    out: dict[str, dict[str, str]] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--opt takes [RUNNER:]KEY=VALUE, got {pair!r}")
        runner, colon, key = key.strip().rpartition(":")
        out.setdefault(runner if colon else "*", {})[key] = value.strip()
    return out


def add_parser(sub) -> argparse.ArgumentParser:
    from edgemon.workload.matrix import DEFAULT_ITERATIONS, DEFAULT_MIN_TIME_S, DEFAULT_WARMUP  # stdlib-only module

    p = sub.add_parser(
        "matrix",
        help="run every model on every runner briefly; a compatibility table with the reason for each failure",
        description="Run each model x runner combination in a fresh worker (no dashboard, no recording): a "
        "warm-up, then at least --iterations measured iterations over at least --min-time, and record the "
        "outcome: ok with the median latency and the framework's thread count, or the one-line reason it did "
        "not run. Writes the table as JSON and CSV too.",
        formatter_class=HelpFormatter,
        epilog="examples:\n  edgemon matrix --runners tflite,openvino --models mnist_2d,mobilenet_v1_025\n"
        "  edgemon matrix --runners openvino --opt openvino:device=AUTO --json",
    )
    p.add_argument("--runners", default=None, help="comma list (default: every runner)")
    p.add_argument("--models", default=None,
                   help="comma list of built-in models or model files (default: every built-in model)")
    p.add_argument("--iterations", type=int, default=DEFAULT_ITERATIONS,
                   help=f"measured iterations per cell, at least (default: {DEFAULT_ITERATIONS})")
    p.add_argument("--min-time", default=f"{DEFAULT_MIN_TIME_S:g}s", metavar="DURATION",
                   help=f"measure each cell for at least this long (default: {DEFAULT_MIN_TIME_S:g}s)")
    p.add_argument("--warmup", default=DEFAULT_WARMUP,
                   help=f"warm-up per cell: iterations and/or time, e.g. 10, 2s, 10,1s (default: {DEFAULT_WARMUP})")
    p.add_argument("--threads", type=int, default=None,
                   help="framework intra-op threads in every cell (default: each framework's own, shown per cell)")
    p.add_argument("--batch", type=int, default=1, help="items per inference (default: 1)")
    p.add_argument("--timeout", default="120s", metavar="DURATION",
                   help="give up on a cell after this long, model build included (default: 120s)")
    p.add_argument("--opt", action="append", default=[], metavar="[RUNNER:]KEY=VALUE",
                   help="runner option, for one runner (openvino:device=GPU) or all; repeatable")
    p.add_argument("--python", default=None, metavar="EXE", help="interpreter for the workers")
    p.add_argument("--out", default=None, metavar="PREFIX",
                   help="write PREFIX.json and PREFIX.csv (default: ./matrix-<date>-<time>)")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print JSON instead of the table")
    fmt.add_argument("--csv", action="store_true", help="print CSV instead of the table")
    return p


def run(args: argparse.Namespace) -> int:
    from edgemon.units import MAX_BATCH, parse_duration, parse_warmup
    from edgemon.workload.matrix import format_table, run_matrix, to_csv, to_json, write_files

    if args.iterations < 1:
        raise UserError(f"--iterations must be at least 1, got {args.iterations}")
    parse_warmup(args.warmup)            # a malformed one is a one-line error here, not per cell
    if args.threads is not None and args.threads < 1:
        raise UserError(f"--threads must be at least 1, got {args.threads}")
    min_time_s = parse_duration(args.min_time, what="--min-time")
    if args.batch < 1:
        raise UserError(f"--batch must be at least 1, got {args.batch}")
    for name, value, most in (("--iterations", args.iterations, 1_000_000_000), ("--batch", args.batch, MAX_BATCH)):
        if value > most:
            raise UserError(f"{name} must be at most {most}, got {value}")
    timeout_s = parse_duration(args.timeout, what="--timeout")
    quiet = args.json or args.csv

    def progress(line: str) -> None:
        if not quiet:
            print(line, file=sys.stderr, flush=True)

    result = run_matrix(_split(args.runners), _split(args.models), iterations=args.iterations,
                        warmup=args.warmup, batch=args.batch, timeout_s=timeout_s,
                        options=_options(args.opt), python=args.python, progress=progress,
                        threads=args.threads, min_time_s=min_time_s)
    prefix = Path(args.out) if args.out else Path(time.strftime("matrix-%Y%m%d-%H%M%S"))
    json_path, csv_path = write_files(result, prefix)
    if args.json:
        print(to_json(result))
    elif args.csv:
        print(to_csv(result), end="")
    else:
        print(format_table(result))
        print(f"written: {json_path.absolute()}, {csv_path.absolute()}")
    return 0
