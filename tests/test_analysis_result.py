"""The analysis result as dataclasses: the JSON object round-trips exactly, every key a real
analysis has is described (docs/analysis.md, generated and checked here), and the typed view
reads the same numbers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from analysis_helpers import analyze_folder, back_to_back, build_session
from edgemon.analysis.result import AnalysisResult, Throttling, render_doc
from edgemon.analysis.summary import to_json
from edgemon.records import type_errors, unknown_keys
from replay_helpers import build_throttled

REPO = Path(__file__).resolve().parent.parent


def _power_sample(t):
    return {"cpu0_freq_mhz": 1479.0 if not 30 <= t < 40 else 1000.0, "cpu0_util_pct": 90.0,
            "proc_worker_cpu_pct": 100.0, "power_total_mw": 5000.0, "power_vdd_in_mw": 5000.0,
            "temp_cpu_c": 60.0, "cpu_util_pct": 80.0}


@pytest.fixture(scope="module")
def analyses(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    out = {"throttled": analyze_folder(build_throttled(root / "throttled"))}
    out["no latency"] = analyze_folder(build_session(root / "idle", sample=_power_sample, duration_s=20))
    out["nothing"] = analyze_folder(build_session(root / "empty", duration_s=1))
    t, ms = back_to_back(1.0, 60.0, 10.0)
    out["warm-up, energy, baseline"] = analyze_folder(build_session(
        root / "energy", sample=_power_sample, duration_s=60, latency=(t, ms), warmup_rows=50,
        meta={"idle_baseline_mw": 1000, "workload": {"runner": "numpy", "model": "x", "batch": 1}},
        events=[(50.0, "worker_crashed", {"reason": "killed by SIGKILL"})]), window_s=5.0)
    # repetitions: phase events as the plan runner writes them
    folder = root / "reps"
    events = []
    for i, a in enumerate((1.0, 31.0), 1):
        events.append((a, "phase", {"name": "repetition", "at": "start", "index": i, "item": 1, "label": "numpy/x"}))
    out_folder = build_session(folder, sample=_power_sample, duration_s=60, latency=(t, ms), events=events)
    _fill_repetition_spans(out_folder)
    out["repetitions"] = analyze_folder(out_folder)
    from edgemon.feeds.demo import scripted_analysis

    out["demo"] = scripted_analysis().to_dict()
    return out


def _fill_repetition_spans(folder: Path) -> None:
    """The plan runner's repetition events carry start_ns/end_ns in the recording's clock."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    (part,) = sorted((folder / "events").glob("*.parquet"))
    table = pq.read_table(part)
    t = table.column("t_ns").to_pylist()
    details = []
    for ts, d in zip(t, table.column("details").to_pylist()):
        d = json.loads(d or "{}")
        if d.get("name") == "repetition":
            d["start_ns"] = ts
            d["end_ns"] = ts + 28 * 1_000_000_000
            d["outcome"] = "duration"
        details.append(json.dumps(d))
    table = table.set_column(table.column_names.index("details"), "details", pa.array(details, pa.string()))
    pq.write_table(table, part)


def test_every_analysis_round_trips_and_is_described(analyses):
    assert "repetitions" in analyses["repetitions"], analyses["repetitions"]["problems"]
    assert analyses["warm-up, energy, baseline"]["energy"]["baseline_mw"] == 1000.0
    seen: set[str] = set()
    for name, d in analyses.items():
        r = AnalysisResult.from_dict(d)
        assert r.to_dict() == d, name
        assert json.loads(to_json(r.to_dict())) == json.loads(to_json(d)), name
        assert unknown_keys(r) == [], f"{name}: keys docs/analysis.md does not describe"
        assert type_errors(r) == [], name
        seen |= set(d)
    # between them the sessions exercise every top-level key
    described = {f.name for f in AnalysisResult.json_fields()}
    assert described - seen == set(), described - seen


def test_a_new_key_is_kept_and_reported(analyses):
    d = json.loads(to_json(analyses["throttled"]))
    d["throttling"]["episodes"][0]["new_thing"] = 1
    d["streaming"] = {"exact": True}
    r = AnalysisResult.from_dict(d)
    assert r.to_dict() == d
    assert unknown_keys(r) == ["streaming", "throttling.episodes[].new_thing"]


def test_typed_view_reads_the_same_numbers(analyses):
    d = analyses["throttled"]
    r = AnalysisResult.from_dict(d)
    assert r.latency_ms.p99 == d["latency_ms"]["p99"] and r.throughput_ips == d["throughput_ips"]
    assert isinstance(r.throttling, Throttling) and r.throttling.episode_count == 2
    assert [e.cause for e in r.throttling.episodes] == [e["cause"] for e in d["throttling"]["episodes"]]
    assert r["throttling"]["episode_count"] == 2 and r.throttling.inside.count == d["throttling"]["inside"]["count"]
    with pytest.raises(KeyError):
        r["repetitions"]
    assert r.get("repetitions") is None and r.get("throughput_ips") == d["throughput_ips"]


def test_docs_analysis_table_is_current():
    doc = (REPO / "docs" / "analysis.md").read_text()
    assert render_doc(doc) == doc, "docs/analysis.md is stale: run python -m edgemon.analysis.result --write"
    assert "| `throttling.episodes[].cause` |" in doc


def test_nan_survives_the_round_trip():
    d = {"latency_ms": {"count": 0, "min": float("nan")}, "problems": []}
    r = AnalysisResult.from_dict(d)
    assert np.isnan(r.latency_ms.min) and r.to_dict()["latency_ms"]["count"] == 0
