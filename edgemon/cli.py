"""Command line: `edgemon [run] | replay | analyze | info | models | recover | restore`.

Start-up must stay fast (`edgemon --help` < 0.3 s), so this module imports only
the standard library; each command imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edgemon import __version__
from edgemon.errors import UserError
from edgemon.help_format import HelpFormatter

COMMANDS = ("run", "replay", "analyze", "info", "models", "recover", "restore", "report", "compare", "matrix",
            "attach", "ls", "stop")

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
  edgemon run --profile profiles/study004_energy.toml --detach
                                           # repetitions, cool-down, baseline
  edgemon ls                               # sessions: running, ended, died
  edgemon replay latest                    # space, +/-, arrows; q quits
  edgemon analyze recordings/<session> --json
  edgemon info                             # what this machine offers

Run `edgemon COMMAND --help` for the options of one command.
"""


_Formatter = HelpFormatter


def _session_arg(p: argparse.ArgumentParser, *, optional: bool = False) -> None:
    p.add_argument(
        "session",
        nargs="?" if optional else None,
        default="latest" if optional else None,
        metavar="DIR",
        help="a recording folder, or 'latest' for the newest one under ./recordings",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edgemon", description=_DESCRIPTION, epilog=_EXAMPLES, formatter_class=_Formatter
    )
    parser.add_argument("--version", action="version", version=f"edgemon {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="run a workload, watch and record it (the default command)",
        description="Start a workload in a worker process, sample the machine, show the dashboard "
        "(or status lines with --headless) and record everything to a session folder. With the "
        "dashboard the session runs in its own process: closing the dashboard (q, then d) or losing "
        "the SSH connection leaves it running, and `edgemon attach` brings the dashboard back.",
        formatter_class=_Formatter,
        epilog="Durations take s, m, h (90s, 10m, 3h, 1h30m). Warm-up takes iterations, "
        "seconds, or both: 50, 5s, 50,5s (whichever ends later).\n"
        "Keys in the dashboard: q quit, p pause/resume, m mark, ? help.",
    )
    # Defaults of None (filled from _RUN_DEFAULTS in run_config_from_args) tell an option the
    # user gave from one left out: given options override a --profile, the rest come from it.
    w = run.add_argument_group("workload")
    w.add_argument("--profile", default=None, metavar="FILE",
                   help="a TOML session profile (profiles/*.toml: workload, repetitions, cool-down, idle "
                   "baseline, schedule); options given here override it")
    w.add_argument("--runner", default=None, help="worker program: see `edgemon models` (default: numpy)")
    w.add_argument("--model", default=None, help="built-in model name or a model file (default: mnist_1d)")
    w.add_argument("--batch", type=int, default=None, help="items per inference (default: 1)")
    w.add_argument("--threads", type=int, default=None, help="framework/BLAS threads (default: framework's own)")
    w.add_argument("--warmup", default=None, help="warm-up iterations and/or time, e.g. 50, 5s, 50,5s (default: 0)")
    w.add_argument("--duration", default=None, help="stop after this long, e.g. 90s, 10m, 3h (default: until quit); "
                   "with repetitions, the length of each")
    w.add_argument("--repetitions", type=int, default=None, metavar="N",
                   help="run the workload N times, each in a fresh worker; `edgemon analyze` gives the median "
                   "and spread (default: 1)")
    w.add_argument("--python", default=None, metavar="EXE",
                   help="interpreter for the worker, e.g. JetPack's /usr/bin/python3 (default: this one)")
    w.add_argument("--opt", action="append", default=None, metavar="KEY=VALUE",
                   help="runner-specific option, repeatable (e.g. --opt size=1024 for the matmul model)")
    r = run.add_argument_group("recording")
    r.add_argument("--record", default=None, metavar="DIR",
                   help="record into DIR (default: a new folder under ./recordings/)")
    r.add_argument("--no-record", action="store_true",
                   help="do not record; the session then runs inside this terminal and ends with it "
                   "(--detach needs a recording)")
    m = run.add_argument_group("monitoring")
    m.add_argument("--sample-hz", type=float, default=None, help="telemetry rate in Hz (default: 10)")
    m.add_argument("--sysfs-root", default="/", metavar="DIR",
                   help="read /sys, /proc and /etc under DIR instead of / (fixtures, containers)")
    m.add_argument("--emulate", default=None, metavar="BOARD",
                   help="run on an emulated Jetson: nano, tx2, xavier-nx, agx-orin, orin-nano, "
                   "orin-nx, thor; EDGEMON_EMULATE_OPTS=\"tau=10,trip=50\" tunes it (README)")
    m.add_argument("--hang-timeout", default=None, metavar="DURATION",
                   help="a worker that sends nothing this long (not paused) is recorded as hung; "
                   "0 turns the watchdog off (default: 30s)")
    m.add_argument("--restart-on-hang", action="store_true", default=None,
                   help="kill a hung worker and start a new one; the session goes on")
    m.add_argument("--prometheus", default=None, metavar="[HOST:]PORT",
                   help="serve live metrics for Prometheus on PORT (127.0.0.1 only; 0.0.0.0:PORT or :PORT "
                   "for every interface); needs edgemon[prometheus]")
    d = run.add_argument_group("display")
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

    at = sub.add_parser("attach", help="open the dashboard on a session running in the background",
                        description="Attach the dashboard to a detached session (`edgemon run --detach`, or "
                        "one whose dashboard was closed with 'detach'). Quitting asks whether to detach "
                        "(the session goes on) or stop it.", formatter_class=_Formatter)
    _session_arg(at, optional=True)
    at.add_argument("--ascii", action="store_true", help="plain ASCII graphs")

    ls = sub.add_parser("ls", help="list sessions: running, ended, crashed, died",
                        description="Sessions under ./recordings (or the folders given): state, start time, "
                        "workload, duration and size. 'died' means the session process was killed; "
                        "`edgemon recover DIR` makes its recording whole.", formatter_class=_Formatter)
    ls.add_argument("folders", nargs="*", metavar="DIR",
                    help="recordings folders or recordings to list (default: ./recordings)")
    ls.add_argument("--json", action="store_true", help="machine-readable output")

    st = sub.add_parser("stop", help="stop a session running in the background",
                        description="Ask a detached session to stop, wait until its recording is closed, "
                        "print where it is.", formatter_class=_Formatter)
    _session_arg(st, optional=True)
    st.add_argument("--timeout", default="120s", metavar="DURATION",
                    help="give up waiting after this long (default: 120s)")

    rp = sub.add_parser("replay", help="play a recording back in the dashboard",
                        description="Replay a recording: space play/pause, + and - speed (1x to 1000x), "
                        "left/right seek 10 s, [ and ] seek 1 min, home/end, n/N next/previous event, "
                        "t/T next/previous throttling episode, a analysis of the whole recording. A timeline "
                        "strip under the header shows throttled stretches and marks.",
                        formatter_class=_Formatter)
    _session_arg(rp, optional=True)
    rp.add_argument("--speed", type=float, default=1.0, help="initial speed, 1 to 1000 (default: 1)")
    rp.add_argument("--ascii", action="store_true", help="plain ASCII graphs")

    an = sub.add_parser("analyze", help="latency, throughput and telemetry statistics of a recording",
                        description="Statistics over the measured (non-warm-up) iterations of a recording.",
                        formatter_class=_Formatter)
    _session_arg(an, optional=True)
    an.add_argument("--json", action="store_true", help="machine-readable output")
    from edgemon.analysis.commands import add_analyze_options  # stdlib-only

    add_analyze_options(an)

    info = sub.add_parser("info", help="platform, telemetry sources and runners available here",
                          description="What edgemon can see on this machine, and why a source or runner is "
                          "unavailable.", formatter_class=_Formatter)
    info.add_argument("--json", action="store_true", help="machine-readable output")
    info.add_argument("--sysfs-root", default="/", metavar="DIR", help="read the machine under DIR")

    models = sub.add_parser("models", help="built-in models per runner",
                            description="Built-in models with input shape, parameters and GFLOPs.",
                            formatter_class=_Formatter)
    models.add_argument("--runner", default=None, help="only this runner")
    models.add_argument("--json", action="store_true", help="machine-readable output")

    rec = sub.add_parser("recover", help="make a crashed session's recording whole again",
                         description="Turn the live tail a killed session left behind into Parquet. "
                         "Any edgemon command that opens a session does this by itself.",
                         formatter_class=_Formatter)
    _session_arg(rec)

    rs = sub.add_parser("restore", help="restore power mode, cores, clocks and fan saved by a session",
                        description="Put the machine back the way a session found it (after a crash).",
                        formatter_class=_Formatter)
    _session_arg(rs, optional=True)
    rs.add_argument("--sysfs-root", default="/", metavar="DIR", help=argparse.SUPPRESS)

    # Commands whose wiring lives beside their code; each module's register() adds its
    # subparsers with `set_defaults(handler=...)` and imports nothing heavy.
    import importlib

    for module in _PLUGGED_COMMANDS:
        try:
            importlib.import_module(module).register(sub)
        except ImportError:
            continue
    return parser


_PLUGGED_COMMANDS = ("edgemon.analysis.commands", "edgemon.workload.matrix")


def _normalise_argv(argv: list[str]) -> list[str]:
    """Bare `edgemon` and `edgemon --duration 1m` mean `edgemon run ...`."""
    if not argv:
        return ["run"]
    if argv[0] in COMMANDS or argv[0] in ("-h", "--help", "--version"):
        return argv
    return ["run", *argv]


def resolve_running_session(arg: str, *, root: Path = Path("recordings")) -> Path:
    """Like resolve_session, but 'latest' prefers the newest session running in the background."""
    if arg == "latest":
        from edgemon.session.listing import latest_running

        found = latest_running([root])
        if found is not None:
            return found
    return resolve_session(arg, root=root)


def resolve_session(arg: str, *, root: Path = Path("recordings")) -> Path:
    """A session folder from DIR or 'latest' (newest folder with a session.json under ./recordings)."""
    if arg != "latest":
        path = Path(arg)
        if not path.exists():
            raise UserError(f"no such recording folder: {arg}")
        return path
    candidates = [p.parent for p in root.glob("*/session.json")]
    if not candidates:
        raise UserError(f"no recordings under {root}/ yet; run `edgemon run` first or pass a folder")
    return max(candidates, key=lambda p: (p / "session.json").stat().st_mtime)


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
                 "hang_timeout": "30s", "restart_on_hang": False, "opt": []}
_RUN_OPTIONAL = ("threads", "duration", "python", "emulate", "repetitions")


def run_config_from_args(args: argparse.Namespace):
    from edgemon.session.config import RunConfig, WorkloadSpec
    from edgemon.units import parse_duration, parse_warmup

    # What the user typed (it overrides a --profile), then the defaults for what is left.
    given = {k for k in (*_RUN_DEFAULTS, *_RUN_OPTIONAL) if getattr(args, k, None) is not None}
    profile = None
    if getattr(args, "profile", None):
        from edgemon.session.profile import load_profile

        profile = load_profile(args.profile, emulate=getattr(args, "emulate", None))
    args = argparse.Namespace(**vars(args))
    for key, value in _RUN_DEFAULTS.items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    if getattr(args, "repetitions", None) is not None and args.repetitions < 1:
        raise UserError(f"--repetitions must be at least 1, got {args.repetitions}")
    warm_iters, warm_s = parse_warmup(args.warmup)
    if args.batch < 1:
        raise UserError(f"--batch must be at least 1, got {args.batch}")
    if args.threads is not None and args.threads < 1:
        raise UserError(f"--threads must be at least 1, got {args.threads}")
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
    )
    hang = str(args.hang_timeout).strip().lower()
    if args.prometheus is not None:  # fail in the user's terminal, not in a detached process
        from edgemon.session.prometheus import parse_listen_address, require_prometheus_client

        parse_listen_address(args.prometheus)
        require_prometheus_client()
    config = RunConfig(
        workload=spec,
        duration_s=parse_duration(args.duration) if args.duration else None,
        record_dir=Path(args.record) if args.record else None,
        record=not args.no_record,
        sample_hz=args.sample_hz,
        sysfs_root=root,
        headless=args.headless,
        ascii=args.ascii,
        status_every_s=parse_duration(args.status_every, what="--status-every"),
        emulate=args.emulate,
        hang_timeout_s=None if hang in ("0", "0s", "off", "none") else parse_duration(hang, what="--hang-timeout"),
        restart_on_hang=bool(args.restart_on_hang),
        prometheus=args.prometheus,
    )
    if profile is not None:
        from edgemon.session.profile import apply_profile

        apply_profile(config, profile, given, repetitions=getattr(args, "repetitions", None))
    elif getattr(args, "repetitions", None):
        from dataclasses import asdict

        from edgemon.session.plan import simple_plan

        if args.repetitions > 1:
            config.plan = simple_plan(asdict(spec), repetitions=args.repetitions, duration_s=config.duration_s)
    return config


def cmd_run(args: argparse.Namespace) -> int:
    config = run_config_from_args(args)
    detach = args.detach
    if detach and not config.record:
        raise UserError("a detached session must record (that is how you find it again); drop --no-record")
    if (config.headless and not detach) or not config.record:
        # --headless: a plain process printing status lines (use --detach to outlive the terminal).
        # --no-record: nothing to come back to, so the session lives and dies with this process.
        return _run_in_process(config)
    # The session runs in its own process so that closing the dashboard or losing SSH does not
    # end it. Validate here first: bad input must fail before anything starts.
    from edgemon.session.daemon import spawn
    from edgemon.workload.registry import validate

    validate(config.workload)
    started = spawn(config, argv=sys.argv[1:])
    if detach:
        print(f"session running in the background (pid {started.pid}), recording into {started.folder}\n"
              f"  watch:  edgemon attach {started.folder}\n"
              f"  stop:   edgemon stop {started.folder}\n"
              f"  log:    {started.log}")
        return 0
    try:
        return _dashboard_on(started.folder, ascii=config.ascii, owner=True)
    except UserError:
        ended = _ended_at_once(started.folder)
        if ended is None:
            raise
        print(ended, file=sys.stderr)
        return 1


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


def _dashboard_on(folder: Path, *, ascii: bool, owner: bool = False) -> int:
    """The dashboard on a detached session; afterwards say whether it goes on or where it was recorded.

    ``owner`` (``edgemon run``): SIGINT/SIGTERM sent to this process stop the session, as they
    did when it ran in-process, so a script that kills `edgemon run` leaves nothing behind.
    A hang-up (SSH drop) or a dead terminal only detaches. ``edgemon attach`` only ever detaches.
    """
    import signal

    from edgemon.session.remote import open_remote

    feed = open_remote(folder)
    code = 0
    interrupted: list[int] = []

    def on_signal(signum, _frame):
        interrupted.append(signum)
        raise KeyboardInterrupt

    previous = {}
    if owner:
        previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    # A dashboard goes with its terminal, even when started from a shell that ignores
    # hang-ups (nohup): the session is another process and carries on.
    if signal.getsignal(signal.SIGHUP) is signal.SIG_IGN:
        previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, signal.SIG_DFL)
    try:
        from edgemon.tui import run_dashboard

        code = run_dashboard(feed, ascii=ascii)
    except KeyboardInterrupt:
        code = 130
        if owner and not feed.ended:
            feed.command("stop")
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
        if feed.stop_requested or feed.ended:
            feed.wait_end(60.0)     # the session closes its recording, then says "end"
        else:
            feed.close()            # detach: the terminal went away, or the user chose to leave it running
        status = feed.status()
        if status.state in ("ended", "crashed"):
            text = f"recording: {folder} ({status.state}{': ' + status.message if status.message else ''})"
        else:
            text = (f"the session goes on in the background: {folder}\n"
                    f"  watch:  edgemon attach {folder}\n  stop:   edgemon stop {folder}")
        try:
            print(text)
        except OSError:             # the terminal is gone (SSH drop): nobody to tell
            pass
    return 1 if status.state == "crashed" else code


def cmd_attach(args: argparse.Namespace) -> int:
    return _dashboard_on(resolve_running_session(args.session), ascii=args.ascii)


def cmd_stop(args: argparse.Namespace) -> int:
    from edgemon.session.remote import stop_remote
    from edgemon.units import parse_duration

    timeout = parse_duration(args.timeout, what="--timeout")
    stop_remote(resolve_running_session(args.session), timeout=timeout)
    return 0


def cmd_ls(args: argparse.Namespace) -> int:
    import json

    from edgemon.session.listing import check_roots, format_table, list_sessions

    roots = [Path(f) for f in args.folders] or [Path("recordings")]
    if args.folders:
        check_roots(roots)
    infos = list_sessions(roots)
    if args.json:
        print(json.dumps([i.to_dict() for i in infos], indent=2))
    elif not infos:
        print(f"no sessions under {', '.join(str(r) for r in roots)}")
    else:
        print(format_table(infos))
    return 0


def _run_in_process(config) -> int:
    from edgemon.session.live import LiveSession

    session = LiveSession(config)
    try:
        session.start()
    except BaseException:
        session.close()
        raise
    if config.headless:
        from edgemon.session.headless import run_headless

        return run_headless(session, status_every_s=config.status_every_s)
    try:
        from edgemon.tui import run_dashboard

        code = run_dashboard(session, ascii=config.ascii)
    finally:
        session.close()
    if session.meta.get("record_path"):
        print(f"recording: {session.meta['record_path']}")
    if session.status().state == "crashed":
        return 1
    return code


def cmd_replay(args: argparse.Namespace) -> int:
    from edgemon.recording.reader import open_recording
    from edgemon.recording.replay import ReplayFeed
    from edgemon.tui import run_dashboard

    if not 1 <= args.speed <= 1000:
        raise UserError(f"--speed must be between 1 and 1000, got {args.speed:g}")
    rec = open_recording(resolve_session(args.session))
    feed = ReplayFeed(rec)
    feed.command("speed", factor=args.speed)
    try:
        return run_dashboard(feed, ascii=args.ascii)
    finally:
        feed.close()


def cmd_analyze(args: argparse.Namespace) -> int:
    from edgemon.analysis.commands import cmd_analyze as analyze_command

    return analyze_command(args)


def cmd_info(args: argparse.Namespace) -> int:
    import json

    from edgemon.info import collect_info, format_info

    root = Path(args.sysfs_root)
    if not root.is_dir():
        raise UserError(f"--sysfs-root {args.sysfs_root}: not a folder")
    data = collect_info(root)
    print(json.dumps(data, indent=2, default=str) if args.json else format_info(data))
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    import json

    from edgemon.workload.registry import list_runners, models_for

    runners = [args.runner] if args.runner else list_runners()
    table = {}
    for name in runners:
        table[name] = models_for(name)
    if args.json:
        print(json.dumps(table, indent=2, default=str))
        return 0
    for name, models in table.items():
        print(f"{name}:")
        if not models:
            print("  (no built-in models)")
        for model, m in models.items():
            shape = "x".join(str(s) for s in m.get("input_shape", ()))
            params = m.get("params")
            gflops = m.get("gflops")
            print(f"  {model:<18} input {shape:<14} params {params if params is not None else '-':>10}"
                  f"  GFLOPs {gflops if gflops is not None else '-':>8}  {m.get('description', '')}")
    return 0


def cmd_recover(args: argparse.Namespace) -> int:
    from edgemon.recording.recover import recover

    report = recover(resolve_session(args.session))
    print(report.summary() if hasattr(report, "summary") else report)
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    import json

    path = resolve_session(args.session)
    meta_path = path / "session.json"
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError) as exc:
        raise UserError(f"{meta_path}: cannot read session description ({exc})") from None
    state = meta.get("restore")
    if not state:
        print(f"{path}: the session saved no machine state (not a Jetson, or controls unavailable); nothing to do")
        return 0
    from edgemon.control import Controls
    from edgemon.control.snapshot import MachineState

    if meta.get("emulated"):
        print(f"{path}: an emulated board; it was discarded with its session, nothing to restore")
        return 0
    root = Path(args.sysfs_root if args.sysfs_root != "/" else meta.get("sysfs_root", "/"))
    controls = Controls(root, dict(meta.get("executables") or {}))
    results = controls.restore(MachineState.from_dict(state))
    failed = False
    for r in results:
        print(("ok    " if r.ok else "FAILED ") + r.message)
        failed |= not r.ok
    return 1 if failed else 0


_HANDLERS = {
    "run": cmd_run,
    "replay": cmd_replay,
    "analyze": cmd_analyze,
    "info": cmd_info,
    "models": cmd_models,
    "recover": cmd_recover,
    "restore": cmd_restore,
    "attach": cmd_attach,
    "ls": cmd_ls,
    "stop": cmd_stop,
}


def main(argv: list[str] | None = None) -> int:
    argv = _normalise_argv(list(sys.argv[1:] if argv is None else argv))
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None) or _HANDLERS[args.command]
    try:
        return handler(args)
    except UserError as exc:
        print(f"edgemon: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
