"""Many recordings from many boards as one data set, for DuckDB, polars, pandas, pyarrow or Spark.

Recordings copied from several boards into one tree (``fleet/<board>/<session>/...``, any
depth) are already a queryable data set: every session folder holds ``session.json`` and
plain Parquet segments (docs/architecture.md "Recording layout"). Every Parquet row carries
its session's ``session_id`` (also in session.json), so any engine joins a stream to its
session by that column: nothing is parsed from file paths. This module provides

* :func:`sessions_table` / :func:`write_sessions_parquet`: one row per session (the
  ``sessions`` table, :data:`SESSION_COLUMNS`) built in Python from every session.json;
* :func:`sessions_sql`, :func:`stream_sql`, :func:`latency_summary_sql`,
  :func:`telemetry_summary_sql`: the same as plain DuckDB SQL (``read_text`` + JSON paths,
  ``read_parquet(..., union_by_name = true)``), so the queries run without edgemon;
  docs/fleet.md shows them, and the polars, pandas, pyarrow and Spark equivalents;
* :func:`connect`: a DuckDB connection with the views ``sessions``, ``latency``,
  ``telemetry`` and ``events`` over a tree.

Only rolled Parquet segments are read: a session still recording contributes what it has
rolled so far, not its live ``.arrows`` tail (``edgemon recover`` turns a crashed tail into
Parquet, and gives a recording from an edgemon before session ids its ``session_id``).
Percentiles here are linear-interpolated (``quantile_cont`` = numpy's default, and Spark's
``percentile``) so every engine agrees; ``edgemon analyze`` reports trtexec's nearest-rank
percentiles, which differ by less than one sample's spacing.

Nothing heavy is imported at module level (pyarrow and duckdb inside functions).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable

from edgemon.errors import UserError
from edgemon.recording.layout import board_of  # noqa: F401 - re-exported: fleet users call it
from edgemon.recording.layout import SESSION_FILE, SESSION_ID_COLUMN, STREAMS, section

# The sessions table, in order. ``session_id`` is the join key (every Parquet row has it);
# ``folder`` is where the session lies (absolute), ``session`` its name and ``parent`` the
# folder above it (``<board>`` in fleet/<board>/<session>).
SESSION_COLUMNS = (
    "session_id", "folder", "session", "parent", "host", "board", "platform_kind", "l4t", "runner", "framework",
    "framework_version", "model", "batch", "power_mode", "power_mode_id", "start_wall", "start_unix_ns",
    "clock_monotonic_ns", "duration_s", "state", "emulated", "edgemon_version", "schema_version",
)

# Session columns a summary may group by.
GROUPABLE = frozenset(SESSION_COLUMNS) - {"start_wall", "start_unix_ns", "clock_monotonic_ns", "duration_s"}


def _root(root: Path | str) -> str:
    """The tree's root as the SQL globs and the Python rows both spell it (absolute, normalised)."""
    return os.path.abspath(os.fspath(Path(root).expanduser()))


def find_sessions(root: Path | str) -> list[Path]:
    """Every folder under ``root`` (``root`` itself included) that holds a session.json, sorted."""
    top = _root(root)
    if not os.path.isdir(top):
        raise UserError(f"{top} is not a folder; pass the folder that holds the copied recordings")
    found = []
    for dirpath, dirnames, filenames in os.walk(top):
        if SESSION_FILE in filenames:
            found.append(Path(dirpath))
            dirnames[:] = [d for d in dirnames if d not in STREAMS]   # no sessions inside the streams
        dirnames.sort()
    return sorted(found)


def _int(v: Any) -> int | None:
    try:
        return None if v is None or isinstance(v, bool) else int(v)
    except (TypeError, ValueError):
        return None


def session_row(meta: dict[str, Any], folder: Path | str) -> dict[str, Any]:
    """One row of the sessions table from a session.json's contents (missing facts are None)."""
    folder = Path(folder)
    plat = section(meta, "platform")
    work = section(meta, "workload")
    hello = section(meta, "runner_hello")
    restore = section(meta, "restore")
    clock = section(meta, "clock")
    mono = _int(clock.get("monotonic_ns"))
    ended = _int(meta.get("ended_monotonic_ns"))
    unix_ns = _int(clock.get("unix_ns"))
    sid = meta.get(SESSION_ID_COLUMN)
    return {
        "session_id": sid if isinstance(sid, str) and sid else None,
        "folder": folder.as_posix(),
        "session": folder.name,
        "parent": folder.parent.name,
        "host": meta.get("host"),
        "board": board_of(meta),
        "platform_kind": plat.get("kind"),
        "l4t": plat.get("l4t_release"),
        "runner": work.get("runner"),
        "framework": hello.get("framework"),
        "framework_version": hello.get("framework_version"),
        "model": work.get("model"),
        "batch": _int(work.get("batch")),
        "power_mode": restore.get("power_mode_name"),
        "power_mode_id": _int(restore.get("power_mode_id")),
        "start_wall": None if unix_ns is None else unix_ns // 1000,   # microseconds since the epoch, UTC
        "start_unix_ns": unix_ns,
        "clock_monotonic_ns": mono,
        "duration_s": (ended - mono) / 1e9 if ended is not None and mono is not None else None,
        "state": meta.get("state"),
        "emulated": None if meta.get("emulated") is None else bool(meta.get("emulated")),
        "edgemon_version": meta.get("edgemon_version"),
        "schema_version": _int(meta.get("schema_version")),
    }


def _schema():
    import pyarrow as pa

    types = {
        "batch": pa.int64(), "power_mode_id": pa.int64(), "start_wall": pa.timestamp("us"),
        "start_unix_ns": pa.int64(), "clock_monotonic_ns": pa.int64(), "duration_s": pa.float64(),
        "emulated": pa.bool_(), "schema_version": pa.int64(),
    }
    return pa.schema([pa.field(c, types.get(c, pa.string())) for c in SESSION_COLUMNS])


def session_rows(root: Path | str) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows for every readable session under ``root``, and one line per session.json that is not."""
    from edgemon.recording.layout import load_session_json

    rows, problems = [], []
    for folder in find_sessions(root):
        try:
            meta = load_session_json(folder)
        except UserError as exc:
            problems.append(str(exc))
            continue
        rows.append(session_row(meta, folder))
    return rows, problems


def sessions_table(root: Path | str):
    """The sessions table (pyarrow) of every session under ``root``; unreadable session.json files are skipped."""
    import pyarrow as pa

    rows, _ = session_rows(root)
    schema = _schema()
    return pa.Table.from_pylist(rows, schema=schema)


def write_sessions_parquet(root: Path | str, dest: Path | str | None = None) -> Path:
    """Write the sessions table to ``dest`` (default ``<root>/sessions.parquet``) for engines that
    would rather not parse JSON (Spark, pandas). Returns the path."""
    from edgemon.recording.segments import write_parquet_atomic

    path = Path(dest) if dest is not None else Path(_root(root)) / "sessions.parquet"
    write_parquet_atomic(sessions_table(root), path, fsync=False)
    return path


# ---------------------------------------------------------------------------- SQL (DuckDB)

def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _glob(root: Path | str, tail: str) -> str:
    return _lit(_root(root).rstrip("/") + "/" + tail)


def sessions_sql(root: Path | str) -> str:
    """A DuckDB SELECT with :data:`SESSION_COLUMNS` over every ``<root>/**/session.json``.

    ``read_text`` + JSON paths rather than ``read_json_auto``: recordings from different
    boards have different keys (a Raspberry Pi has no power mode), and a path that no file
    has reads as NULL instead of failing the whole query; a session.json that is not a JSON
    object (a foreign or damaged file) is skipped instead of failing it.
    """
    j = "json"
    return f"""SELECT
    {j} ->> '$.session_id' AS session_id,
    regexp_extract(filename, '^(.*)/session\\.json$', 1) AS folder,
    regexp_extract(filename, '([^/]+)/session\\.json$', 1) AS session,
    regexp_extract(filename, '([^/]*)/[^/]+/session\\.json$', 1) AS parent,
    {j} ->> '$.host' AS host,
    coalesce(nullif({j} ->> '$.platform.model', ''), nullif({j} ->> '$.emulated_board', ''),
             nullif({j} ->> '$.platform.kind', '')) AS board,
    {j} ->> '$.platform.kind' AS platform_kind,
    {j} ->> '$.platform.l4t_release' AS l4t,
    {j} ->> '$.workload.runner' AS runner,
    {j} ->> '$.runner_hello.framework' AS framework,
    {j} ->> '$.runner_hello.framework_version' AS framework_version,
    {j} ->> '$.workload.model' AS model,
    TRY_CAST({j} ->> '$.workload.batch' AS BIGINT) AS batch,
    {j} ->> '$.restore.power_mode_name' AS power_mode,
    TRY_CAST({j} ->> '$.restore.power_mode_id' AS BIGINT) AS power_mode_id,
    make_timestamp(TRY_CAST({j} ->> '$.clock.unix_ns' AS BIGINT) // 1000) AS start_wall,
    TRY_CAST({j} ->> '$.clock.unix_ns' AS BIGINT) AS start_unix_ns,
    TRY_CAST({j} ->> '$.clock.monotonic_ns' AS BIGINT) AS clock_monotonic_ns,
    (TRY_CAST({j} ->> '$.ended_monotonic_ns' AS BIGINT)
        - TRY_CAST({j} ->> '$.clock.monotonic_ns' AS BIGINT)) / 1e9 AS duration_s,
    {j} ->> '$.state' AS state,
    TRY_CAST({j} ->> '$.emulated' AS BOOLEAN) AS emulated,
    {j} ->> '$.edgemon_version' AS edgemon_version,
    TRY_CAST({j} ->> '$.schema_version' AS BIGINT) AS schema_version
FROM (SELECT filename, content::JSON AS json FROM read_text({_glob(root, '**/' + SESSION_FILE)})
      WHERE json_valid(content) AND json_type(content::JSON) = 'OBJECT')"""


def stream_sql(root: Path | str, stream: str) -> str:
    """A DuckDB SELECT of every row of one stream (telemetry, latency, events) under ``root``,
    ``session_id`` first; telemetry columns are the union over all files (boards differ)."""
    if stream not in STREAMS:
        raise ValueError(f"unknown stream {stream!r}; one of {', '.join(STREAMS)}")
    return (f"SELECT session_id, * EXCLUDE (session_id)\n"
            f"FROM read_parquet({_glob(root, '**/' + stream + '/*.parquet')}, union_by_name = true)")


def _group(by: Iterable[str]) -> list[str]:
    cols = list(by)
    bad = [c for c in cols if c not in GROUPABLE]
    if bad or not cols:
        raise UserError(f"cannot group by {', '.join(bad) or 'nothing'}; "
                        f"choose from {', '.join(sorted(GROUPABLE))}")
    return cols


def latency_summary_sql(root: Path | str, by: Iterable[str] = ("board", "model")) -> str:
    """Per group (default board and model, over every session under ``root``): sessions,
    measured iterations and items, p50/p90/p99/mean/max latency in ms and throughput.

    Warm-up rows are left out. ``throughput_ips`` = items / measured seconds summed over
    the group's sessions, each session measured from its first iteration's start to its
    last one's end (the definition ``edgemon analyze`` uses for one session).
    """
    cols = _group(by)
    keys = ", ".join(f"s.{c}" for c in cols)
    on = " AND ".join(f"t.{c} IS NOT DISTINCT FROM l.{c}" for c in cols)
    return f"""WITH sessions AS (
{sessions_sql(root)}
),
latency AS (
    SELECT session_id, t_end_ns, duration_ns, items
    FROM read_parquet({_glob(root, '**/latency/*.parquet')}, union_by_name = true)
    WHERE NOT warmup
),
per_session AS (
    SELECT session_id, count(*) AS iterations, sum(items) AS items,
           (max(t_end_ns) - min(t_end_ns - duration_ns)) / 1e9 AS measured_s
    FROM latency GROUP BY session_id
),
t AS (
    SELECT {keys}, count(*) AS sessions, sum(p.iterations) AS iterations, sum(p.items) AS items,
           sum(p.measured_s) AS measured_s, sum(p.items) / sum(p.measured_s) AS throughput_ips
    FROM per_session p JOIN sessions s USING (session_id) GROUP BY {keys}
),
l AS (
    SELECT {keys},
           quantile_cont(x.duration_ns, 0.5) / 1e6 AS p50_ms,
           quantile_cont(x.duration_ns, 0.9) / 1e6 AS p90_ms,
           quantile_cont(x.duration_ns, 0.99) / 1e6 AS p99_ms,
           avg(x.duration_ns) / 1e6 AS mean_ms,
           max(x.duration_ns) / 1e6 AS max_ms
    FROM latency x JOIN sessions s USING (session_id) GROUP BY {keys}
)
SELECT {', '.join(f't.{c}' for c in cols)}, t.sessions, t.iterations, t.items, t.measured_s,
       l.p50_ms, l.p90_ms, l.p99_ms, l.mean_ms, l.max_ms, t.throughput_ips
FROM t JOIN l ON {on}
ORDER BY {', '.join(f't.{c}' for c in cols)}"""


def telemetry_summary_sql(root: Path | str, metrics: Iterable[str], by: Iterable[str] = ("board", "model")) -> str:
    """Per group: sessions, samples, and mean and max of each telemetry ``metric``
    (docs/architecture.md "Metric names").

    A metric that no file under ``root`` has makes DuckDB fail with a binder error; pick the
    metrics from :func:`telemetry_metrics`.
    """
    cols = _group(by)
    names = [str(m) for m in metrics]
    if not names:
        raise UserError("name at least one telemetry metric, e.g. power_total_mw")
    for m in names:
        if not m.replace("_", "").isalnum():
            raise UserError(f"{m!r} is not a metric name; names are like power_total_mw, temp_cpu_c")
    keys = ", ".join(f"s.{c}" for c in cols)
    aggs = ",\n       ".join(f"avg(x.{m}) AS {m}_mean, max(x.{m}) AS {m}_max" for m in names)
    return f"""WITH sessions AS (
{sessions_sql(root)}
),
telemetry AS (
{stream_sql(root, 'telemetry')}
)
SELECT {keys}, count(DISTINCT x.session_id) AS sessions, count(*) AS samples,
       {aggs}
FROM telemetry x JOIN sessions s USING (session_id)
GROUP BY {keys}
ORDER BY {keys}"""


# ---------------------------------------------------------------------------- DuckDB connection

def _duckdb():
    try:
        import duckdb
    except ImportError:
        raise UserError("fleet queries need duckdb: pip install duckdb") from None
    return duckdb


def _has_files(root: Path | str, stream: str) -> bool:
    import glob

    return bool(glob.glob(os.path.join(glob.escape(_root(root)), "**", stream, "*.parquet"), recursive=True))


_EMPTY = {
    "latency": "SELECT NULL::VARCHAR AS session_id, NULL::BIGINT AS t_end_ns, NULL::BIGINT AS duration_ns, "
               "NULL::INTEGER AS items, NULL::BOOLEAN AS warmup WHERE false",
    "events": "SELECT NULL::VARCHAR AS session_id, NULL::BIGINT AS t_ns, NULL::VARCHAR AS kind, "
              "NULL::VARCHAR AS details WHERE false",
    "telemetry": "SELECT NULL::VARCHAR AS session_id, NULL::BIGINT AS t_ns WHERE false",
}


def connect(root: Path | str, con=None):
    """A DuckDB connection (``con`` or a new in-memory one) with views over the tree at ``root``:
    ``sessions`` (:data:`SESSION_COLUMNS`), ``latency``, ``telemetry``, ``events`` (each with
    ``session_id`` first: join them to ``sessions`` USING (session_id)). A stream without any
    Parquet file yet is an empty view. UserError when ``root`` holds no recording, or one from
    an edgemon before session ids (its rows would join nothing)."""
    duckdb = _duckdb()
    if not find_sessions(root):
        raise UserError(f"no recordings (no {SESSION_FILE}) under {_root(root)}; "
                        "copy session folders there, e.g. fleet/<board>/<session>/")
    require_session_ids(root)
    con = con if con is not None else duckdb.connect()
    con.execute(f"CREATE OR REPLACE VIEW sessions AS {sessions_sql(root)}")
    for stream in STREAMS:
        body = stream_sql(root, stream) if _has_files(root, stream) else _EMPTY[stream]
        con.execute(f"CREATE OR REPLACE VIEW {stream} AS {body}")
    return con


def telemetry_metrics(con) -> list[str]:
    """The telemetry columns (metric names) of a :func:`connect` ed tree, union over all files."""
    rows = con.execute("DESCRIBE telemetry").fetchall()
    return [r[0] for r in rows if r[0] not in (SESSION_ID_COLUMN, "t_ns")]


def require_session_ids(root: Path | str) -> None:
    """UserError naming the sessions under ``root`` whose session.json has no ``session_id``
    (recorded by an edgemon before schema 2): ``edgemon recover`` adds it to every row."""
    rows, _ = session_rows(root)
    old = [r["folder"] for r in rows if r["session_id"] is None]
    if old:
        more = f" and {len(old) - 1} more" if len(old) > 1 else ""
        raise UserError(f"{old[0]}{more} has no session_id (recorded by an older edgemon); "
                        f"run `edgemon recover {old[0]}` on each to add it, then query again")
