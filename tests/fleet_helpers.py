"""Real recordings from several boards (two emulated Jetsons and this plain host), made by
`edgemon run`, and what numpy says about them, for the docs-snippet and plot tests.

The truth is read back with edgemon's own reader (one session at a time, as numpy arrays):
the engines under test (DuckDB, polars, pandas, pyarrow, Spark) must agree with it.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def load_benchmark(name: str):
    """A helper module of benchmarks/ (``_fleet_tree``, ``_chromium``): the scripts and the tests share it."""
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_tree = load_benchmark("_fleet_tree")
record_fleet = _tree.record_fleet
doc_snippets = _tree.doc_snippets
child_env = _tree.child_env
BOARDS = _tree.BOARDS


@dataclass
class SessionTruth:
    """One session as numpy arrays, read by edgemon's reader."""

    folder: Path
    meta: dict
    t_end: np.ndarray           # measured (non-warm-up) iterations
    dur: np.ndarray
    items: np.ndarray
    tel_t: np.ndarray
    tel: dict[str, np.ndarray]  # metric -> float64 (NaN where not read)
    event_kinds: list[str]

    @property
    def session_id(self) -> str:
        return self.meta["session_id"]

    @property
    def board(self) -> str:
        plat = self.meta.get("platform") or {}
        return plat.get("model") or self.meta.get("emulated_board") or plat.get("kind")

    @property
    def model(self) -> str:
        return self.meta["workload"]["model"]

    def metric(self, name: str) -> np.ndarray:
        return self.tel.get(name, np.full(self.tel_t.shape, np.nan))


def read_truth(folder: Path) -> SessionTruth:
    from edgemon.recording.reader import open_recording

    rec = open_recording(folder)
    lat, tel, ev = rec.latency(), rec.telemetry(), rec.events()
    measured = ~np.asarray(lat.column("warmup").to_numpy(zero_copy_only=False), dtype=bool)

    def col(table, name, dtype):
        return np.asarray(table.column(name).to_numpy(zero_copy_only=False), dtype=dtype)

    metrics = {name: np.asarray(tel.column(name).to_numpy(zero_copy_only=False), dtype=np.float64)
               for name in tel.column_names if name != "t_ns"}
    return SessionTruth(
        folder=folder, meta=json.loads((folder / "session.json").read_text()),
        t_end=col(lat, "t_end_ns", np.int64)[measured], dur=col(lat, "duration_ns", np.int64)[measured],
        items=col(lat, "items", np.int64)[measured], tel_t=col(tel, "t_ns", np.int64), tel=metrics,
        event_kinds=[str(k) for k in ev.column("kind").to_pylist()],
    )


def group(truths: list[SessionTruth], *keys: str) -> dict[tuple, list[SessionTruth]]:
    out: dict[tuple, list[SessionTruth]] = {}
    for t in truths:
        out.setdefault(tuple(getattr(t, k) for k in keys), []).append(t)
    return out


def latency_by_board_model(truths: list[SessionTruth]) -> dict[tuple, dict]:
    """numpy's answer to "p50/p90/p99, iterations and throughput per board and model"."""
    out = {}
    for key, ts in group(truths, "board", "model").items():
        d = np.concatenate([t.dur for t in ts]).astype(np.float64)
        seconds = sum((int(t.t_end.max()) - int((t.t_end - t.dur).min())) / 1e9 for t in ts)
        items = sum(int(t.items.sum()) for t in ts)
        out[key] = {"sessions": len(ts), "iterations": d.size, "items": items,
                    "p50_ms": np.percentile(d, 50) / 1e6, "p90_ms": np.percentile(d, 90) / 1e6,
                    "p99_ms": np.percentile(d, 99) / 1e6, "throughput_ips": items / seconds}
    return out


def nanmean_or_none(a: np.ndarray) -> float | None:
    a = a[np.isfinite(a)]
    return float(a.mean()) if a.size else None


def nanmax_or_none(a: np.ndarray) -> float | None:
    a = a[np.isfinite(a)]
    return float(a.max()) if a.size else None
