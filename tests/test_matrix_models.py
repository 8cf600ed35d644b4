"""Model files for the matrix's runners: the shared definitions, the cache, scripts/make_models.py."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys

import pytest

from edgemon.errors import UserError
from edgemon.workload import model_cache, registry
from runner_models_helpers import CacheDir, has_module
from workload_helpers import REPO

SCRIPT = REPO / "scripts" / "make_models.py"
registry.runners_package()
model_defs = importlib.import_module(registry.PACKAGE + "._model_defs")


def test_definitions_match_the_reference_parameter_counts():
    # Blanz 2019 table 3 and MobileNet v1 (architecture facts, not measurements)
    assert model_defs.params("mnist_1d") == 407_050
    assert model_defs.params("mnist_2d") == 93_322
    assert model_defs.params("dogs_cats") == 3_453_121
    assert model_defs.params("imdb_dense") == 160_305
    assert model_defs.params("reuters_dense") == 647_214
    assert model_defs.gflops("mobilenet_v1") == pytest.approx(2 * 0.569, rel=0.01)  # ~569 M multiply-adds
    assert model_defs.output_shape("mobilenet_v1") == [1000]


def test_every_runner_agrees_with_the_definitions():
    for runner in ("tflite", "openvino", "tensorrt"):
        models = registry.models_for(runner)
        for name in model_defs.DEFINITIONS:
            assert models[name]["params"] == model_defs.params(name)
            assert models[name]["gflops"] == model_defs.gflops(name)


def test_cache_dir_follows_the_environment(tmp_path):
    with CacheDir(tmp_path / "c"):
        assert model_cache.cache_dir() == tmp_path / "c"
    old = os.environ.pop("EDGEMON_CACHE", None)
    try:
        assert model_cache.cache_dir().parts[-2:] == ("edgemon", "models")
    finally:
        if old is not None:
            os.environ["EDGEMON_CACHE"] = old


def test_make_rejects_unknown_names():
    with pytest.raises(UserError, match="unknown built-in model resnet"):
        model_cache.make(["onnx"], ["resnet"])
    with pytest.raises(UserError, match="unknown model format pt"):
        model_cache.make(["pt"])


@pytest.mark.skipif(not (has_module("openvino") and has_module("onnx") and has_module("ai_edge_litert")),
                    reason="needs openvino, onnx and ai-edge-litert")
def test_make_models_script_writes_every_format(tmp_path):
    out = subprocess.run([sys.executable, str(SCRIPT), "--models", "mnist_2d", "--quant", "float32,int8",
                          "--out", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert files == ["onnx/mnist_2d-s0-v1.onnx", "openvino/mnist_2d-s0-v1.bin", "openvino/mnist_2d-s0-v1.xml",
                     "tflite/mnist_2d-float32-s0-v1.tflite", "tflite/mnist_2d-int8-s0-v1.tflite"]
    assert out.stdout.count("ok ") == 4 and "4 file(s) ready, 0 failed" in out.stderr
    listed = subprocess.run([sys.executable, str(SCRIPT), "--list", "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=60)
    assert len(listed.stdout.split()) == 5


def test_make_models_script_reports_a_bad_name():
    out = subprocess.run([sys.executable, str(SCRIPT), "--models", "nope"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 2 and "unknown built-in model nope" in out.stderr


def test_a_torn_write_leaves_no_file(tmp_path):
    cache = importlib.import_module(registry.PACKAGE + "._cache")

    def write(path):
        with open(path, "wb") as f:
            f.write(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        cache.cached("tflite", "x.tflite", write, root=str(tmp_path))
    assert list((tmp_path / "tflite").iterdir()) == []
