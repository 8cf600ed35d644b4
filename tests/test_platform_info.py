"""`edgemon info` data: platform, source statuses, runners; and its text form."""

from __future__ import annotations

import json

from edgemon.info import collect_info, format_info, runner_statuses
from telemetry_linux_helpers import make_x86_host


def test_collect_info_on_x86_fixture(tmp_path):
    d = collect_info(make_x86_host(tmp_path))
    json.dumps(d)                                      # plain data all the way down
    assert d["platform"]["kind"] == "linux"
    by_name = {s["name"]: s for s in d["sources"]}
    for name in ("procstat", "cpufreq", "meminfo", "loadavg", "thermal", "hwmon", "process"):
        assert by_name[name]["available"], name
        assert by_name[name]["us_per_read"] >= 0
    text = format_info(d)
    assert "OptiPlex 7090" in text
    assert "ok procstat" in text and "4 cores, 1 offline" in text


def test_collect_info_empty_root_lists_reasons(tmp_path):
    d = collect_info(tmp_path, measure_reads=0)
    by_name = {s["name"]: s for s in d["sources"]}
    assert not by_name["thermal"]["available"]
    text = format_info(d)
    assert "-- thermal" in text and by_name["thermal"]["reason"] in text


def test_runner_statuses_never_raise():
    runners = runner_statuses()
    assert isinstance(runners, list)
    assert all("name" in r for r in runners)


def test_format_info_runners():
    d = {"edgemon_version": "0.1.0", "platform": {"kind": "jetson", "l4t_release": "32.7.1"},
         "sources": [],
         "runners": [{"name": "numpy", "available": True, "framework": "numpy", "version": "1.26.4"},
                     {"name": "tensorrt", "available": False, "reason": "tensorrt not installed"}]}
    text = format_info(d)
    assert "ok numpy     numpy 1.26.4" in text
    assert "-- tensorrt  tensorrt not installed" in text
    assert "L4T      32.7.1" in text


def test_collect_info_on_this_machine():
    d = collect_info("/")
    assert {s["name"] for s in d["sources"] if s["available"]} >= {"process"}
    assert format_info(d).startswith("edgemon ")


def test_info_shows_the_jetpack_release_of_a_jetson(tmp_path, run_edgemon):
    """README: `edgemon info` shows L4T/JetPack; the L4T -> JetPack table decides the second."""
    import sys

    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
    from fixtures.jetson.boards import build_tree

    build_tree("orin-nano", tmp_path / "board")
    (tmp_path / "board/etc").mkdir(exist_ok=True)
    (tmp_path / "board/etc/nv_tegra_release").write_text("# R36 (release), REVISION: 4.3, GCID: 38968081\n")
    d = collect_info(tmp_path / "board", measure_reads=0)
    assert d["platform"]["l4t_release"] == "36.4.3" and d["platform"]["jetpack"] == "6.2"
    assert "L4T      36.4.3 (JetPack 6.2)" in format_info(d)
    p = run_edgemon("info", "--sysfs-root", str(tmp_path / "board"))
    assert p.returncode == 0 and "L4T      36.4.3 (JetPack 6.2)" in p.stdout, p.stdout + p.stderr
    (tmp_path / "board/etc/nv_tegra_release").write_text("# R99 (release), REVISION: 1.0\n")
    assert "99.1.0 (JetPack release not known to this edgemon)" in format_info(collect_info(tmp_path / "board",
                                                                                           measure_reads=0))
