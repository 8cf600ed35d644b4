"""The metric catalogue: every name the sources emit has a family, everything that interprets
names agrees with it, the docs table is current, and implausible values are dropped and counted."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from edgemon.datatypes import Sample
from edgemon.prometheus.names import series_name
from edgemon.telemetry import catalogue
from edgemon.telemetry.base import Source, SourceContext, SourceStatus
from edgemon.telemetry.registry import build_sources
from edgemon.telemetry.sampler import Sampler
from edgemon.telemetry.tegrastats import parse_line_ex
from edgemon.view import metric_groups
from fixtures.jetson.boards import BOARDS, build_tree
from tegrastats_expected import EXPECTED

REPO = Path(__file__).resolve().parent.parent


def test_catalogue_is_consistent():
    assert catalogue.check_units() == []
    patterns = [f.pattern for f in catalogue.FAMILIES]
    assert len(patterns) == len(set(patterns)), "a family is listed twice"
    for family in catalogue.FAMILIES:
        example = family.name(*("7" if p == "N" else "x_y" for p in catalogue._PLACEHOLDER.findall(family.pattern)))
        match = catalogue.lookup(example)
        assert match is not None and match.family is family, f"{example} is claimed by {match}"
        assert family.kind in (catalogue.GAUGE, catalogue.COUNTER)


def test_docs_metric_table_is_generated_from_the_catalogue():
    doc = (REPO / "docs" / "metrics.md").read_text()
    assert catalogue.render_doc(doc) == doc, \
        "docs/metrics.md is stale: run python -m edgemon.telemetry.catalogue --write"


def test_stale_docs_are_noticed():
    doc = (REPO / "docs" / "metrics.md").read_text()
    stale = doc.replace("| `cpu{N}_freq_mhz` |", "| `cpu{N}_clock_mhz` |")
    assert stale != doc and catalogue.render_doc(stale) == doc


def _emitted_on_fixture_boards() -> set[str]:
    import tempfile

    names: set[str] = set()
    for key in BOARDS:
        with tempfile.TemporaryDirectory() as d:
            build_tree(key, Path(d))
            sources, _ = build_sources(SourceContext(root=Path(d), executables={"tegrastats": "/nonexistent"}))
            for src in sources:
                names |= set(src.read())
                src.close()
    return names


def test_every_metric_the_sources_emit_has_a_family():
    names = _emitted_on_fixture_boards()
    for expected in EXPECTED.values():          # every real tegrastats line of the reference set
        names |= set(expected)
    assert len(names) > 150
    unknown = sorted(n for n in names if catalogue.lookup(n) is None)
    assert not unknown, f"metrics without a catalogue family: {unknown}"


@pytest.mark.parametrize("name, pattern, labels", [
    ("cpu11_freq_mhz", "cpu{N}_freq_mhz", {"cpu": "11"}),
    ("cpu_util_pct", "cpu_util_pct", {}),
    ("power_total_mw", "power_total_mw", {}),
    ("power_vdd_in_avg_mw", "power_{rail}_avg_mw", {"rail": "vdd_in"}),
    ("power_vdd_in_mw", "power_{rail}_mw", {"rail": "vdd_in"}),
    ("engine_mts_bg_util_pct", "engine_{name}_util_pct", {"engine": "mts_bg"}),
    ("gpu1_util_pct", "gpu{N}_util_pct", {}),
    ("temp_gpu1_c", "temp_{zone}_c", {"zone": "gpu1"}),
])
def test_lookup(name, pattern, labels):
    m = catalogue.lookup(name)
    assert m.family.pattern == pattern and dict(m.labels) == labels


def test_unknown_names_fall_back_to_their_unit():
    assert catalogue.lookup("weird_thing_mhz") is None
    assert series_name("weird_thing_mhz").name == "edgemon_weird_thing_hertz"
    assert not catalogue.is_plausible("weird_thing_mhz", -1.0) and catalogue.is_plausible("weird_thing_mhz", 5.0)
    assert catalogue.is_plausible("no_unit", -1e9) and not catalogue.is_plausible("no_unit", math.nan)


def test_consumers_follow_the_catalogue():
    values = {"cpu0_util_pct": 50.0, "cpu0_freq_mhz": 1400.0, "cpu1_online": 0.0, "cpu_util_pct": 50.0,
              "cpu_arm_freq_mhz": 1500.0, "temp_cpu_c": 50.0, "power_total_mw": 5000.0,
              "power_vdd_in_avg_mw": 4900.0, "fan0_rpm": 3000.0}
    assert [(c.index, c.util_pct, c.freq_mhz, c.online) for c in metric_groups.cores(values)] == [
        (0, 50.0, 1400.0, True), (1, None, None, False)]
    assert [(r.name, r.mw, r.avg_mw) for r in metric_groups.rails(values)] == [
        ("total", 5000.0, None), ("vdd_in", None, 4900.0)]
    assert metric_groups.temperatures(values) == {"cpu": 50.0}
    assert metric_groups.has_accelerator_metrics(values)
    assert not metric_groups.has_accelerator_metrics({"cpu0_util_pct": 1.0, "temp_cpu_c": 40.0})
    from edgemon.analysis.throttling import domain_of

    assert [domain_of(m) for m in ("cpu3_freq_mhz", "gpu_freq_mhz", "emc_freq_mhz", "gpu_gpc0_freq_mhz")] == [
        "cpu", "gpu", "emc", None]
    assert catalogue.load_metric("cpu3_freq_mhz") == "cpu3_util_pct"


def test_power_gated_sensors_are_no_temperatures():
    """A Jetson zone that is powered down reads -256 C or exactly 0.0 C: the thermal panel and the
    hottest-temperature trend leave it out; a real reading near 0 (millidegrees) stays."""
    from edgemon.datatypes import Sample
    from edgemon.view.series import MetricHistory
    from edgemon.view.trend import trends

    values = {"temp_cpu_c": 48.5, "temp_gpu_c": 0.0, "temp_cv0_c": -256.0, "temp_soc0_c": math.nan,
              "temp_tboard_c": 0.031}
    assert metric_groups.temperatures(values) == {"cpu": 48.5, "tboard": 0.031}
    history = MetricHistory(16)
    history.add(Sample(1_000_000_000, values))

    def hottest_now(latest: dict[str, float]) -> float | None:
        (temp,) = [t for t in trends(history, latest, 0, 1_000_000_000, 4) if t.kind == "temp"]
        return temp.now

    assert hottest_now({**values, "temp_cpu_c": -5.0}) == 0.031
    assert hottest_now({"temp_cpu_c": -256.0, "temp_gpu_c": 0.0}) is None, "no sensor on: no 0.0 C, no -256 C"


# ---------------------------------------------------------------------------- plausibility

@pytest.mark.parametrize("name, value, ok", [
    ("temp_cpu_c", -256.0, False), ("temp_cpu_c", -40.0, False), ("temp_cpu_c", -39.5, True),
    ("temp_cpu_c", 150.0, True), ("temp_cpu_c", 151.0, False),
    ("cpu0_util_pct", 100.0, True), ("cpu0_util_pct", 100.5, False), ("gpu_util_pct", -1.0, False),
    ("cpu0_freq_mhz", -1.0, False), ("cpu0_freq_mhz", 0.0, True), ("emc_freq_mhz", 3199.0, True),
    ("proc_worker_cpu_pct", 390.0, True), ("fan0_pwm_pct", 101.0, False), ("power_vdd_in_mw", -5.0, False),
    ("cpu0_online", 2.0, False), ("ram_used_mb", math.inf, False),
])
def test_plausible_ranges(name, value, ok):
    assert catalogue.is_plausible(name, value) is ok


def test_tegrastats_parser_drops_and_lists_implausible_values():
    r = parse_line_ex("RAM 1180/3965MB CPU [130%@1036,33%@1036] GR3D_FREQ 0%@76 CPU@-256C GPU@59C AO@165C")
    assert sorted(r.implausible) == ["cpu0_util_pct", "temp_ao_c", "temp_cpu_c"]
    assert r.values["cpu1_util_pct"] == 33.0 and r.values["temp_gpu_c"] == 59.0
    assert not set(r.implausible) & set(r.values)


class _Fixed(Source):
    def __init__(self, name: str, reading: dict[str, float]):
        super().__init__(SourceContext())
        self.name = name
        self.reading = reading

    def probe(self) -> SourceStatus:
        return SourceStatus(self.name, True)

    def read(self) -> dict[str, float]:
        return dict(self.reading)


def test_sampler_drops_counts_and_lets_a_later_source_fill_in():
    first = _Fixed("first", {"cpu0_util_pct": 150.0, "cpu0_freq_mhz": -5.0, "temp_cpu_c": 41.0})
    second = _Fixed("second", {"cpu0_util_pct": 40.0})
    got: list[Sample] = []
    sampler = Sampler([first, second], 10.0, got.append)
    sampler.tick()
    sampler.tick()
    assert got[-1].values == {"temp_cpu_c": 41.0, "cpu0_util_pct": 40.0}
    status = {s.name: s for s in sampler.statuses()}
    assert "4 implausible values dropped" in status["first"].detail
    assert "cpu0_freq_mhz=-5.0" in status["first"].detail
    assert "implausible" not in status["second"].detail


def test_thermal_zone_reading_minus_256_is_counted(tmp_path):
    from edgemon.telemetry.thermal import ThermalSource

    for n, (ztype, milli) in enumerate((("cpu-thermal", "45000"), ("gpu-thermal", "-256000"))):
        zone = tmp_path / "sys/class/thermal" / f"thermal_zone{n}"
        zone.mkdir(parents=True)
        (zone / "type").write_text(ztype + "\n")
        (zone / "temp").write_text(milli + "\n")
    src = ThermalSource(SourceContext(root=tmp_path))
    assert src.probe().available
    assert src.read() == {"temp_cpu_thermal_c": 45.0}
    assert src.read() == {"temp_cpu_thermal_c": 45.0}
    assert src.implausible == 2
