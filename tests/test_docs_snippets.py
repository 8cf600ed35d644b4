"""Every sql/python snippet of README.md and docs/fleet.md, run as written on real recordings of
two emulated Jetsons and this plain host, with DuckDB, polars, pandas and pyarrow; every
answer equals numpy on the arrays edgemon's reader gives for each session.

The Spark snippet needs a JVM: benchmarks/fleet_spark.py runs it (output in benchmarks/results/).
"""

from __future__ import annotations

import datetime as dt
import io
import shutil
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pytest

from fleet_helpers import (
    REPO,
    doc_snippets,
    latency_by_board_model,
    nanmax_or_none,
    nanmean_or_none,
    read_truth,
    record_fleet,
)

duckdb = pytest.importorskip("duckdb")

pytestmark = pytest.mark.slow

DOCS = (REPO / "README.md", REPO / "docs" / "fleet.md")
DOC_ROOT = "/data/fleet"
# snippet -> where it runs instead (and what that file must use)
NOT_RUN_HERE = {"fleet-spark": ("benchmarks/fleet_spark.py", "fleet-spark"),
                "readme-probe": ("tests/test_probe.py", "probe.loop(")}


@pytest.fixture(scope="module")
def fleet_tree(tmp_path_factory):
    base = tmp_path_factory.mktemp("docs")
    root = base / "fleet"
    folders = record_fleet(root)
    # README's snippets read ./recordings/<session>/ (one machine's layout)
    cwd = base / "cwd"
    for folder in folders:
        shutil.copytree(folder, cwd / "recordings" / folder.name)
    truths = [read_truth(f) for f in folders]
    return root, cwd, truths


@pytest.fixture(scope="module")
def snippets():
    out = {}
    for path in DOCS:
        for name, (lang, code) in doc_snippets(path).items():
            assert name not in out, name
            out[name] = (lang, code)
    return out


def _sql(con, code: str, root: Path) -> list[dict]:
    cur = con.execute(code.replace(DOC_ROOT, str(root)))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def _python(code: str, root: Path) -> dict:
    namespace: dict = {}
    with redirect_stdout(io.StringIO()):
        exec(compile(code.replace(DOC_ROOT, str(root)), "<snippet>", "exec"), namespace)
    return namespace


def test_every_snippet_is_checked_here(snippets):
    assert set(snippets) == set(CHECKS) | set(NOT_RUN_HERE)
    for name, (where, needle) in NOT_RUN_HERE.items():
        assert needle in (REPO / where).read_text(), f"{where} does not run {name}"


def test_the_recordings_are_real_and_differ(fleet_tree):
    root, _, truths = fleet_tree
    assert len({t.board for t in truths}) == 3 and len({t.session_id for t in truths}) == 3
    assert all(t.meta["schema_version"] == 2 and t.dur.size > 100 for t in truths)
    # the boards have different telemetry columns: the reason union_by_name and friends are needed
    columns = [frozenset(t.tel) for t in truths]
    assert len(set(columns)) == 3


# ------------------------------------------------------------------------- checks, one per snippet


def check_readme_pyarrow(code, root, cwd, truths, con):
    for t in truths:
        ns = _python(code.replace("<session>", t.folder.name), root)
        lat, tel = ns["lat"], ns["tel"]
        warm = np.asarray(lat.column("warmup").to_numpy(zero_copy_only=False), dtype=bool)
        assert np.array_equal(np.sort(lat.column("duration_ns").to_numpy()[~warm]), np.sort(t.dur))
        assert set(lat.column("session_id").to_pylist()) == {t.session_id}
        # every metric of the session, in every file (no union needed inside one session)
        assert set(tel.column_names) == set(t.tel) | {"t_ns", "session_id"}
        order = np.argsort(tel.column("t_ns").to_numpy())
        for name, values in t.tel.items():
            got = np.asarray(tel.column(name).to_numpy(zero_copy_only=False), dtype=np.float64)[order]
            np.testing.assert_array_equal(got, values)


def check_readme_duckdb(code, root, cwd, truths, con):
    rows = _sql(duckdb.connect(), code, root)
    assert [r["session_id"] for r in rows] == sorted(t.session_id for t in truths)
    by_id = {t.session_id: t for t in truths}
    for r in rows:
        assert r["p99_ms"] == pytest.approx(np.percentile(by_id[r["session_id"]].dur / 1e6, 99), rel=1e-12)


def check_readme_fleet_duckdb(code, root, cwd, truths, con):
    rows = _sql(con, code, root)
    expected = latency_by_board_model(truths)
    assert {(r["board"], r["model"]) for r in rows} == set(expected)
    for r in rows:
        e = expected[(r["board"], r["model"])]
        assert r["iterations"] == e["iterations"]
        assert r["p50_ms"] == pytest.approx(e["p50_ms"], rel=1e-12)
        assert r["p99_ms"] == pytest.approx(e["p99_ms"], rel=1e-12)


def check_fleet_edgemon_python(code, root, cwd, truths, con):
    ns = _python(code, root)
    expected = latency_by_board_model(truths)
    assert len(ns["by_board"]) == len(expected)
    for board, model, sessions, iterations, items, _, p50, p90, p99, _, _, thr in ns["by_board"]:
        e = expected[(board, model)]
        assert (sessions, iterations, items) == (e["sessions"], e["iterations"], e["items"])
        for got, key in ((p50, "p50_ms"), (p90, "p90_ms"), (p99, "p99_ms"), (thr, "throughput_ips")):
            assert got == pytest.approx(e[key], rel=1e-12), key
    for board, sessions, samples, mean, top in ns["power"]:
        ts = [t for t in truths if t.board == board]
        power = np.concatenate([t.metric("power_total_mw") for t in ts])
        assert (sessions, samples) == (len(ts), power.size)
        assert mean == pytest.approx(nanmean_or_none(power), rel=1e-12) if mean is not None else \
            nanmean_or_none(power) is None
        assert top == nanmax_or_none(power)
    assert sorted(ns["sessions"].column("session_id").to_pylist()) == sorted(t.session_id for t in truths)
    assert (root / "sessions.parquet").is_file()


def check_fleet_duckdb_views(code, root, cwd, truths, con):
    rows = _sql(con, code, root)
    counts: dict = {}
    for t in truths:
        mode = (t.meta.get("restore") or {}).get("power_mode_name")
        counts[(t.board, t.model, mode)] = counts.get((t.board, t.model, mode), 0) + 1
    assert {(r["board"], r["model"], r["power_mode"]): r["sessions"] for r in rows} == counts
    assert con.execute("SELECT count(*) FROM latency WHERE NOT warmup").fetchall()[0][0] == \
        sum(t.dur.size for t in truths)


def check_fleet_duckdb_latency(code, root, cwd, truths, con):
    rows = _sql(con, code, root)
    expected = latency_by_board_model(truths)
    assert len(rows) == len(expected)
    for r in rows:
        e = expected[(r["board"], r["model"])]
        assert (r["sessions"], r["iterations"]) == (e["sessions"], e["iterations"])
        for key in ("p50_ms", "p90_ms", "p99_ms", "throughput_ips"):
            assert r[key] == pytest.approx(e[key], rel=1e-12), key


def check_fleet_duckdb_power(code, root, cwd, truths, con):
    rows = {(r["board"], r["model"]): r for r in _sql(con, code, root)}
    assert len(rows) == len(truths)
    for t in truths:
        t0, t1 = int((t.t_end - t.dur).min()), int(t.t_end.max())
        inside = (t.tel_t >= t0) & (t.tel_t <= t1)
        power = nanmean_or_none(t.metric("power_total_mw")[inside])
        temp = nanmax_or_none(t.metric("temp_cpu_c")[inside])
        r = rows[(t.board, t.model)]
        assert r["temp_max_c"] == temp
        if power is None:
            assert r["avg_power_w"] is None and r["mj_per_item"] is None
        else:
            assert r["avg_power_w"] == pytest.approx(power / 1000, rel=1e-12)
            assert r["mj_per_item"] == pytest.approx(power * (t1 - t0) / 1e9 / int(t.items.sum()), rel=1e-12)
    assert any(r["avg_power_w"] is not None for r in rows.values())


def check_fleet_duckdb_events(code, root, cwd, truths, con):
    rows = _sql(con, code, root)
    expected = {}
    for t in truths:
        for kind in t.event_kinds:
            expected[(t.board, kind)] = expected.get((t.board, kind), 0) + 1
    assert {(r["board"], r["kind"]): r["n"] for r in rows} == expected


def check_fleet_duckdb_wall_clock(code, root, cwd, truths, con):
    rows = _sql(con, code, root)
    everything = []
    for t in truths:
        clock = t.meta["clock"]
        wall_us = (clock["unix_ns"] + (t.tel_t - clock["monotonic_ns"])) // 1000
        for k in range(t.tel_t.size):
            power, temp = t.metric("power_total_mw")[k], t.metric("temp_cpu_c")[k]
            everything.append((int(wall_us[k]), t.session_id, t.board,
                               None if np.isnan(power) else float(power), None if np.isnan(temp) else float(temp)))
    everything.sort(key=lambda r: (r[0], r[1]))
    epoch = dt.datetime(1970, 1, 1)
    got = [((r["wall_time"] - epoch) // dt.timedelta(microseconds=1), r["session_id"], r["board"],
            r["power_total_mw"], r["temp_cpu_c"]) for r in rows]
    assert len(got) == min(100, len(everything)) > 0
    assert got == everything[:100]


def _per_board_p50_p99(truths) -> dict:
    return {k: (v["p50_ms"] * 1e6, v["p99_ms"] * 1e6, v["iterations"])
            for k, v in latency_by_board_model(truths).items()}


def check_fleet_polars(code, root, cwd, truths, con):
    pytest.importorskip("polars")
    ns = _python(code, root)
    expected = _per_board_p50_p99(truths)
    got = {(r["board"], r["model"]): (r["p50_ns"], r["p99_ns"], r["iterations"])
           for r in ns["per_board"].iter_rows(named=True)}
    assert got.keys() == expected.keys()
    for key, (p50, p99, n) in got.items():
        assert p50 == pytest.approx(expected[key][0], rel=1e-12) and p99 == pytest.approx(expected[key][1], rel=1e-12)
        assert n == expected[key][2]
    temps = {r["session_id"]: r["temp_cpu_c"] for r in ns["temp_max"].iter_rows(named=True)}
    assert temps == {t.session_id: nanmax_or_none(t.metric("temp_cpu_c")) for t in truths}


def check_fleet_pandas(code, root, cwd, truths, con):
    pytest.importorskip("pandas")
    from edgemon.recording import fleet

    fleet.write_sessions_parquet(root)
    ns = _python(code, root)
    expected = _per_board_p50_p99(truths)
    got = ns["per_board"]
    assert set(got.index) == set(expected)
    for key, (p50, p99, _) in expected.items():
        assert got.loc[key, "p50_ns"] == pytest.approx(p50, rel=1e-12)
        assert got.loc[key, "p99_ns"] == pytest.approx(p99, rel=1e-12)


def check_fleet_pyarrow(code, root, cwd, truths, con):
    ns = _python(code, root)
    got = {r["session_id"]: (r["power_total_mw_mean"], r["t_ns_count"]) for r in ns["power"].to_pylist()}
    assert got.keys() == {t.session_id for t in truths}
    for t in truths:
        mean, count = got[t.session_id]
        assert count == t.tel_t.size
        expected = nanmean_or_none(t.metric("power_total_mw"))
        assert (mean is None and expected is None) or mean == pytest.approx(expected, rel=1e-12)


CHECKS = {
    "readme-pyarrow": check_readme_pyarrow,
    "readme-duckdb": check_readme_duckdb,
    "readme-fleet-duckdb": check_readme_fleet_duckdb,
    "fleet-edgemon-python": check_fleet_edgemon_python,
    "fleet-duckdb-views": check_fleet_duckdb_views,
    "fleet-duckdb-latency": check_fleet_duckdb_latency,
    "fleet-duckdb-power": check_fleet_duckdb_power,
    "fleet-duckdb-events": check_fleet_duckdb_events,
    "fleet-duckdb-wall-clock": check_fleet_duckdb_wall_clock,
    "fleet-polars": check_fleet_polars,
    "fleet-pandas": check_fleet_pandas,
    "fleet-pyarrow": check_fleet_pyarrow,
}
# Run in this order: the README's fleet query and the later fleet.md queries use the views.
ORDER = ("fleet-duckdb-views", *[n for n in CHECKS if n != "fleet-duckdb-views"])


@pytest.mark.parametrize("name", ORDER)
def test_snippet_equals_numpy(name, fleet_tree, snippets, monkeypatch, views):
    root, cwd, truths = fleet_tree
    monkeypatch.chdir(cwd)      # README snippets read ./recordings/
    _, code = snippets[name]
    CHECKS[name](code, root, cwd, truths, views)


@pytest.fixture(scope="module")
def views(fleet_tree, snippets):
    """A DuckDB connection with the views of docs/fleet.md, created by that very snippet."""
    root, _, _ = fleet_tree
    con = duckdb.connect()
    con.execute(snippets["fleet-duckdb-views"][1].replace(DOC_ROOT, str(root)))
    return con
