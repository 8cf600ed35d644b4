"""argparse wiring for `edgemon report`, `edgemon compare` and the analysis flags of `analyze`.

On the CLI start-up path: imports only the standard library; every handler imports what
it needs when it runs. The CLI calls ``register(subparsers)`` and dispatches through
``HANDLERS`` (and ``cmd_analyze`` when ``analyze`` takes :func:`add_analyze_options`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from edgemon.errors import UserError
from edgemon.help_format import HelpFormatter


def _seconds(text: str) -> float:
    from edgemon.units import parse_duration

    try:
        return parse_duration(text, what="--window")
    except UserError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _nonneg(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {text!r}")
    return v


def add_analyze_options(parser: argparse.ArgumentParser) -> None:
    """Flags shared by analyze, report and compare."""
    g = parser.add_argument_group("analysis")
    g.add_argument("--window", type=_seconds, default=None, metavar="DURATION",
                   help="per-window statistics every DURATION, e.g. 10s, 1m (default: adaptive, <= 120 windows)")
    g.add_argument("--busy-pct", type=_nonneg, default=25.0, metavar="PCT",
                   help="worker CPU %% above which it counts as busy for throttling (default: 25)")
    g.add_argument("--thermal-margin", type=_nonneg, default=3.0, metavar="C",
                   help="a temperature this close to its trip point explains a throttle (default: 3)")
    g.add_argument("--min-episode", type=_nonneg, default=1.0, metavar="S",
                   help="shortest throttling episode reported, seconds (default: 1)")


def options_from_args(args: argparse.Namespace):
    from edgemon.analysis.summary import AnalysisOptions

    return AnalysisOptions(
        window_s=getattr(args, "window", None),
        busy_cpu_pct=getattr(args, "busy_pct", 25.0),
        thermal_margin_c=getattr(args, "thermal_margin", 3.0),
        min_episode_s=getattr(args, "min_episode", 1.0),
    )


def _session_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("session", nargs="?", default="latest", metavar="DIR",
                   help="a recording folder, or 'latest' for the newest one under ./recordings")


def register(subparsers) -> None:
    """Add the `report` and `compare` subcommands to the CLI's subparsers."""
    rp = subparsers.add_parser(
        "report", help="HTML report with plots of a recording (or tables and charts in the terminal)",
        description="Latency, throughput, throttling, levels and energy of a recording, with plots: written as one "
        "self-contained HTML file with --out, otherwise printed with terminal charts.",
        formatter_class=HelpFormatter,
    )
    _session_arg(rp)
    rp.add_argument("--out", metavar="PATH", default=None,
                    help="write the HTML report here (a .html file, or a folder for report.html)")
    add_analyze_options(rp)
    rp.set_defaults(handler=cmd_report)

    cp = subparsers.add_parser(
        "compare", help="one row per recording with speedups against a reference",
        description="Compare recordings: device, runner, model, power mode, p50/p90/p99, throughput, average "
        "power, energy per item, share of time throttled, and the speedup against a reference session.",
        formatter_class=HelpFormatter,
    )
    cp.add_argument("sessions", nargs="+", metavar="DIR", help="recording folders ('latest' allowed)")
    fmt = cp.add_mutually_exclusive_group()
    fmt.add_argument("--csv", action="store_true", help="CSV output")
    fmt.add_argument("--json", action="store_true", help="JSON output")
    cp.add_argument("--reference", metavar="DIR", default=None,
                    help="the session the speedups are relative to (default: the first)")
    add_analyze_options(cp)
    cp.set_defaults(handler=cmd_compare)


def _resolve(arg: str) -> Path:
    from edgemon.cli import resolve_session

    return resolve_session(arg)


def cmd_analyze(args: argparse.Namespace) -> int:
    """`edgemon analyze` with the options of :func:`add_analyze_options`."""
    from edgemon.analysis.summary import analyze, format_analysis, to_json
    from edgemon.recording.reader import open_recording

    rec = open_recording(_resolve(args.session))
    result = analyze(rec, options_from_args(args))
    print(to_json(result) if getattr(args, "json", False) else format_analysis(result))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from edgemon.recording.reader import open_recording

    rec = open_recording(_resolve(args.session))
    opts = options_from_args(args)
    if args.out:
        from edgemon.report.html import write_report

        path = write_report(rec, args.out, opts)
        print(f"report: {path}")
        return 0
    from edgemon.analysis.data import load
    from edgemon.analysis.summary import analyze, format_analysis
    from edgemon.report.terminal import render_charts

    data = load(rec)
    result = analyze(rec, opts, data=data)
    print(format_analysis(result))
    print()
    print(render_charts(result, data))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from edgemon.analysis.compare import compare, format_compare, to_csv, to_json
    from edgemon.recording.reader import open_recording

    paths = [_resolve(s) for s in args.sessions]
    reference = 0
    if args.reference:
        ref = _resolve(args.reference).resolve()
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


HANDLERS = {"report": cmd_report, "compare": cmd_compare}
