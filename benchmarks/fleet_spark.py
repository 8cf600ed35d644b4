"""Run the Spark snippet of docs/fleet.md on a fleet tree and check it against numpy.

    python benchmarks/fleet_spark.py [--root DIR] [--out FILE]

Without ``--root`` it records a tree first: one short headless `edgemon run` per board (two
emulated Jetsons and this plain host, ``benchmarks/_fleet_tree.py``). The snippet (``<!--
snippet: fleet-spark -->`` in docs/fleet.md) runs as written, with ``spark`` a local
SparkSession and its root replaced; its ``result`` (p50/p90/p99 and throughput per board and
model) is compared with numpy on the arrays edgemon's reader gives for each session, and its
``telemetry`` DataFrame must hold every board's columns. Prints a report (and writes it to
``--out``); exit 1 when anything differs.

Needs pyspark (``pip install pyspark``, an optional dependency) and a Java runtime.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _fleet_tree  # noqa: E402 - after the sys.path lines above, which make it importable
from _report import Report  # noqa: E402 - the same
DOC_ROOT = "/data/fleet"


def _truth(root: Path) -> tuple[dict, set[str]]:
    """numpy per (board, model): p50/p90/p99 ns and throughput; and the union of telemetry columns."""
    import json

    from edgemon.recording.fleet import find_sessions
    from edgemon.recording.reader import open_recording

    groups: dict = {}
    columns: set[str] = set()
    for folder in find_sessions(root):
        meta = json.loads((folder / "session.json").read_text())
        plat = meta.get("platform") or {}
        board = plat.get("model") or meta.get("emulated_board") or plat.get("kind")
        rec = open_recording(folder)
        lat = rec.latency()
        warm = np.asarray(lat.column("warmup").to_numpy(zero_copy_only=False), dtype=bool)
        t_end = lat.column("t_end_ns").to_numpy()[~warm]
        dur = lat.column("duration_ns").to_numpy()[~warm]
        items = int(lat.column("items").to_numpy()[~warm].sum())
        columns |= set(rec.telemetry().column_names)
        groups.setdefault((board, meta["workload"]["model"]), []).append((t_end, dur, items))
    out = {}
    for key, sessions in groups.items():
        d = np.concatenate([s[1] for s in sessions]).astype(np.float64)
        seconds = sum((int(t.max()) - int((t - dd).min())) / 1e9 for t, dd, _ in sessions)
        out[key] = {"p50_p90_p99_ns": [float(np.percentile(d, q)) for q in (50, 90, 99)],
                    "throughput_ips": sum(s[2] for s in sessions) / seconds}
    return out, columns | {"session_id"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", type=Path, help="a fleet tree <root>/<board>/<session>/ (default: record one)")
    ap.add_argument("--out", type=Path, help="also write the report here")
    args = ap.parse_args(argv)
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        print("needs pyspark: pip install pyspark (and a Java runtime)", file=sys.stderr)
        return 2

    tree = _fleet_tree
    log = Report()
    tmp = None
    root = args.root
    if root is None:
        tmp = tempfile.TemporaryDirectory(prefix="edgemon-fleet-")
        root = Path(tmp.name) / "fleet"
        t0 = time.monotonic()
        tree.record_fleet(root)
        log(f"recorded a tree of {len(tree.BOARDS)} boards in {time.monotonic() - t0:.1f} s: "
            + ", ".join(f"{b} ({' '.join(extra) or 'this host'})" for b, extra in tree.BOARDS))
    code = tree.doc_snippets(REPO / "docs" / "fleet.md")["fleet-spark"][1]
    spark = (SparkSession.builder.master("local[2]").appName("edgemon-fleet-snippet")
             .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    import pyspark

    log(f"pyspark {pyspark.__version__}, Spark {spark.version}, docs/fleet.md snippet fleet-spark")
    namespace = {"spark": spark}
    t0 = time.monotonic()
    exec(compile(code.replace(DOC_ROOT, str(root)), "fleet-spark", "exec"), namespace)
    rows = [r.asDict() for r in namespace["result"].collect()]
    tel_columns = set(namespace["telemetry"].columns)
    log(f"snippet ran in {time.monotonic() - t0:.1f} s")
    spark.stop()

    expected, columns = _truth(root)
    failures = 0
    log(f"{'board':<40} {'model':<10} {'p50 ms':>9} {'p90 ms':>9} {'p99 ms':>9} {'items/s':>10}  vs numpy")
    for r in rows:
        e = expected.get((r["board"], r["model"]))
        got = [float(v) for v in r["p50_p90_p99_ns"]]
        ok = e is not None and np.allclose(got, e["p50_p90_p99_ns"], rtol=1e-12) and \
            abs(r["throughput_ips"] - e["throughput_ips"]) <= 1e-9 * e["throughput_ips"]
        failures += not ok
        log(f"{r['board']:<40} {r['model']:<10} {got[0] / 1e6:9.4f} {got[1] / 1e6:9.4f} {got[2] / 1e6:9.4f} "
            f"{r['throughput_ips']:10.1f}  {'equal' if ok else 'DIFFERENT: ' + str(e)}")
    if len(rows) != len(expected):
        failures += 1
        log(f"DIFFERENT: {len(rows)} groups from Spark, {len(expected)} from numpy")
    missing = columns - tel_columns
    failures += bool(missing)
    log(f"telemetry with mergeSchema: {len(tel_columns)} columns, every board's "
        + ("(all present)" if not missing else f"MISSING {sorted(missing)}"))
    log("result: " + ("every number equals numpy" if not failures else f"{failures} difference(s)"))
    log.write(args.out)
    if tmp is not None:
        tmp.cleanup()
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
