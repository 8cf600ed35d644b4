"""Reading a CSV log: one-line errors for a file that is not one, and rows with their line numbers."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from edgemon.errors import UserError
from edgemon.importers.timebase import LineProblems


def open_csv(path: Path, what: str) -> IO[str]:
    """``path`` open for the csv module; UserError (one line) when it is missing, a folder, unreadable."""
    try:
        if path.is_dir():
            raise UserError(f"{path} is a folder; give the {what} file")
        return open(path, newline="", encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None


def header(path: Path, reader) -> list[str]:
    try:
        head = next(reader)
    except StopIteration:
        raise UserError(f"{path} is empty: nothing to import") from None
    except csv.Error as exc:
        raise UserError(f"{path}:1: not a CSV file ({exc})") from None
    return [h.strip() for h in head]


class Rows:
    """The data rows after the header as ``(line number, cells)``, blank rows skipped; a row the
    csv module cannot read (a NUL byte, a broken quote) goes to ``problems``. ``count``: rows seen."""

    def __init__(self, reader, problems: LineProblems):
        self.reader = reader
        self.problems = problems
        self.count = 0

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        reader = self.reader
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error:
                self.count += 1
                self.problems.add(reader.line_num)
                continue
            self.count += 1
            if row and any(cell.strip() for cell in row):
                yield reader.line_num, row
