"""`edgemon report`: an HTML report with plots of a recording, or tables and charts in the terminal.

Standard library only at module level.
"""

from __future__ import annotations

import argparse

from edgemon.commands.analyze import add_analyze_options, options_from_args
from edgemon.commands.common import resolve_session, session_arg
from edgemon.help_format import HelpFormatter


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "report", help="HTML report with plots of a recording (or tables and charts in the terminal)",
        description="Latency, throughput, throttling, levels and energy of a recording, with plots: written as one "
        "self-contained HTML file with --out, otherwise printed with terminal charts.",
        epilog="examples:\n"
        "  edgemon report                   # tables and charts in the terminal\n"
        "  edgemon report latest --out report.html",
        formatter_class=HelpFormatter,
    )
    session_arg(p, optional=True)
    p.add_argument("--out", metavar="PATH", default=None,
                   help="write the HTML report here (a .html file, or a folder for report.html)")
    add_analyze_options(p)
    return p


def run(args: argparse.Namespace) -> int:
    from edgemon.recording.reader import open_recording

    rec = open_recording(resolve_session(args.session))
    opts = options_from_args(args)
    if args.out:
        from edgemon.report.html import write_report

        path = write_report(rec, args.out, opts)
        print(f"report: {path.absolute()}")
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
