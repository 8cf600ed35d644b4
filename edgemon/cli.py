"""Command line: `edgemon [run] | attach | ls | stop | replay | analyze | report | compare | ...`.

A thin dispatcher: each command is one module, ``edgemon/commands/<command>.py``, with
``add_parser(subparsers)`` and ``run(args) -> int``. Start-up must stay fast (`edgemon --help`
< 0.3 s), so this module and every command module import only the standard library at module
level; a command imports what it needs when it runs. A command module that fails to import
is a broken installation or a bug: edgemon says which module and why, and exits 1.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from edgemon import __version__
from edgemon.errors import UserError
from edgemon.help_format import ArgumentParser, HelpFormatter

# In the order `edgemon --help` lists them.
COMMANDS = ("run", "watch", "attach", "serve", "ls", "stop", "replay", "analyze", "info", "models", "recover",
            "restore", "report", "plot", "compare", "matrix", "import")
# Commands whose module name differs from the command (`import` is a Python keyword).
_MODULES = {"import": "import_"}

_DESCRIPTION = """\
edgemon runs an inference or stress loop in a worker process, watches the machine
(CPU/GPU clocks and load, memory, temperatures, power rails) while it runs, shows
both on a live dashboard and records them together, crash-safe, for analysis and
replay.

With no command, `edgemon` means `edgemon run`: the numpy runner doing batch-1
inference of the MNIST 1D network, recorded under ./recordings/, until you press q.
"""

_EXAMPLES = """\
examples:
  edgemon                                  # dashboard on the default workload
  edgemon run --duration 10m --headless    # 10 minutes, summary at the end
  edgemon run --model reuters_dense --batch 32 --threads 2 --warmup 100,5s
  edgemon run --emulate agx-orin           # everything on an emulated Orin
  edgemon run --detach --duration 3h       # survives SSH; `edgemon attach`
  edgemon run --duration 10m -- python train.py
                                           # any program as the workload
  edgemon watch --duration 1h              # only the machine, no workload
  edgemon import tegrastats board.log --record recordings/old
  edgemon run --profile profiles/study004_energy.toml --detach
                                           # repetitions, cool-down, baseline
  edgemon ls                               # sessions: running, ended, died
  edgemon replay latest                    # space, +/-, arrows; q quits
  edgemon analyze recordings/<session> --json
  edgemon info                             # what this machine offers

Run `edgemon COMMAND --help` for the options of one command.
"""


class CommandModuleError(Exception):
    """A command module could not be imported: a bug or a broken installation, not the user's mistake."""

    def __init__(self, module: str, exc: BaseException):
        super().__init__(f"cannot load command module {module}: {type(exc).__name__}: {exc}")
        self.module = module


def _command_module(name: str):
    module = f"edgemon.commands.{_MODULES.get(name, name)}"
    try:
        return importlib.import_module(module)
    except Exception as exc:
        raise CommandModuleError(module, exc) from exc


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="edgemon", description=_DESCRIPTION, epilog=_EXAMPLES, formatter_class=HelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"edgemon {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = _command_module(name)
        module.add_parser(sub).set_defaults(handler=module.run)
    return parser


def _normalise_argv(argv: list[str]) -> list[str]:
    """Bare `edgemon` and `edgemon --duration 1m` mean `edgemon run ...`."""
    if not argv:
        return ["run"]
    if argv[0] in COMMANDS or argv[0] in ("-h", "--help", "--version"):
        return argv
    return ["run", *argv]


def _split_command(argv: list[str]) -> tuple[list[str], list[str] | None]:
    """``run [options] -- CMD [ARGS...]``: the options, and the command (None without ``--``).
    Split before argparse sees it, so the command's own options are never taken for ours."""
    if "--" not in argv:
        return argv, None
    i = argv.index("--")
    return argv[:i], argv[i + 1:]


def main(argv: list[str] | None = None) -> int:
    argv, command = _split_command(_normalise_argv(list(sys.argv[1:] if argv is None else argv)))
    try:
        parser = build_parser()
    except CommandModuleError as exc:
        print(f"edgemon: internal error: {exc}", file=sys.stderr)
        return 1
    try:
        args = parser.parse_args(argv)
        if command is not None:
            if "command_argv" not in vars(args):
                print(f"edgemon: `edgemon {args.command}` takes no command after --; "
                      "`edgemon run [options] -- CMD` runs one", file=sys.stderr)
                return 2
            args.command_argv = command
        code = args.handler(args)
        sys.stdout.flush()      # here, not at exit: a closed pipe must be caught (below)
        return code
    except UserError as exc:
        print(f"edgemon: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return _closed_pipe()
    except SystemExit:          # argparse: --help, or a usage error; its output may meet a closed pipe too
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            return _closed_pipe()
        raise


# 128 + SIGPIPE: what any command killed by a closed pipe reports (`edgemon ls | head -1`).
EXIT_CLOSED_PIPE = 141


def _closed_pipe() -> int:
    """The reader of our output went away (``| head``): end quietly. stdout is pointed at
    /dev/null so that the interpreter's final flush does not fail again with a traceback."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
    return EXIT_CLOSED_PIPE
