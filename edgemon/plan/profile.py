"""TOML session profiles: parse, validate, and turn into a run plan (profiles/README.md).

A profile names what to run (one ``[workload]``, or a ``[[suite]]`` of them run one after
another), how often (``repetitions``, each in a fresh worker, with a ``rest`` between),
what happens before the measured part (``[cooldown]`` gate, ``[idle_baseline]``) and a
``[[schedule]]`` of machine changes at times relative to the start of each repetition.

Every mistake is one :class:`UserError` line that names the file, the line and the key:
``profiles/x.toml:12: schedule[2].at: 7200s is after the end of the session (duration 1h)``.
tomllib reports the line of a syntax error; for semantic errors the key's line is found
by scanning the text (:class:`_Lines`). Entries of ``[[suite]]`` and ``[[schedule]]`` are
counted from 1 in messages, as a person counts them in the file.
"""

from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgemon.errors import UserError
from edgemon.plan.run_plan import Action, Cooldown, PlanItem, RunPlan
from edgemon.units import (
    MAX_BATCH,
    MAX_DURATION_S,
    MAX_REPETITIONS,
    MAX_THREADS,
    MIN_HANG_TIMEOUT_S,
    format_seconds,
    seconds_of,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.9/3.10: the same parser as a package (pyproject: tomli; python_version < '3.11')
    import tomli as tomllib

# Keys a table may hold, with a word for the README-style hint in "unknown key" messages.
_TOP_KEYS = ("name", "description", "board", "duration", "repetitions", "rest", "sample_hz", "emulate",
             "hang_timeout", "restart_on_hang", "workload", "suite", "cooldown", "idle_baseline", "schedule")
_WORKLOAD_KEYS = ("runner", "model", "batch", "threads", "warmup", "python", "options")
_SETUP_KEYS = ("power_mode", "cores", "jetson_clocks", "fan")           # machine settings of a suite entry
_SUITE_KEYS = _WORKLOAD_KEYS + ("label", "repetitions", "duration") + _SETUP_KEYS
_COOLDOWN_KEYS = ("metric", "below", "idle", "idle_cpu_pct", "timeout", "on_timeout", "every_repetition")
_IDLE_KEYS = ("duration",)
ACTIONS = ("power_mode", "cores", "jetson_clocks", "fan", "mark")      # one per [[schedule]] entry
_SCHEDULE_KEYS = ("at",) + ACTIONS

# ------------------------------------------------------------------------------ data

@dataclass
class SuiteItem:
    """One workload of the profile with its repetitions and the settings applied before it."""

    workload: dict[str, Any]             # WorkloadSpec fields
    label: str = ""
    repetitions: int | None = None       # None: the profile's
    duration_s: float | None = None      # None: the profile's
    setup: list[Action] = field(default_factory=list)
    key: str = "workload"


@dataclass
class Profile:
    path: str
    name: str = ""
    description: str = ""
    board: str | None = None             # the board it targets (documentation; checked against emulate)
    duration_s: float | None = None      # of each repetition; None: until the worker ends
    repetitions: int = 1
    rest_s: float = 0.0
    sample_hz: float | None = None
    emulate: str | None = None
    hang_timeout_s: float | None = None
    hang_timeout_set: bool = False       # hang_timeout given (None then means "off")
    restart_on_hang: bool | None = None
    items: list[SuiteItem] = field(default_factory=list)
    is_suite: bool = False
    cooldown: Cooldown | None = None
    idle_baseline_s: float | None = None
    schedule: list[Action] = field(default_factory=list)

    @property
    def workload(self) -> dict[str, Any]:
        """The single workload (or the first of a suite)."""
        return self.items[0].workload

    def to_plan(self, *, duration_s: float | None = None, repetitions: int | None = None,
                overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        """The run plan :class:`edgemon.plan.runner.PlanRunner` executes, as its JSON object
        (:class:`edgemon.plan.run_plan.RunPlan`).

        ``duration_s``/``repetitions``: given on the command line (None: the profile's), they
        apply to every workload; so do ``overrides``, the workload fields given on the command
        line (``options`` merge key by key)."""
        overrides = dict(overrides or {})
        extra_opts = overrides.pop("options", None) or {}
        items = []
        for item in self.items:
            wl = {**item.workload, **overrides}
            wl["options"] = {**_own_options(item.workload, wl["runner"]), **extra_opts}
            dur: float | None
            if duration_s is not None:
                dur = duration_s
            else:
                dur = item.duration_s if item.duration_s is not None else self.duration_s
            items.append(PlanItem(label=item.label or f"{wl['runner']}/{wl['model']}", workload=wl,
                                  repetitions=int(repetitions or item.repetitions or self.repetitions),
                                  duration_s=dur, setup=list(item.setup), key=item.key))
        return RunPlan(source=self.path, name=self.name, board=self.board, items=items, rest_s=self.rest_s,
                       cooldown=self.cooldown, idle_baseline_s=self.idle_baseline_s,
                       schedule=list(self.schedule)).to_dict()


def _own_options(workload: dict[str, Any], runner: str) -> dict[str, str]:
    """The profile's runner options, unless --runner swapped the runner (they were for the other one)."""
    return dict(workload.get("options") or {}) if workload.get("runner") == runner else {}


# ------------------------------------------------------------------------------ line finding

_HEADER = re.compile(r"^\s*\[\[\s*([^\]]+?)\s*\]\]|^\s*\[\s*([^\]]+?)\s*\]")
_KEY = re.compile(r"""^\s*((?:[A-Za-z0-9_\-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_\-]+|"[^"]*"|'[^']*'))*)\s*=""")


def _split_key(text: str) -> list[str]:
    return [p.strip().strip("\"'") for p in re.findall(r"""[A-Za-z0-9_\-]+|"[^"]*"|'[^']*'""", text)]


class _Lines:
    """Where each key of a TOML text is: full key path (array entries as 0-based ints) -> line."""

    def __init__(self, text: str):
        self.where: dict[tuple, int] = {}
        counts: dict[tuple, int] = {}
        table: tuple = ()
        in_string = None
        for n, line in enumerate(text.splitlines(), start=1):
            if in_string:                      # inside a multi-line string: no keys here
                if line.count(in_string) % 2 == 1:
                    in_string = None
                continue
            m = _HEADER.match(line)
            if m:
                parts = tuple(_split_key(m.group(1) or m.group(2)))
                if m.group(1):                 # [[array]]: the next entry of that array
                    idx = counts.get(parts, 0)
                    counts[parts] = idx + 1
                    table = parts + (idx,)
                else:
                    table = parts
                self.where.setdefault(table, n)
                continue
            k = _KEY.match(line)
            if k:
                self.where.setdefault(table + tuple(_split_key(k.group(1))), n)
                rest = line[k.end():]
                for q in ('"""', "'''"):
                    if rest.count(q) % 2 == 1:
                        in_string = q

    def line_of(self, path: tuple) -> int:
        """The line of ``path``, else of its closest enclosing table or key, else 1."""
        path = tuple(path)
        while path:
            if path in self.where:
                return self.where[path]
            path = path[:-1]
        return 1


def _key_text(path: tuple) -> str:
    out = ""
    for p in path:
        if isinstance(p, int):
            out += f"[{p + 1}]"
        else:
            out += ("." if out else "") + str(p)
    return out


class _Checker:
    """Raises a UserError that names file, line and key."""

    def __init__(self, path: str, text: str):
        self.path = path
        self.lines = _Lines(text)

    def where(self, key: tuple) -> str:
        return f"{self.path}:{self.lines.line_of(key)}"

    def fail(self, key: tuple, message: str) -> UserError:
        return UserError(f"{_key_text(key)}: {message}", path=self.path, line=self.lines.line_of(key))

    # -- typed getters ------------------------------------------------------------------------
    def known(self, table: dict, key: tuple, allowed: tuple) -> None:
        for name in table:
            if name not in allowed:
                hint = _close(name, allowed)
                raise self.fail(key + (name,), "unknown key" + (f"; did you mean {hint!r}?" if hint else "")
                                + f" (known here: {', '.join(allowed)})")

    def string(self, table: dict, key: tuple, name: str, *, required: bool = False) -> str | None:
        if name not in table:
            if required:
                raise self.fail(key, f"missing key {name!r}")
            return None
        v = table[name]
        if not isinstance(v, str) or not v.strip():
            raise self.fail(key + (name,), f"expected a non-empty string, got {_show(v)}")
        return v.strip()

    def integer(self, table: dict, key: tuple, name: str, *, minimum: int = 1,
                maximum: int = 1_000_000_000) -> int | None:
        if name not in table:
            return None
        v = table[name]
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.fail(key + (name,), f"expected a whole number, got {_show(v)}")
        if v < minimum:
            raise self.fail(key + (name,), f"must be at least {minimum}, got {v}")
        if v > maximum:
            raise self.fail(key + (name,), f"must be at most {maximum}, got {v}")
        return v

    def number(self, table: dict, key: tuple, name: str, lo: float, hi: float, unit: str = "") -> float | None:
        if name not in table:
            return None
        v = table[name]
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise self.fail(key + (name,), f"expected a number, got {_show(v)}")
        if not lo <= v <= hi:
            raise self.fail(key + (name,), f"must be between {lo:g} and {hi:g}{unit}, got {v:g}{unit}")
        return float(v)

    def boolean(self, table: dict, key: tuple, name: str) -> bool | None:
        if name not in table:
            return None
        v = table[name]
        if not isinstance(v, bool):
            raise self.fail(key + (name,), f"expected true or false, got {_show(v)}")
        return v

    def seconds(self, table: dict, key: tuple, name: str, *, zero: bool = False, off: bool = False,
                minimum_s: float | None = None):
        """A duration: "90s", "10m", "1h30m" or a number of seconds."""
        if name not in table:
            return None
        v = table[name]
        k = key + (name,)
        if off and (v is False or (isinstance(v, str) and v.strip().lower() in ("off", "none", "0", "0s"))
                    or (not isinstance(v, bool) and isinstance(v, (int, float)) and v == 0)):
            return "off"
        if isinstance(v, bool) or not isinstance(v, (int, float, str)):
            raise self.fail(k, f"expected a duration like \"90s\", \"10m\" or \"3h\" (or seconds), got {_show(v)}")
        s: float | None
        if isinstance(v, (int, float)):
            s = float(v)
        else:
            s = seconds_of(v)
            if s is None:
                raise self.fail(k, f"malformed duration {v!r}; use e.g. \"90s\", \"10m\", \"3h\" or \"1h30m\"")
        if not math.isfinite(s) or s > MAX_DURATION_S:   # inf, nan, a 400-digit number
            raise self.fail(k, f"must be a finite duration of at most a year, got {_show(v)}")
        if s < 0 or (s == 0 and not zero):
            raise self.fail(k, f"must be {'zero or more' if zero else 'positive'}, got {_show(v)}")
        if minimum_s is not None and s < minimum_s:
            raise self.fail(k, f"must be at least {minimum_s:g}s, got {_show(v)}")
        return s

    def table(self, data: dict, key: tuple, name: str) -> dict | None:
        if name not in data:
            return None
        v = data[name]
        if not isinstance(v, dict):
            raise self.fail(key + (name,), f"expected a table ([{_key_text(key + (name,))}]), got {_show(v)}")
        return v

    def tables(self, data: dict, name: str) -> list[dict]:
        if name not in data:
            return []
        v = data[name]
        if not isinstance(v, list) or not all(isinstance(x, dict) for x in v):
            raise self.fail((name,), f"expected [[{name}]] entries (an array of tables), got {_show(v)}")
        return v


def _show(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dict):
        return "a table"
    if isinstance(v, list):
        return "an array"
    return repr(v)


def _close(name: str, allowed: tuple) -> str | None:
    import difflib

    got = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
    return got[0] if got else None


def scale_plan(plan: RunPlan | dict[str, Any], factor: float) -> dict[str, Any]:
    """The plan (as its JSON object) with every length and time multiplied by ``factor``
    (``--time-scale 0.1``: a rehearsal in a tenth of the time): durations, schedule times,
    rests, the idle baseline and the cool-down's idle time and timeout (a temperature target
    cannot be scaled). ``time_scale`` says so in the plan (and session.json)."""
    out = RunPlan.from_dict(RunPlan.of(plan).to_dict())        # a copy, written back with the keys it had

    def sc(x: float | None) -> float | None:
        return None if x is None else float(x) * factor

    for item in out.items:
        item.duration_s = sc(item.duration_s)
    for a in out.schedule:
        a.at_s = float(a.at_s) * factor
    out.rest_s = float(out.rest_s) * factor
    out.idle_baseline_s = sc(out.idle_baseline_s)
    if out.cooldown is not None:
        out.cooldown.timeout_s = float(out.cooldown.timeout_s) * factor
        out.cooldown.idle_s = sc(out.cooldown.idle_s)
    scaled = out.to_dict()
    scaled["time_scale"] = float(out.time_scale or 1.0) * factor
    return scaled


# ------------------------------------------------------------------------------ loading

def load_profile(path: str | Path, *, emulate: str | None = None) -> Profile:
    """Parse and validate the profile at ``path``; UserError (file:line: key: what) otherwise.

    ``emulate``: the board given on the command line (it wins over the profile's ``emulate``);
    with a board known, power-mode names and core numbers are checked against it."""
    shown = str(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise UserError(f"no such profile: {shown}; see profiles/ for the shipped ones") from None
    except OSError as exc:
        raise UserError(f"cannot read profile {shown}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserError("not UTF-8 text; save the profile as UTF-8", path=shown,
                        line=raw[:exc.start].count(b"\n") + 1) from None
    try:
        data = tomllib.loads(text)
    except RecursionError:
        raise UserError("nested too deeply (arrays or inline tables inside each other); a profile needs "
                        "two levels at most", path=shown) from None
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = re.search(r"\(at line (\d+), column (\d+)\)", msg)
        what = msg[:m.start()].strip() if m else msg
        col = f" (column {m.group(2)})" if m else ""
        raise UserError(f"TOML syntax error: {what}{col}", path=shown, line=int(m.group(1)) if m else None) from None
    return profile_from_data(data, text, shown, emulate=emulate, base=Path(path).parent)


def profile_from_data(data: dict, text: str, path: str, *, emulate: str | None = None,
                      base: Path | None = None) -> Profile:
    c = _Checker(path, text)
    c.known(data, (), _TOP_KEYS)
    p = Profile(path=path)
    p.name = c.string(data, (), "name") or Path(path).stem
    p.description = c.string(data, (), "description") or ""
    p.board = c.string(data, (), "board")
    p.emulate = c.string(data, (), "emulate")
    from edgemon.emulate.boards import BOARD_NAMES, BOARDS

    for field_name in ("board", "emulate"):
        v = getattr(p, field_name)
        if v is not None and v.lower() not in BOARDS:
            raise c.fail((field_name,), f"unknown board {v!r}; choose one of: {', '.join(BOARD_NAMES)}")
    if p.board and p.emulate and p.board.lower() != p.emulate.lower():
        raise c.fail(("emulate",), f"emulates {p.emulate!r} but the profile targets board {p.board!r}")
    p.duration_s = c.seconds(data, (), "duration")
    p.repetitions = c.integer(data, (), "repetitions", maximum=MAX_REPETITIONS) or 1
    p.rest_s = c.seconds(data, (), "rest", zero=True) or 0.0
    p.sample_hz = c.number(data, (), "sample_hz", 0.1, 100, " Hz")
    if "hang_timeout" in data:
        v = c.seconds(data, (), "hang_timeout", off=True, minimum_s=MIN_HANG_TIMEOUT_S)
        p.hang_timeout_s = None if v == "off" else v
        p.hang_timeout_set = True
    p.restart_on_hang = c.boolean(data, (), "restart_on_hang")

    # Mode names and cores are checked against the board it runs on (--emulate, emulate) or,
    # failing that, the board it targets; the real board is checked again at start (plan.py).
    board_key = (emulate or p.emulate or p.board or "").lower() or None
    board = BOARDS.get(board_key) if board_key else None

    base_wl = c.table(data, (), "workload")
    suite = c.tables(data, "suite")
    if base_wl is None and not suite:
        raise c.fail((), "no [workload] table and no [[suite]] entries: say what to run, e.g.\n"
                     "[workload]\nrunner = \"numpy\"\nmodel = \"mnist_1d\"".replace("\n", " "))
    defaults = {}
    if base_wl is not None:
        c.known(base_wl, ("workload",), _WORKLOAD_KEYS)
        defaults = _workload(c, base_wl, ("workload",), {}, base, full=not suite)
    if suite:
        p.is_suite = True
        for i, entry in enumerate(suite):
            key = ("suite", i)
            c.known(entry, key, _SUITE_KEYS)
            wl = _workload(c, entry, key, defaults, base, full=True)
            item = SuiteItem(workload=wl, key=_key_text(key))
            item.label = c.string(entry, key, "label") or ""
            item.repetitions = c.integer(entry, key, "repetitions", maximum=MAX_REPETITIONS)
            item.duration_s = c.seconds(entry, key, "duration")
            item.setup = [_action(c, entry, key, name, board) for name in _SETUP_KEYS if name in entry]
            p.items.append(item)
    else:
        p.items.append(SuiteItem(workload=defaults, key="workload"))

    cd = c.table(data, (), "cooldown")
    if cd is not None:
        p.cooldown = _cooldown(c, cd)
    ib = c.table(data, (), "idle_baseline")
    if ib is not None:
        c.known(ib, ("idle_baseline",), _IDLE_KEYS)
        p.idle_baseline_s = c.seconds(ib, ("idle_baseline",), "duration")
        if p.idle_baseline_s is None:
            raise c.fail(("idle_baseline",), "missing key 'duration' (how long to sample the idle machine)")

    last_at = -1.0
    for i, entry in enumerate(c.tables(data, "schedule")):
        key = ("schedule", i)
        c.known(entry, key, _SCHEDULE_KEYS)
        if "at" not in entry:
            raise c.fail(key, "missing key 'at' (when, from the start of the measured part, e.g. at = \"5m\")")
        at = c.seconds(entry, key, "at", zero=True)
        names = [n for n in ACTIONS if n in entry]
        if len(names) != 1:
            raise c.fail(key, f"needs exactly one action of {', '.join(ACTIONS)}; got "
                              f"{', '.join(names) if names else 'none'} (use one [[schedule]] entry per action)")
        for item in p.items:
            limit = item.duration_s if item.duration_s is not None else p.duration_s
            if limit is not None and at >= limit:
                whose = f" of {item.key}" if p.is_suite and item.duration_s is not None else ""
                raise c.fail(key + ("at",), f"{format_seconds(at)} is after the end of the session"
                                            f"{whose} (duration {format_seconds(limit)})")
        if at < last_at:
            raise c.fail(key + ("at",), f"{format_seconds(at)} is before the previous entry's time "
                                        f"({format_seconds(last_at)}); keep [[schedule]] in time order")
        last_at = at
        action = _action(c, entry, key, names[0], board)
        action.at_s = at
        p.schedule.append(action)
    return p


def _workload(c: _Checker, t: dict, key: tuple, defaults: dict, base: Path | None, *, full: bool) -> dict:
    """WorkloadSpec fields from a [workload] or [[suite]] table over ``defaults``."""
    from edgemon.units import parse_warmup
    from edgemon.workload import registry

    wl: dict[str, Any] = {"runner": "numpy", "model": "mnist_1d", "batch": 1, "threads": None, "warmup_iters": 0,
          "warmup_s": 0.0, "python": None, "options": {}}
    wl.update({k: (dict(v) if isinstance(v, dict) else v) for k, v in defaults.items()})
    given = set()
    for name in ("runner", "model", "python"):
        v = c.string(t, key, name)
        if v is not None:
            wl[name] = v
            given.add(name)
    for name, most in (("batch", MAX_BATCH), ("threads", MAX_THREADS)):
        n = c.integer(t, key, name, maximum=most)
        if n is not None:
            wl[name] = n
    if "warmup" in t:
        v = t["warmup"]
        if isinstance(v, bool) or not isinstance(v, (int, str)):
            raise c.fail(key + ("warmup",), f"expected iterations (50), a time (\"5s\") or both (\"50,5s\"), "
                                            f"got {_show(v)}")
        if isinstance(v, int):
            if not 0 <= v <= 1_000_000_000:
                raise c.fail(key + ("warmup",), f"must be between 0 and 1000000000 iterations, got {v}")
            wl["warmup_iters"], wl["warmup_s"] = v, 0.0
        else:
            try:
                wl["warmup_iters"], wl["warmup_s"] = parse_warmup(v)
            except UserError as exc:
                raise c.fail(key + ("warmup",), str(exc)) from None
    if "options" in t:
        opts = t["options"]
        if not isinstance(opts, dict):
            raise c.fail(key + ("options",), f"expected a table of KEY = value, got {_show(opts)}")
        merged = dict(wl.get("options") or {})
        for k, v in opts.items():
            if isinstance(v, bool):
                v = "1" if v else "0"
            elif isinstance(v, (int, float, str)):
                v = str(v)
            else:
                raise c.fail(key + ("options", k), f"expected a string or number, got {_show(v)}")
            merged[str(k)] = v
        wl["options"] = merged
    if not full:                 # a suite's [workload] holds only defaults: checked per entry
        return wl
    # runner and model are checked here, so the message points at their keys
    if wl["runner"] not in registry.RUNNERS or wl["runner"] not in registry.list_runners():
        k = key + ("runner",) if "runner" in t else ("workload", "runner")
        raise c.fail(k, f"unknown runner {wl['runner']!r}; choose one of: {', '.join(registry.list_runners())}")
    module = registry.runner_module(wl["runner"])
    models = getattr(module, "MODELS", {})
    if wl["model"] not in models:
        candidate = Path(wl["model"])
        if base is not None and not candidate.is_absolute() and (base / candidate).exists():
            candidate = base / candidate           # a model file next to the profile
        if getattr(module, "ACCEPTS_MODEL_FILES", False) and candidate.exists():
            wl["model"] = str(candidate)
        else:
            k = key + ("model",) if "model" in t else ("workload", "model")
            files = " or a model file" if getattr(module, "ACCEPTS_MODEL_FILES", False) else ""
            raise c.fail(k, f"unknown model {wl['model']!r} for runner {wl['runner']!r}; choose one of: "
                            f"{', '.join(sorted(models))}{files}")
    from edgemon.workload.spec import WorkloadSpec

    try:
        registry.validate(WorkloadSpec(**wl))
    except UserError as exc:
        msg = str(exc)
        sub = "options" if "option" in msg else "python" if "nterpreter" in msg else None
        k = key + (sub,) if sub and sub in t else key
        raise c.fail(k, msg) from None
    return wl


def _cooldown(c: _Checker, t: dict) -> Cooldown:
    key = ("cooldown",)
    c.known(t, key, _COOLDOWN_KEYS)
    cd = Cooldown()
    cd.metric = c.string(t, key, "metric")
    cd.below_c = c.number(t, key, "below", -40, 150, " C")
    if (cd.metric is None) != (cd.below_c is None):
        missing = "below" if cd.below_c is None else "metric"
        raise c.fail(key, f"'metric' and 'below' go together (wait until METRIC < BELOW C); missing {missing!r}")
    idle = c.seconds(t, key, "idle")
    cd.idle_s = idle
    pct = c.number(t, key, "idle_cpu_pct", 0.1, 100, " %")
    if pct is not None:
        if cd.idle_s is None:
            raise c.fail(key + ("idle_cpu_pct",), "only means something with 'idle' (how long the machine "
                                                  "must stay below it)")
        cd.idle_cpu_pct = pct
    if cd.metric is None and cd.idle_s is None:
        raise c.fail(key, "give 'metric' + 'below' (a temperature to wait for) and/or 'idle' (seconds of an "
                          "idle machine)")
    timeout = c.seconds(t, key, "timeout")
    if timeout is not None:
        cd.timeout_s = timeout
    if cd.idle_s is not None and cd.idle_s >= cd.timeout_s:
        raise c.fail(key + ("idle",), f"{format_seconds(cd.idle_s)} can never be reached within the timeout "
                                      f"({format_seconds(cd.timeout_s)})")
    on = c.string(t, key, "on_timeout")
    if on is not None:
        if on not in ("continue", "stop"):
            raise c.fail(key + ("on_timeout",), f"expected \"continue\" or \"stop\", got {on!r}")
        cd.on_timeout = on
    every = c.boolean(t, key, "every_repetition")
    cd.every_repetition = bool(every)
    return cd


def _action(c: _Checker, t: dict, key: tuple, name: str, board) -> Action:
    """One control action from ``t[name]``, checked against ``board`` (an emulate Board) if known."""
    k = key + (name,)
    v = t[name]
    where = c.where(k)
    if name == "power_mode":
        if isinstance(v, bool) or not isinstance(v, (int, str)) or (isinstance(v, str) and not v.strip()):
            raise c.fail(k, f"expected a mode id (0) or name (\"MAXN\"), got {_show(v)}")
        value: Any = int(v) if isinstance(v, str) and v.strip().isdigit() else (v.strip() if isinstance(v, str) else v)
        if board is not None:
            problem = power_mode_problem(value, [(m.id, m.name) for m in board.modes], board.title)
            if problem:
                raise c.fail(k, problem)
    elif name == "cores":
        try:
            value = sorted(parse_cores(v))
        except ValueError as exc:
            raise c.fail(k, str(exc)) from None
        if 0 not in value:
            raise c.fail(k, "must include cpu0 (cpu0 cannot be taken offline)")
        if board is not None:
            missing = [n for n in value if n not in board.cpus]
            if missing:
                raise c.fail(k, f"cpu{missing[0]} does not exist on the {board.title} (cpu0-cpu{max(board.cpus)})")
    elif name == "jetson_clocks":
        if isinstance(v, bool):
            value = v
        elif isinstance(v, str) and v.strip().lower() in ("on", "off"):
            value = v.strip().lower() == "on"
        else:
            raise c.fail(k, f"expected true/false or \"on\"/\"off\", got {_show(v)}")
    elif name == "fan":
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 100:
            raise c.fail(k, f"expected a fan speed in percent, 0 to 100, got {_show(v)}")
        value = float(v)
    else:  # mark
        if not isinstance(v, str):
            raise c.fail(k, f"expected a note (a string), got {_show(v)}")
        value = v
    return Action(name, value, key=_key_text(key), where=where)


def parse_cores(v: Any) -> set[int]:
    """Cores from a list ([0, 3, 4, 5]), a bitmask (0x39 or 57) or a string ("0,3-5" or "0x39")."""
    if isinstance(v, bool):
        raise ValueError(f"expected a core list like [0, 3, 4, 5], \"0,3-5\" or a mask like \"0x39\", got {_show(v)}")
    if isinstance(v, int):
        if v <= 0:
            raise ValueError(f"a core mask must be positive, got {v}")
        return {n for n in range(v.bit_length()) if v >> n & 1}
    if isinstance(v, list):
        if not v or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in v):
            raise ValueError(f"expected a list of core numbers like [0, 3, 4, 5], got {v!r}")
        return set(v)
    if isinstance(v, str):
        s = v.strip().lower()
        if s.startswith("0x"):
            try:
                return parse_cores(int(s, 16))
            except ValueError:
                raise ValueError(f"malformed core mask {v!r}; use e.g. \"0x39\"") from None
        out: set[int] = set()
        for part in s.split(","):
            a, sep, b = part.strip().partition("-")
            if not a.isdigit() or (sep and not b.isdigit()):
                raise ValueError(f"malformed core list {v!r}; use e.g. \"0,3-5\"")
            lo, hi = int(a), int(b) if sep else int(a)
            if hi < lo:
                raise ValueError(f"malformed core range {part.strip()!r} in {v!r}")
            out.update(range(lo, hi + 1))
        return out
    raise ValueError(f"expected a core list like [0, 3, 4, 5], \"0,3-5\" or a mask like \"0x39\", got {_show(v)}")


def power_mode_problem(value: Any, modes: list[tuple[int, str]], board_title: str) -> str | None:
    """Why ``value`` (id or name) is not one of ``modes`` [(id, name)]; None when it is."""
    if not modes:
        return None
    known = ", ".join(f"{i} {n}" for i, n in modes)
    if isinstance(value, int):
        if any(i == value for i, _ in modes):
            return None
        return f"power mode {value} does not exist on the {board_title} (modes: {known})"
    if any(n.lower() == str(value).lower() for _, n in modes):
        return None
    return f"power mode {value!r} is not a mode of the {board_title} (modes: {known})"


# ------------------------------------------------------------------------------ command line

# `edgemon run` options -> the WorkloadSpec fields they set
_CLI_WORKLOAD = {"runner": ("runner",), "model": ("model",), "batch": ("batch",), "threads": ("threads",),
                 "warmup": ("warmup_iters", "warmup_s"), "python": ("python",), "opt": ("options",),
                 "command": ("command",), "latency_regex": ("latency_regex",)}


def apply_profile(config, profile: Profile, given: set[str], *, repetitions: int | None = None) -> None:
    """Fill ``config`` (a RunConfig built from the command line) from ``profile``: what the user
    typed (``given``: option names like "batch", "duration", "opt") wins, the profile fills the rest."""
    from edgemon.workload.spec import WorkloadSpec

    if profile.is_suite and given & {"runner", "model", "command"}:
        raise UserError(f"{profile.path}: --runner/--model or a command cannot override a suite (it lists "
                        f"{len(profile.items)} workloads); edit the profile or run without --profile")
    overrides: dict[str, Any] = {}
    cli = vars(config.workload)
    for opt, fields in _CLI_WORKLOAD.items():
        if opt in given:
            for f in fields:
                overrides[f] = cli[f]
    runner = overrides.get("runner", profile.workload["runner"])
    config.workload = WorkloadSpec(**{**profile.workload, **overrides,
                                      "options": {**_own_options(profile.workload, runner),
                                                  **(overrides.get("options") or {})}})
    if "duration" not in given:
        config.duration_s = profile.duration_s
    if "sample_hz" not in given and profile.sample_hz is not None:
        config.sample_hz = profile.sample_hz
    if "emulate" not in given and profile.emulate is not None:
        config.emulate = profile.emulate.lower()
    if "hang_timeout" not in given and profile.hang_timeout_set:
        config.hang_timeout_s = profile.hang_timeout_s
    if "restart_on_hang" not in given and profile.restart_on_hang is not None:
        config.restart_on_hang = profile.restart_on_hang
    plan = profile.to_plan(duration_s=config.duration_s if "duration" in given else None,
                           repetitions=repetitions, overrides=overrides)
    from edgemon.plan.runner import check_plan

    check_plan(plan)      # a --duration shorter than the schedule
    config.plan = plan
