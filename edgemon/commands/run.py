"""`edgemon run` (also bare `edgemon`): start a workload, watch it and record it.

With the dashboard the session runs in its own process (:mod:`edgemon.daemon.process`) and the
dashboard attaches to it; ``--headless`` without ``--detach`` and ``--no-record`` run it in this
process (:class:`edgemon.session.live.LiveSession`). Standard library only at module level.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edgemon.commands.attach import dashboard_on
from edgemon.errors import UserError
from edgemon.help_format import HelpFormatter


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "run",
        help="run a workload, watch and record it (the default command)",
        description="Start a workload in a worker process, sample the machine, show the dashboard "
        "(or status lines with --headless) and record everything to a session folder. With the "
        "dashboard the session runs in its own process: closing the dashboard (q, then d) or losing "
        "the SSH connection leaves it running, and `edgemon attach` brings the dashboard back.",
        formatter_class=HelpFormatter,
        epilog="Any program as the workload: everything after -- is the command:\n"
        "  edgemon run --duration 10m -- python train.py --epochs 3\n"
        "  edgemon run --latency-regex 'took (?P<ms>[0-9.]+) ms' -- ./bench\n\n"
        "It gets the machine's telemetry, its process tree's CPU and memory, and its output "
        "saved in the session folder; `import edgemon_probe` in it times your own loop "
        "(README: \"Bring your own workload\").\n\n"
        "Durations take s, m, h (90s, 10m, 3h, 1h30m). Warm-up takes iterations, "
        "seconds, or both: 50, 5s, 50,5s (whichever ends later).\n"
        "Keys in the dashboard: q quit, p pause/resume, m mark, ? help.\n\n"
        "examples:\n"
        "  edgemon run --duration 3h               # an SSH drop only detaches\n"
        "  edgemon run --detach --duration 3h      # background: edgemon attach/stop\n"
        "  edgemon run --headless --duration 10m   # status lines, then a summary\n"
        "  edgemon run --runner torch --model resnet18 --batch 8 --warmup 50,5s\n"
        "  edgemon run --emulate orin-nano --record /data/x\n"
        "  edgemon run --profile profiles/stress_3h.toml --dry-run\n"
        "  edgemon run --profile profiles/stress_3h.toml --time-scale 0.1",
    )
    p.set_defaults(command_argv=None)
    # Defaults of None (filled from _RUN_DEFAULTS in run_config_from_args) tell an option the
    # user gave from one left out: given options override a --profile, the rest come from it.
    w = p.add_argument_group("workload")
    w.add_argument("--profile", default=None, metavar="FILE",
                   help="a TOML session profile (profiles/*.toml: workload, repetitions, cool-down, idle "
                   "baseline, schedule); options given here override it")
    w.add_argument("--runner", default=None, help="worker program: see `edgemon models` (default: numpy); "
                   "none: no workload, like `edgemon watch`")
    w.add_argument("--model", default=None, help="built-in model name or a model file (default: mnist_1d)")
    w.add_argument("--batch", type=int, default=None, help="items per inference (default: 1)")
    w.add_argument("--threads", type=int, default=None, help="framework/BLAS threads (default: framework's own)")
    w.add_argument("--warmup", default=None, help="warm-up iterations and/or time, e.g. 50, 5s, 50,5s (default: "
                   "0; the first inference is always left out of the statistics and reported on its own)")
    w.add_argument("--duration", default=None, help="stop after this long, e.g. 90s, 10m, 3h (default: until quit); "
                   "it includes the model build and the warm-up; with repetitions, the length of each")
    w.add_argument("--repetitions", type=int, default=None, metavar="N",
                   help="run the workload N times, each in a fresh worker; `edgemon analyze` gives the median "
                   "and spread (default: 1)")
    w.add_argument("--python", default=None, metavar="EXE",
                   help="interpreter for the worker, e.g. JetPack's /usr/bin/python3 (default: this one)")
    w.add_argument("--opt", action="append", default=None, metavar="KEY=VALUE",
                   help="runner-specific option, repeatable (e.g. --opt size=1024 for the matmul model; "
                   "`edgemon models --runner R` lists them)")
    w.add_argument("--dry-run", action="store_true",
                   help="print the plan (phases, schedule on the clock, total length) and check it against this "
                   "machine (runner, model build, telemetry, controls, recording folder); start nothing")
    w.add_argument("--time-scale", type=float, default=None, metavar="F",
                   help="multiply every length and time of the run by F: 0.1 rehearses a profile in a tenth of "
                   "the time, its schedule scaled with it")
    w.add_argument("--latency-regex", default=None, metavar="REGEX",
                   help="with a command: each printed line that matches is one latency row; the "
                   "pattern names its number's unit with a group (?P<ms>...), (?P<us>...), "
                   "(?P<s>...) or (?P<ns>...), and may give (?P<items>...)")
    w.add_argument("--stop-grace", default=None, metavar="DURATION",
                   help="at the end, wait this long for the iteration in progress (a command: between "
                   "SIGTERM and SIGKILL); an iteration cut after it is reported as cut (default: 30s)")
    add_session_options(p, worker=True)
    return p


def add_session_options(p: argparse.ArgumentParser, *, worker: bool) -> None:
    """Recording, monitoring and display options: shared by `run` and `watch` (``worker``: the
    options about a worker process too)."""
    r = p.add_argument_group("recording")
    r.add_argument("--record", default=None, metavar="DIR",
                   help="record into DIR (default: a new folder under ./recordings/)")
    r.add_argument("--no-record", action="store_true",
                   help="do not record; the session then runs inside this terminal and ends with it "
                   "(--detach needs a recording)")
    r.add_argument("--min-free", default=None, metavar="SIZE",
                   help="stop recording cleanly when less than SIZE is free on its disk, e.g. 500M, 2G, 0 "
                   "(default: 64M); a warning comes when less than 10 minutes of recording are left")
    m = p.add_argument_group("monitoring")
    m.add_argument("--sample-hz", type=float, default=None, help="telemetry rate in Hz (default: 10)")
    m.add_argument("--sysfs-root", default="/", metavar="DIR",
                   help="read /sys, /proc and /etc under DIR instead of / (fixtures, containers)")
    m.add_argument("--emulate", default=None, metavar="BOARD",
                   help="run on an emulated Jetson: nano, tx2, xavier-nx, agx-orin, orin-nano, "
                   "orin-nx, thor; EDGEMON_EMULATE_OPTS=\"tau=10,trip=50\" tunes it (README)")
    if worker:
        m.add_argument("--hang-timeout", default=None, metavar="DURATION",
                       help="a worker that sends nothing this long (not paused) is recorded as hung; at "
                       "least 1s, 0 turns the watchdog off (default: 30s; off for a command)")
        m.add_argument("--restart-on-hang", action="store_true", default=None,
                       help="kill a hung worker and start a new one; the session goes on")
    m.add_argument("--prometheus", default=None, metavar="[HOST:]PORT",
                   help="serve live metrics for Prometheus on PORT (127.0.0.1 only; 0.0.0.0:PORT or :PORT "
                   "for every interface); needs prometheus_client (the error says how to install it)")
    d = p.add_argument_group("display")
    d.add_argument("--headless", action="store_true",
                   help="no dashboard: a status line every few seconds and a summary at the end; "
                   "ends with the terminal unless --detach is given too")
    d.add_argument("--status-every", default="5s", metavar="DURATION",
                   help="headless status line period (default: 5s)")
    d.add_argument("--ascii", action="store_true", help="plain ASCII graphs, for bad fonts or slow links")
    d.add_argument("--detach", action="store_true",
                   help="start the session in the background and return: it survives logging out; "
                   "watch it with `edgemon attach`, end it with `edgemon stop`. With --headless the "
                   "status lines go to <session>/session.log")


def _parse_options(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UserError(f"--opt takes KEY=VALUE, got {pair!r}")
        out[key.strip()] = value.strip()
    return out


# `edgemon run`'s defaults; the parser's are None so that given options can be told apart.
_RUN_DEFAULTS = {"runner": "numpy", "model": "mnist_1d", "batch": 1, "warmup": "0", "sample_hz": 10.0,
                 "hang_timeout": "30s", "restart_on_hang": False, "opt": [], "stop_grace": "30s",
                 "min_free": "64M"}
MIN_STATUS_EVERY_S = 0.5
_RUN_OPTIONAL = ("threads", "duration", "python", "emulate", "repetitions", "latency_regex")


def _workload_kind(args: argparse.Namespace) -> None:
    """A command after ``--`` (or ``--runner none``) in place of a runner: check the combination
    and set runner and model for it (``given`` then knows them as the user's)."""
    from edgemon.workload.spec import COMMAND, NONE, command_label

    command = getattr(args, "command_argv", None)
    if command is not None:
        if not command:
            raise UserError("nothing after --: give the command to run, e.g. edgemon run -- python loop.py")
        for opt in ("runner", "model", "batch", "threads"):
            if getattr(args, opt, None) is not None:
                raise UserError(f"--{opt} is for the built-in runners; a command after -- takes their place")
        args.runner, args.model = COMMAND, command_label(command)
    elif getattr(args, "runner", None) == COMMAND:
        raise UserError("--runner command needs the command after --: edgemon run -- python loop.py")
    elif getattr(args, "runner", None) == NONE:
        args.model = "none"
    if getattr(args, "latency_regex", None) is not None and command is None:
        raise UserError("--latency-regex reads a command's output: put the command after --, "
                        "e.g. edgemon run --latency-regex 'took (?P<ms>[0-9.]+) ms' -- ./bench")


def run_config_from_args(args: argparse.Namespace):
    from edgemon.session.config import RunConfig
    from edgemon.units import (MAX_BATCH, MAX_REPETITIONS, MAX_THREADS, MIN_HANG_TIMEOUT_S, parse_duration,
                               parse_size, parse_warmup)
    from edgemon.workload.spec import WorkloadSpec

    _workload_kind(args)
    # What the user typed (it overrides a --profile), then the defaults for what is left.
    given = {k for k in (*_RUN_DEFAULTS, *_RUN_OPTIONAL) if getattr(args, k, None) is not None}
    if getattr(args, "command_argv", None):
        given.add("command")
    profile = None
    if getattr(args, "profile", None):
        from edgemon.plan.profile import load_profile

        profile = load_profile(args.profile, emulate=getattr(args, "emulate", None))
    args = argparse.Namespace(**vars(args))
    for key, value in _RUN_DEFAULTS.items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    if getattr(args, "repetitions", None) is not None and not 1 <= args.repetitions <= MAX_REPETITIONS:
        raise UserError(f"--repetitions must be between 1 and {MAX_REPETITIONS}, got {args.repetitions}")
    warm_iters, warm_s = parse_warmup(args.warmup)
    if not 1 <= args.batch <= MAX_BATCH:
        raise UserError(f"--batch must be between 1 and {MAX_BATCH}, got {args.batch}")
    if args.threads is not None and not 1 <= args.threads <= MAX_THREADS:
        raise UserError(f"--threads must be between 1 and {MAX_THREADS}, got {args.threads}")
    if not 0.1 <= args.sample_hz <= 100:
        raise UserError(f"--sample-hz must be between 0.1 and 100, got {args.sample_hz:g}")
    root = Path(args.sysfs_root)
    if not root.is_dir():
        raise UserError(f"--sysfs-root {args.sysfs_root}: not a folder")
    if args.record and args.no_record:
        raise UserError("--record and --no-record contradict each other; pick one")
    spec = WorkloadSpec(
        runner=args.runner,
        model=args.model,
        batch=args.batch,
        threads=args.threads,
        warmup_iters=warm_iters,
        warmup_s=warm_s,
        python=args.python,
        options=_parse_options(args.opt),
        command=list(args.command_argv) if getattr(args, "command_argv", None) else None,
        latency_regex=getattr(args, "latency_regex", None),
    )
    if spec.is_command and "hang_timeout" not in given:
        args.hang_timeout = "0"    # a program's own pauses (loading data, an eval) are not hangs
    hang = str(args.hang_timeout).strip().lower()
    if args.prometheus is not None:  # fail in the user's terminal, not in a detached process
        from edgemon.prometheus.listen import parse_listen_address, require_prometheus_client

        parse_listen_address(args.prometheus)
        require_prometheus_client()
    config = RunConfig(
        workload=spec,
        # `is not None`: an empty --duration (an unset shell variable) is an error, not "forever"
        duration_s=parse_duration(args.duration, what="--duration") if args.duration is not None else None,
        record_dir=Path(args.record) if args.record else None,
        record=not args.no_record,
        sample_hz=args.sample_hz,
        sysfs_root=root,
        headless=args.headless,
        ascii=args.ascii,
        status_every_s=parse_duration(args.status_every, what="--status-every", minimum_s=MIN_STATUS_EVERY_S),
        emulate=args.emulate,
        hang_timeout_s=None if hang in ("0", "0s", "off", "none") else parse_duration(
            hang, what="--hang-timeout", minimum_s=MIN_HANG_TIMEOUT_S),
        restart_on_hang=bool(args.restart_on_hang),
        prometheus=args.prometheus,
        min_free_bytes=parse_size(args.min_free, what="--min-free"),
        stop_grace_s=parse_duration(args.stop_grace, what="--stop-grace"),
    )
    if profile is not None:
        from edgemon.plan.profile import apply_profile

        apply_profile(config, profile, given, repetitions=getattr(args, "repetitions", None))
    elif getattr(args, "repetitions", None):
        from dataclasses import asdict

        from edgemon.plan.runner import simple_plan

        if args.repetitions > 1:
            config.plan = simple_plan(asdict(spec), repetitions=args.repetitions, duration_s=config.duration_s)
    scale = getattr(args, "time_scale", None)
    if scale is not None:
        if not 0 < scale <= 100:
            raise UserError(f"--time-scale takes a factor above 0 and at most 100 (0.1: a tenth of the time), "
                            f"got {scale:g}")
        from edgemon.plan.profile import scale_plan

        if config.duration_s is not None:
            config.duration_s *= scale
        if config.plan is not None:
            config.plan = scale_plan(config.plan, scale)
    return config


def warmup_warning(config) -> str | None:
    """A one-line warning when the warm-up leaves no time to measure within --duration (which
    includes the model build and the warm-up)."""
    duration = config.duration_s
    warm_s = config.workload.warmup_s
    if not duration or not warm_s or warm_s < duration:
        return None
    return (f"edgemon: warning: the warm-up ({warm_s:g} s) is as long as --duration ({duration:g} s), which "
            "includes the model build and the warm-up: no iteration will be measured; give a longer --duration "
            "or a shorter --warmup")


def run(args: argparse.Namespace) -> int:
    config = run_config_from_args(args)
    if getattr(args, "dry_run", False):
        from edgemon.plan.dry_run import dry_run

        return dry_run(config)
    warning = warmup_warning(config)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    detach = args.detach
    if detach and not config.record:
        raise UserError("a detached session must record (that is how you find it again); drop --no-record")
    if config.record:   # before anything starts: where it records and how much room there is
        from edgemon.session.recording_watch import disk_outlook

        folder = config.record_dir or config.recordings_root
        root = config.recordings_root if config.record_dir is None else Path(config.record_dir).absolute().parent
        print(disk_outlook(folder, config.min_free_bytes, runner=config.workload.runner,
                           model=config.workload.model, sessions_root=root), flush=True)
    if (config.headless and not detach) or not config.record:
        # --headless: a plain process printing status lines (use --detach to outlive the terminal).
        # --no-record: nothing to come back to, so the session lives and dies with this process.
        return _run_in_process(config)
    # The session runs in its own process so that closing the dashboard or losing SSH does not
    # end it. Validate here first: bad input must fail before anything starts.
    from edgemon.daemon.process import spawn
    from edgemon.workload.registry import validate

    validate(config.workload)
    started = spawn(config, argv=sys.argv[1:])
    if config.workload.is_command:   # a mistyped command ends within a second: say so, not "running"
        line = _command_ended_at_once(started.folder)
        if line is not None:
            print(f"edgemon: {line}", file=sys.stderr)
            return 2
    if detach:
        print(f"session running in the background (pid {started.pid}), recording into {started.folder}\n"
              f"  watch:  edgemon attach {started.folder}\n"
              f"  stop:   edgemon stop {started.folder}\n"
              f"  log:    {started.log}")
        return 0
    try:
        return dashboard_on(started.folder, ascii=config.ascii, owner=True)
    except UserError:
        ended = _ended_at_once(started.folder)
        if ended is None:
            raise
        print(ended, file=sys.stderr)
        return 1


def _command_ended_at_once(folder: Path, wait_s: float = 5.0) -> str | None:
    """Wait until the command has lived past "at once" (or its session ended); the one line if it
    ended at once."""
    import json
    import time

    from edgemon.session.live import AT_ONCE_S, at_once_line

    deadline = time.monotonic() + wait_s
    first = time.monotonic()
    while True:
        try:
            meta = json.loads((folder / "session.json").read_text())
        except (OSError, ValueError):
            meta = {}
        if meta.get("state") in ("ended", "crashed"):
            worker = (meta.get("end") or {}).get("worker") or {}
            return at_once_line(worker, str(folder))
        if time.monotonic() - first > AT_ONCE_S + 0.5 or time.monotonic() > deadline:
            return None
        time.sleep(0.1)


def _ended_at_once(folder: Path) -> str | None:
    """The session ended before its dashboard could attach (a workload that fails at start): why."""
    import json

    try:
        meta = json.loads((folder / "session.json").read_text())
    except (OSError, ValueError):
        return None
    if meta.get("state") not in ("ended", "crashed"):
        return None
    end = meta.get("end") or {}
    worker = end.get("worker") or {}
    tail = "".join(f"\n  | {line}" for line in list(worker.get("stderr_tail") or [])[-5:])
    return (f"edgemon: the session {meta['state']} at once: {end.get('reason') or worker.get('reason') or '?'}"
            f"{tail}\nrecording: {folder}")


def _run_in_process(config) -> int:
    from edgemon.session.live import LiveSession

    session = LiveSession(config)
    try:
        session.start()
    except BaseException as exc:
        session.fail_start(str(exc) or type(exc).__name__)
        session.close()
        raise
    if config.headless:
        from edgemon.session.headless import run_headless
        from edgemon.session.recording_watch import leave_if_disk_stalled

        code = run_headless(session, status_every_s=config.status_every_s)
        leave_if_disk_stalled(session.recorder, code)
        return code
    from edgemon.view.model import DashboardModel

    model = DashboardModel()
    try:
        from edgemon.tui import run_dashboard

        code = run_dashboard(session, ascii=config.ascii, model=model)
    finally:
        session.close()
    from edgemon.view.status_line import summary_table

    model.apply(session.drain())
    status = session.status()
    model.observe(status)
    print(summary_table(model, status, session.meta))
    if session.meta.get("record_path"):
        print(f"recording: {session.meta['record_path']}")
    if status.state == "crashed":
        return 1
    return code
