"""`edgemon analyze`, and the analysis flags it shares with `report` and `compare`.

On the CLI start-up path: imports only the standard library; the handler imports what it
needs when it runs.
"""

from __future__ import annotations

import argparse

from edgemon.commands.common import resolve_session, session_arg
from edgemon.errors import UserError
from edgemon.help_format import HelpFormatter


def _seconds(text: str) -> float:
    from edgemon.units import parse_duration

    try:
        return parse_duration(text, what="--window")
    except UserError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _number_in(lo: float, hi: float):
    """An argparse type: a finite number from ``lo`` to ``hi`` (nan, inf and 1e999 are typos)."""
    def parse(text: str) -> float:
        import math

        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(v) or not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"must be between {lo:g} and {hi:g}, got {text!r}")
        return v
    return parse



def add_analyze_options(parser: argparse.ArgumentParser) -> None:
    """Flags shared by analyze, report and compare."""
    g = parser.add_argument_group("analysis")
    g.add_argument("--window", type=_seconds, default=None, metavar="DURATION",
                   help="per-window statistics every DURATION, e.g. 10s, 1m (default: adaptive, <= 120 windows)")
    g.add_argument("--busy-pct", type=_number_in(0.0, 100.0), default=25.0, metavar="PCT",
                   help="worker CPU %% above which it counts as busy for throttling (default: 25)")
    g.add_argument("--thermal-margin", type=_number_in(0.0, 200.0), default=3.0, metavar="C",
                   help="a temperature this close to its trip point explains a throttle (default: 3)")
    g.add_argument("--min-episode", type=_number_in(0.0, 86400.0), default=1.0, metavar="S",
                   help="shortest throttling episode reported, seconds (default: 1)")


def options_from_args(args: argparse.Namespace):
    from edgemon.analysis.summary import AnalysisOptions

    return AnalysisOptions(
        window_s=getattr(args, "window", None),
        busy_cpu_pct=getattr(args, "busy_pct", 25.0),
        thermal_margin_c=getattr(args, "thermal_margin", 3.0),
        min_episode_s=getattr(args, "min_episode", 1.0),
    )


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("analyze", help="latency, throughput and telemetry statistics of a recording",
                       description="Statistics over the measured (non-warm-up) iterations of a recording.",
                       epilog="examples:\n"
                       "  edgemon analyze                  # the newest session, wherever it recorded\n"
                       "  edgemon analyze latest --json | jq .latency_ms.p99\n"
                       "  edgemon analyze ~/bench/recordings/20250301-101500-orin-nano-numpy-mnist_1d",
                       formatter_class=HelpFormatter)
    session_arg(p, optional=True)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    add_analyze_options(p)
    return p


def run(args: argparse.Namespace) -> int:
    """`edgemon analyze` with the options of :func:`add_analyze_options`."""
    from edgemon.analysis.summary import analyze, format_analysis, to_json
    from edgemon.recording.reader import open_recording

    rec = open_recording(resolve_session(args.session))
    result = analyze(rec, options_from_args(args))
    print(to_json(result) if getattr(args, "json", False) else format_analysis(result))
    return 0
