"""The tensorrt runner: error results where TensorRT is absent, bad input caught before a worker starts.

The real path (an engine built from ONNX, run with CUDA buffers) needs TensorRT and
an NVIDIA GPU; it is skipped elsewhere.
"""

from __future__ import annotations

import pytest

from edgemon.errors import UserError
from edgemon.workload.spec import WorkloadSpec
from edgemon.workload import registry
from runner_models_helpers import CacheDir, error_reason, has_module, run
from workload_helpers import PY36, py36_with_numpy

SCRIPT = "tensorrt_runner.py"
trt_runner = registry.runner_module("tensorrt")
HAVE_TENSORRT = has_module("tensorrt")


@pytest.fixture(scope="module", autouse=True)
def cache(tmp_path_factory):
    with CacheDir(tmp_path_factory.mktemp("tensorrt-cache")) as folder:
        yield folder


@pytest.mark.skipif(HAVE_TENSORRT, reason="TensorRT is installed here")
@pytest.mark.parametrize("model", ["mnist_1d", "engine"])
def test_missing_tensorrt_is_an_error_result(model, tmp_path):
    if model == "engine":
        model = tmp_path / "net.engine"
        model.write_bytes(b"ftrt" + bytes(64))
    rc, _, err, s = run(SCRIPT, "--model", str(model), "--iterations", "2")
    assert rc == 3, err
    assert error_reason(s).startswith("TensorRT is not installed (it ships with JetPack)")  # verbatim: a RunnerError
    assert s["hello"] is None and s["bye"] == {"reason": "error", "iterations": 0}


def test_missing_tensorrt_under_python36():
    why = py36_with_numpy()   # the runner imports numpy before it looks for its framework
    if why:
        pytest.skip(why)
    rc, _, err, s = run(SCRIPT, "--model", "mobilenet_v1", "--opt", "fp16=1", "--iterations", "2", python=PY36)
    if rc == 0:
        pytest.skip(f"{PY36} has TensorRT")
    assert rc == 3, err
    assert "TensorRT is not installed (it ships with JetPack)" in error_reason(s)


def test_no_cuda_binding_says_what_to_install():
    if has_module("pycuda"):
        pytest.skip("pycuda is installed here")
    with pytest.raises(RuntimeError, match=r"no CUDA binding for device buffers \(pip install cuda-python"):
        trt_runner.cuda_binding("pycuda")


@pytest.mark.skipif(not has_module("onnx"), reason="the onnx package is not installed (pip install onnx)")
def test_builtin_models_are_valid_onnx_with_a_dynamic_batch(cache):
    import onnx

    path = trt_runner.onnx_file("mobilenet_v1_025")
    assert path.startswith(str(cache))
    model = onnx.load(path)
    onnx.checker.check_model(model)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and [d.dim_value for d in dims[1:]] == [3, 128, 128]
    assert model.ir_version == 8 and model.opset_import[0].version == 13


@pytest.mark.parametrize("name, content, options, needle", [
    ("missing.engine", None, {}, "does not exist"),
    ("net.onnx", b"not protobuf", {}, "not an ONNX model"),
    ("net.engine", b"", {}, "is empty"),
    ("net.tflite", b"xxxxTFL3", {}, "expected a .engine, .onnx, .plan, .trt file"),
    ("net.engine", b"ftrt", {"fp16": "1"}, "is already built"),
])
def test_bad_model_files_are_user_errors(tmp_path, name, content, options, needle):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(UserError, match=needle):
        registry.validate(WorkloadSpec(runner="tensorrt", model=str(path), options=options))


@pytest.mark.parametrize("options, needle", [
    ({"fp16": "yes please"}, "use 1 or 0"),
    ({"workspace_mb": "0"}, "whole number of MB >= 1"),
    ({"cuda": "opencl"}, "use cudart, pycuda or torch"),
    ({"dla": "1"}, "dla"),
])
def test_bad_options_are_user_errors(options, needle):
    with pytest.raises(UserError, match=needle):
        registry.validate(WorkloadSpec(runner="tensorrt", model="mnist_1d", options=options))


@pytest.mark.skipif(not HAVE_TENSORRT, reason="TensorRT is not installed (it ships with JetPack)")
def test_builtin_model_builds_an_engine_and_runs(cache):
    rc, _, err, s = run(SCRIPT, "--model", "mnist_2d", "--opt", "fp16=1", "--batch", "2", "--iterations", "3",
                        timeout=600)
    if rc == 3 and "no CUDA binding" in error_reason(s):
        pytest.skip(error_reason(s))
    assert rc == 0, err
    assert s["hello"]["engine_built"] and s["hello"]["precision"] == "fp16"
    assert s["hello"]["inputs"][0]["shape"] == [2, 1, 28, 28]
    assert list((cache / "tensorrt").glob("mnist_2d-s0-b2-fp16-trt*.engine"))
