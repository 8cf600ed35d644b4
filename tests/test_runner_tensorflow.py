"""The tensorflow runner: study 000's Keras models (train and inference), user models, failures as results.

Models are built in this process (one TensorFlow import) for the per-model checks; the
training, frame, Worker and failure tests run the real runner script in its own process.
"""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

from edgemon.datatypes import EventKind
from edgemon.errors import UserError
from edgemon.workload.spec import WorkloadSpec
from edgemon.workload import Worker, registry
from runner_framework_helpers import (args, build_and_run, events, have, hello, in_thread, latency_rows, proto,
                                      run_with_env, shadow_package)
from workload_helpers import PY36, RUNNERS, Collector, py36_with_numpy, run_runner

SCRIPT = RUNNERS / "tensorflow_runner.py"
tf_runner = registry.runner_module("tensorflow")
MODELS = tf_runner.MODELS

HAVE_TF = have("tensorflow")
needs_tf = pytest.mark.skipif(not HAVE_TF, reason="TensorFlow is not installed (pip install tensorflow)")

# Blanz 2019's parameter counts (study 000; sources in runners/_keras_models.py)
STUDY_000 = {"mnist_1d": 407_050, "imdb_dense": 160_305, "reuters_dense": 647_214, "mnist_2d": 93_322,
             "dogs_cats": 3_453_121, "imdb_embedding": 80_401, "mpi_weather_gru": 5_217,
             "mpi_weather_conv": 14_817}


def test_catalogue_is_study_000():
    assert {name: entry["params"] for name, entry in MODELS.items()} == STUDY_000
    torch_models = registry.models_for("torch")
    for name, entry in MODELS.items():
        assert {"input_shape", "params", "gflops", "description", "phases", "train"} <= set(entry), name
        assert entry["phases"] == ["train", "infer"]
        # the same architecture does the same arithmetic in either framework
        assert entry["gflops"] == torch_models[name]["gflops"]
        assert entry["train"]["epochs"] >= 1 and entry["train"]["batch"] >= 1
    assert registry.models_for("tensorflow") == MODELS


def test_catalogue_reads_under_python36():
    why = py36_with_numpy()
    if why:
        pytest.skip(why)
    p = subprocess.run([str(PY36), str(SCRIPT), "--list-models"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == MODELS


def test_missing_tensorflow_is_an_error_result(tmp_path):
    env = shadow_package(tmp_path, "tensorflow")
    rc, frames, err = run_with_env(SCRIPT, "--model", "mnist_1d", env_extra=env)
    assert rc == 3, err
    error = events(frames, "error")[0]
    assert "TensorFlow is not installed: pip install tensorflow" in error["message"]
    assert frames[-1] == (proto.BYE, {"reason": "error", "iterations": 0})


def test_runner_files_run_under_python36(tmp_path):
    why = py36_with_numpy()
    if why:
        pytest.skip(why)
    env = shadow_package(tmp_path, "tensorflow")
    rc, frames, err = run_with_env(SCRIPT, "--model", "mnist_1d", env_extra=env, python=PY36)
    assert rc == 3, err
    assert "TensorFlow is not installed" in events(frames, "error")[0]["message"]


# ---------------------------------------------------------------- every built-in model, in process

@needs_tf
@pytest.mark.parametrize("batch", [1, 4])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_builtin_model_builds_and_infers(name, batch):
    entry = MODELS[name]
    model, out = build_and_run(tf_runner, args(name, batch=batch))
    dtype = "int32" if name == "imdb_embedding" else "float32"
    assert model.inputs == [{"name": "input", "shape": [batch] + entry["input_shape"], "dtype": dtype}]
    assert model.params == entry["params"] and model.gflops == entry["gflops"]
    assert model.train is None and model.info["infer_mode"] == "function"
    assert isinstance(out, np.ndarray) and out.shape[0] == batch and np.isfinite(out).all()


@needs_tf
@pytest.mark.parametrize("mode", ["eager", "predict"])
def test_other_inference_modes(mode):
    model, out = build_and_run(tf_runner, args("reuters_dense", batch=3, infer_mode=mode))
    assert out.shape == (3, 46) and model.info["infer_mode"] == mode
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)  # softmax rows


@needs_tf
def test_training_plan_follows_the_study():
    def go():
        model = tf_runner.build(args("mnist_1d", batch=128, phase="train"))
        return model, model.train.step()

    model, loss = in_thread(go)
    assert model.run is None
    assert (model.train.epochs, model.train.steps_per_epoch) == (5, 469)  # 5 epochs of 60000 / 128
    assert np.isfinite(float(np.asarray(loss).ravel()[0]))
    plan = in_thread(lambda: tf_runner.build(args("dogs_cats", batch=20, phase="both", epochs=2)).train)
    assert (plan.epochs, plan.steps_per_epoch) == (2, 100)


@needs_tf
def test_keras_file_and_saved_model_folder(tmp_path):
    import tensorflow as tf

    keras = tf.keras
    net = keras.Sequential([keras.Input(shape=(8,)), keras.layers.Dense(4)])
    net.save(str(tmp_path / "net.keras"))

    class Scale(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable(tf.ones((8, 4)))

        @tf.function(input_signature=[tf.TensorSpec([None, 8], tf.float32, name="x")])
        def __call__(self, x):
            return {"y": tf.matmul(x, self.w)}

    module = Scale()
    tf.saved_model.save(module, str(tmp_path / "saved"), signatures=module.__call__)

    model, out = build_and_run(tf_runner, args(tmp_path / "net.keras", batch=3))
    assert model.inputs[0]["shape"] == [3, 8] and model.params == 36
    assert model.info["model_source"] == "keras_file" and out.shape == (3, 4)

    model, out = build_and_run(tf_runner, args(tmp_path / "saved", batch=2))
    assert model.inputs == [{"name": "x", "shape": [2, 8], "dtype": "float32"}]
    assert model.params == 32 and model.info["model_source"] == "saved_model"
    assert len(out) == 1 and out[0].shape == (2, 4)

    for path in (tmp_path / "net.keras", tmp_path / "saved"):  # the monitor's own check lets them through
        registry.validate(WorkloadSpec(runner="tensorflow", model=str(path)))


@pytest.mark.parametrize("name, data, options, needle", [
    ("junk.keras", b"not a zip", {}, "not a Keras model \\(a .keras file is a zip archive\\)"),
    ("junk.h5", b"not hdf5", {}, "not a Keras model \\(not an HDF5 file\\)"),
    ("net.onnx", b"\x08\x07", {}, "expected a SavedModel folder, a .keras or an .h5 file"),
    ("folder/", None, {}, "a folder but not a SavedModel"),
    (None, None, {}, "does not exist"),
    ("", None, {"device": "tpu"}, "device=tpu: use cpu, gpu or gpu:N"),
    ("", None, {"phase": "fit"}, "phase=fit"),
    ("", None, {"epochs": "0"}, "epochs=0: must be >= 1"),
])
def test_bad_model_files_and_options_fail_before_a_worker_starts(tmp_path, name, data, options, needle):
    """Without importing TensorFlow: ``edgemon run`` says this in one line and starts nothing."""
    if name is None:
        model = str(tmp_path / "absent.keras")
    elif name == "":
        model = "mnist_1d"
    elif name.endswith("/"):
        (tmp_path / name).mkdir()
        model = str(tmp_path / name)
    else:
        (tmp_path / name).write_bytes(data)
        model = str(tmp_path / name)
    with pytest.raises(UserError, match=needle):
        registry.validate(WorkloadSpec(runner="tensorflow", model=model, options=options))



def test_bad_options_fail_at_build_before_importing_tensorflow(tmp_path):
    with pytest.raises(ValueError, match="phase=fit"):
        tf_runner.build(args("mnist_1d", phase="fit"))
    with pytest.raises(ValueError, match="unknown option.*bogus"):
        tf_runner.build(args("mnist_1d", bogus=1))
    with pytest.raises(ValueError, match="epochs=0: must be >= 1"):
        tf_runner.build(args("mnist_1d", epochs=0))
    user_file = tmp_path / "net.keras"
    user_file.write_bytes(b"")
    with pytest.raises(ValueError, match="training needs a built-in model"):
        tf_runner.build(args(user_file, phase="train"))


@needs_tf
def test_absent_gpu_fails_at_build():
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("a GPU is present")
    with pytest.raises(RuntimeError, match="device=gpu: TensorFlow .* sees no GPU"):
        build_and_run(tf_runner, args("mnist_1d", device="gpu"))


# ---------------------------------------------------------------- the runner as a process

@needs_tf
def test_train_then_infer_frames():
    import tensorflow as tf

    rc, frames, err = run_runner(SCRIPT, "--model", "mnist_1d", "--batch", "4", "--threads", "1",
                                 "--warmup-iters", "1", "--iterations", "3",
                                 "--opt", "phase=both", "--opt", "epochs=2", "--opt", "steps_per_epoch=3")
    assert rc == 0, err
    h = hello(frames)
    assert (h["runner"], h["framework"], h["framework_version"]) == ("tensorflow", "tensorflow", tf.__version__)
    assert h["params"] == 407_050 and h["intra_op_threads"] == 1
    assert (h["phase"], h["epochs"], h["steps_per_epoch"]) == ("both", 2, 3)
    assert [e["name"] for e in events(frames, "phase")] == ["build", "train", "inference"]
    epochs = events(frames, "epoch")
    assert [e["epoch"] for e in epochs] == [1, 2] and all(np.isfinite(e["loss"]) for e in epochs)
    rows = latency_rows(frames)
    # training: 1 warm-up step + 5 measured; inference: 1 warm-up + 3 measured
    assert [w for _, _, _, w in rows] == [True] + [False] * 5 + [True] + [False] * 3
    assert all(items == 4 for _, _, items, _ in rows)
    done = events(frames, "warmup_done")
    assert [d.get("phase") for d in done] == ["train", None]
    assert done[0]["first_step_ms"] > 0 and done[1]["first_inference_ms"] > 0
    # every training row is sent before the inference phase begins
    t_infer = events(frames, "phase")[2]["t_ns"]
    assert all(t <= t_infer for t, _, _, _ in rows[:6]) and all(t > t_infer for t, _, _, _ in rows[6:])
    assert frames[-1] == (proto.BYE, {"reason": "done", "iterations": 10})


@needs_tf
def test_worker_pauses_resumes_and_stops_a_training_phase():
    col = Collector()
    spec = WorkloadSpec(runner="tensorflow", model="mpi_weather_gru", batch=8, threads=1,
                        options={"phase": "train", "epochs": "1000", "steps_per_epoch": "2"})
    w = Worker(spec, **col.callbacks()).start()
    try:
        assert col.wait_for(lambda: EventKind.EPOCH in col.kinds(), timeout=90), col.exits or w.stderr_tail
        assert col.hello["params"] == 5_217 and col.hello["steps_per_epoch"] == 2
        w.pause()
        assert col.wait_for(lambda: EventKind.PAUSE in col.kinds())
        paused_at = col.first(EventKind.PAUSE).details["iterations"]
        assert col.rows() == paused_at  # every step before the acknowledgement was sent
        w.resume()
        assert col.wait_for(lambda: col.rows() > paused_at)
    finally:
        w.stop(timeout=10.0, kill_after=2.0)
        assert w.wait(30)
    assert col.exit.kind == EventKind.WORKER_EXIT and col.exit.details["bye_reason"] == "stopped"
    assert EventKind.RESUME in col.kinds()
    assert col.exit.details["iterations"] == col.rows()
    epochs = [e.details["epoch"] for e in col.events if e.kind == EventKind.EPOCH]
    assert epochs == list(range(1, len(epochs) + 1))


def test_missing_model_file_is_an_error_result(tmp_path):
    rc, frames, err = run_runner(SCRIPT, "--model", str(tmp_path / "absent.keras"))
    assert rc == 3, err
    error = events(frames, "error")[0]
    assert "absent.keras" in error["reason"] and "neither a built-in model" in error["reason"]
    assert error["stage"] == "build" and frames[-1] == (proto.BYE, {"reason": "error", "iterations": 0})
