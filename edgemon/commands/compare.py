"""`edgemon compare`: one row per recording with speedups against a reference. Standard library
only at module level.
"""

from __future__ import annotations

import argparse

from edgemon.commands.analyze import add_analyze_options, options_from_args
from edgemon.commands.common import resolve_session
from edgemon.help_format import HelpFormatter


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "compare", help="one row per recording with speedups against a reference",
        description="Compare recordings: device, runner, model, power mode, p50/p90/p99, throughput, average "
        "power, energy per item, share of time throttled, and the speedup against a reference session.",
        epilog="examples:\n"
        "  edgemon compare runs/a runs/b runs/c --reference runs/a\n"
        "  edgemon compare latest runs/baseline --csv > compare.csv",
        formatter_class=HelpFormatter,
    )
    p.add_argument("sessions", nargs="+", metavar="DIR", help="recording folders ('latest' allowed)")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--csv", action="store_true", help="CSV output")
    fmt.add_argument("--json", action="store_true", help="JSON output")
    p.add_argument("--reference", metavar="DIR", default=None,
                   help="the session the speedups are relative to (default: the first)")
    add_analyze_options(p)
    return p


def run(args: argparse.Namespace) -> int:
    from edgemon.analysis.compare import compare, format_compare, to_csv, to_json
    from edgemon.recording.reader import open_recording

    paths = [resolve_session(s) for s in args.sessions]
    reference = 0
    if args.reference:
        ref = resolve_session(args.reference).resolve()
        found = [i for i, p in enumerate(paths) if p.resolve() == ref]
        if found:
            reference = found[0]
        else:
            paths.insert(0, ref)
    recs = [open_recording(p) for p in paths]
    table = compare(recs, reference, options_from_args(args))
    if args.csv:
        print(to_csv(table), end="")
    elif args.json:
        print(to_json(table))
    else:
        print(format_compare(table))
    return 0
