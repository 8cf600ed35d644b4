"""`edgemon matrix`: every model on every runner, briefly, with the reason for each failure.

Study 004's compatibility matrix (model x runner): each cell starts a real worker
(edgemon.workload.worker.Worker), warms it up (10 iterations and 1 s by default: the
first calls of a framework are not what it does afterwards), measures at least 50
iterations over at least 1 s, and records the outcome: ``ok`` with the median latency
and the thread count the framework used, or the one-line reason it did not run (a
conversion or compile failure, an op a device lacks, a missing Edge TPU, no such
framework...). No dashboard, no recording; a table on stdout and the
same cells in a JSON and a CSV file.

`edgemon matrix` (:mod:`edgemon.commands.matrix`) runs it; this module imports only the
standard library at import time.
"""

from __future__ import annotations

import csv
import io
import json
import os
import platform
import socket
import statistics
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

OK = "ok"
ERROR = "error"          # the runner reported an error result (build or run failed)
CRASHED = "crashed"      # the worker died without an error result
TIMEOUT = "timeout"      # no result within the cell's time limit
INVALID = "invalid"      # rejected before any worker started (registry.validate)
NA = "n/a"               # the runner has no such built-in model

CSV_FIELDS = ("runner", "model", "status", "median_ms", "p90_ms", "iterations", "threads", "warmup_s", "measured_s",
              "reason", "framework",
              "framework_version", "device", "build_ms", "first_inference_ms", "wall_s")
DEFAULT_WARMUP = "10,1s"
DEFAULT_ITERATIONS = 50
DEFAULT_MIN_TIME_S = 1.0
# hello keys where runners report the intra-op threads they ended up with
_THREAD_KEYS = ("threads", "torch_threads", "intra_op_threads", "num_threads", "inference_num_threads",
                "blas_threads")


@dataclass
class Cell:
    """One model x runner outcome."""

    runner: str
    model: str
    status: str
    median_ms: float | None = None
    p90_ms: float | None = None
    iterations: int = 0
    threads: str | None = None         # what the framework ran with ("default" when it would not say)
    warmup_s: float | None = None      # how long the warm-up lasted (the runner's warmup_done event)
    measured_s: float | None = None    # first measured start to last measured end
    reason: str | None = None
    framework: str | None = None
    framework_version: str | None = None
    device: str | None = None
    build_ms: float | None = None
    first_inference_ms: float | None = None
    wall_s: float | None = None


@dataclass
class MatrixResult:
    cells: list[Cell]
    runners: list[str]
    models: list[str]
    iterations: int
    batch: int
    warmup: str = DEFAULT_WARMUP
    min_time_s: float = DEFAULT_MIN_TIME_S
    host: str = field(default_factory=socket.gethostname)
    machine: str = field(default_factory=platform.machine)
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S%z"))

    def to_dict(self) -> dict:
        return {"host": self.host, "machine": self.machine, "created": self.created, "batch": self.batch,
                "iterations": self.iterations, "warmup": self.warmup, "min_time_s": self.min_time_s,
                "runners": self.runners, "models": self.models,
                "cells": [asdict(c) for c in self.cells]}


# ---------------------------------------------------------------- running one cell


def run_cell(spec, iterations: int = DEFAULT_ITERATIONS, timeout_s: float = 120.0,
             min_time_s: float = 0.0, env: dict[str, str] | None = None) -> Cell:
    """Run ``spec`` (a WorkloadSpec) until ``iterations`` measured rows covering at least
    ``min_time_s`` arrive, it fails, or time runs out. ``env``: the worker's environment
    (default: this process's)."""
    from edgemon.datatypes import EventKind
    from edgemon.errors import UserError
    from edgemon.workload import registry
    from edgemon.workload.worker import Worker

    cell = Cell(spec.runner, spec.model, status=ERROR)
    try:
        registry.validate(spec)
    except UserError as exc:
        cell.status, cell.reason = INVALID, str(exc)
        return cell

    lock = threading.Lock()
    enough = threading.Event()
    durations: list = []
    state: dict = {"error": None, "hello": None, "first_ms": None, "first_start": None, "last_end": None}
    min_ns = int(min_time_s * 1e9)

    def on_hello(hello: dict) -> None:
        state["hello"] = hello

    def on_latency(batch) -> None:
        if batch.warmup or not len(batch):
            return
        with lock:
            durations.extend(batch.duration_ns.tolist())
            if state["first_start"] is None:
                state["first_start"] = int(batch.t_end_ns[0] - batch.duration_ns[0])
            state["last_end"] = int(batch.t_end_ns[-1])
            if len(durations) >= iterations and state["last_end"] - state["first_start"] >= min_ns:
                enough.set()

    def on_event(event) -> None:
        if event.kind == EventKind.ERROR and state["error"] is None:
            state["error"] = event.details.get("reason") or event.details.get("message")
        elif event.kind == EventKind.WARMUP_DONE:
            state["first_ms"] = event.details.get("first_inference_ms")
            state["warmup_s"] = event.details.get("seconds")

    def on_exit(_event) -> None:
        enough.set()

    t0 = time.monotonic()
    worker = Worker(spec, on_hello=on_hello, on_latency=on_latency, on_event=on_event, on_exit=on_exit, env=env)
    try:
        worker.start()
    except OSError as exc:
        cell.reason = f"could not start the worker: {exc}"
        return cell
    finished = enough.wait(timeout_s)
    worker.stop(timeout=5.0 if finished else 1.0, kill_after=2.0)  # a cell that timed out may be hung
    worker.wait(10.0)
    cell.wall_s = round(time.monotonic() - t0, 3)

    hello = state["hello"] or {}
    cell.framework = hello.get("framework")
    cell.framework_version = _text(hello.get("framework_version"))
    cell.device = _text(hello.get("device"))
    cell.build_ms = hello.get("build_ms")
    cell.first_inference_ms = state["first_ms"]
    cell.threads = threads_of(hello, spec.threads) if hello else None
    cell.warmup_s = state.get("warmup_s")
    with lock:
        values = sorted(durations)
        if state["first_start"] is not None:
            cell.measured_s = round((state["last_end"] - state["first_start"]) / 1e9, 3)
    cell.iterations = len(values)
    if values:
        cell.median_ms = round(statistics.median(values) / 1e6, 6)
        cell.p90_ms = round(values[min(len(values) - 1, int(0.9 * len(values)))] / 1e6, 6)

    exit_event = worker.exit_event
    if state["error"]:
        cell.status, cell.reason = ERROR, _one_line(state["error"])
    elif len(values) >= iterations:
        cell.status = OK
    elif not finished:
        cell.status = TIMEOUT
        cell.reason = (f"no result within {timeout_s:g} s ({len(values)} of {iterations} iterations"
                       f"{'' if hello else ', still building the model'})")
    elif exit_event is not None and exit_event.kind == EventKind.WORKER_CRASHED:
        cell.status, cell.reason = CRASHED, _one_line(exit_event.details.get("reason") or "crashed")
    else:
        cell.status = ERROR
        reason = exit_event.details.get("reason") if exit_event is not None else None
        cell.reason = _one_line(reason or f"ended after {len(values)} of {iterations} iterations")
    return cell


def threads_of(hello: dict, asked: int | None) -> str:
    """The intra-op thread count a runner reports in its hello, else what was asked, else "default"."""
    for key in _THREAD_KEYS:
        v = hello.get(key)
        if v is None and isinstance(hello.get("info"), dict):
            v = hello["info"].get(key)
        if isinstance(v, (int, str)) and not isinstance(v, bool) and str(v).strip():
            return str(v)
    return str(asked) if asked else "default"


def _text(value) -> str | None:
    return None if value is None else str(value)


def _one_line(text: str) -> str:
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return (lines[0] if lines else "")[:300]


# ---------------------------------------------------------------- the whole matrix


def _is_file_model(model: str) -> bool:
    return os.sep in model or Path(model).suffix != ""


def _not_applicable(registry, runner: str, model: str) -> str | None:
    """Why ``model`` is no cell for ``runner`` (not in its catalogue, or a file type it cannot load)."""
    if model in registry.models_for(runner):
        return None
    module = registry.runner_module(runner)
    if not _is_file_model(model):
        return f"not a built-in model of the {runner} runner"
    if not getattr(module, "ACCEPTS_MODEL_FILES", False):
        return f"the {runner} runner takes built-in models only"
    suffixes = getattr(module, "MODEL_SUFFIXES", None)
    if suffixes and Path(model).suffix.lower() not in suffixes:
        return f"the {runner} runner loads {', '.join(suffixes)} files"
    return None


def plan(runners: list[str] | None, models: list[str] | None) -> tuple[list[str], list[str]]:
    """The runners and models to cross; defaults: every runner, every built-in model of those runners."""
    from edgemon.errors import UserError
    from edgemon.workload import registry

    known = registry.list_runners()
    runners = runners or known
    bad = [r for r in runners if r not in known]
    if bad:
        raise UserError(f"unknown runner {', '.join(bad)}; choose from {', '.join(known)}")
    if not models:
        seen: dict[str, None] = {}
        for r in runners:
            for m in registry.models_for(r):
                seen.setdefault(m, None)
        models = list(seen)
    return runners, models


def run_matrix(runners: list[str] | None = None, models: list[str] | None = None, *,
               iterations: int = DEFAULT_ITERATIONS, warmup: str | int = DEFAULT_WARMUP, batch: int = 1,
               timeout_s: float = 120.0, options: dict[str, dict[str, str]] | None = None, python: str | None = None,
               progress=None, threads: int | None = None, min_time_s: float = DEFAULT_MIN_TIME_S) -> MatrixResult:
    """Run every model x runner cell in turn (never two at once: they would disturb each other).

    ``warmup``: iterations and/or time as ``--warmup`` takes them ("10,1s"); ``threads``: the
    framework's intra-op threads (None: its own default, reported per cell)."""
    from edgemon.units import parse_warmup
    from edgemon.workload import registry
    from edgemon.workload.spec import WorkloadSpec

    warm_iters, warm_s = parse_warmup(str(warmup))
    runners, models = plan(runners, models)
    options = options or {}
    cells = []
    for model in models:
        for runner in runners:
            reason = _not_applicable(registry, runner, model)
            if reason:
                cell = Cell(runner, model, NA, reason=reason)
            else:
                opts = dict(options.get("*", {}))
                opts.update(options.get(runner, {}))
                spec = WorkloadSpec(runner=runner, model=model, batch=batch, warmup_iters=warm_iters,
                                    warmup_s=warm_s, threads=threads, options=opts, python=python,
                                    iterations=None if min_time_s > 0 else iterations)
                if progress:
                    progress(f"{runner} / {model} ...")
                cell = run_cell(spec, iterations=iterations, timeout_s=timeout_s, min_time_s=min_time_s)
            cells.append(cell)
            if progress and cell.status != NA:
                progress(f"  {describe(cell)}")
    return MatrixResult(cells, runners, models, iterations, batch, str(warmup), min_time_s)


def describe(cell: Cell) -> str:
    if cell.status == OK:
        return (f"{cell.runner} / {cell.model}: ok, median {cell.median_ms:.3f} ms of {cell.iterations} iterations, "
                f"{cell.threads} threads")
    return f"{cell.runner} / {cell.model}: {cell.status}: {cell.reason}"


# ---------------------------------------------------------------- output


def to_json(result: MatrixResult) -> str:
    return json.dumps(result.to_dict(), indent=2)


def to_csv(result: MatrixResult) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(CSV_FIELDS), lineterminator="\n")
    writer.writeheader()
    for cell in result.cells:
        row = asdict(cell)
        writer.writerow({k: "" if row.get(k) is None else row.get(k) for k in CSV_FIELDS})
    return buf.getvalue()


def format_table(result: MatrixResult) -> str:
    """Models down, runners across; a failed cell points to its numbered reason below."""
    reasons: list[str] = []
    grid = [["model"] + result.runners]
    by_key = {(c.model, c.runner): c for c in result.cells}
    for model in result.models:
        row = [model]
        for runner in result.runners:
            cell = by_key.get((model, runner))
            if cell is None or cell.status == NA:
                row.append("-")
            elif cell.status == OK:
                row.append(f"{cell.median_ms:.3f} ms ({cell.threads} thr)")
            else:
                reasons.append(f"{runner} / {model}: {cell.reason}")
                row.append(f"{cell.status} [{len(reasons)}]")
        grid.append(row)
    widths = [max(len(r[i]) for r in grid) for i in range(len(grid[0]))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in grid]
    lines.insert(1, "  ".join("-" * w for w in widths))
    ok = sum(c.status == OK for c in result.cells)
    ran = sum(c.status != NA for c in result.cells)
    lines.append("")
    lines.append(f"{ok} of {ran} combinations ran: median latency of at least {result.iterations} iterations over "
                 f"at least {result.min_time_s:g} s after a warm-up of {result.warmup}, batch {result.batch}; "
                 "(N thr) = the framework's intra-op threads; '-' = not a built-in model of that runner")
    for i, text in enumerate(reasons, 1):
        lines.append(f"[{i}] {text}")
    return "\n".join(lines)


def write_files(result: MatrixResult, prefix: Path) -> tuple[Path, Path]:
    prefix.parent.mkdir(parents=True, exist_ok=True)
    json_path = prefix.with_name(prefix.name + ".json")
    csv_path = prefix.with_name(prefix.name + ".csv")
    json_path.write_text(to_json(result) + "\n")
    csv_path.write_text(to_csv(result))
    return json_path, csv_path
