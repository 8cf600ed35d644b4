"""The numpy runner as a program: its catalogue, its models, and its frames, run as a real script."""

from __future__ import annotations

import json
import subprocess
import sys
from argparse import Namespace

import numpy as np
import pytest

from edgemon.errors import UserError
from edgemon.workload.spec import WorkloadSpec
from edgemon.workload import registry
from workload_helpers import PY36, RUNNERS, py36_with_numpy, run_runner

SCRIPT = RUNNERS / "numpy_runner.py"
proto = registry.protocol()
numpy_runner = registry.runner_module("numpy")


def _args(model, batch=3, **opts):
    return Namespace(model=model, batch=batch, threads=None, seed=1, opts={k: str(v) for k, v in opts.items()})


def run_frames(*argv, **kw):
    return run_runner(SCRIPT, *argv, **kw)


def test_catalogue_matches_the_reference_architectures():
    models = numpy_runner.MODELS
    assert {"mnist_1d", "imdb_dense", "reuters_dense", "matmul"} <= set(models)
    # parameter counts of Blanz 2019, table 3 (architecture facts, not measurements)
    assert models["mnist_1d"]["params"] == 407_050
    assert models["imdb_dense"]["params"] == 160_305
    assert models["reuters_dense"]["params"] == 647_214
    for entry in models.values():
        assert set(entry) == {"input_shape", "params", "gflops", "description"}


@pytest.mark.parametrize("name", ["mnist_1d", "imdb_dense", "reuters_dense", "matmul"])
def test_built_models_match_the_catalogue(name):
    opts = {"size": 32} if name == "matmul" else {}
    model = numpy_runner.build(_args(name, **opts))
    entry = numpy_runner.MODELS[name]
    shape = [3, 32, 32] if name == "matmul" else [3] + entry["input_shape"]
    assert model.inputs == [{"name": "input", "shape": shape, "dtype": "float32"}]
    out = model.run()
    assert np.isfinite(out).all()
    if name != "matmul":
        assert model.params == entry["params"]
    if name in ("mnist_1d", "reuters_dense"):
        np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)  # softmax rows
    if name == "imdb_dense":
        assert out.shape == (3, 1) and ((out > 0) & (out < 1)).all()  # sigmoid


def test_list_models_prints_json_catalogue():
    p = subprocess.run([sys.executable, str(SCRIPT), "--list-models"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == numpy_runner.MODELS


def test_iterations_and_warmup_give_exact_frames():
    rc, frames, err = run_frames("--model", "mnist_1d", "--batch", "4", "--warmup-iters", "3", "--iterations", "5")
    assert rc == 0, err
    kinds = [f[0] for f in frames]
    assert kinds[0] == proto.EVENT and frames[0][1]["kind"] == "phase"
    assert kinds[1] == proto.HELLO and kinds[-1] == proto.BYE
    assert frames[-1][1] == {"reason": "done", "iterations": 8}
    rows = [(w, list(items)) for ftype, f in frames if ftype == proto.LATENCY for w, items in [(f[3], f[2])]]
    warm = [w for w, items in rows for _ in items]
    assert warm == [True] * 3 + [False] * 5
    assert all(i == 4 for _, items in rows for i in items)
    done = [f for t, f in frames if t == proto.EVENT and f["kind"] == "warmup_done"]
    assert len(done) == 1 and done[0]["iterations"] == 3


def test_no_warmup_still_reports_first_inference():
    rc, frames, err = run_frames("--model", "imdb_dense", "--iterations", "2")
    assert rc == 0, err
    done = [f for t, f in frames if t == proto.EVENT and f["kind"] == "warmup_done"]
    assert done[0]["iterations"] == 0 and done[0]["first_inference_ms"] > 0
    # without --warmup only the cold first inference is warm-up (it never counts as measured)
    warm = [f[3] for t, f in frames if t == proto.LATENCY for _ in f[0]]
    assert warm == [True, False, False]


def test_unknown_option_is_an_error_result():
    rc, frames, err = run_frames("--model", "mnist_1d", "--opt", "nope=1")
    assert rc == 3
    error = [f for t, f in frames if t == proto.EVENT and f["kind"] == "error"][0]
    assert "nope" in error["reason"] and error["stage"] == "build"
    assert frames[-1][0] == proto.BYE and frames[-1][1]["reason"] == "error"
    assert not [t for t, _ in frames if t == proto.HELLO]


@pytest.mark.parametrize("options, needle", [
    ({"dtype": "int3"}, "dtype=int3: use float16, float32 or float64"),
    ({"size": "x"}, "size=x: expected an integer"),
    ({"size": "0"}, "size=0: must be >= 1"),
    ({"sleep_ms": "soon"}, "sleep_ms=soon: expected a number"),
    ({"nope": "1"}, "runner 'numpy' has no option nope"),
])
def test_bad_options_fail_before_a_worker_starts(options, needle):
    with pytest.raises(UserError, match=needle):
        registry.validate(WorkloadSpec(runner="numpy", model="matmul", options=options))


def test_bad_command_line_is_a_usage_error():
    rc, frames, err = run_frames("--model", "mnist_1d", "--batch", "0")
    assert rc == 2 and frames == [] and "--batch" in err


def test_stdin_eof_stops_the_runner():
    # no --iterations: only the closed stdin (the monitor gone) ends it
    rc, frames, err = run_frames("--model", "mnist_1d", "--opt", "sleep_ms=1", close_stdin=True)
    assert rc == 0, err
    assert frames[-1][1]["reason"] == "stopped"


def test_rate_cap_paces_iterations():
    rc, frames, err = run_frames("--model", "mnist_1d", "--duration", "0.5",
                                 commands=b'{"cmd": "set_rate", "rate": 100}\n')
    assert rc == 0, err
    assert frames[-1][1]["reason"] == "duration"
    starts = np.array([t - d for ftype, f in frames if ftype == proto.LATENCY for t, d in zip(f[0], f[1])])
    # in the last 0.2 s of the run the cap (sent before the first iteration) is in force
    window = starts[starts > starts[-1] - 0.2e9]
    assert 1 <= len(window) <= 100 * 0.2 + 3


def test_runner_under_python36():
    why = py36_with_numpy()
    if why:
        pytest.skip(why)
    rc, frames, err = run_frames("--model", "reuters_dense", "--warmup-iters", "2", "--iterations", "3",
                                 python=PY36)
    assert rc == 0, err
    hello = [f for t, f in frames if t == proto.HELLO][0]
    assert hello["python"].startswith("3.6.") and hello["params"] == 647_214
    assert frames[-1][1] == {"reason": "done", "iterations": 5}
