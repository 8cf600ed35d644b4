"""The tflite runner: built-in float/int8/uint8 models made without TensorFlow, files, Edge TPU errors."""

from __future__ import annotations

import ctypes
import os
import shutil

import numpy as np
import pytest

from edgemon.errors import UserError
from edgemon.workload.spec import WorkloadSpec
from edgemon.workload import registry
from edgemon.workload.worker import Worker
from runner_models_helpers import CacheDir, error_reason, has_module, run
from workload_helpers import PY36, Collector, py36_with_numpy

SCRIPT = "tflite_runner.py"
tflite = registry.runner_module("tflite")

HAVE_TFLITE = any(has_module(m) for m in ("tflite_runtime", "ai_edge_litert", "tensorflow"))
HAVE_SCHEMA = has_module("ai_edge_litert") or has_module("tensorflow")
needs_tflite = pytest.mark.skipif(not (HAVE_TFLITE and HAVE_SCHEMA),
                                  reason="no TFLite interpreter and schema (pip install ai-edge-litert)")


def _edgetpu_present() -> bool:
    try:
        ctypes.CDLL("libedgetpu.so.1")
        return True
    except OSError:
        return False


@pytest.fixture(scope="module", autouse=True)
def cache(tmp_path_factory):
    with CacheDir(tmp_path_factory.mktemp("tflite-cache")) as folder:
        yield folder


def test_catalogue_has_float_and_quantised_variants():
    models = tflite.MODELS
    for base in ("mnist_1d", "mnist_2d", "mobilenet_v1", "mobilenet_v1_025", "dogs_cats"):
        assert {base, base + "_int8", base + "_uint8"} <= set(models)
        assert models[base + "_int8"]["params"] == models[base]["params"]
    assert models["mnist_2d"]["params"] == 93_322 and models["dogs_cats"]["params"] == 3_453_121
    assert models["mnist_2d"]["input_shape"] == [28, 28, 1]  # TFLite is channels-last


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16"])
def test_random_quantised_inputs_cover_the_representable_range(dtype):
    rng = np.random.RandomState(0)
    info = np.iinfo(dtype)
    x = tflite.random_input(np, rng, (4000,), dtype, (0.02, 3))
    assert x.dtype == np.dtype(dtype)
    assert x.min() < info.min + (info.max - info.min) * 0.1 and x.max() > info.max - (info.max - info.min) * 0.1


def test_random_float_and_id_inputs():
    rng = np.random.RandomState(0)
    f = tflite.random_input(np, rng, (3, 5), "float32", (0.0, 0))
    assert f.dtype == np.float32 and (f >= 0).all() and (f < 1).all()
    ids = tflite.random_input(np, rng, (1000,), "int32", (0.0, 0))
    assert ids.dtype == np.int32 and ids.min() >= 0 and ids.max() <= 100


@needs_tflite
@pytest.mark.parametrize("model, dtype, quantised", [
    ("mnist_2d", "float32", False),
    ("mnist_2d_int8", "int8", True),
    ("mnist_1d_uint8", "uint8", True),
])
def test_builtin_models_run_with_their_input_dtype(model, dtype, quantised):
    rc, frames, err, s = run(SCRIPT, "--model", model, "--batch", "2", "--threads", "1",
                             "--warmup-iters", "1", "--iterations", "4")
    assert rc == 0, err
    hello = s["hello"]
    (inp,) = hello["inputs"]
    assert inp["dtype"] == dtype and inp["shape"][0] == 2
    assert ("quantization" in inp) == quantised
    assert hello["outputs"][0]["dtype"] == dtype
    assert hello["interpreter"] in ("tflite_runtime", "ai_edge_litert", "tensorflow.lite")
    assert hello["params"] == tflite.MODELS[model]["params"] and hello["device"] == "cpu"
    assert s["warm"] == [True] + [False] * 4 and s["bye"]["reason"] == "done"


@needs_tflite
def test_real_worker_runs_a_quantised_convnet(cache):
    spec = WorkloadSpec(runner="tflite", model="mobilenet_v1_025_int8", threads=1, warmup_iters=1)
    registry.validate(spec)
    c = Collector()
    w = Worker(spec, **c.callbacks()).start()
    try:
        assert c.wait_for(lambda: c.rows() >= 4 or c.exits), w.stderr_tail
    finally:
        w.stop()
    assert w.wait(30)
    assert c.exit.kind == "worker_exit", c.exit.details
    assert c.hello["inputs"][0]["shape"] == [1, 128, 128, 3]
    assert any(p.name.startswith("mobilenet_v1_025-int8") for p in (cache / "tflite").iterdir())


@needs_tflite
def test_model_file_is_made_once_and_reused(cache):
    path = tflite.model_file("imdb_dense", "int8")
    assert path.startswith(str(cache)) and open(path, "rb").read(8)[4:8] == b"TFL3"
    before = os.stat(path).st_mtime_ns
    rc, _, err, s = run(SCRIPT, "--model", "imdb_dense_int8", "--iterations", "2")
    assert rc == 0, err
    assert s["hello"]["model_path"] == path and os.stat(path).st_mtime_ns == before


@needs_tflite
def test_a_tflite_file_and_invoke_only_timing(tmp_path):
    model = tmp_path / "my model.tflite"
    shutil.copy(tflite.model_file("mnist_1d", "float32"), model)
    registry.validate(WorkloadSpec(runner="tflite", model=str(model)))
    rc, _, err, s = run(SCRIPT, "--model", str(model), "--opt", "io=0", "--batch", "3", "--iterations", "3")
    assert rc == 0, err
    assert s["hello"]["timed"] == "invoke" and s["hello"]["params"] is None
    assert s["hello"]["inputs"][0]["shape"] == [3, 784]


@pytest.mark.skipif(_edgetpu_present(), reason="an Edge TPU runtime is installed here")
@pytest.mark.parametrize("how", ["option", "file name"])
def test_missing_edge_tpu_is_an_error_result(how, tmp_path):
    if how == "option":
        argv = ["--model", "mnist_1d_uint8", "--opt", "edgetpu=1"]
    else:
        if not HAVE_SCHEMA:
            pytest.skip("cannot write a .tflite file here (pip install ai-edge-litert)")
        model = tmp_path / "mnist_edgetpu.tflite"
        shutil.copy(tflite.model_file("mnist_1d", "uint8"), model)
        argv = ["--model", str(model)]
    if not HAVE_TFLITE:
        pytest.skip("no TFLite interpreter (pip install ai-edge-litert)")
    rc, _, err, s = run(SCRIPT, *argv, "--iterations", "2")
    assert rc == 3, err
    assert tflite.NO_EDGETPU in error_reason(s)
    assert "install libedgetpu1-std from Coral's apt repository and plug in the device" in tflite.NO_EDGETPU
    assert s["hello"] is None and s["bye"]["reason"] == "error"


def test_edge_tpu_takes_batch_one_only():
    with pytest.raises(UserError, match="fixed input shape; use --batch 1"):
        registry.validate(WorkloadSpec(runner="tflite", model="mnist_2d_uint8", batch=4, options={"edgetpu": "1"}))


@pytest.mark.parametrize("name, content, needle", [
    ("missing.tflite", None, "does not exist"),
    ("garbage.tflite", b"definitely not a flatbuffer", "no TFL3 flatbuffer identifier"),
    ("empty.tflite", b"", "is empty"),
    ("model.onnx", b"\x08\x08", "expected a .tflite file"),
])
def test_bad_model_files_are_user_errors(tmp_path, name, content, needle):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(UserError, match=needle):
        registry.validate(WorkloadSpec(runner="tflite", model=str(path)))


@needs_tflite
def test_a_file_that_passes_the_quick_check_but_does_not_load_is_an_error_result(tmp_path):
    path = tmp_path / "torn.tflite"
    path.write_bytes(open(tflite.model_file("mnist_1d", "float32"), "rb").read()[:4096])
    rc, _, err, s = run(SCRIPT, "--model", str(path), "--iterations", "2")
    assert rc == 3 and s["bye"]["reason"] == "error", err
    assert error_reason(s)


def test_bad_option_values_are_user_errors():
    with pytest.raises(UserError, match="use 1 or 0"):
        registry.validate(WorkloadSpec(runner="tflite", model="mnist_1d", options={"io": "maybe"}))
    with pytest.raises(UserError, match="no option turbo"):
        registry.validate(WorkloadSpec(runner="tflite", model="mnist_1d", options={"turbo": "1"}))


def test_no_interpreter_is_an_error_result_on_python36():
    why = py36_with_numpy()   # the runner imports numpy before it looks for its framework
    if why:
        pytest.skip(why)
    rc, _, err, s = run(SCRIPT, "--model", "mnist_1d", "--iterations", "2", python=PY36)
    if rc == 0:
        pytest.skip(f"{PY36} has a TFLite interpreter")
    assert rc == 3, err
    assert "no TFLite interpreter: install ai-edge-litert" in error_reason(s)
