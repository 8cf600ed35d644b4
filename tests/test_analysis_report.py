"""`report` (HTML with inline SVG, terminal charts), `compare` (table, CSV, JSON, speedups), CLI wiring."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from analysis_helpers import back_to_back, build_session
from edgemon.cli import build_parser
from edgemon.errors import UserError
from edgemon.report.svg import Chart, log_ticks, nice_ticks

CEIL = {"cpu0_freq_mhz": 1479, "cpu1_freq_mhz": 1479, "gpu_freq_mhz": 921.6}


def _sample(t):
    hot = 60 <= t < 90
    return {"cpu0_freq_mhz": 1036.0 if hot else 1479.0, "cpu1_freq_mhz": 1036.0 if hot else 1479.0,
            "cpu0_util_pct": 95.0, "cpu1_util_pct": 90.0, "gpu_freq_mhz": 921.6, "gpu_util_pct": 50.0,
            "temp_cpu_c": 98.0 if hot else 60.0 + t / 10, "temp_gpu_c": 55.0, "proc_worker_cpu_pct": 100.0,
            "power_total_mw": 5000.0, "power_cpu_mw": 2500.0, "ram_used_mb": 1000.0 + t, "swap_used_mb": 0.0}


def _folder(tmp_path, name="s", dur_ms=10.0, power=5000.0):
    def sample(t):
        d = _sample(t)
        d["power_total_mw"] = power
        return d

    return build_session(tmp_path / name, meta={"clock_ceilings": CEIL, "trip_points": {"temp_cpu_c": 99.0},
                                                "workload": {"runner": "numpy", "model": "mnist_1d", "batch": 1},
                                                "platform": {"model": "Jetson Nano"}},
                         sample=sample, latency=back_to_back(0, 100, dur_ms),
                         events=[(30.0, "mark", {"note": "look <here>"}), (95.0, "fan", {"pwm": 255})])


def _parser():
    return build_parser()


def _run(argv):
    args = _parser().parse_args(argv)
    return args.handler(args)


def test_html_report_with_figures_is_self_contained(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    folder = _folder(tmp_path)
    assert _run(["report", str(folder), "--out", str(tmp_path / "r.html")]) == 0
    text = (tmp_path / "r.html").read_text()
    assert "<script" not in text
    assert "http://" not in text.replace("http://www.w3.org/2000/svg", "").replace("http://www.w3.org/1999/xlink", "")
    figures = re.findall(r'<figure class="mpl" id="figure-(\w+)">(<svg.*?</svg>)</figure>', text, re.S)
    assert [name for name, _ in figures] == ["latency", "clocks", "thermal", "power", "memory"]
    for _, svg in figures:
        ET.fromstring(svg)  # well-formed
    latency = dict(figures)["latency"]
    assert "mark: look &lt;here&gt;" in latency and "fan " in latency   # events labelled in the figure
    assert ">thermal<" in latency                                        # the episode's cause, written
    assert "drawn by matplotlib" in text


def test_html_report_without_matplotlib_is_self_contained_with_marked_time_axes(tmp_path, capsys, monkeypatch):
    from edgemon.report import figures

    def missing():
        raise UserError(figures.INSTALL_HINT)

    monkeypatch.setattr(figures, "require_matplotlib", missing)
    folder = _folder(tmp_path)
    assert _run(["report", str(folder), "--out", str(tmp_path / "out" / "r")]) == 0
    path = tmp_path / "out" / "r.html"
    assert f"report: {path}" in capsys.readouterr().out
    text = path.read_text()
    assert "<script" not in text and "http://" not in text.replace("http://www.w3.org/2000/svg", "")
    assert 'class="mpl"' not in text and "edgemon[plot]" in text   # the fallback says how to get the figures
    svgs = re.findall(r"<svg.*?</svg>", text, re.S)
    for s in svgs:
        ET.fromstring(s)  # well-formed
    titles = " ".join(re.findall(r'aria-label="([^"]*)"', text))
    for needle in ("Latency per iteration", "Latency histogram", "Throughput", "CPU load", "CPU clock",
                   "GPU and memory clock", "Temperatures", "Power rails", "Memory and swap"):
        assert needle in titles
    time_axes = [s for s in svgs if "time since session start" in s]
    assert len(time_axes) >= 7
    for s in time_axes:  # every time axis: the episode shaded, the events marked
        assert "cpu throttled 60.0-90.0 s" in s
        assert "mark at 30.0 s" in s and "fan at 95.0 s" in s
    assert "look &lt;here&gt;" in text  # escaped
    assert "thermal" in text and "1036" in text


def test_report_into_an_existing_folder_and_unwritable_path(tmp_path):
    folder = _folder(tmp_path)
    (tmp_path / "dir").mkdir()
    _run(["report", str(folder), "--out", str(tmp_path / "dir")])
    assert (tmp_path / "dir" / "report.html").is_file()
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="cannot write the report"):
        _run(["report", str(folder), "--out", str(tmp_path / "file" / "r.html")])


def test_terminal_report_prints_tables_and_charts(tmp_path, capsys):
    folder = _folder(tmp_path)
    assert _run(["report", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "throttling" in out and "latency per window" in out and "temperatures" in out
    assert "terminal charts unavailable" not in out


def test_compare_rows_speedups_csv_and_json(tmp_path, capsys):
    a = _folder(tmp_path, "a", dur_ms=10.0, power=5000.0)
    b = _folder(tmp_path, "b", dur_ms=5.0, power=8000.0)
    _run(["compare", str(a), str(b), "--csv"])
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["session"] for r in rows] == ["a", "b"]
    assert float(rows[1]["speedup_throughput"]) == pytest.approx(2.0, rel=1e-3)
    assert float(rows[1]["speedup_p50"]) == pytest.approx(2.0)
    assert float(rows[0]["mj_per_item"]) == pytest.approx(50.0, rel=1e-3)
    assert float(rows[1]["mj_per_item"]) == pytest.approx(40.0, rel=1e-3)  # 8 W / 200 items/s
    assert float(rows[0]["share_throttled"]) == pytest.approx(0.3)
    assert rows[0]["board"] == "Jetson Nano" and rows[0]["runner"] == "numpy"

    _run(["compare", str(a), str(b), "--json", "--reference", str(b)])
    table = json.loads(capsys.readouterr().out)
    assert table["reference"] == "b"
    assert table["rows"][0]["speedup_throughput"] == pytest.approx(0.5, rel=1e-3)

    _run(["compare", str(a), str(b)])
    text = capsys.readouterr().out
    assert "speedups against a" in text and "Jetson Nano" in text


def test_bad_options_are_user_errors(tmp_path):
    p = _parser()
    with pytest.raises(SystemExit):
        p.parse_args(["report", "x", "--window", "soon"])
    with pytest.raises(SystemExit):
        p.parse_args(["compare", "a", "--csv", "--json"])
    with pytest.raises(UserError):
        _run(["report", str(tmp_path / "missing")])


def test_commands_module_is_light_to_import():
    code = ("import sys; import edgemon.commands.report, edgemon.commands.compare, edgemon.commands.analyze;"
            "print(' '.join(sorted(sys.modules)))")
    loaded = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                cwd=str(__import__("pathlib").Path(__file__).parent.parent)).stdout.split())
    for heavy in ("numpy", "pyarrow", "plotext", "textual"):
        assert heavy not in loaded


def test_svg_chart_writer_basics():
    assert nice_ticks(0, 100, 5) == [0, 20, 40, 60, 80, 100]
    assert log_ticks(-1, 2) == [0.1, 1, 10, 100]
    c = Chart("t <x>")
    c.line([0, 1, 2, 3], [1, float("nan"), 2, 3], "a").scatter(np.arange(5), np.arange(5), "b")
    c.span(1, 2, "#f00", "episode").vline(1.5, tooltip="ev")
    svg = c.render()
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg") and "t &lt;x&gt;" in svg
    assert svg.count("<polyline") == 2  # the NaN splits the line
    assert Chart("empty").line([], []).empty
