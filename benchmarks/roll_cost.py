"""CPU and memory of one segment roll: a 5-minute latency tail turned into Parquet.

Every ``roll_s`` (300 s) the recorder turns each stream's Arrow IPC tail into a zstd Parquet
segment (``recording/segments.py`` ``tail_to_parquet``). At the default model's rate that is
millions of rows at once, every five minutes: a cost that a 45- or 60-second turn of
``monitor_cost.py`` never contains, so this script measures it and spreads it over the
segment's five minutes (% of one core, the figure to add to the headless turn).

The rows are real: a short ``edgemon run --headless`` of the default workload gives the rate
and its latency rows, which are repeated (times shifted) to fill ``--roll-s`` seconds, in
batches of one second as the recorder writes them. Each roll runs in a fresh process (its own
CPU clock and peak RSS), in rounds, three ways over the same tail:

* ``edgemon``: the writer as it is (times and durations delta-encoded);
* ``dictionary``: the same code with Parquet's default encodings (every column dictionary-
  encoded: the writer before it was changed);
* ``duckdb``: the tail read with pyarrow and written by DuckDB's ``COPY ... (FORMAT parquet,
  COMPRESSION zstd)``, a peer (all of its threads counted).

For each: CPU seconds (user + system) of the roll, its share of one core over ``--roll-s``, the
peak RSS above the process's RSS before the roll, the Parquet file's size, and the CPU to read
back ``t_end_ns`` and ``duration_ns`` (what analysis reads) with pyarrow.

    python benchmarks/roll_cost.py [--rounds 3] [--record-s 20] [--roll-s 300]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EDGEMON = [sys.executable, "-m", "edgemon"]
VARIANTS = ("edgemon", "dictionary", "duckdb")


def record_rows(seconds: float, folder: Path):
    """A real headless session of the default workload; its measured rows and their rate."""
    import numpy as np

    from edgemon.recording.reader import open_recording

    subprocess.run([*EDGEMON, "run", "--headless", "--duration", f"{seconds:g}", "--record", str(folder),
                    "--status-every", "1h"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    lat = open_recording(folder).latency()
    measured = lat.filter(np.logical_not(lat.column("warmup").to_numpy(zero_copy_only=False)))
    t_end = measured.column("t_end_ns").to_numpy()
    if len(t_end) < 2:
        raise SystemExit(f"roll_cost: the {seconds:g}-s session recorded {len(t_end)} measured rows")
    rate = (len(t_end) - 1) / ((t_end[-1] - t_end[0]) / 1e9)
    return measured, rate


def write_tail(rows, rate: float, roll_s: float, path: Path) -> int:
    """``roll_s`` seconds of ``rows`` at ``rate``, repeated with shifted times, one batch a second."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.ipc as ipc

    from edgemon.recording.segments import stream_schema

    schema = stream_schema("latency")
    t_end = rows.column("t_end_ns").to_numpy()
    span = int(t_end[-1] - t_end[0]) + int(1e9 / rate)
    total = int(rate * roll_s)
    per_batch = max(1, int(rate))
    written = 0
    with open(path, "wb") as f, ipc.new_stream(f, schema) as w:
        copy = 0
        while written < total:
            for start in range(0, rows.num_rows, per_batch):
                if written >= total:
                    break
                part = rows.slice(start, min(per_batch, total - written))
                shifted = pa.array(part.column("t_end_ns").to_numpy() + copy * span)
                w.write_batch(pa.RecordBatch.from_arrays(
                    [shifted, part.column("duration_ns").combine_chunks(), part.column("items").combine_chunks(),
                     pa.array(np.zeros(part.num_rows, dtype=bool))], schema=schema))
                written += part.num_rows
            copy += 1
    return written


def child(variant: str, tail: Path) -> dict:
    """One roll in this process: CPU, peak RSS above the start, size, read-back CPU."""
    import resource

    import pyarrow as pa
    import pyarrow.ipc as ipc
    import pyarrow.parquet as pq

    from edgemon.recording import segments

    if variant == "dictionary":
        segments.column_encodings = lambda schema: {}
    # One tiny roll first, so that libraries, codecs and allocator arenas are loaded before the
    # clock and the RSS baseline: what is measured is the segment's own cost.
    warm = tail.with_name("part-99999.arrows")
    with pa.OSFile(str(tail), "rb") as src, open(warm, "wb") as f:
        reader = ipc.open_stream(src)
        with ipc.new_stream(f, reader.schema) as w:
            w.write_batch(reader.read_next_batch().slice(0, 10))
    pq.read_table(str(_roll(variant, warm)), columns=["t_end_ns", "duration_ns"])
    rss0 = _rss_kib()
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    dest = _roll(variant, tail)
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    read0 = time.process_time()
    pq.read_table(str(dest), columns=["t_end_ns", "duration_ns"])
    read_s = time.process_time() - read0
    return {"cpu_s": (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime),
            "peak_mb": max(0, r1.ru_maxrss - rss0) / 1024, "size_mb": dest.stat().st_size / 1e6,
            "read_s": read_s, "rows": pq.ParquetFile(str(dest)).metadata.num_rows}


def _roll(variant: str, tail: Path) -> Path:
    """``tail`` to Parquet the ``variant``'s way (the tail is gone after); the Parquet path."""
    import pyarrow as pa
    import pyarrow.ipc as ipc

    from edgemon.recording import segments

    dest = tail.with_suffix(".parquet")
    if variant != "duckdb":
        segments.tail_to_parquet(tail, session_id="roll-cost", fsync=True)
        return dest
    import duckdb

    with pa.OSFile(str(tail), "rb") as src:
        tail_rows = ipc.open_stream(src).read_all()
    con = duckdb.connect()
    con.register("tail_rows", tail_rows)
    con.execute(f"COPY (SELECT * FROM tail_rows) TO '{dest}' (FORMAT parquet, COMPRESSION zstd)")
    con.close()
    with open(dest, "rb") as f:
        os.fsync(f.fileno())
    tail.unlink()
    return dest


def _rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def run_child(variant: str, master: Path, work: Path) -> dict:
    tail = work / "latency" / "part-00000.arrows"
    shutil.rmtree(tail.parent, ignore_errors=True)
    tail.parent.mkdir(parents=True)
    shutil.copyfile(master, tail)
    p = subprocess.run([sys.executable, __file__, "--child", variant, str(tail)], capture_output=True, text=True,
                       timeout=900)
    if p.returncode != 0:
        raise SystemExit(f"roll_cost: the {variant} roll failed: {(p.stderr or p.stdout).strip()[-500:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--record-s", type=float, default=20.0, help="length of the real session (default 20)")
    ap.add_argument("--roll-s", type=float, default=300.0, help="seconds a segment holds (default 300, the recorder's)")
    ap.add_argument("--child", nargs=2, metavar=("VARIANT", "TAIL"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], Path(args.child[1]))))
        return 0
    try:
        import duckdb  # noqa: F401 - only whether it imports
        variants = VARIANTS
    except ImportError:
        variants = VARIANTS[:2]
        print("duckdb is not installed: its turn is left out (pip install duckdb)")
    with tempfile.TemporaryDirectory(prefix="roll-cost-") as tmp:
        work = Path(tmp)
        rows, rate = record_rows(args.record_s, work / "session")
        master = work / "tail.arrows"
        n = write_tail(rows, rate, args.roll_s, master)
        print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; the default workload ran at "
              f"{rate:,.0f} rows/s in a {args.record_s:g}-s session; a {args.roll_s:g}-s tail of {n:,} rows, "
              f"{master.stat().st_size / 1e6:.1f} MB")
        results: dict[str, list[dict]] = {v: [] for v in variants}
        for r in range(args.rounds):
            order = variants[r % len(variants):] + variants[:r % len(variants)]
            for variant in order:
                res = run_child(variant, master, work)
                if res["rows"] != n:
                    raise SystemExit(f"roll_cost: the {variant} roll wrote {res['rows']} rows of {n}")
                results[variant].append(res)
                print(f"round {r + 1}: {variant:10s} {res['cpu_s']:.3f} s CPU ({100 * res['cpu_s'] / args.roll_s:.3f} % "
                      f"of a core over {args.roll_s:g} s), peak +{res['peak_mb']:.0f} MB, {res['size_mb']:.1f} MB, "
                      f"read back {res['read_s']:.3f} s", flush=True)
        print("\nsummary (median of the rounds)")
        for variant in variants:
            rs = results[variant]
            cpu = statistics.median(x["cpu_s"] for x in rs)
            print(f"  {variant:10s} {cpu:.3f} s CPU per roll = {100 * cpu / args.roll_s:.3f} % of a core; "
                  f"peak +{statistics.median(x['peak_mb'] for x in rs):.0f} MB; "
                  f"{statistics.median(x['size_mb'] for x in rs):.1f} MB; "
                  f"read back {statistics.median(x['read_s'] for x in rs):.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
