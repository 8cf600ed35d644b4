"""Fleet queries: sessions from two boards, written by the real Recorder, queried with DuckDB and polars.

Every number is checked against numpy on the very arrays the test recorded.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from edgemon.datatypes import Event, LatencyBatch, Sample
from edgemon.errors import UserError
from edgemon.recording import fleet
from edgemon.recording.writer import Recorder

duckdb = pytest.importorskip("duckdb")

REPO = Path(__file__).resolve().parent.parent
NANO = "NVIDIA Jetson Nano Developer Kit"
ORIN = "NVIDIA Jetson AGX Orin Developer Kit"

# (fleet sub-folder, session, board model, model, batch, power mode or None, median latency ms, rows, seed)
SESSIONS = [
    ("nano-01", "20260101-100000-nano01-numpy-mnist_1d", NANO, "mnist_1d", 1, ("MAXN", 0), 4.0, 900, 1),
    ("nano-01", "20260101-110000-nano01-numpy-mnist_1d", NANO, "mnist_1d", 1, ("5W", 1), 6.0, 700, 2),
    ("orin-07", "20260102-090000-orin07-numpy-mnist_1d", ORIN, "mnist_1d", 4, ("MAXN", 0), 1.0, 1200, 3),
    ("orin-07", "20260102-093000-orin07-numpy-resnet18", ORIN, "resnet18", 2, None, 8.0, 500, 4),
]


def _meta(sub: str, board: str, model: str, batch: int, mode) -> dict:
    meta = {
        "host": sub,
        "platform": {"kind": "jetson", "model": board, "l4t_release": "36.3.0" if "Orin" in board else "32.7.1"},
        "workload": {"runner": "numpy", "model": model, "batch": batch},
        "emulated": True,
        "emulated_board": "orin" if "Orin" in board else "nano",
        "runner_hello": {"framework": "numpy", "framework_version": "2.0"},
    }
    if mode is not None:
        meta["restore"] = {"power_mode_name": mode[0], "power_mode_id": mode[1]}
    return meta


def _record(root: Path) -> dict:
    """Record SESSIONS into root/<sub>/<session>/; return what was recorded, per session folder."""
    truth = {}
    for sub, name, board, model, batch, mode, median_ms, rows, seed in SESSIONS:
        rng = np.random.default_rng(seed)
        folder = root / sub / name
        rec = Recorder(folder, _meta(sub, board, model, batch, mode), fsync=False, flush_s=3600, roll_s=3600)
        rec.open()
        t0 = 1_000_000_000 * seed
        # warm-up: slow iterations that a fleet query must leave out
        warm_d = rng.integers(50_000_000, 90_000_000, 20)
        warm_t = t0 + np.cumsum(warm_d)
        rec.on_latency(LatencyBatch(warm_t, warm_d, np.full(20, batch, np.int32), warmup=True))
        dur = (rng.lognormal(np.log(median_ms * 1e6), 0.3, rows)).astype(np.int64)
        gaps = rng.integers(0, 200_000, rows)
        t_end = int(warm_t[-1]) + np.cumsum(dur + gaps)
        items = np.full(rows, batch, np.int32)
        for chunk in np.array_split(np.arange(rows), 7):   # several batches per flush, like a runner
            rec.on_latency(LatencyBatch(t_end[chunk], dur[chunk], items[chunk]))
        rec.flush()
        # telemetry: the boards have different rails; a metric appearing mid-session rolls a new file
        power_key = "power_vdd_in_mw" if "Orin" in board else "power_pom_5v_in_mw"
        power = rng.uniform(3000, 9000, 40)
        temp = rng.uniform(40, 70, 40)
        for i in range(40):
            values = {power_key: float(power[i]), "power_total_mw": float(power[i]), "temp_cpu_c": float(temp[i])}
            if i >= 25:
                values["gpu_util_pct"] = 50.0 + i
            rec.on_sample(Sample(t0 + i * 100_000_000, values))
            if i == 24:
                rec.flush()
        rec.on_event(Event(t0, "session_start", {}))
        rec.close({"reason": "test"})
        truth[folder.as_posix()] = {
            "board": board, "model": model, "sub": sub, "dur": dur, "t_end": t_end, "items": items,
            "power": power, "temp": temp, "mode": mode,
        }
    return truth


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("fleet")
    return root, _record(root)


def _expected_by_board_model(truth: dict) -> dict:
    groups: dict = {}
    for t in truth.values():
        groups.setdefault((t["board"], t["model"]), []).append(t)
    out = {}
    for key, ts in groups.items():
        d = np.concatenate([t["dur"] for t in ts]).astype(np.float64)
        windows = [(int(t["t_end"].max()) - int((t["t_end"] - t["dur"]).min())) / 1e9 for t in ts]
        items = sum(int(t["items"].sum()) for t in ts)
        out[key] = {
            "sessions": len(ts), "iterations": d.size, "items": items,
            "p50_ms": np.percentile(d, 50) / 1e6, "p90_ms": np.percentile(d, 90) / 1e6,
            "p99_ms": np.percentile(d, 99) / 1e6, "mean_ms": d.mean() / 1e6, "max_ms": d.max() / 1e6,
            "throughput_ips": items / sum(windows),
        }
    return out


def test_sessions_table_has_one_row_per_session(tree):
    root, truth = tree
    table = fleet.sessions_table(root).to_pylist()
    assert [r["folder"] for r in table] == sorted(truth)
    for row in table:
        t = truth[row["folder"]]
        assert row["board"] == t["board"] and row["model"] == t["model"] and row["parent"] == t["sub"]
        assert row["host"] == t["sub"] and row["runner"] == "numpy" and row["framework"] == "numpy"
        assert row["power_mode"] == (t["mode"][0] if t["mode"] else None)
        assert row["state"] == "ended" and row["emulated"] is True and row["schema_version"] == 2
        assert row["session_id"] and row["session_id"] != row["session"]
        assert row["start_wall"] is not None and row["duration_s"] >= 0


def test_sql_sessions_view_equals_python_table(tree):
    root, _ = tree
    con = fleet.connect(root)
    sql_rows = con.execute(f"SELECT {', '.join(fleet.SESSION_COLUMNS)} FROM sessions ORDER BY folder").fetchall()
    py_rows = fleet.sessions_table(root).to_pylist()
    assert len(sql_rows) == len(py_rows) == len(SESSIONS)
    for sql_row, py_row in zip(sql_rows, py_rows):
        for col, value in zip(fleet.SESSION_COLUMNS, sql_row):
            assert value == py_row[col], col


def test_latency_summary_per_board_and_model_matches_numpy(tree):
    root, truth = tree
    con = duckdb.connect()
    cur = con.execute(fleet.latency_summary_sql(root))
    names = [d[0] for d in cur.description]
    got = [dict(zip(names, r)) for r in cur.fetchall()]
    expected = _expected_by_board_model(truth)
    assert {(r["board"], r["model"]) for r in got} == set(expected)
    for r in got:
        e = expected[(r["board"], r["model"])]
        assert r["sessions"] == e["sessions"] and r["iterations"] == e["iterations"] and r["items"] == e["items"]
        for key in ("p50_ms", "p90_ms", "p99_ms", "mean_ms", "max_ms", "throughput_ips"):
            assert r[key] == pytest.approx(e[key], rel=1e-9), key


def test_latency_summary_per_board_pools_models(tree):
    root, truth = tree
    rows = duckdb.connect().execute(fleet.latency_summary_sql(root, by=["board"])).fetchall()
    assert [r[0] for r in rows] == sorted({t["board"] for t in truth.values()})
    for board, sessions, iterations, *_ in rows:
        d = np.concatenate([t["dur"] for t in truth.values() if t["board"] == board])
        assert (sessions, iterations) == (sum(t["board"] == board for t in truth.values()), d.size)


def test_telemetry_summary_unions_different_rails(tree):
    root, truth = tree
    con = fleet.connect(root)
    metrics = fleet.telemetry_metrics(con)
    assert {"power_vdd_in_mw", "power_pom_5v_in_mw", "power_total_mw", "gpu_util_pct"} <= set(metrics)
    cur = con.execute(fleet.telemetry_summary_sql(root, ["power_total_mw", "temp_cpu_c", "power_vdd_in_mw"],
                                                  by=["board"]))
    names = [d[0] for d in cur.description]
    for row in (dict(zip(names, r)) for r in cur.fetchall()):
        ts = [t for t in truth.values() if t["board"] == row["board"]]
        power = np.concatenate([t["power"] for t in ts])
        assert row["samples"] == power.size and row["sessions"] == len(ts)
        assert row["power_total_mw_mean"] == pytest.approx(power.mean(), rel=1e-12)
        assert row["temp_cpu_c_max"] == pytest.approx(np.concatenate([t["temp"] for t in ts]).max())
        # a rail only the Orin has is NULL (not zero) on the Nano
        assert (row["power_vdd_in_mw_mean"] is None) == ("Nano" in row["board"])


def test_views_join_streams_to_sessions(tree):
    root, truth = tree
    con = fleet.connect(root)
    per_folder = dict(con.execute(
        "SELECT folder, count(*) FROM latency JOIN sessions USING (session_id) WHERE NOT warmup GROUP BY folder"
    ).fetchall())
    assert per_folder == {f: t["dur"].size for f, t in truth.items()}
    assert con.execute("SELECT count(*) FROM events WHERE kind = 'session_start'").fetchone()[0] == len(truth)
    # gpu_util_pct appeared mid-session: two telemetry files per session, rewritten at close to
    # one schema, so a reader that takes the first file's columns (no union_by_name) loses none
    for folder in truth:
        files = sorted(Path(folder, "telemetry").glob("*.parquet"))
        assert len(files) == 2
        rows = duckdb.sql(f"SELECT gpu_util_pct FROM read_parquet('{folder}/telemetry/*.parquet') "
                          "WHERE gpu_util_pct IS NOT NULL").fetchall()
        assert len(rows) == 15


def test_polars_gives_the_same_per_board_numbers(tree):
    pl = pytest.importorskip("polars")
    root, truth = tree
    sessions = pl.from_arrow(fleet.sessions_table(root))
    lat = (pl.scan_parquet(f"{fleet._root(root)}/**/latency/*.parquet")
           .filter(~pl.col("warmup"))
           .join(sessions.lazy(), on="session_id"))
    got = (lat.group_by("board", "model")
           .agg(pl.col("duration_ns").quantile(0.5, interpolation="linear").alias("p50"),
                pl.col("duration_ns").quantile(0.99, interpolation="linear").alias("p99"))
           .collect())
    expected = _expected_by_board_model(truth)
    assert got.height == len(expected)
    for r in got.iter_rows(named=True):
        e = expected[(r["board"], r["model"])]
        assert r["p50"] / 1e6 == pytest.approx(e["p50_ms"], rel=1e-9)
        assert r["p99"] / 1e6 == pytest.approx(e["p99_ms"], rel=1e-9)


def test_sessions_parquet_round_trips(tree, tmp_path):
    root, truth = tree
    path = fleet.write_sessions_parquet(root, tmp_path / "sessions.parquet")
    rows = duckdb.connect().execute(f"SELECT folder, board FROM read_parquet('{path}') ORDER BY folder").fetchall()
    assert duckdb.sql(f"SELECT count(DISTINCT session_id) FROM read_parquet('{path}')").fetchall()[0][0] == len(truth)
    assert rows == [(f, truth[f]["board"]) for f in sorted(truth)]


def test_docs_queries_run_on_the_tree(tree):
    """Every ```sql block of docs/fleet.md runs against a real tree (its root spelled /data/fleet)."""
    root, _ = tree
    text = (REPO / "docs" / "fleet.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```sql\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 3
    con = duckdb.connect()
    results = []
    for sql in blocks:
        cur = con.execute(sql.replace("/data/fleet", fleet._root(root)))
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, r)) for r in cur.fetchall()]
        assert rows, sql[:80]
        results.append(rows)
    # the documented per-board/model query gives the numbers the helper (checked against numpy) gives
    documented = next(rows for rows in results if "p99_ms" in rows[0] and "throughput_ips" in rows[0])
    helper = duckdb.connect().execute(fleet.latency_summary_sql(root))
    names = [d[0] for d in helper.description]
    expected = {(r[0], r[1]): dict(zip(names, r)) for r in helper.fetchall()}
    assert len(documented) == len(expected)
    for row in documented:
        e = expected[(row["board"], row["model"])]
        for key in ("sessions", "iterations", "p50_ms", "p90_ms", "p99_ms", "throughput_ips"):
            assert row[key] == pytest.approx(e[key], rel=1e-12), key


def test_a_session_root_alone_and_a_broken_session_json(tmp_path):
    rec = Recorder(tmp_path / "one", {"host": "h", "workload": {"runner": "numpy", "model": "m"}}, fsync=False)
    rec.open()
    rec.on_latency(LatencyBatch.from_lists([10, 20], [5, 5], [1, 1]))
    rec.close()
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "session.json").write_text("{not json")
    (tmp_path / "list").mkdir()
    (tmp_path / "list" / "session.json").write_text("[1, 2]")
    rows, problems = fleet.session_rows(tmp_path)
    assert [r["session"] for r in rows] == ["one"] and len(problems) == 2
    # the SQL view skips them too instead of failing the whole query
    assert fleet.connect(tmp_path).execute("SELECT session FROM sessions").fetchall() == [("one",)]
    # the folder itself may be the root: ** matches zero folders
    one = fleet.latency_summary_sql(tmp_path / "one", by=["host"])
    assert duckdb.connect().execute(one).fetchall()[0][:3] == ("h", 1, 2)


def test_bad_input_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="not a folder"):
        fleet.find_sessions(tmp_path / "missing")
    with pytest.raises(UserError, match="no recordings"):
        fleet.connect(tmp_path)
    with pytest.raises(UserError, match="cannot group by"):
        fleet.latency_summary_sql(tmp_path, by=["duration_s"])
    with pytest.raises(UserError, match="not a metric name"):
        fleet.telemetry_summary_sql(tmp_path, ["x; DROP TABLE y"])


def test_per_session_numbers_agree_with_edgemon_analyze(tree):
    """Throughput and median per session: the same definitions as `edgemon analyze`."""
    from edgemon.analysis.summary import analyze
    from edgemon.recording.reader import open_recording

    root, truth = tree
    cur = duckdb.connect().execute(fleet.latency_summary_sql(root, by=["folder"]))
    names = [d[0] for d in cur.description]
    rows = [dict(zip(names, r)) for r in cur.fetchall()]
    assert [r["folder"] for r in rows] == sorted(truth)
    for row in rows:
        result = analyze(open_recording(Path(row["folder"])))
        assert row["throughput_ips"] == pytest.approx(result["throughput_ips"], rel=1e-12)
        assert row["p50_ms"] == pytest.approx(result["latency_ms"]["median"], rel=1e-12)
        assert row["iterations"] == result["latency_ms"]["count"]
