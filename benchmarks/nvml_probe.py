"""Check the NVML source on a machine with an NVIDIA GPU, against nvidia-smi.

    .venv/bin/python benchmarks/nvml_probe.py --seconds 10 [--hz 10] [--smi nvidia-smi] [--quiet]

Probes :class:`edgemon.telemetry.nvml.NvmlSource` (needs ``pip install nvidia-ml-py``), prints
its status and per-GPU limits, then reads it at ``--hz`` for ``--seconds``: every metric of
every read (unless ``--quiet``), the clock-event reasons decoded whenever they change, and
the cost of each read in microseconds. About once a second it also runs

    nvidia-smi --query-gpu=index,power.draw,temperature.gpu,clocks.sm,utilization.gpu --format=csv,noheader,nounits

and pairs each answer with the NVML read just before it: power (W vs mW), temperature,
SM clock and utilisation. At the end it prints per-metric min/mean/max, the read-cost
distribution, and the mean/max absolute differences against nvidia-smi.

What to expect: temperature and SM clock equal, or one clock step apart when the GPU is
changing state; power within a few percent (on recent drivers both report a ~1 s average, on
older ones NVML is instantaneous and nvidia-smi's power.draw is an average); utilisation
can differ by a sampling window. Run a workload in another terminal to see clocks, power
and the reasons move (idle GPUs report GpuIdle).

Exit status: 0 when the source was available, 1 when not (the reason is printed).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edgemon.platform.detect import detect                  # noqa: E402 - after the sys.path line
from edgemon.telemetry.base import SourceContext            # noqa: E402 - after the sys.path line
from edgemon.telemetry.nvml import NvmlSource, decode_reasons, gpu_prefix   # noqa: E402 - after the sys.path line

SMI_FIELDS = ("index", "power.draw", "temperature.gpu", "clocks.sm", "utilization.gpu")
# (nvidia-smi column, edgemon metric suffix/prefix builder, scale from NVML's unit to nvidia-smi's)
COMPARED = (
    ("power.draw", lambda p: f"{p}_power_mw", 1e-3),        # mW -> W
    ("temperature.gpu", lambda p: f"temp_{p}_c", 1.0),
    ("clocks.sm", lambda p: f"{p}_freq_mhz", 1.0),
    ("utilization.gpu", lambda p: f"{p}_util_pct", 1.0),
)


def query_smi(smi: str) -> tuple[dict[int, dict[str, float]], float, str]:
    """``({gpu index: {field: value}}, milliseconds the call took, error or "")``."""
    cmd = [smi, f"--query-gpu={','.join(SMI_FIELDS)}", "--format=csv,noheader,nounits"]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {}, (time.perf_counter() - t0) * 1000, str(exc)
    ms = (time.perf_counter() - t0) * 1000
    if proc.returncode != 0:
        return {}, ms, (proc.stderr or proc.stdout).strip()
    rows: dict[int, dict[str, float]] = {}
    for line in proc.stdout.strip().splitlines():
        cells = [c.strip() for c in line.split(",")]
        if len(cells) != len(SMI_FIELDS):
            continue
        row = {}
        for name, cell in zip(SMI_FIELDS, cells):
            try:
                row[name] = float(cell)
            except ValueError:
                pass           # "[N/A]", "[Not Supported]"
        if "index" in row:
            rows[int(row["index"])] = row
    return rows, ms, ""


def fmt(metric: str, value: float) -> str:
    if metric.endswith("_clock_event_reasons"):
        return f"{metric}=0x{int(value):x}"
    return f"{metric}={value:.10g}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--hz", type=float, default=10.0)
    ap.add_argument("--smi", default="nvidia-smi", help="nvidia-smi to compare with ('' to skip)")
    ap.add_argument("--quiet", action="store_true", help="do not print every read")
    ap.add_argument("--per-query", type=int, default=20, metavar="N",
                    help="first time each NVML query N times on its own: where a read's time goes (0: skip)")
    args = ap.parse_args(argv)

    platform = detect(Path("/"))
    print(f"platform: {platform.kind} {platform.model or ''} ({platform.cpu_model}), kernel {platform.kernel}")
    src = NvmlSource(SourceContext(), platform)
    t0 = time.perf_counter()
    status = src.probe()
    probe_ms = (time.perf_counter() - t0) * 1000
    if not status.available:
        print(f"nvml: unavailable: {status.reason}  (probe {probe_ms:.1f} ms)")
        return 1
    print(f"nvml: {status.detail}  (probe {probe_ms:.1f} ms)")
    if src.dropped:
        for metric, why in sorted(src.dropped.items()):
            print(f"  not read: {metric}: {why}")
    for index, lim in sorted(src.limits().items()):
        print(f"  GPU {index} {lim.name}: power limit {lim.power_limit_mw} mW, slowdown {lim.temp_slowdown_c} C, "
              f"shutdown {lim.temp_shutdown_c} C, max SM {lim.max_sm_mhz} MHz, max mem {lim.max_mem_mhz} MHz")

    if args.per_query > 0:
        costs = src.query_costs_us(args.per_query)
        print(f"per query, median of {args.per_query} (us): "
              + ", ".join(f"{metric} {us:.0f}" for metric, us in sorted(costs.items(), key=lambda kv: -kv[1])))

    smi = shutil.which(args.smi) if args.smi else None
    if args.smi and smi is None:
        print(f"{args.smi} not found: no comparison")

    period = 1.0 / args.hz
    smi_every = max(1, int(round(args.hz)))             # about once a second
    costs_us: list[float] = []
    series: dict[str, list[float]] = {}
    last_reasons: dict[str, int] = {}
    diffs: dict[str, list[float]] = {}
    smi_ms: list[float] = []
    smi_errors: list[str] = []
    reads = 0
    start = time.monotonic()
    next_t = start
    try:
        while time.monotonic() - start < args.seconds:
            c0 = time.perf_counter_ns()
            try:
                out = src.read()
            except OSError as exc:
                print(f"read failed: {exc}")
                out = {}
            cost = (time.perf_counter_ns() - c0) / 1000.0
            costs_us.append(cost)
            reads += 1
            for k, v in out.items():
                series.setdefault(k, []).append(v)
                if k.endswith("_clock_event_reasons") and last_reasons.get(k) != int(v):
                    last_reasons[k] = int(v)
                    print(f"  {k} -> 0x{int(v):x} {decode_reasons(v) or ['None']}")
            if not args.quiet:
                print(f"t={time.monotonic() - start:6.2f}s read {cost:7.1f} us  "
                      + " ".join(fmt(k, v) for k, v in out.items()))
            if smi and reads % smi_every == 1 % smi_every:
                rows, ms, err = query_smi(smi)
                smi_ms.append(ms)
                if err:
                    smi_errors.append(err)
                for index, row in rows.items():
                    p = gpu_prefix(index)
                    parts = []
                    for field, metric_of, scale in COMPARED:
                        metric = metric_of(p)
                        if field in row and metric in out:
                            mine = out[metric] * scale
                            diffs.setdefault(f"GPU {index} {field}", []).append(abs(mine - row[field]))
                            parts.append(f"{field} smi {row[field]:g} / nvml {mine:g}")
                    print(f"  nvidia-smi ({ms:.0f} ms) GPU {index}: " + ", ".join(parts))
            next_t += period
            delay = next_t - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                next_t = time.monotonic()              # fixed delay: never catch up in a burst
    finally:
        src.close()

    print()
    print(f"{reads} reads in {args.seconds:g} s")
    if costs_us:
        ordered = sorted(costs_us)
        print(f"read cost: first {costs_us[0]:.1f} us, median {statistics.median(ordered):.1f} us, "
              f"p90 {ordered[int(0.9 * (len(ordered) - 1))]:.1f} us, max {ordered[-1]:.1f} us")
    print("metrics (min / mean / max):")
    for k in sorted(series):
        vals = series[k]
        if k.endswith("_clock_event_reasons"):
            seen = sorted({int(v) for v in vals})
            print(f"  {k}: {', '.join(f'0x{m:x} {decode_reasons(m)}' for m in seen)}")
        else:
            print(f"  {k}: {min(vals):g} / {statistics.fmean(vals):g} / {max(vals):g}")
    if smi_ms:
        print(f"nvidia-smi: {len(smi_ms)} calls, median {statistics.median(smi_ms):.0f} ms per call")
        for key in sorted(diffs):
            d = diffs[key]
            print(f"  |nvml - smi| {key}: mean {statistics.fmean(d):g}, max {max(d):g}")
        for err in sorted(set(smi_errors)):
            print(f"  nvidia-smi error: {err}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
