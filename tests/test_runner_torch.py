"""The torch runner: its catalogue, every built-in model, user model files, and failures as results.

Models are built in this process (one PyTorch import) for the per-model checks; the frame,
Worker and failure tests run the real runner script in its own process.
"""

from __future__ import annotations

import json
import math
import subprocess

import numpy as np
import pytest

from edgemon.datatypes import EventKind
from edgemon.errors import UserError
from edgemon.workload.spec import WorkloadSpec
from edgemon.workload import Worker, registry
from runner_framework_helpers import (args, build_and_run, events, have, hello, latency_rows, proto,
                                      run_with_env, shadow_package)
from workload_helpers import PY36, RUNNERS, Collector, py36_with_numpy, run_runner

SCRIPT = RUNNERS / "torch_runner.py"
torch_runner = registry.runner_module("torch")
MODELS = torch_runner.MODELS

HAVE_TORCH = have("torch")
needs_torch = pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch is not installed (pip install torch)")

# Blanz 2019's parameter counts (study 000; sources in runners/_keras_models.py): facts of the Keras originals.
STUDY_000 = {"mnist_1d": 407_050, "imdb_dense": 160_305, "reuters_dense": 647_214, "mnist_2d": 93_322,
             "dogs_cats": 3_453_121, "imdb_embedding": 80_401, "mpi_weather_gru": 5_217,
             "mpi_weather_conv": 14_817}
GRU_MODELS = {"mpi_weather_gru", "mpi_weather_conv"}
# torchvision's published counts for the same architectures
IMAGENET = {"mobilenet_v2": 3_504_872, "resnet18": 11_689_512, "resnet50": 25_557_032}


def test_catalogue_holds_the_study_and_imagenet_models():
    assert set(MODELS) == set(STUDY_000) | set(IMAGENET)
    for name, entry in MODELS.items():
        assert {"input_shape", "params", "gflops", "description", "phases"} <= set(entry), name
        assert entry["phases"] == ["infer"] and entry["gflops"] > 0
    for name, params in STUDY_000.items():
        assert MODELS[name]["keras_params"] == params
        if name in GRU_MODELS:
            # PyTorch's GRU has a second bias vector per gate (b_hh): 3 gates x 32 units more
            assert MODELS[name]["params"] == params + 3 * 32
        else:
            assert MODELS[name]["params"] == params
    for name, params in IMAGENET.items():
        assert MODELS[name]["params"] == params


def test_catalogue_reads_without_torch_and_under_python36():
    assert registry.models_for("torch") == MODELS
    why = py36_with_numpy()
    if why:
        pytest.skip(why)
    p = subprocess.run([str(PY36), str(SCRIPT), "--list-models"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == MODELS


def test_missing_torch_is_an_error_result(tmp_path):
    env = shadow_package(tmp_path, "torch")
    rc, frames, err = run_with_env(SCRIPT, "--model", "resnet18", env_extra=env)
    assert rc == 3, err
    error = events(frames, "error")[0]
    assert "PyTorch is not installed: pip install torch" in error["message"]
    assert error["stage"] == "build" and frames[-1] == (proto.BYE, {"reason": "error", "iterations": 0})


# ---------------------------------------------------------------- every built-in model, in process

# resnet50 (25 M parameters, 8 GFLOPs per item) only at batch 1: this file must stay quick on 2 cores
@needs_torch
@pytest.mark.parametrize("name,batch", [(n, b) for n in sorted(MODELS) for b in (1, 4)
                                        if (n, b) != ("resnet50", 4)])
def test_builtin_model_builds_and_runs(name, batch):
    entry = MODELS[name]
    model, out = build_and_run(torch_runner, args(name, batch=batch))
    dtype = "int64" if name == "imdb_embedding" else "float32"
    assert model.inputs == [{"name": "input", "shape": [batch] + entry["input_shape"], "dtype": dtype}]
    assert model.params == entry["params"] and model.gflops == entry["gflops"]
    assert model.device == "cpu" and model.info["precision"] == "fp32"
    assert out.shape[0] == batch and bool(out.isfinite().all())


@needs_torch
@pytest.mark.parametrize("name", sorted(MODELS))
def test_catalogue_gflops_are_the_counted_ones(name):
    import torch

    from edgemon._runners import _torch_models

    module = _torch_models.build_model(name).eval()
    x = torch.from_numpy(_torch_models.make_input(name, 2, np.random.RandomState(0)))
    assert math.isclose(_torch_models.count_gflops(module, x), MODELS[name]["gflops"], rel_tol=1e-6)


@needs_torch
def test_inputs_have_the_study_003_kinds():
    from edgemon._runners import _torch_models

    rng = np.random.RandomState(0)
    tokens = _torch_models.make_input("imdb_embedding", 4, rng)
    assert tokens.dtype == np.int64 and tokens.min() >= 0 and tokens.max() < 10000
    hot = _torch_models.make_input("reuters_dense", 4, rng)
    assert set(np.unique(hot)) <= {0.0, 1.0} and 0 < hot.mean() < 0.05
    img = _torch_models.make_input("dogs_cats", 1, rng)
    assert img.dtype == np.float32 and img.min() >= 0 and img.max() < 1


@needs_torch
def test_fp16_on_cpu_runs_where_pytorch_has_half_kernels():
    model, out = build_and_run(torch_runner, args("mnist_2d", batch=2, precision="fp16"))
    assert model.inputs[0]["dtype"] == "float16" and str(out.dtype) == "torch.float16"
    assert model.info["precision"] == "fp16"


@needs_torch
def test_fp16_on_cpu_without_a_half_kernel_says_so(tmp_path):
    import torch

    class Inverse(torch.nn.Module):
        def forward(self, x):
            return torch.linalg.inv(x)  # no Half kernel on CPU: "Low precision dtypes not supported"

    path = tmp_path / "inverse.pt"
    torch.jit.trace(Inverse(), torch.eye(4).expand(1, 4, 4).contiguous()).save(str(path))
    with pytest.raises(RuntimeError, match="fp16 is not supported on CPU by PyTorch .*precision=fp32"):
        build_and_run(torch_runner, args(path, input_shape="1x4x4", precision="fp16"))


@needs_torch
def test_torchscript_and_exported_program_files(tmp_path):
    import torch

    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.Flatten()).eval()
    x = torch.rand(1, 3, 16, 16)
    script = tmp_path / "net.pt"
    torch.jit.trace(net, x).save(str(script))
    exported = tmp_path / "net.pt2"
    torch.export.save(torch.export.export(net, (x,)), str(exported))

    model, out = build_and_run(torch_runner, args(script, batch=3, input_shape="1x3x16x16"))
    assert model.inputs == [{"name": "input", "shape": [3, 3, 16, 16], "dtype": "float32"}]
    assert model.params == 4 * 3 * 9 + 4 and model.info["model_source"] == "torchscript"
    assert tuple(out.shape) == (3, 4 * 14 * 14)

    model, out = build_and_run(torch_runner, args(exported))  # the shape comes from the program
    assert model.inputs == [{"name": "input", "shape": [1, 3, 16, 16], "dtype": "float32"}]
    assert model.info["model_source"] == "exported_program" and model.gflops is None

    with pytest.raises(ValueError, match="input_shape"):
        build_and_run(torch_runner, args(script))  # TorchScript has no input shapes to read

    for path in (script, exported):  # the monitor's check before a worker starts lets real files through
        registry.validate(WorkloadSpec(runner="torch", model=str(path)))


@pytest.mark.parametrize("name, data, options, needle", [
    ("junk.pt", b"not a model", {}, "not a TorchScript file or an exported program"),
    ("empty.pt2", b"", {}, "is empty"),
    (None, None, {}, "does not exist"),
    ("", None, {"device": "tpu"}, "device=tpu: use cpu, cuda or cuda:N"),
    ("", None, {"device": "cuda:one"}, "expected cuda:N with N a number"),
    ("", None, {"dtype": "float8"}, "dtype=float8: use one of"),
    ("", None, {"input_shape": "1xAx3"}, "expected dimensions like"),
    ("", None, {"precision": "int4"}, "precision=int4"),
])
def test_bad_model_files_and_options_fail_before_a_worker_starts(tmp_path, name, data, options, needle):
    """Without importing PyTorch: ``edgemon run`` says this in one line and starts nothing."""
    if name is None:
        model = str(tmp_path / "absent.pt")
    elif name == "":
        model = "mnist_1d"
    else:
        (tmp_path / name).write_bytes(data)
        model = str(tmp_path / name)
    with pytest.raises(UserError, match=needle):
        registry.validate(WorkloadSpec(runner="torch", model=model, options=options))


def test_bad_options_fail_at_build_before_importing_torch():
    with pytest.raises(ValueError, match="unknown option.*bogus"):
        torch_runner.build(args("mnist_1d", bogus=1))
    with pytest.raises(ValueError, match="precision=int3"):
        torch_runner.build(args("mnist_1d", precision="int3"))
    with pytest.raises(ValueError, match="transfer=yes"):
        torch_runner.build(args("mnist_1d", transfer="yes"))


@needs_torch
def test_bad_model_file_and_device_fail_at_build(tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="cannot load .*junk.pt as a TorchScript file or an exported program"):
        build_and_run(torch_runner, args(junk, input_shape="1x3"))
    with pytest.raises(ValueError, match="device=tpu"):
        build_and_run(torch_runner, args("mnist_1d", device="tpu"))


# ---------------------------------------------------------------- the runner as a process

@needs_torch
def test_frames_hello_and_first_inference():
    import torch

    rc, frames, err = run_runner(SCRIPT, "--model", "mnist_2d", "--batch", "4", "--threads", "1",
                                 "--warmup-iters", "1", "--iterations", "3")
    assert rc == 0, err
    h = hello(frames)
    assert (h["runner"], h["framework"], h["framework_version"]) == ("torch", "torch", torch.__version__)
    assert h["params"] == MODELS["mnist_2d"]["params"] and h["gflops"] == MODELS["mnist_2d"]["gflops"]
    assert h["inputs"] == [{"name": "input", "shape": [4, 1, 28, 28], "dtype": "float32"}]
    assert h["device"] == "cpu" and h["torch_threads"] == 1 and h["model_source"] == "builtin"
    rows = latency_rows(frames)
    assert [(items, warm) for _, _, items, warm in rows] == [(4, True)] + [(4, False)] * 3
    done = events(frames, "warmup_done")
    assert len(done) == 1 and done[0]["iterations"] == 1 and done[0]["first_inference_ms"] > 0
    assert done[0]["first_inference_ms"] == pytest.approx(rows[0][1] / 1e6)
    assert frames[-1] == (proto.BYE, {"reason": "done", "iterations": 4})


@needs_torch
def test_worker_runs_the_torch_runner():
    col = Collector()
    spec = WorkloadSpec(runner="torch", model="mpi_weather_conv", batch=2, threads=1, warmup_iters=1)
    w = Worker(spec, **col.callbacks(), duration_s=1.0).start()
    try:
        assert w.wait(60), "the runner did not end"
    finally:
        w.stop(timeout=1.0, kill_after=1.0)
    assert col.exit.kind == EventKind.WORKER_EXIT and col.exit.details["bye_reason"] == "duration"
    assert col.hello["params"] == MODELS["mpi_weather_conv"]["params"]
    assert col.rows() >= 2 and all((b.items == 2).all() for b in col.batches)
    assert col.first(EventKind.WARMUP_DONE).details["first_inference_ms"] > 0


def test_missing_model_file_is_an_error_result(tmp_path):
    rc, frames, err = run_runner(SCRIPT, "--model", str(tmp_path / "absent.pt"))
    assert rc == 3, err
    error = events(frames, "error")[0]
    assert "absent.pt" in error["reason"] and "neither a built-in model" in error["reason"]
    assert error["stage"] == "build" and not [t for t, _ in frames if t == proto.HELLO]
    assert frames[-1] == (proto.BYE, {"reason": "error", "iterations": 0})


@needs_torch
def test_cuda_requested_without_a_device_is_an_error_result():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present: test_cuda_run covers it")
    rc, frames, err = run_runner(SCRIPT, "--model", "resnet18", "--opt", "device=cuda")
    assert rc == 3, err
    error = events(frames, "error")[0]
    assert "device=cuda: no CUDA device available" in error["reason"] and "device=cpu" in error["reason"]
    assert frames[-1][1]["reason"] == "error"


@needs_torch
def test_cuda_run():
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    rc, frames, err = run_runner(SCRIPT, "--model", "resnet18", "--opt", "device=cuda", "--opt", "precision=fp16",
                                 "--iterations", "3")
    assert rc == 0, err
    h = hello(frames)
    assert h["device"].startswith("cuda:0") and h["transfer"] is True
    rows = latency_rows(frames)
    # --iterations counts measured rows; the warm-up rows CUDA gets by default come before, flagged
    assert len([r for r in rows if not r[3]]) == 3
    assert all(r[3] for r in rows[:len(rows) - 3])


def test_runner_files_run_under_python36(tmp_path):
    """Python 3.6 (JetPack 4) parses the runner; with no torch there, the result says what to install."""
    why = py36_with_numpy()
    if why:
        pytest.skip(why)
    env = shadow_package(tmp_path, "torch")  # whether or not that interpreter has torch
    rc, frames, err = run_with_env(SCRIPT, "--model", "mnist_1d", env_extra=env, python=PY36)
    assert rc == 3, err
    assert "PyTorch is not installed" in events(frames, "error")[0]["message"]
