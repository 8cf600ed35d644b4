"""argparse help that fits the terminal: prose paragraphs wrap, indented example lines stay as written."""

from __future__ import annotations

import argparse
import textwrap
from typing import NoReturn


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        out = []
        for para in text.split("\n\n"):
            lines = para.splitlines()
            if any(line[:1].isspace() for line in lines) or para.rstrip().endswith(":"):
                out.append("\n".join(indent + line for line in lines))  # examples, lists: as written
            else:
                out.append(textwrap.fill(" ".join(lines), width, initial_indent=indent, subsequent_indent=indent))
        return "\n\n".join(out)


class ArgumentParser(argparse.ArgumentParser):
    """argparse, with a usage error said in one line (the usage block buries it on an 80x24
    screen) and where to find the options; exit 2 as argparse does. Subcommands' parsers are
    of this class too (``add_subparsers`` uses the parser's own class)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message}; `{self.prog} --help` lists the options\n")
