"""examples/: a plain numpy loop and a PyTorch loop timed with edgemon_probe, run under `edgemon run --`."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pyarrow.dataset as ds
import pytest

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def _run_example(tmp_path, run_edgemon, script: str, *args: str) -> Path:
    rec = tmp_path / "rec"
    p = run_edgemon("run", "--headless", "--duration", "60s", "--record", str(rec), "--",
                    sys.executable, str(REPO / "examples" / script), "--seconds", "2", *args,
                    env={"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}, timeout=180)
    assert p.returncode == 0, p.stdout + p.stderr
    return rec


def _check(rec: Path, warmup: int, items: int) -> None:
    lat = ds.dataset(str(rec / "latency"), format="parquet").to_table()
    warm = lat.column("warmup").to_pylist()
    assert warm[:warmup] == [True] * warmup and warm.count(True) == warmup
    assert lat.num_rows > warmup                          # measured rows after the warm-up
    assert set(lat.column("items").to_pylist()) == {items}
    meta = json.loads((rec / "session.json").read_text())
    assert meta["runner_hello"]["framework"] == "edgemon_probe"
    assert meta["end"]["worker"]["bye_reason"] == "done" and meta["end"]["worker"]["returncode"] == 0


def test_the_numpy_example(tmp_path, run_edgemon):
    rec = _run_example(tmp_path, run_edgemon, "numpy_loop.py", "--batch", "4", "--warmup", "20")
    _check(rec, warmup=20, items=4)
    assert "numpy_loop:" in (rec / "worker.stdout.log").read_text()


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed (edgemon[torch])")
def test_the_torch_example(tmp_path, run_edgemon):
    rec = _run_example(tmp_path, run_edgemon, "torch_loop.py", "--batch", "2", "--warmup", "5", "--threads", "1")
    _check(rec, warmup=5, items=2)
    events = ds.dataset(str(rec / "events"), format="parquet").to_table()
    details = [json.loads(d) for k, d in zip(events.column("kind").to_pylist(), events.column("details").to_pylist())
               if k == "model"]
    assert details and details[0]["device"] == "cpu"
