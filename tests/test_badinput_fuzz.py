"""Zero tracebacks on bad input: a real recording, mutated, given to every command that reads one.

Each mutation damages a copy of a recording made by `edgemon run` (random and non-UTF-8
bytes, wrong JSON types, `[]` and `null` in session.json, truncated or bit-flipped Parquet,
absurd values, links and FIFOs where files belong). Every reading command then answers with
exit 0 (listing what it could not use) or 2 with one line -- never an exception, never a hang.
The mutations are seeded: a failure names the mutation, and rerunning reproduces it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from edgemon import cli
from tests.conftest import REPO

pytestmark = pytest.mark.slow

SEED = 12
RANDOM_BUDGET_S = 5.0      # random mutations after the fixed ones, for about this long
COMMAND_LIMIT_S = 60       # a command that takes longer is a hang


@pytest.fixture(scope="module")
def real_recording(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz") / "rec"
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    p = subprocess.run([sys.executable, "-m", "edgemon", "run", "--headless", "--emulate", "orin-nano",
                        "--duration", "3s", "--record", str(folder), "--status-every", "1s"],
                       capture_output=True, text=True, timeout=180, env=env)
    assert p.returncode == 0, p.stdout + p.stderr
    return folder


# ------------------------------------------------------------------------------- mutations

BAD_VALUES = [None, [], {}, "x", "", -1, 0, 10**30, -(10**30), 1e308, True, [1, "a"], {"a": []},
              2**63, 2**62, -(2**63) - 1, 3.5]


def _meta(d: Path) -> dict:
    return json.loads((d / "session.json").read_text())


def _put_meta(d: Path, meta) -> None:
    (d / "session.json").write_text(json.dumps(meta))


def _segment(d: Path, stream: str) -> Path:
    return sorted((d / stream).glob("*.parquet"))[0]


def _set_column(d: Path, stream: str, column: str, make) -> None:
    f = _segment(d, stream)
    t = pq.read_table(f)
    i = t.column_names.index(column)
    t = t.set_column(i, column, make(t.num_rows, t.schema.field(column).type))
    pq.write_table(t, f)


def fixed_mutations():
    """(name, function(folder)) pairs that every run tries."""
    m = []

    def add(name):
        return lambda f: m.append((name, f))

    add("session.json random bytes")(lambda d: (d / "session.json").write_bytes(bytes(range(256)) * 3))
    add("session.json empty")(lambda d: (d / "session.json").write_bytes(b""))
    for top in ([], None, "text", 1, {}):
        add(f"session.json is {top!r}")(lambda d, top=top: _put_meta(d, top))
    add("session.json truncated")(lambda d: (d / "session.json").write_text((d / "session.json").read_text()[:100]))
    add("session.json nested 100000 deep")(lambda d: (d / "session.json").write_text("[" * 100000 + "]" * 100000))
    for i, key in enumerate(("clock", "workload", "state", "platform", "end", "rows", "clock_ceilings",
                             "trip_points", "sources", "runner_hello", "restore", "duration_s", "ended_monotonic_ns",
                             "profile", "argv", "machine")):
        bad = (None, [], "x", 10**30)[i % 4]
        add(f"session.json {key}={bad!r}")(lambda d, key=key, bad=bad: _put_meta(d, {**_meta(d), key: bad}))
    for sub, bad in (("monotonic_ns", 2**63 - 1), ("monotonic_ns", -5), ("unix_ns", 2**62), ("unix_ns", "x"),
                     ("monotonic_ns", 1.5)):
        add(f"session.json clock.{sub}={bad!r}")(
            lambda d, sub=sub, bad=bad: _put_meta(d, {**_meta(d), "clock": {**_meta(d)["clock"], sub: bad}}))
    add("session.json workload.batch=[]")(
        lambda d: _put_meta(d, {**_meta(d), "workload": {**_meta(d)["workload"], "batch": []}}))
    add("session.json clock_ceilings values strings")(
        lambda d: _put_meta(d, {**_meta(d), "clock_ceilings": {"gpu_freq_mhz": "fast"}}))
    add("session.json is a FIFO")(lambda d: ((d / "session.json").unlink(), os.mkfifo(d / "session.json")))
    add("session.json is a folder")(lambda d: ((d / "session.json").unlink(), (d / "session.json").mkdir()))
    for stream in ("telemetry", "latency", "events"):
        add(f"{stream} segment truncated")(lambda d, s=stream: _segment(d, s).write_bytes(
            _segment(d, s).read_bytes()[: len(_segment(d, s).read_bytes()) // 2]))
        add(f"{stream} segment empty")(lambda d, s=stream: _segment(d, s).write_bytes(b""))
        add(f"{stream} segment random bytes")(lambda d, s=stream: _segment(d, s).write_bytes(os.urandom(4096)))
        add(f"{stream} folder is a file")(lambda d, s=stream: (shutil.rmtree(d / s), (d / s).write_text("x")))
        add(f"{stream} segment is a FIFO")(lambda d, s=stream: (_segment(d, s).unlink(),
                                                                os.mkfifo(d / s / "part-00000.parquet")))
        add(f"{stream} foreign schema")(lambda d, s=stream: pq.write_table(pa.table({"x": [1, 2]}), _segment(d, s)))
    for col, vals in (("t_end_ns", [2**63 - 1, -1]), ("duration_ns", [2**63 - 1, -(2**63), 10**15]),
                      ("items", [2**31 - 1, -(2**31)])):
        for v in vals:
            add(f"latency.{col}={v}")(lambda d, col=col, v=v: _set_column(
                d, "latency", col, lambda n, typ: pa.array([v] * n, typ)))
    add("latency.duration_ns mixed extremes")(lambda d: _set_column(
        d, "latency", "duration_ns", lambda n, typ: pa.array([(2**62 if i % 2 else 1) for i in range(n)], typ)))
    add("latency.warmup all null")(lambda d: _set_column(d, "latency", "warmup",
                                                          lambda n, typ: pa.array([None] * n, typ)))
    add("telemetry.t_ns huge")(lambda d: _set_column(d, "telemetry", "t_ns",
                                                      lambda n, typ: pa.array([2**63 - 1] * n, typ)))
    for v in (float("nan"), float("inf"), -1e308):
        add(f"telemetry values {v}")(lambda d, v=v: _all_metrics(d, v))
    for text in ("{", "[]", "x" * 10000, '{"reason": []}', '{"a": 1e999}'):
        add(f"events.details={text[:12]!r}")(lambda d, text=text: _set_column(
            d, "events", "details", lambda n, typ: pa.array([text] * n, pa.string())))
    add("events.kind empty strings")(lambda d: _set_column(d, "events", "kind",
                                                            lambda n, typ: pa.array([""] * n, pa.string())))
    add("stale tails and temporary files")(_stale_tails)
    return m


def _all_metrics(d: Path, v: float) -> None:
    f = _segment(d, "telemetry")
    t = pq.read_table(f)
    for i, name in enumerate(t.column_names):
        if name != "t_ns":
            t = t.set_column(i, name, pa.array([v] * t.num_rows, pa.float64()))
    pq.write_table(t, f)


def _stale_tails(d: Path) -> None:
    (d / "latency" / "part-00009.arrows").write_bytes(os.urandom(1000))
    (d / "latency" / "part-00009.parquet.tmp").write_bytes(b"half")
    (d / "session.json.tmp").write_bytes(b"{")
    _put_meta(d, {**_meta(d), "state": "running"})


def random_mutation(rng: random.Random):
    """A random damage: bytes, wrong JSON types at any depth, or absurd column values."""
    kind = rng.randrange(4)
    seed = rng.random()      # each mutation draws from its own generator: reproducible alone
    if kind == 0:
        def flip(d):
            r = random.Random(seed)
            f = _segment(d, r.choice(["telemetry", "latency", "events"]))
            b = bytearray(f.read_bytes())
            for _ in range(r.randrange(1, 30)):
                b[r.randrange(len(b))] = r.randrange(256)
            f.write_bytes(bytes(b))
        return "random byte flips in a segment", flip
    if kind == 1:
        bad = rng.choice(BAD_VALUES)

        def deep(d):
            r = random.Random(seed)
            meta = _meta(d)
            node = meta
            path = []
            while isinstance(node, dict) and node:
                key = r.choice(sorted(node))
                path.append(key)
                if not isinstance(node[key], dict) or r.random() < 0.4:
                    node[key] = bad
                    break
                node = node[key]
            _put_meta(d, meta)
        return f"session.json somewhere = {bad!r}", deep
    if kind == 2:
        def cut(d):
            r = random.Random(seed)
            f = d / "session.json"
            b = f.read_bytes()
            f.write_bytes(b[: r.randrange(len(b))] + bytes(r.randrange(256) for _ in range(r.randrange(5))))
        return "session.json cut and padded", cut

    def absurd(d):
        r = random.Random(seed)
        stream = r.choice(["telemetry", "latency"])
        t = pq.read_table(_segment(d, stream))
        col = r.choice(t.column_names)
        typ = t.schema.field(col).type
        if pa.types.is_integer(typ):
            lim = 2 ** (typ.bit_width - 1)
            choices = [lim - 1, -lim, 0, -1]
        elif pa.types.is_floating(typ):
            choices = [float("nan"), float("inf"), 1e308, -1e308, 0.0]
        else:
            choices = [None]
        _set_column(d, stream, col, lambda n, _t: pa.array([r.choice(choices) for _ in range(n)], typ))
    return "absurd column values", absurd


# ------------------------------------------------------------------------------- commands

class Hang(Exception):
    pass


def _replay_feed(folder: Path) -> int:
    """What `edgemon replay` does before the screen: open, load, play, seek, timeline."""
    from edgemon.errors import UserError
    from edgemon.feeds.replay import ReplayFeed
    from edgemon.recording.reader import open_recording

    try:
        feed = ReplayFeed(open_recording(folder))
    except UserError as exc:
        print(f"edgemon: {exc}", file=sys.stderr)
        return 2
    try:
        feed.wait_loaded(COMMAND_LIMIT_S)
        for cmd, kw in (("speed", {"factor": 1000}), ("seek", {"delta_s": 10}), ("seek", {"to": "end"}),
                        ("next_event", {}), ("seek", {"to": "start"})):
            feed.command(cmd, **kw)
            feed.drain()
            feed.status()
        feed.timeline()
    finally:
        feed.close()
    return 0


def _commands(folder: Path, work: Path):
    return [
        ["ls", str(folder.parent)], ["ls", str(folder)], ["analyze", str(folder)], ["analyze", "--json", str(folder)],
        ["report", str(folder)], ["report", str(folder), "--out", str(work / "r.html")],
        ["compare", str(folder), str(folder)], ["recover", str(folder)], ["restore", str(folder)],
        ["attach", str(folder)], ["stop", str(folder)], ["replay-feed"],
    ]


def _run(argv, folder: Path):
    out, err = io.StringIO(), io.StringIO()

    def on_alarm(*_):
        raise Hang(f"{argv} took more than {COMMAND_LIMIT_S} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(COMMAND_LIMIT_S)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = _replay_feed(folder) if argv[0] == "replay-feed" else cli.main(argv)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    return code, out.getvalue(), err.getvalue()


def _check(name: str, folder: Path, work: Path, thread_errors: list) -> None:
    for argv in _commands(folder, work):
        try:
            code, out, err = _run(argv, folder)
        except Hang as exc:
            pytest.fail(f"[{name}] {exc}")
        except BaseException as exc:  # noqa: BLE001 - exactly what must never happen
            import traceback

            pytest.fail(f"[{name}] {argv[0]} raised {type(exc).__name__}: {exc}\n{traceback.format_exc()}")
        assert "Traceback" not in out + err, f"[{name}] {argv}: {out}{err}"
        assert code in (0, 2), f"[{name}] {argv} exited {code}: {err}"
        if code == 2:
            assert len(err.strip().splitlines()) == 1, f"[{name}] {argv}: more than one line: {err}"
        assert not thread_errors, f"[{name}] {argv}: a thread raised {thread_errors}"


def test_every_reading_command_survives_a_mutated_recording(real_recording, tmp_path):
    thread_errors: list = []
    previous_hook = threading.excepthook
    threading.excepthook = lambda args: thread_errors.append(f"{args.exc_type.__name__}: {args.exc_value}")
    cwd = os.getcwd()
    os.chdir(tmp_path)          # `latest` and ./recordings resolve here, not in the checkout
    tried = 0
    try:
        rng = random.Random(SEED)
        mutations = fixed_mutations()
        deadline = None
        while True:
            if mutations:
                name, mutate = mutations.pop(0)
            else:
                deadline = deadline or time.monotonic() + RANDOM_BUDGET_S
                if time.monotonic() > deadline:
                    break
                name, mutate = random_mutation(rng)
            copy = tmp_path / "recordings" / f"m{tried}"
            shutil.copytree(real_recording, copy)
            mutate(copy)
            _check(name, copy, tmp_path, thread_errors)
            shutil.rmtree(copy, ignore_errors=True)
            if copy.exists() or os.path.lexists(copy):
                os.system(f"rm -rf {copy}")
            tried += 1
    finally:
        os.chdir(cwd)
        threading.excepthook = previous_hook
    assert tried > len(fixed_mutations())
