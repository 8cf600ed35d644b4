"""`edgemon import tegrastats | jtop`: logs edgemon did not record, as normal recordings.

The tegrastats logs are built from the real lines of the reference set (tests/tegrastats_expected.py
holds them verbatim; test_tegrastats_parse checks them against the reference file): with the
``--logfile`` timestamps, plain at a known interval, and with ``date`` lines in between. The jtop
CSV has the columns jetson-stats' logger example writes (its ``jtop.stats`` keys).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
from pathlib import Path

import pyarrow.dataset as ds
import pytest
from tegrastats_expected import LINES

from cli_helpers import assert_one_line_error
from edgemon.importers.board import guess_board
from edgemon.importers.timebase import parse_datetime
from edgemon.telemetry.tegrastats import parse_line

T32_BODY = LINES["T32"].split(" ", 2)[2]           # Orin Nano, JetPack 7.2, without its timestamp
T32_STAMP = dt.datetime(2026, 9, 4, 19, 40, 46)    # the stamp the real line carries


def _local_ns(when: dt.datetime) -> int:
    return int(when.astimezone().timestamp()) * 1_000_000_000


def _meta(folder: Path) -> dict:
    return json.loads((folder / "session.json").read_text())


def _tel(folder: Path):
    return ds.dataset(str(folder / "telemetry"), format="parquet").to_table()


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


def test_logfile_timestamps_two_lines_a_second(tmp_path, run_edgemon):
    lines = []
    for k in range(120):
        lines.append((T32_STAMP + dt.timedelta(seconds=k // 2)).strftime("%m-%d-%Y %H:%M:%S ") + T32_BODY)
        if k == 7:
            lines.append("tegrastats: something went wrong here")     # line 9
    log = _write(tmp_path / "orin.log", lines)
    rec = tmp_path / "rec"
    p = run_edgemon("import", "tegrastats", str(log), "--record", str(rec))
    assert p.returncode == 0, p.stdout + p.stderr
    assert "could not be read: line 9" in p.stdout and "orin-nano" in p.stdout
    meta = _meta(rec)
    imported = meta["imported"]
    assert meta["kind"] == "imported" and imported["source"] == "tegrastats"
    assert imported["time_from"] == "timestamps" and imported["interval_ms"] == 500
    assert imported["unparsed"] == {"count": 1, "lines": "9"}
    assert imported["board_guess"]["family"] == "orin-nano" and meta["platform"]["kind"] == "jetson"
    assert imported["file"] == str(log.resolve())
    tel = _tel(rec)
    t = tel.column("t_ns").to_pylist()
    assert len(t) == 120 and t[0] == _local_ns(T32_STAMP)
    assert {b - a for a, b in zip(t, t[1:])} == {500_000_000}
    assert meta["clock"]["unix_ns"] == meta["clock"]["monotonic_ns"] == t[0]
    assert meta["ended_monotonic_ns"] == t[-1]
    assert set(tel.column("ram_used_mb").to_pylist()) == {1803.0}
    assert set(tel.column("cpu0_freq_mhz").to_pylist()) == {parse_line(T32_BODY)["cpu0_freq_mhz"]}


def test_plain_lines_at_a_given_interval_and_start(tmp_path, run_edgemon):
    log = _write(tmp_path / "nano.log", [LINES["T06"]] * 20)
    rec = tmp_path / "rec"
    p = run_edgemon("import", "tegrastats", str(log), "--interval", "250", "--start", "2024-01-04T10:00:00Z",
                    "--record", str(rec))
    assert p.returncode == 0, p.stdout + p.stderr
    t = _tel(rec).column("t_ns").to_pylist()
    assert t[0] == 1_704_362_400 * 1_000_000_000 and t[-1] - t[0] == 19 * 250_000_000
    imported = _meta(rec)["imported"]
    assert imported["time_from"] == "interval" and imported["board_guess"]["family"] == "nano"


def test_plain_lines_without_a_start_end_at_the_files_time(tmp_path, run_edgemon):
    log = _write(tmp_path / "nano.log", [LINES["T05"]] * 10)
    os.utime(log, (1_704_362_400, 1_704_362_400))
    rec = tmp_path / "rec"
    p = run_edgemon("import", "tegrastats", str(log), "--record", str(rec))
    assert p.returncode == 0, p.stdout + p.stderr
    assert "no --start" in p.stdout and "no --interval" in p.stdout
    t = _tel(rec).column("t_ns").to_pylist()
    assert t[-1] == 1_704_362_400 * 1_000_000_000 and t[1] - t[0] == 1_000_000_000


def test_date_lines_between_plain_lines(tmp_path, run_edgemon):
    lines = ["Tue Jan 26 18:22:31 UTC 2021", *[LINES["T08"]] * 5,
             "", "Tue Jan 26 18:23:31 UTC 2021", *[LINES["T08"]] * 5, "not a tegrastats line"]
    log = _write(tmp_path / "tx2.log", lines)
    rec = tmp_path / "rec"
    p = run_edgemon("import", "tegrastats", str(log), "--interval", "2000", "--record", str(rec))
    assert p.returncode == 0, p.stdout + p.stderr
    t = _tel(rec).column("t_ns").to_pylist()
    first = int(dt.datetime(2021, 1, 26, 18, 22, 31, tzinfo=dt.timezone.utc).timestamp()) * 10 ** 9
    assert t[:5] == [first + k * 2 * 10 ** 9 for k in range(5)]
    assert t[5:] == [first + 60 * 10 ** 9 + k * 2 * 10 ** 9 for k in range(5)]
    meta = _meta(rec)
    assert meta["imported"]["time_from"] == "date lines"
    assert meta["imported"]["unparsed"] == {"count": 1, "lines": "14"}   # the blank line is not counted
    assert meta["imported"]["board_guess"]["family"] == "tx2"


# the board each reference line came from, as a family name
BOARDS = {"T05": "nano", "T06": "nano", "T07": "tx2", "T08": "tx2", "T14": "tx2", "T15": "agx-xavier",
          "T20": "xavier-nx", "T21": "xavier-nx", "T22": "agx-orin", "T25": "agx-orin", "T28": "orin-nx",
          "T30": "orin-nano", "T32": "orin-nano", "T35": "thor", "T39": "thor"}


@pytest.mark.parametrize("tid", sorted(BOARDS))
def test_the_board_is_guessed_from_its_lines(tid):
    line = LINES[tid]
    if line[:2].isdigit():
        line = line.split(" ", 2)[2]
    guess = guess_board([parse_line(line)])
    assert BOARDS[tid] in guess.candidates, (tid, guess)
    assert guess.evidence and "guessed" in guess.title


JTOP_COLUMNS = ["time", "uptime", "CPU1", "CPU2", "CPU3", "CPU4", "CPU5", "CPU6", "RAM", "SWAP", "EMC", "GPU",
                "APE", "NVDEC", "NVENC", "NVJPG", "OFA", "SE", "VIC", "Fan pwmfan0", "Temp cpu", "Temp cv0",
                "Temp gpu", "Temp soc0", "Temp tj", "Power VDD_CPU_GPU_CV", "Power VDD_SOC", "Power VDD_IN",
                "Power TOT", "jetson_clocks", "nvp model"]
JTOP_T0 = dt.datetime(2025, 6, 18, 11, 25, 24, 123456)


def _jtop_csv(path: Path, rows: int = 40) -> Path:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(JTOP_COLUMNS)
        for i in range(rows):
            w.writerow([JTOP_T0 + dt.timedelta(seconds=i), dt.timedelta(days=1, seconds=i), 12, 30,
                        "OFF" if i >= 30 else 8, 5, 9, 3, 0.45, 0.1, 12, 95 if i >= 10 else 2, 150000, "OFF",
                        "OFF", "OFF", "OFF", 115000, "OFF", 40, 48.1, -256, 47.5, 46.2, 48.9, 2400, 1200, 6100,
                        9700, "ON" if i >= 20 else "OFF", "7W" if i >= 25 else "15W"])
        f.write("2025-06-18 11:26:04,broken row\n")
    return path


def test_jtop_logger_csv(tmp_path, run_edgemon):
    log = _jtop_csv(tmp_path / "jtop.csv")
    rec = tmp_path / "rec"
    p = run_edgemon("import", "jtop", str(log), "--record", str(rec))
    assert p.returncode == 0, p.stdout + p.stderr
    assert "could not be read: line 42" in p.stdout
    meta = _meta(rec)
    assert meta["imported"]["source"] == "jtop" and meta["power_mode"] == "15W"
    tel = _tel(rec).to_pylist()
    assert len(tel) == 40
    first, last = tel[0], tel[-1]
    assert first["t_ns"] == int(JTOP_T0.astimezone().timestamp() * 1e6) * 1000
    assert first["cpu1_util_pct"] == 30 and first["cpu2_online"] == 1 and last["cpu2_online"] == 0
    assert last.get("cpu2_util_pct") is None
    assert first["cpu_util_pct"] == pytest.approx((12 + 30 + 8 + 5 + 9 + 3) / 6)
    assert first["ram_used_pct"] == pytest.approx(45.0) and first["gpu_util_pct"] == 2 and last["gpu_util_pct"] == 95
    assert first["engine_ape_freq_mhz"] == 150.0 and first["engine_nvdec_freq_mhz"] == 0.0
    assert first["temp_cpu_c"] == 48.1 and first.get("temp_cv0_c") is None    # -256: sensor off
    assert first["power_vdd_in_mw"] == 6100 and first["power_total_mw"] == 9700 and first["fan0_pwm_pct"] == 40
    ev = ds.dataset(str(rec / "events"), format="parquet").to_table()
    kinds = ev.column("kind").to_pylist()
    details = [json.loads(d) for d in ev.column("details").to_pylist()]
    mode = details[kinds.index("power_mode")]
    assert mode["name"] == "7W" and mode["from"] == "15W"
    assert details[kinds.index("jetson_clocks")]["on"] is True
    assert kinds.count("power_mode") == 1 and kinds.count("jetson_clocks") == 1


def test_latency_csv_joined_then_every_reading_command_works(tmp_path, run_edgemon):
    lines = [(T32_STAMP + dt.timedelta(seconds=k)).strftime("%m-%d-%Y %H:%M:%S ") + T32_BODY for k in range(30)]
    log = _write(tmp_path / "orin.log", lines)
    lat = tmp_path / "lat.csv"
    with open(lat, "w") as f:
        f.write("end,ms,n\n")
        for i in range(200):
            f.write(f"{(T32_STAMP + dt.timedelta(milliseconds=100 * i + 50)).isoformat(sep=' ')},{5 + i % 7},2\n")
        f.write("yesterday,abc,1\n")
    rec = tmp_path / "rec"
    p = run_edgemon("import", "tegrastats", str(log), "--record", str(rec), "--latency", str(lat),
                    "--latency-time", "end", "--latency-duration", "ms", "--latency-items", "n")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "latency: 200 iterations" in p.stdout and "1 latency row could not be read: line 202" in p.stdout
    a = run_edgemon("analyze", str(rec), "--json")
    assert a.returncode == 0, a.stderr
    result = json.loads(a.stdout)
    assert result["latency_ms"]["count"] == 200 and result["latency_ms"]["min"] == 5.0
    assert result["latency_ms"]["max"] == 11.0 and result["items"] == 400
    assert result["throttling"]["busy_from"] == "machine"
    r = run_edgemon("report", str(rec), "--out", str(tmp_path / "r.html"))
    assert r.returncode == 0, r.stderr and (tmp_path / "r.html").stat().st_size > 1000
    other = tmp_path / "other"
    assert run_edgemon("import", "jtop", str(_jtop_csv(tmp_path / "j.csv")), "--record", str(other)).returncode == 0
    c = run_edgemon("compare", str(rec), str(other), "--json")
    assert c.returncode == 0, c.stderr
    from edgemon.feeds.replay import ReplayFeed
    from edgemon.recording.reader import open_recording

    feed = ReplayFeed(open_recording(rec), playing=False)
    assert feed.status().length_s == pytest.approx(29.0, abs=0.5)
    feed.command("seek", to="end")
    update = feed.drain()
    assert update.samples and sum(len(b) for b in update.latency) > 0


def test_bad_input_is_one_line_and_exit_2(tmp_path, run_edgemon):
    empty = _write(tmp_path / "empty.log", [])
    words = _write(tmp_path / "words.log", ["hello", "world"])
    nano = _write(tmp_path / "nano.log", [LINES["T05"]] * 3)
    nocols = tmp_path / "nocols.csv"
    nocols.write_text("when,how_long\n2024-01-04 10:00:00,5\n")
    notjtop = tmp_path / "notjtop.csv"
    notjtop.write_text("a,b\n1,2\n")
    cases = [
        (["tegrastats", str(empty)], ["empty"]),
        (["tegrastats", str(words)], ["no tegrastats line", "2 lines"]),
        (["tegrastats", str(tmp_path / "missing.log")], ["no such file"]),
        (["tegrastats", str(tmp_path)], ["folder"]),
        (["tegrastats", str(nano), "--interval", "fast"], ["--interval"]),
        (["tegrastats", str(nano), "--start", "teatime"], ["--start"]),
        (["tegrastats", str(nano), "--latency", str(nocols)], ["no column 'time'", "--latency-time"]),
        (["tegrastats", str(nano), "--latency", str(nocols), "--latency-time", "when"],
         ["no column 'duration_ms'", "--latency-duration"]),
        (["jtop", str(notjtop)], ["not a jtop logger CSV", "no 'time' column"]),
        (["jtop", str(empty)], ["empty"]),
    ]
    for args, needles in cases:
        assert_one_line_error(run_edgemon("import", *args, "--record", str(tmp_path / "never")), *needles)
    assert not (tmp_path / "never").exists()          # a refused import leaves nothing behind


@pytest.mark.parametrize("text, expected", [
    ("2024-01-04T10:00:00Z", 1_704_362_400),
    ("2024-01-04 11:00:00+01:00", 1_704_362_400),
    ("2024-01-04T10:00:00.5+0000", 1_704_362_400.5),
    ("Thu Jan  4 10:00:00 UTC 2024", 1_704_362_400),
    ("1704362400.25", 1_704_362_400.25),
])
def test_times_logs_carry(text, expected):
    assert parse_datetime(text) == int(expected * 1e9)


@pytest.mark.parametrize("text", ["", "soon", "42", "2024-13-40 10:00:00", "Thu Foo 4 10:00:00 UTC 2024"])
def test_not_a_time(text):
    assert parse_datetime(text) is None


def test_a_clock_step_backwards_keeps_time_in_order(tmp_path, run_edgemon):
    stamps = [0, 1, 2, -600, 3]      # the fourth line was stamped ten minutes earlier (NTP, a reboot)
    lines = [(T32_STAMP + dt.timedelta(seconds=s)).strftime("%m-%d-%Y %H:%M:%S ") + T32_BODY for s in stamps]
    rec = tmp_path / "rec"
    p = run_edgemon("import", "tegrastats", str(_write(tmp_path / "o.log", lines)), "--interval", "1000",
                    "--record", str(rec))
    assert p.returncode == 0, p.stdout + p.stderr
    assert "1 line stamped earlier than the line before" in p.stdout and ": line 4" in p.stdout
    t = _tel(rec).column("t_ns").to_pylist()
    assert t == sorted(t) and len(t) == 5
    assert _meta(rec)["imported"]["time_went_backwards"] == {"count": 1, "lines": "4"}
