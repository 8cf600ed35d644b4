"""`edgemon matrix`: model x runner cells run in real workers, failures recorded with their reasons."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import pytest

from edgemon.cli import build_parser
from edgemon.commands import matrix as matrix_command
from edgemon.errors import UserError
from edgemon.workload.spec import WorkloadSpec
from edgemon.workload import matrix
from runner_models_helpers import CacheDir, has_module
from workload_helpers import REPO

HAVE_TFLITE = has_module("ai_edge_litert") or has_module("tensorflow")


@pytest.fixture(scope="module", autouse=True)
def cache(tmp_path_factory):
    with CacheDir(tmp_path_factory.mktemp("matrix-cache")) as folder:
        yield folder


def _parser():
    return build_parser()


def test_runner_modules_list_models_without_importing_frameworks():
    code = ("import sys\nfrom edgemon.workload import registry\n"
            "for r in ('stress', 'tflite', 'openvino', 'tensorrt'):\n    assert registry.models_for(r)\n"
            "heavy = [m for m in ('numpy', 'openvino', 'tensorflow', 'ai_edge_litert', 'tensorrt', 'torch', 'onnx')"
            " if m in sys.modules]\nprint(heavy)")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_matrix_module_imports_nothing_heavy():
    code = "import sys\nimport edgemon.workload.matrix\nprint(sorted(m for m in ('numpy', 'pyarrow') if m in sys.modules))"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr


def test_cells_record_ok_error_invalid_and_not_applicable(tmp_path):
    missing = str(tmp_path / "missing.tflite")
    result = matrix.run_matrix(["numpy", "tensorrt", "stress"], ["mnist_1d", missing], iterations=3,
                               options={"stress": {"workers": "1"}})
    cells = {(c.runner, c.model): c for c in result.cells}
    ok = cells[("numpy", "mnist_1d")]
    assert ok.status == matrix.OK and ok.iterations >= 3 and ok.median_ms > 0 and ok.framework == "numpy"
    assert ok.p90_ms >= ok.median_ms
    trt = cells[("tensorrt", "mnist_1d")]
    if not has_module("tensorrt"):
        assert trt.status == matrix.ERROR and "TensorRT is not installed (it ships with JetPack)" in trt.reason
    assert cells[("stress", "mnist_1d")].status == matrix.NA
    assert cells[("numpy", missing)].status == matrix.NA  # numpy takes built-in models only
    bad = cells[("tensorrt", missing)]
    assert bad.status == matrix.NA and ".onnx" in bad.reason  # TensorRT does not load .tflite files
    assert len(result.cells) == 6


def test_a_missing_model_file_is_invalid_before_any_worker(tmp_path):
    cell = matrix.run_cell(WorkloadSpec(runner="openvino", model=str(tmp_path / "net.xml")), iterations=2)
    assert cell.status == matrix.INVALID and "does not exist" in cell.reason and cell.wall_s is None


def test_a_hung_worker_becomes_a_timeout_cell():
    spec = WorkloadSpec(runner="numpy", model="mnist_1d", options={"hang_after": "1"})
    cell = matrix.run_cell(spec, iterations=3, timeout_s=1.5)
    assert cell.status == matrix.TIMEOUT and "no result within 1.5 s" in cell.reason


def test_a_crash_mid_run_is_an_error_cell_with_its_reason():
    spec = WorkloadSpec(runner="numpy", model="mnist_1d", options={"crash_after": "2"})
    cell = matrix.run_cell(spec, iterations=50, timeout_s=30)
    assert cell.status == matrix.ERROR and "simulated failure in iteration 3" in cell.reason


@pytest.mark.skipif(not HAVE_TFLITE, reason="no TFLite (pip install ai-edge-litert)")
def test_command_writes_json_and_csv_and_prints_a_table(tmp_path, capsys):
    prefix = tmp_path / "out" / "m"
    args = _parser().parse_args(["matrix", "--runners", "tflite,numpy", "--models", "mnist_1d,mnist_2d_int8",
                                 "--iterations", "3", "--out", str(prefix), "--opt", "tflite:io=1",
                                 "--opt", "numpy:dtype=float32"])
    assert args.handler(args) == 0
    out = capsys.readouterr().out
    assert "mnist_2d_int8" in out and " ms" in out and "written:" in out
    data = json.loads((tmp_path / "out" / "m.json").read_text())
    assert data["runners"] == ["tflite", "numpy"] and data["iterations"] == 3
    status = {(c["runner"], c["model"]): c["status"] for c in data["cells"]}
    assert status == {("tflite", "mnist_1d"): "ok", ("numpy", "mnist_1d"): "ok",
                      ("tflite", "mnist_2d_int8"): "ok", ("numpy", "mnist_2d_int8"): "n/a"}
    rows = list(csv.DictReader(io.StringIO((tmp_path / "out" / "m.csv").read_text())))
    assert [r["status"] for r in rows] == [c["status"] for c in data["cells"]]
    assert tuple(rows[0]) == matrix.CSV_FIELDS


def test_json_output_on_stdout(tmp_path, capsys):
    args = _parser().parse_args(["matrix", "--runners", "numpy", "--models", "imdb_dense", "--iterations", "2",
                                 "--json", "--out", str(tmp_path / "x")])
    assert args.handler(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert [c["status"] for c in data["cells"]] == ["ok"]


def test_table_numbers_each_failure_reason():
    cells = [matrix.Cell("a", "m1", matrix.OK, median_ms=1.5), matrix.Cell("b", "m1", matrix.ERROR, reason="boom"),
             matrix.Cell("a", "m2", matrix.NA, reason="not built in"),
             matrix.Cell("b", "m2", matrix.TIMEOUT, reason="slow")]
    text = matrix.format_table(matrix.MatrixResult(cells, ["a", "b"], ["m1", "m2"], 5, 1))
    assert "1.500 ms" in text and "error [1]" in text and "timeout [2]" in text
    assert "[1] b / m1: boom" in text and "[2] b / m2: slow" in text
    assert "1 of 3 combinations ran" in text


@pytest.mark.parametrize("argv, needle", [
    (["--runners", "nosuch"], "unknown runner nosuch"),
    (["--iterations", "0"], "--iterations must be at least 1"),
    (["--timeout", "soon"], "malformed --timeout"),
    (["--opt", "novalue"], "KEY=VALUE"),
])
def test_bad_arguments_are_user_errors(argv, needle):
    args = _parser().parse_args(["matrix", *argv])
    with pytest.raises(UserError, match=needle):
        args.handler(args)


def test_option_scoping():
    assert matrix_command._options(["openvino:device=GPU", "threads=2", "tflite:edgetpu=1"]) == {
        "openvino": {"device": "GPU"}, "*": {"threads": "2"}, "tflite": {"edgetpu": "1"}}


def test_runner_probes_say_why_without_importing():
    from edgemon.workload import registry

    for name in ("stress", "tflite", "openvino", "tensorrt"):
        why = registry.runner_module(name).probe()
        assert why is None or isinstance(why, str) and why
    if not has_module("tensorrt"):
        assert "TensorRT is not installed" in registry.runner_module("tensorrt").probe()
    if has_module("openvino"):
        assert registry.runner_module("openvino").probe() is None


def test_a_cell_warms_up_measures_long_enough_and_shows_its_threads():
    """Issue 11: 5 iterations after 1 warm-up gave torch mnist_2d 162 ms (0.4 ms with --threads 1)."""
    result = matrix.run_matrix(["numpy"], ["mnist_1d"], threads=1)
    (cell,) = result.cells
    assert cell.status == matrix.OK, cell.reason
    assert cell.iterations >= 50 and cell.measured_s >= 1.0          # enough iterations, enough time
    assert cell.warmup_s >= 1.0                                       # the default warm-up: 10 and 1 s
    assert cell.threads == "1"
    assert "(1 thr)" in matrix.format_table(result)
    assert "after a warm-up of 10,1s" in matrix.format_table(result)
