"""`edgemon watch`: record the machine (telemetry, events, controls) while you run anything elsewhere.

The same session as `edgemon run` without a workload (`edgemon run --runner none`): dashboard,
detach/attach, Prometheus and recording work as there. The throttling analysis of such a
recording decides "busy" from the machine's CPU and GPU load, since no worker says it is working.
Standard library only at module level.
"""

from __future__ import annotations

import argparse

from edgemon.help_format import HelpFormatter


def add_parser(sub) -> argparse.ArgumentParser:
    from edgemon.commands.run import add_session_options

    p = sub.add_parser(
        "watch",
        help="record the machine while you run anything elsewhere (no workload)",
        description="Sample and record the machine (clocks, load, memory, temperatures, power, events, "
        "controls) without starting a workload: run your own program in another terminal, or on "
        "another schedule. The dashboard's controls (power mode, cores, jetson_clocks, fan) work as in "
        "`edgemon run`; `edgemon analyze` then finds throttling while the CPU or GPU was busy.",
        formatter_class=HelpFormatter,
        epilog="examples:\n"
        "  edgemon watch                              # dashboard until q\n"
        "  edgemon watch --duration 1h --detach       # background; edgemon attach\n"
        "  edgemon watch --headless --duration 10m --record recordings/idle\n\n"
        "Durations take s, m, h (90s, 10m, 3h, 1h30m).",
    )
    p.add_argument("--duration", default=None, help="stop after this long, e.g. 90s, 10m, 3h (default: until quit)")
    add_session_options(p, worker=False)
    return p


def run(args: argparse.Namespace) -> int:
    from edgemon.commands import run as run_command

    parser = argparse.ArgumentParser(add_help=False)
    run_command.add_parser(parser.add_subparsers())
    full = vars(parser.parse_args(["run"]))           # every `run` option at its default ...
    full.update(vars(args))                           # ... and what was given here
    full.update(runner="none", hang_timeout="0")
    return run_command.run(argparse.Namespace(**full))
