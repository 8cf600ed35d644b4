"""Option values are range-checked (one line, exit 2), profiles too, and a closed pipe ends quietly."""

from __future__ import annotations

import subprocess
import sys

import pytest
from analysis_helpers import back_to_back, build_session

from edgemon import cli
from edgemon.analysis.scan import MAX_WINDOWS_HARD
from tests.conftest import REPO


def _one_line_error(capsys, argv, expect: str) -> None:
    try:
        code = cli.main(argv)
    except SystemExit as e:      # argparse's own errors: one line too (help_format.ArgumentParser)
        code = e.code
    err = capsys.readouterr().err
    assert code == 2, (argv, err)
    assert expect in err, (argv, err)
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("argv, expect", [
    (["run", "--duration", "", "--no-record"], "empty --duration (an unset shell variable?)"),
    (["run", "--duration", "9" * 400, "--no-record"], "is too long"),
    (["run", "--duration", "99999999h", "--no-record"], "longer than a year"),
    (["run", "--duration", "inf", "--no-record"], "malformed --duration"),
    (["run", "--hang-timeout", "50ms", "--restart-on-hang", "--no-record"], "--hang-timeout must be at least 1s"),
    (["run", "--status-every", "1ms", "--no-record"], "--status-every must be at least 0.5s"),
    (["run", "--batch", "100000000", "--no-record"], "--batch must be between 1 and 65536"),
    (["run", "--threads", "0", "--no-record"], "--threads must be between 1 and 4096"),
    (["run", "--repetitions", "99999999", "--no-record"], "--repetitions must be between 1 and 10000"),
    (["run", "--warmup", "99999999999999", "--no-record"], "more than anyone can wait for"),
    (["run", "--warmup", "5²", "--no-record"], "malformed --warmup"),
    (["run", "--sample-hz", "nan", "--no-record"], "--sample-hz must be between 0.1 and 100"),
    (["run", "--min-free", "lots"], "malformed --min-free"),
    (["analyze", "--busy-pct", "nan"], "must be between 0 and 100"),
    (["analyze", "--thermal-margin", "inf"], "must be between 0 and 200"),
    (["analyze", "--min-episode", "1e999"], "must be between 0 and 86400"),
    (["analyze", "--window", "1e400s"], "malformed --window"),
    (["replay", "--speed", "nan"], "--speed must be between 1 and 1000"),
    (["stop", "--timeout", "", "x"], "empty --timeout"),
    (["matrix", "--batch", "1000000"], "--batch must be at most 65536"),
    # argparse's own checks: the error and where the options are, without the usage block
    (["run", "--batch", "x"], "edgemon run: argument --batch: invalid int value: 'x'; `edgemon run --help`"),
    (["run", "--sample-hz", "nonsense"], "argument --sample-hz: invalid float value: 'nonsense'"),
    (["run", "--no-such-option"], "unrecognized arguments: --no-such-option; `edgemon --help` lists"),
    (["analyze", "--busy-pct"], "edgemon analyze: argument --busy-pct: expected one argument"),
    (["import", "jtop"], "edgemon import jtop: the following arguments are required: CSV"),
])
def test_option_values_are_range_checked(capsys, argv, expect):
    _one_line_error(capsys, argv, expect)


@pytest.mark.parametrize("body, expect", [
    ("duration = inf", "duration: must be a finite duration of at most a year, got inf"),
    ("duration = nan", "duration: must be a finite duration of at most a year, got nan"),
    ("duration = 1e400", "got inf"),
    ('duration = "99999999999999999999999999999h"', "at most a year"),
    ('hang_timeout = "50ms"', "hang_timeout: must be at least 1s"),
    ("repetitions = 100000000", "repetitions: must be at most 10000"),
    ("rest = inf", "rest: must be a finite duration"),
    ("sample_hz = nan", "sample_hz: must be between 0.1 and 100 Hz"),
    ("[idle_baseline]\nduration = nan", "idle_baseline.duration: must be a finite duration"),
    ('[[schedule]]\nat = inf\nmark = "x"', "schedule[1].at: must be a finite duration"),
    ("[workload]\nbatch = 10000000000", "workload.batch: must be at most 65536"),
    ("[workload]\nwarmup = 99999999999999999", "workload.warmup: must be between 0 and 1000000000"),
    ("x = " + "[" * 5000 + "]" * 5000, "nested too deeply"),
    ("x = " + "{a=" * 3000 + "1" + "}" * 3000, "nested too deeply"),
])
def test_profile_values_are_range_checked(tmp_path, capsys, body, expect):
    profile = tmp_path / "p.toml"
    text = body if "[workload]" in body else body + '\n[workload]\nrunner = "numpy"\n'
    profile.write_text(text)
    _one_line_error(capsys, ["run", "--headless", "--profile", str(profile), "--no-record"], expect)


def test_a_window_far_too_short_is_widened_and_named_not_a_memory_error(tmp_path, capsys):
    import json

    folder = build_session(tmp_path / "s", latency=back_to_back(0, 100, 5.0))   # 100 s measured
    code = cli.main(["analyze", str(folder), "--window", "0.5ms", "--json"])      # 200,000 windows
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert any("--window 0.0005s gives" in p and f"at most {MAX_WINDOWS_HARD:,} are kept" in p
               for p in result["problems"]), result["problems"]
    assert 0 < len(result["windows"]["windows"]) <= MAX_WINDOWS_HARD
    assert result["latency_ms"]["count"] > 0


@pytest.mark.parametrize("argv", [["ls", "{many}"], ["analyze", "{one}"], ["analyze", "--json", "{one}"],
                                  ["report", "{one}"], ["run", "--help"], ["info"], ["models"]])
def test_output_into_a_closed_pipe_ends_quietly(tmp_path, argv):
    one = build_session(tmp_path / "many" / "one", latency=back_to_back(0, 20, 5.0))
    for i in range(40):
        build_session(tmp_path / "many" / f"s{i}", latency=back_to_back(0, 1, 5.0))
    argv = [a.format(many=tmp_path / "many", one=one) for a in argv]
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    p = subprocess.Popen([sys.executable, "-m", "edgemon", *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         cwd=tmp_path, env=env)
    p.stdout.close()         # the reader went away at once, as `| head -0` does
    err = p.stderr.read().decode()
    code = p.wait(120)
    assert err == "", err
    assert code in (0, 141)
