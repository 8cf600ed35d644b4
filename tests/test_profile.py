"""TOML profiles: the shipped ones validate; every mistake is one line naming file, line and key;
command-line options override the profile."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgemon.cli import build_parser
from edgemon.commands.run import run_config_from_args
from edgemon.errors import UserError
from edgemon.plan.profile import load_profile, parse_cores

REPO = Path(__file__).resolve().parent.parent
SHIPPED = sorted((REPO / "profiles").glob("*.toml"))

GOOD = """\
name = "short"
duration = "2s"
repetitions = 3
rest = "1s"

[workload]
runner = "numpy"
model = "mnist_1d"
batch = 4
warmup = "10,1s"
options = { dtype = "float32" }

[cooldown]
metric = "temp_cpu_c"
below = 45
timeout = "1m"

[idle_baseline]
duration = "2s"

[[schedule]]
at = "0.5s"
mark = "first"

[[schedule]]
at = "1s"
power_mode = "5W"
"""


def _write(tmp_path, text, name="p.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def _error(path, **kw) -> str:
    with pytest.raises(UserError) as e:
        load_profile(path, **kw)
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def _line_of(text: str, needle: str) -> int:
    return next(i for i, ln in enumerate(text.splitlines(), 1) if needle in ln)


def test_the_shipped_profiles_are_there():
    names = {p.name for p in SHIPPED}
    for wanted in ("study000_keras_suite.toml", "stress_3h.toml", "power_mode_sweep.toml", "tx2_core_configs.toml",
                   "study003_stress_latency.toml", "study004_energy.toml"):
        assert wanted in names


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_profile_validates_and_builds_a_plan(path):
    profile = load_profile(path)
    plan = profile.to_plan()
    assert plan["items"] and all(item["repetitions"] >= 1 for item in plan["items"])
    for item in plan["items"]:
        assert item["workload"]["runner"] and item["workload"]["model"]


def test_shipped_profiles_reproduce_their_studies():
    s000 = load_profile(REPO / "profiles/study000_keras_suite.toml")
    models = {i.workload["model"] for i in s000.items}
    assert len(models) == 8 and s000.repetitions == 5 and s000.is_suite
    phases = {i.workload["options"].get("phase", "infer") for i in s000.items}
    assert phases == {"train", "infer"}
    stress = load_profile(REPO / "profiles/stress_3h.toml")
    assert stress.duration_s == 3 * 3600 and stress.cooldown is not None and stress.idle_baseline_s
    sweep = load_profile(REPO / "profiles/power_mode_sweep.toml")
    assert sweep.board == "orin-nano" and [a.action for a in sweep.schedule].count("power_mode") >= 2
    tx2 = load_profile(REPO / "profiles/tx2_core_configs.toml")
    masks = [next(a.value for a in i.setup if a.action == "cores") for i in tx2.items]
    devices = [i.workload["options"]["device"] for i in tx2.items]
    assert sorted(map(tuple, masks)) == sorted([(0, 3, 4, 5)] * 2 + [(0, 1, 2)] * 2 + [(0, 1, 2, 3, 4, 5)] * 2)
    assert devices.count("cpu") == 3 and devices.count("cuda") == 3
    s003 = load_profile(REPO / "profiles/study003_stress_latency.toml")
    assert s003.duration_s == 3 * 3600 and s003.workload["batch"] == 1
    s004 = load_profile(REPO / "profiles/study004_energy.toml")
    assert s004.idle_baseline_s and s004.workload["batch"] == 1


def test_a_power_mode_of_another_board_is_an_error(tmp_path):
    # the sweep targets an Orin Nano; run on (an emulated) Nano, its names do not exist there
    msg = _error(REPO / "profiles/power_mode_sweep.toml", emulate="nano")
    text = (REPO / "profiles/power_mode_sweep.toml").read_text()
    line = _line_of(text, 'power_mode = "15W"')
    assert f"power_mode_sweep.toml:{line}: schedule[1].power_mode:" in msg
    assert "MAXN" in msg and "5W" in msg          # the modes the Nano has


def test_good_profile(tmp_path):
    p = load_profile(_write(tmp_path, GOOD), emulate="nano")
    assert p.duration_s == 2 and p.repetitions == 3 and p.rest_s == 1
    assert p.workload["warmup_iters"] == 10 and p.workload["warmup_s"] == 1.0
    assert p.workload["options"] == {"dtype": "float32"}
    assert p.cooldown.metric == "temp_cpu_c" and p.cooldown.below_c == 45 and p.cooldown.timeout_s == 60
    assert [(a.at_s, a.action, a.value) for a in p.schedule] == [(0.5, "mark", "first"), (1.0, "power_mode", "5W")]
    assert p.schedule[1].where.endswith(f"p.toml:{_line_of(GOOD, 'power_mode')}")


@pytest.mark.parametrize("edit, key, needle, words", [
    # unknown key (with a suggestion)
    (("batch = 4", "bacth = 4"), "workload.bacth", "bacth", ["unknown key", "batch"]),
    (("rest = \"1s\"", "rest = \"1s\"\nrepetition = 2"), "repetition", "repetition = 2", ["unknown key"]),
    # wrong types
    (("batch = 4", "batch = \"four\""), "workload.batch", "batch =", ["whole number"]),
    (("repetitions = 3", "repetitions = 2.5"), "repetitions", "repetitions", ["whole number"]),
    (("below = 45", "below = \"hot\""), "cooldown.below", "below =", ["number"]),
    (("mark = \"first\"", "mark = 3"), "schedule[1].mark", "mark = 3", ["string"]),
    # impossible values
    (("duration = \"2s\"", "duration = \"-5s\""), "duration", "duration = \"-5s\"", ["malformed"]),
    (("duration = \"2s\"", "duration = 0"), "duration", "duration = 0", ["positive"]),
    (("repetitions = 3", "repetitions = 0"), "repetitions", "repetitions", ["at least 1"]),
    (("batch = 4", "batch = 0"), "workload.batch", "batch =", ["at least 1"]),
    (("at = \"1s\"", "at = \"2h\""), "schedule[2].at", "at = \"2h\"", ["2h is after the end", "duration 2s"]),
    (("below = 45", "below = 900"), "cooldown.below", "below =", ["between"]),
    # unknown runner / model / runner option
    (("runner = \"numpy\"", "runner = \"mxnet\""), "workload.runner", "runner =", ["unknown runner", "numpy"]),
    (("model = \"mnist_1d\"", "model = \"alexnet\""), "workload.model", "model =", ["unknown model", "mnist_1d"]),
    (("dtype = \"float32\"", "colour = \"blue\""), "workload.options", "options =", ["no option colour"]),
    # a power-mode name the (emulated) board does not have
    (("power_mode = \"5W\"", "power_mode = \"MAXN_SUPER\""), "schedule[2].power_mode", "MAXN_SUPER",
     ["not a mode", "Jetson Nano", "0 MAXN", "1 5W"]),
    # one action per entry
    (("mark = \"first\"", "mark = \"first\"\nfan = 50"), "schedule[1]", "[[schedule]]", ["exactly one action"]),
])
def test_semantic_errors_name_file_line_and_key(tmp_path, edit, key, needle, words):
    text = GOOD.replace(*edit, 1)
    assert text != GOOD
    path = _write(tmp_path, text)
    msg = _error(path, emulate="nano")
    line = _line_of(text, needle)
    assert msg.startswith(f"{path}:{line}: {key}: "), msg
    for w in words:
        assert w in msg, msg


def test_syntax_error_names_the_line(tmp_path):
    text = GOOD.replace("batch = 4", "batch = = 4")
    path = _write(tmp_path, text)
    msg = _error(path)
    assert msg.startswith(f"{path}:{_line_of(text, 'batch = = 4')}: TOML syntax error"), msg


def test_missing_workload_and_missing_file(tmp_path):
    msg = _error(_write(tmp_path, 'duration = "1m"\n'))
    assert "p.toml:1:" in msg and "[workload]" in msg
    msg = _error(tmp_path / "nope.toml")
    assert "no such profile" in msg and "nope.toml" in msg


def test_suite_entries_are_counted_from_one(tmp_path):
    text = ('repetitions = 2\n[workload]\nrunner = "numpy"\n'
            '[[suite]]\nmodel = "mnist_1d"\n[[suite]]\nmodel = "imdb_dense"\ncores = [1, 2]\n')
    path = _write(tmp_path, text)
    msg = _error(path)
    assert msg.startswith(f"{path}:{_line_of(text, 'cores')}: suite[2].cores: must include cpu0"), msg


def test_cooldown_needs_a_condition(tmp_path):
    text = GOOD.replace('metric = "temp_cpu_c"\nbelow = 45\n', "")
    path = _write(tmp_path, text)
    msg = _error(path)
    assert msg.startswith(f"{path}:{_line_of(text, '[cooldown]')}: cooldown: "), msg


def test_parse_cores_forms():
    assert parse_cores([0, 3, 4, 5]) == {0, 3, 4, 5}
    assert parse_cores("0,3-5") == {0, 3, 4, 5}
    assert parse_cores("0x39") == {0, 3, 4, 5}
    assert parse_cores(0x39) == {0, 3, 4, 5}
    for bad in ("0-", "x", [], [-1], True):
        with pytest.raises(ValueError):
            parse_cores(bad)


# ------------------------------------------------------------------ command line over profile

def _config(*argv):
    return run_config_from_args(build_parser().parse_args(["run", *argv]))


def test_profile_fills_what_the_command_line_leaves_out(tmp_path):
    path = _write(tmp_path, GOOD.replace('rest = "1s"', 'rest = "1s"\nemulate = "nano"'))
    cfg = _config("--profile", str(path))
    assert cfg.emulate == "nano"
    assert cfg.workload.batch == 4 and cfg.workload.warmup_iters == 10 and cfg.duration_s == 2
    assert cfg.plan["items"][0]["repetitions"] == 3 and cfg.plan["rest_s"] == 1
    assert cfg.plan["cooldown"]["below_c"] == 45 and cfg.plan["idle_baseline_s"] == 2
    assert [a["action"] for a in cfg.plan["schedule"]] == ["mark", "power_mode"]


def test_command_line_overrides_the_profile(tmp_path):
    text = GOOD.replace('rest = "1s"', 'rest = "1s"\nsample_hz = 2\nhang_timeout = "off"')
    path = _write(tmp_path, text)
    cfg = _config("--profile", str(path), "--batch", "8", "--duration", "5s", "--repetitions", "2",
                  "--sample-hz", "5", "--opt", "dtype=float64", "--warmup", "3", "--hang-timeout", "9s")
    assert cfg.workload.batch == 8 and cfg.plan["items"][0]["workload"]["batch"] == 8
    assert cfg.duration_s == 5 and cfg.plan["items"][0]["duration_s"] == 5
    assert cfg.plan["items"][0]["repetitions"] == 2
    assert cfg.sample_hz == 5 and cfg.hang_timeout_s == 9
    assert cfg.plan["items"][0]["workload"]["options"] == {"dtype": "float64"}
    assert cfg.workload.warmup_iters == 3 and cfg.workload.warmup_s == 0
    # without the overrides the profile's values hold
    cfg = _config("--profile", str(path))
    assert cfg.sample_hz == 2 and cfg.hang_timeout_s is None and cfg.workload.batch == 4


def test_a_shorter_duration_than_the_schedule_is_an_error(tmp_path):
    path = _write(tmp_path, GOOD)
    with pytest.raises(UserError) as e:
        _config("--profile", str(path), "--duration", "0.8s")
    assert f"{path}:{_line_of(GOOD, 'power_mode')}: schedule[2].at: 1s is after the end" in str(e.value)


def test_runner_and_model_cannot_override_a_suite():
    with pytest.raises(UserError, match="suite"):
        _config("--profile", str(REPO / "profiles/study000_keras_suite.toml"), "--model", "mnist_1d")


def test_cli_without_profile_keeps_its_defaults():
    cfg = _config()
    assert cfg.workload.runner == "numpy" and cfg.workload.model == "mnist_1d" and cfg.workload.batch == 1
    assert cfg.sample_hz == 10 and cfg.hang_timeout_s == 30 and cfg.plan is None
    cfg = _config("--repetitions", "3", "--duration", "2s")
    assert cfg.plan["items"][0]["repetitions"] == 3 and cfg.plan["items"][0]["duration_s"] == 2


def test_plan_survives_the_trip_to_a_detached_session(tmp_path):
    from edgemon.daemon.process import config_from_dict, config_to_dict

    cfg = _config("--profile", str(_write(tmp_path, GOOD)))
    back = config_from_dict(config_to_dict(cfg, argv=[]))
    assert back.plan == cfg.plan and back.workload == cfg.workload


def test_profile_errors_exit_2_through_the_cli(run_edgemon, tmp_path):
    bad = GOOD.replace("batch = 4", "batch = -1")
    _write(tmp_path, bad, "bad.toml")
    p = run_edgemon("run", "--profile", "bad.toml", "--headless")
    assert p.returncode == 2, p.stderr
    assert "Traceback" not in p.stderr
    last = p.stderr.strip().splitlines()[-1]
    assert f"bad.toml:{_line_of(bad, 'batch = -1')}: workload.batch: must be at least 1" in last
    _write(tmp_path, "duration = \n", "syntax.toml")
    p = run_edgemon("run", "--profile", "syntax.toml", "--detach")
    assert p.returncode == 2 and "syntax.toml:1: TOML syntax error" in p.stderr, p.stderr
