"""`edgemon import tegrastats LOG | jtop CSV`: a log edgemon did not record, as a normal recording.

Then `analyze`, `report`, `replay` and `compare` work on it as on any recording. The module is
``import_`` because ``import`` is a Python keyword (cli.py maps the command to it). Standard
library only at module level.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from edgemon.errors import UserError
from edgemon.help_format import HelpFormatter


def _latency_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("latency log (joined to the telemetry)")
    g.add_argument("--latency", default=None, metavar="CSV",
                   help="a CSV with one row per iteration: when it ended and how long it took")
    g.add_argument("--latency-time", default="time", metavar="COLUMN",
                   help="column with the time: ISO date-time (local unless it has Z or +HH:MM), "
                   "`date` output, or Unix seconds (default: time)")
    g.add_argument("--latency-time-is", choices=("end", "start"), default="end",
                   help="the time is when the iteration ended (default) or started")
    g.add_argument("--latency-duration", default="duration_ms", metavar="COLUMN",
                   help="column with the duration (default: duration_ms)")
    g.add_argument("--latency-unit", choices=("ms", "us", "s", "ns"), default="ms",
                   help="unit of the duration column (default: ms)")
    g.add_argument("--latency-items", default=None, metavar="COLUMN",
                   help="column with the items of each iteration (default: 1 each)")


def _record_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--record", default=None, metavar="DIR",
                   help="the new recording's folder (default: a new folder under ./recordings/)")


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "import",
        help="turn a tegrastats log or a jtop CSV into a recording",
        description="Turn a log edgemon did not record into a normal recording: `edgemon analyze`, "
        "`report`, `replay` and `compare` then work on it. Lines that cannot be read are counted "
        "and reported with their line numbers; session.json says the recording is imported, from "
        "which file, and which board the lines suggest.",
        formatter_class=HelpFormatter,
        epilog="examples:\n"
        "  edgemon import tegrastats board.log --record recordings/board\n"
        "  edgemon import tegrastats plain.log --interval 500 --start 2024-01-04T10:00:00\n"
        "  edgemon import jtop log.csv --latency lat.csv --latency-duration ms\n\n"
        "A tegrastats log may carry `tegrastats --logfile` timestamps, `date` lines between "
        "the lines, or neither (then --interval and --start give the time).",
    )
    kinds = p.add_subparsers(dest="import_kind", metavar="KIND")
    kinds.required = True
    t = kinds.add_parser("tegrastats", help="a tegrastats log", formatter_class=HelpFormatter,
                         description="Import a tegrastats log.",
                         epilog="examples:\n"
                         "  edgemon import tegrastats board.log --record recordings/board\n"
                         "  edgemon import tegrastats plain.log --interval 500 --start 2024-01-04T10:00:00")
    t.add_argument("log", metavar="LOG", help="the tegrastats output, as saved")
    t.add_argument("--interval", default=None, metavar="MS",
                   help="milliseconds between lines, as given to tegrastats --interval (default: from the "
                   "timestamps, else tegrastats' 1000)")
    t.add_argument("--start", default=None, metavar="TIME",
                   help="when the first line was printed, for a log without times: 2024-01-04T10:00:00 "
                   "(local time, or with Z / +01:00) or Unix seconds (default: the log ends at its file's "
                   "modification time)")
    _record_option(t)
    _latency_options(t)
    j = kinds.add_parser("jtop", help="the CSV of jetson-stats' logger example", formatter_class=HelpFormatter,
                         description="Import the CSV that jetson-stats' examples/jtop_logger.py writes "
                         "(one row per jtop.stats).",
                         epilog="examples:\n"
                         "  edgemon import jtop log.csv --record recordings/jtop\n"
                         "  edgemon import jtop log.csv --latency lat.csv --latency-duration ms")
    j.add_argument("log", metavar="CSV", help="the jtop logger CSV")
    _record_option(j)
    _latency_options(j)
    return p


def _interval_ms(text: str | None) -> float | None:
    if text is None:
        return None
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s)?\s*", str(text))
    if not m:
        raise UserError(f"--interval {text!r}: give milliseconds, e.g. --interval 1000 (or 500ms, 1s)")
    value = float(m.group(1)) * (1000.0 if m.group(2) == "s" else 1.0)
    return value


def _folder(args, source: str) -> Path:
    if args.record:
        return Path(args.record)
    import socket

    from edgemon.recording.naming import default_session_dir

    return default_session_dir(Path("recordings"), socket.gethostname(), f"import-{source}-{Path(args.log).stem}")


def run(args: argparse.Namespace) -> int:
    from edgemon.importers.write import base_meta, progress_printer, write_recording

    path = Path(args.log)
    latency = None
    if args.latency:
        from edgemon.importers.latency_csv import LatencyColumns, read_latency

        latency = read_latency(Path(args.latency), LatencyColumns(
            time=args.latency_time, duration=args.latency_duration, unit=args.latency_unit,
            items=args.latency_items, time_is=args.latency_time_is))
    meta = base_meta(args.import_kind, sys.argv[1:])
    job: Any        # TegrastatsImport | JtopImport: how the log was read, for the summary
    rows: Iterable[tuple[int, dict[str, float], Any]]
    if args.import_kind == "tegrastats":
        from edgemon.importers import tegrastats_log
        from edgemon.importers.timebase import parse_start

        job = tegrastats_log.plan(path, interval_ms=_interval_ms(args.interval),
                                  start=parse_start(args.start) if args.start else None)
        folder = _folder(args, "tegrastats")
        rows = ((t, v, ()) for t, v in tegrastats_log.samples(job))
        meta["sample_hz"] = 1e9 / job.interval_ns
        total, what = job.shape.tegrastats_lines, "lines"
    else:
        from edgemon.importers import jtop_csv

        job = jtop_csv.JtopImport(path)
        folder = _folder(args, "jtop")
        rows = jtop_csv.samples(job)
        total, what = _count_lines(path), "rows"
    rows = _primed(rows, path, job)
    written = write_recording(folder, meta, rows, latency=latency, progress=progress_printer(total, what))
    _finish_meta(folder, args, job, latency, written)
    _report(path, folder, job, latency, written)
    return 0


def _primed(rows, path: Path, job):
    """The rows, with the first one read before anything is written: a file that is not what it
    claims, or has no usable line, is a one-line error and leaves no recording behind."""
    import itertools

    it = iter(rows)
    try:
        first = next(it)
    except StopIteration:
        raise UserError(f"{path}: no {job.unparsed.what[:-1]} could be used ({job.unparsed.count} unreadable: "
                        f"line {job.unparsed.ranges() or '-'})") from None
    return itertools.chain([first], it)


def _count_lines(path: Path) -> int:
    n = 0
    try:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                n += chunk.count(b"\n")
    except OSError:
        return 0
    return max(0, n - 1)


def _finish_meta(folder: Path, args, job, latency, written) -> None:
    from edgemon.importers.board import guess_board
    from edgemon.recording.layout import (
        SESSION_FILE,
        load_session_json,
        write_json_atomic,
    )

    data = load_session_json(folder)
    imported = job.to_meta()
    if args.import_kind == "tegrastats":
        guess = guess_board(job.first_values)
        imported["board_guess"] = guess.to_dict()
        data["platform"] = {"kind": "jetson", "is_jetson": True, "model": guess.title, "family": guess.family}
    else:
        data["platform"] = {"kind": "jetson", "is_jetson": True, "model": "Jetson (jtop log)"}
        if job.first_power_mode:
            data["power_mode"] = job.first_power_mode
    if latency is not None:
        imported["latency"] = latency.to_meta()
        if written.samples and written.first_ns is not None:
            outside = int(((latency.t_end < written.first_ns) | (latency.t_end > written.last_ns)).sum())
            if outside:
                imported["latency"]["outside_telemetry"] = outside
        data["workload"] = {**data.get("workload", {}), "model": Path(latency.path).name}
    data["imported"] = imported
    write_json_atomic(folder / SESSION_FILE, data)


def _count(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _report(path: Path, folder: Path, job, latency, written) -> None:
    minutes = written.duration_s / 60
    print(f"imported {written.samples:,} samples ({minutes:.1f} min) from {path} into {folder.resolve()}")
    imported = job.to_meta()
    print(f"  time from: {imported['time_from']}" + (f", every {job.interval_ns / 1e6:g} ms"
                                                     if hasattr(job, "interval_ns") else ""))
    if hasattr(job, "first_values"):
        from edgemon.importers.board import guess_board

        guess = guess_board(job.first_values)
        print(f"  board: {guess.title}: {'; '.join(guess.evidence)}")
    for note in imported.get("notes", []):
        print(f"  note: {note}")
    if job.unparsed.count:
        print(f"  {_count(job.unparsed.count, job.unparsed.what[:-1])} could not be read: line "
              f"{job.unparsed.ranges()}")
    back = getattr(job, "backwards", None)
    if back is not None and back.count:
        print(f"  {_count(back.count, 'line')} stamped earlier than the line before (a clock step): line "
              f"{back.ranges()}; placed one interval after it")
    if latency is not None:
        print(f"  latency: {written.latency_rows:,} iterations from {latency.path}")
        if latency.unparsed.count:
            print(f"  {_count(latency.unparsed.count, 'latency row')} could not be read: line "
                  f"{latency.unparsed.ranges()}")
    print(f"next: edgemon analyze {folder.resolve()}   edgemon replay {folder.resolve()}")
