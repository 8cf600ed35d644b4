"""`edgemon plot` and the report's figures: what each figure shows, the files, and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from plot_helpers import POWER_MODE_AT, THERMAL, build_throttled_session

from edgemon.datatypes import LatencyBatch, Sample
from edgemon.recording.reader import open_recording
from edgemon.recording.writer import Recorder
from edgemon.report import figures

pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    return build_throttled_session(tmp_path_factory.mktemp("plot") / "throttled")


@pytest.fixture(scope="module")
def inp(session):
    return figures.figure_input(open_recording(session))


def _texts(fig) -> list[str]:
    return [t.get_text() for t in fig.findobj(lambda o: hasattr(o, "get_text"))]


def _spans(ax, color: str) -> list[tuple[float, float]]:
    """x extents of the axvspan patches of ``color`` (episodes)."""
    from matplotlib.colors import to_hex

    out = []
    for patch in ax.patches:
        if to_hex(patch.get_facecolor()).lower() == color.lower():
            box = patch.get_bbox()      # axvspan: a Rectangle in (data x, axes y)
            out.append((float(box.x0), float(box.x1)))
    return sorted(out)


def test_latency_figure_log_axis_windows_episodes_and_events(inp):
    fig = figures.build("latency", inp)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    # the p50 and p99 lines are the analysis' windows (never the rows), in minutes
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    ws = inp.result["windows"]["windows"]
    np.testing.assert_allclose(lines["p50"].get_ydata(), [w["p50_ms"] for w in ws])
    np.testing.assert_allclose(lines["p99"].get_ydata(), [w["p99_ms"] for w in ws])
    np.testing.assert_allclose(lines["p50"].get_xdata(), [(w["start_s"] + w["end_s"]) / 2 / 60 for w in ws])
    # p50 sits at 2 ms and 3 ms: both inside the axis, far above its bottom (not squashed on a linear axis)
    lo, hi = ax.get_ylim()
    assert lo < 2.0 and hi > 40.0 and np.log10(2.0 / lo) > 0.1
    # throttling episodes shaded by cause, where the analysis found them
    thermal = _spans(ax, figures.CAUSE_COLORS["thermal"])
    assert thermal == [pytest.approx((THERMAL[0] / 60, THERMAL[1] / 60), abs=0.02)]
    assert len(_spans(ax, figures.CAUSE_COLORS["power_mode"])) == 1
    texts = _texts(fig)
    assert "thermal" in texts                                      # the cause written on the wide span
    assert " mark: door opened" in texts and " power mode 10W" in texts   # events labelled in the figure
    assert any(t.startswith("change +") for t in texts)           # the change point, labelled
    assert any("throttled: power mode" == t for t in texts)
    # the legend sits outside every axes' data area
    fig.canvas.draw()
    legend = fig.legends[0].get_window_extent()
    for a in fig.axes:
        assert not legend.overlaps(a.get_window_extent())


def test_clocks_are_small_multiples_with_ceilings_that_follow_the_power_mode(inp):
    fig = figures.build("clocks", inp)
    visible = [a for a in fig.axes if a.get_visible() and a.get_title(loc="left")]
    assert [a.get_title(loc="left") for a in visible] == ["cpu0", "cpu1", "cpu2", "cpu3", "gpu", "emc"]
    gpu = visible[4]
    ceiling = [ln for ln in gpu.get_lines() if ln.get_linestyle() == "--"][0]
    assert list(ceiling.get_ydata()[:2]) == [921.6, 624.0]
    assert ceiling.get_xdata()[1] == pytest.approx(POWER_MODE_AT / 60)
    # each panel shades only its own domain's episodes
    assert _spans(visible[0], figures.CAUSE_COLORS["thermal"])
    assert not _spans(visible[0], figures.CAUSE_COLORS["power_mode"])
    assert _spans(gpu, figures.CAUSE_COLORS["power_mode"]) and not _spans(gpu, figures.CAUSE_COLORS["thermal"])
    # a 120 s clock dip survives the min/max bands
    clock = next(ln for ln in visible[0].get_lines() if ln.get_label() == "cpu0 clock")
    assert np.nanmin(clock.get_ydata()) == pytest.approx(1036.0)
    assert any("mark: door opened" in t for t in _texts(fig))


def _outside(fig) -> list[tuple[str, float, float]]:
    """Visible texts that run off the figure: (text, right edge, figure width) in pixels."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    # tick labels are left to matplotlib (it keeps Text objects for ticks it does not draw)
    ticks = {id(t.label1) for ax in fig.axes for axis in (ax.xaxis, ax.yaxis)
             for t in axis.get_major_ticks() + axis.get_minor_ticks()}
    ticks |= {id(t.label2) for ax in fig.axes for axis in (ax.xaxis, ax.yaxis)
              for t in axis.get_major_ticks() + axis.get_minor_ticks()}
    out = []
    for text in fig.findobj(lambda o: hasattr(o, "get_window_extent") and hasattr(o, "get_text")):
        if text.get_visible() and text.get_text() and id(text) not in ticks:
            box = text.get_window_extent(renderer)
            if box.x0 < -1 or box.x1 > fig.bbox.x1 + 1:
                out.append((text.get_text()[:50], box.x1, fig.bbox.x1))
    return out


def test_every_text_stays_inside_the_figure(inp, monkeypatch):
    for subject in figures.SUBJECTS:
        assert _outside(figures.build(subject, inp)) == [], subject
    # the clocks' list of events, at its longest, wraps instead of running off the page
    many = [(k * 0.5, f"power mode {10 + k}W") for k in range(figures.MAX_EVENT_LABELS)]
    monkeypatch.setattr(figures, "event_marks", lambda _inp: many)
    fig = figures.build("clocks", inp)
    assert _outside(fig) == []
    assert fig.get_suptitle().count("\n") >= 2


def test_thermal_power_memory(inp):
    thermal = figures.build("thermal", inp)
    assert "Clock against temperature" in _texts(thermal)
    # the clock that thermal throttling held down (the CPU's), not the GPU's that only a power mode moved
    assert "cpu0 clock (MHz)" in _texts(thermal)
    assert any(t.startswith("trip") for t in _texts(thermal))
    power = figures.build("power", inp)
    energy = next(ln for a in power.axes for ln in a.get_lines() if ln.get_label() == "energy so far")
    t = (inp.data.tel_t - inp.data.tel_t[0]) / 1e9
    expected_j = float(np.trapezoid(inp.data.metric("power_total_mw"), t)) / 1000.0
    assert energy.get_ydata()[-1] == pytest.approx(expected_j, rel=1e-3)
    assert any("mJ per item" in s for s in _texts(power))
    memory = figures.build("memory", inp)
    labels = [ln.get_label() for ln in memory.axes[0].get_lines()]
    assert {"RAM used", "swap used", "worker RSS"} <= set(labels)


class _NoLatencyRows:
    """SessionData with its latency rows out of reach: a figure that reads them fails the test."""

    def __init__(self, data):
        self._data = data

    def __getattr__(self, name):
        if name.startswith("lat") or name.startswith("measured") or name in ("scan",):
            raise AssertionError(f"a figure read the latency rows ({name})")
        return getattr(self._data, name)


def test_no_figure_reads_the_latency_rows(inp):
    """A 3-hour session has 160 M rows: the figures draw from the analysis' windows only."""
    lean = figures.FigureInput(inp.result, _NoLatencyRows(inp.data))
    for subject in figures.SUBJECTS:
        assert figures.missing(lean, subject) is None
        figures.build(subject, lean)


def test_files_in_every_format(session, tmp_path, run_edgemon, capsys):
    r = run_edgemon("plot", str(session), "--out", str(tmp_path / "fig.png"))    # the real CLI, once
    assert r.returncode == 0, r.stderr
    written = [tmp_path / f"fig-{s}.png" for s in figures.SUBJECTS]
    assert r.stdout.split() == [w for p in written for w in ("figure:", str(p))]
    for path in written:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, _, _ = _cli(capsys, "plot", str(session), "--out", str(tmp_path / "one.svg"), "--what", "latency")
    assert code == 0 and (tmp_path / "one.svg").read_text().lstrip().startswith("<?xml")
    assert "mark: door opened" in (tmp_path / "one.svg").read_text()      # text stays text in SVG
    code, _, _ = _cli(capsys, "plot", str(session), "--out", str(tmp_path / "f.pdf"), "--what", "clocks,power")
    assert code == 0
    assert (tmp_path / "f-clocks.pdf").read_bytes()[:5] == b"%PDF-" and (tmp_path / "f-power.pdf").exists()


def _empty_session(folder, *, latency: bool, telemetry: bool):
    rec = Recorder(folder, {"host": "h"}, fsync=False).open()
    t0 = int(rec.meta["clock"]["monotonic_ns"])
    if telemetry:
        for k in range(20):
            rec.on_sample(Sample(t0 + k * 100_000_000, {"cpu0_freq_mhz": 1000.0, "temp_cpu_c": 50.0}))
    if latency:
        rec.on_latency(LatencyBatch.from_lists([t0 + k * 1_000_000 for k in range(1, 50)], [900_000] * 49, [1] * 49))
    rec.close()
    return folder


def _cli(capsys, *argv) -> tuple[int, str, str]:
    """`edgemon ARGV` in this process (each subprocess would import matplotlib again)."""
    from edgemon.cli import main

    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("args, message", [
    (["--what", "latency,heat"], "--what: unknown figure heat; choose from latency, clocks, thermal, power, memory"),
    (["--what", ","], "--what: unknown figure"),
    (["--out", "x.jpg"], "write a .png, .svg or .pdf file"),
])
def test_bad_options_one_line_exit_2(session, tmp_path, capsys, args, message):
    argv = ["plot", str(session), "--out", str(tmp_path / "x.png"), *args]
    if "--out" in args:
        argv = ["plot", str(session), *args]
    code, out, err = _cli(capsys, *argv)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err and not list(tmp_path.iterdir())


def test_recordings_that_cannot_be_plotted(tmp_path, capsys):
    no_latency = _empty_session(tmp_path / "nolat", latency=False, telemetry=True)
    no_telemetry = _empty_session(tmp_path / "notel", latency=True, telemetry=False)
    nothing = _empty_session(tmp_path / "nothing", latency=False, telemetry=False)
    cases = [
        (no_latency, ["--what", "latency"], "cannot plot latency: no measured latency rows"),
        (no_telemetry, ["--what", "clocks"], "cannot plot clocks: no telemetry rows"),
        (no_telemetry, ["--what", "power"], "cannot plot power: no telemetry rows"),
        (nothing, [], "nothing to plot"),
        (tmp_path / "missing", [], "no such recording folder"),
    ]
    for folder, extra, message in cases:
        code, out, err = _cli(capsys, "plot", str(folder), "--out", str(tmp_path / "x.png"), *extra)
        assert code == 2 and out == "", (folder, err)
        assert len(err.strip().splitlines()) == 1 and message in err, err
    assert not list(tmp_path.glob("x*"))
    # what a recording does have is plotted without asking
    code, out, _ = _cli(capsys, "plot", str(no_latency), "--out", str(tmp_path / "t.png"))
    assert code == 0 and "t-clocks.png" in out and "latency" not in out


@pytest.mark.slow
def test_a_real_emulated_recording_plots(tmp_path, run_edgemon):
    """Two seconds of an emulated Orin Nano, every figure, through the CLI."""
    r = run_edgemon("run", "--emulate", "orin-nano", "--headless", "--duration", "2s", "--record",
                    str(tmp_path / "rec"), timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    r = run_edgemon("plot", str(tmp_path / "rec"), "--out", str(tmp_path / "real.svg"), timeout=180)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("figure:") == len(figures.SUBJECTS)
