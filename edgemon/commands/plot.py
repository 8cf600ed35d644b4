"""`edgemon plot`: figures of a recording for a paper (PNG, SVG or PDF). Standard library only at
module level; matplotlib (the ``plot`` extra) is imported when it runs.
"""

from __future__ import annotations

import argparse

from edgemon.commands.analyze import add_analyze_options, options_from_args
from edgemon.commands.common import resolve_session, session_arg
from edgemon.help_format import HelpFormatter

SUBJECTS = ("latency", "clocks", "thermal", "power", "memory")   # edgemon.report.figures.SUBJECTS

_EXAMPLES = """\
examples:
  edgemon plot latest --out fig.pdf    # every figure: fig-latency.pdf, ...
  edgemon plot DIR --out latency.png --what latency
  edgemon plot DIR --out run.svg --what clocks,thermal
"""


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "plot", help="figures of a recording for a paper (PNG, SVG, PDF)",
        description="Publication-ready figures of a recording, drawn with matplotlib (pip install "
        "'edgemon[plot]'): latency per window on a log axis with p50 and p99, clocks per core "
        "as small multiples, clock against temperature, power with the energy used, memory. "
        "Throttling episodes are shaded and labelled by cause, events are labelled in the "
        "figure. One figure per --what: with one it goes to FILE, with several to FILE's name "
        "with -latency, -clocks, ... before the suffix.",
        epilog=_EXAMPLES, formatter_class=HelpFormatter,
    )
    session_arg(p, optional=True)
    p.add_argument("--out", metavar="FILE", required=True,
                   help="the figure file: .png, .svg or .pdf")
    p.add_argument("--what", metavar="LIST", default=None,
                   help=f"comma-separated, from {','.join(SUBJECTS)} (default: every one the "
                   "recording has data for)")
    add_analyze_options(p)
    return p


def run(args: argparse.Namespace) -> int:
    from edgemon.recording.reader import open_recording
    from edgemon.report.figures import parse_subjects, write_figures

    subjects = parse_subjects(args.what)
    rec = open_recording(resolve_session(args.session))
    for path in write_figures(rec, args.out, subjects, options_from_args(args)):
        print(f"figure: {path}")
    return 0
