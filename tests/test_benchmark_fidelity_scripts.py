"""The fidelity benchmarks are the evidence for the README's claims; keep them from rotting.

A tiny run of each (a small model, a few short turns) must go through every comparison and
print a summary with finite numbers. What the numbers are is the scripts' business, on a
quiet machine: no timing is asserted here.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
NUMBER = r"[+-]?\d+\.\d+"


def run_script(name: str, *args: str) -> str:
    p = subprocess.run([sys.executable, str(BENCH / name), *args], capture_output=True, text=True, timeout=280)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return p.stdout


def summary_rows(out: str) -> list[str]:
    assert "\nsummary\n" in out, out[-2000:]
    return out.split("\nsummary\n", 1)[1].splitlines()


def check_rows(rows: list[str], comparisons: set[str], metrics: set[str]) -> None:
    titles = {row.strip().split(".", 1)[0] for row in rows if re.match(r"  \d\. ", row)}
    assert titles == comparisons
    seen = set()
    for row in rows:
        m = re.match(rf"    (median latency|throughput) .* ({NUMBER}) %  \(95 % CI ({NUMBER}) \.\. ({NUMBER});", row)
        if m:
            seen.add(m.group(1))
            diff, lo, hi = (float(m.group(i)) for i in (2, 3, 4))
            assert lo <= hi
    assert seen == metrics


def test_torch_fidelity_runs_every_comparison():
    pytest.importorskip("torch")
    out = run_script("torch_fidelity.py", "--model", "mnist_2d", "--cycles", "2", "--slice", "0.5",
                     "--guard", "0.05", "--warmup", "0.5", "--settle", "1", "--startup", "8")
    check_rows(summary_rows(out), {"1", "2", "3", "4"}, {"median latency", "throughput"})


def test_openvino_fidelity_runs_every_comparison():
    pytest.importorskip("openvino")
    out = run_script("openvino_fidelity.py", "--model", "mobilenet_v1_025", "--blocks", "2", "--block", "2",
                     "--slice", "0.3", "--short", "1", "--short-cycles", "1", "--cycles", "2", "--guard", "0.05",
                     "--settle", "1", "--startup", "8")
    check_rows(summary_rows(out), {"1", "2", "3", "4"}, {"median latency", "throughput"})


@pytest.mark.parametrize("python", ["current", "3.6"])
def test_runner_overhead_script_runs_every_case(python):
    """runners/ changed under this script once (the cold first inference became its own
    iteration) and it failed on an assertion; a tiny run of it keeps it honest."""
    from workload_helpers import PY36

    exe = sys.executable if python == "current" else str(PY36)
    if python == "3.6" and not PY36.is_file():
        pytest.skip(f"no Python 3.6 interpreter at {PY36} (set EDGEMON_TEST_PY36)")
    p = subprocess.run([exe, str(BENCH / "runner_overhead.py"), "--iterations", "3000", "--repeats", "1"],
                       capture_output=True, text=True, timeout=280)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    costs = re.findall(r"^  (probe.*?)\s+(-?\d+\.\d) ns/iteration", p.stdout, re.M)
    assert [name for name, _ in costs] == [
        "probe: with timed(items=1), new each time", "probe: one timer reused, with timer:",
        "probe: for x in loop(range(n), items=1):", "probe: iteration(t0, t1), own clock reads",
        "probe without edgemon (idle)"]
    assert re.search(r"^overhead: +-?\d+\.\d ns/iteration", p.stdout, re.M)
    assert re.search(r"empty Python context manager, made once: +-?\d+\.\d ns/iteration", p.stdout)
    assert re.search(r"minimal timer \(2 clock reads, 1 append\), made once: +-?\d+\.\d ns/iteration", p.stdout)


def test_monitor_cost_script_measures_headless_at_each_rate():
    """The figures of issue 18 come from this script; a tiny run (no btop needed) keeps it working."""
    out = run_script("monitor_cost.py", "--only", "headless", "--seconds", "1", "--rounds", "1", "--also-hz", "2")
    rows = out.split("\nsummary over", 1)[1]
    for name in ("edgemon headless", "edgemon headless at 2 Hz"):
        # a 1-s turn can read 0 clock ticks: the row and its number are what is checked here
        assert re.search(rf"^  {re.escape(name)} +{NUMBER} %  median", rows, re.M), out[-2000:]


def test_monitor_cost_script_measures_the_textual_floor_in_a_terminal():
    """The floor under the dashboard (a bare Textual app redrawing at 2 Hz, on the dashboard's
    driver) runs in a pseudo-terminal; a turn whose app died would have stopped the script."""
    out = run_script("monitor_cost.py", "--only", "textual", "--sizes", "80x24", "--seconds", "1", "--rounds", "1")
    rows = out.split("\nsummary over", 1)[1]
    assert re.search(rf"^  textual floor 80x24 +{NUMBER} %  median", rows, re.M), out[-2000:]
    assert re.search(r"round 1: textual floor 80x24 .* RSS +[1-9]\d*\.\d MB", out), out[-2000:]


def test_probe_pipe_rate_script_measures_the_loop_both_ways(tmp_path):
    """The README's figure for a fast loop under edgemon_probe; a tiny run, the old tree being
    this one, so that the --compare-tree path (its own runners) runs too."""
    out = run_script("probe_pipe_rate.py", "--rounds", "1", "--seconds", "1",
                     "--compare-tree", str(BENCH.parent), "--out", str(tmp_path / "r.txt"))
    table = out.split("median it/s", 1)[1]
    for name in ("bare reader", "edgemon", f"({BENCH.parent.name})"):
        assert re.search(rf"^{re.escape(name)} +[\d,]+ +\d+ %", table, re.M), out[-2000:]
    assert (tmp_path / "r.txt").read_text().startswith("# probe_pipe_rate")


def test_roll_cost_script_rolls_a_real_tail_every_way():
    """The README adds the segment roll, spread over its five minutes, to the headless turn;
    a tiny run (a 3-s session, a 4-s tail) keeps the script working, every variant writing
    every row (the script stops otherwise)."""
    out = run_script("roll_cost.py", "--rounds", "1", "--record-s", "3", "--roll-s", "4")
    rows = out.split("\nsummary (median of the rounds)\n", 1)[1]
    names = ["edgemon", "dictionary"] + (["duckdb"] if "duckdb is not installed" not in out else [])
    for name in names:
        assert re.search(rf"^  {name} +{NUMBER} s CPU per roll = {NUMBER} % of a core; peak \+\d+ MB; "
                         rf"{NUMBER} MB; read back {NUMBER} s$", rows, re.M), out[-2000:]
