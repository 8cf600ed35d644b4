"""The openvino runner: built-in IR models, IR and ONNX files, sync and async modes, device errors."""

from __future__ import annotations

import shutil

import pytest

from edgemon.errors import UserError
from edgemon.workload.spec import WorkloadSpec
from edgemon.workload import registry
from edgemon.workload.worker import Worker
from runner_models_helpers import CacheDir, error_reason, has_module, run
from workload_helpers import PY36, Collector, py36_with_numpy

SCRIPT = "openvino_runner.py"
ov_runner = registry.runner_module("openvino")

needs_openvino = pytest.mark.skipif(not has_module("openvino"), reason="OpenVINO is not installed "
                                    "(pip install openvino)")


@pytest.fixture(scope="module", autouse=True)
def cache(tmp_path_factory):
    with CacheDir(tmp_path_factory.mktemp("openvino-cache")) as folder:
        yield folder


def _available_devices() -> list[str]:
    import openvino as ov

    return list(ov.Core().available_devices)


def test_catalogue_is_channels_first():
    assert ov_runner.MODELS["mnist_2d"]["input_shape"] == [1, 28, 28]
    assert ov_runner.MODELS["mobilenet_v1"]["input_shape"] == [3, 224, 224]
    assert ov_runner.MODELS["mnist_1d"]["params"] == 407_050


@needs_openvino
def test_sync_worker_runs_a_builtin_model(cache):
    spec = WorkloadSpec(runner="openvino", model="mnist_2d", threads=1, warmup_iters=2)
    registry.validate(spec)
    c = Collector()
    w = Worker(spec, **c.callbacks()).start()
    try:
        assert c.wait_for(lambda: c.rows() >= 6 or c.exits), w.stderr_tail
    finally:
        w.stop()
    assert w.wait(30)
    assert c.exit.kind == "worker_exit", c.exit.details
    hello = c.hello
    assert hello["api"] == "sync" and hello["hint"] == "latency" and hello["device"] == "CPU"
    assert hello["inputs"] == [{"name": "input", "shape": [1, 1, 28, 28], "dtype": "float32"}]
    assert hello["inference_num_threads"] == "1"
    assert (cache / "openvino" / "mnist_2d-s0-v1.xml").is_file()
    assert (cache / "openvino" / "mnist_2d-s0-v1.bin").is_file()


@needs_openvino
def test_async_records_one_row_per_completed_request():
    rc, _, err, s = run(SCRIPT, "--model", "mnist_1d", "--opt", "api=async", "--opt", "nireq=3",
                        "--warmup-iters", "4", "--iterations", "9")
    assert rc == 0, err
    hello = s["hello"]
    assert hello["api"] == "async" and hello["nireq"] == 3 and hello["hint"] == "throughput"
    # exact warm-up flags and counts: requests in flight are drained at the boundaries
    assert s["warm"] == [True] * 4 + [False] * 9
    assert s["bye"] == {"reason": "done", "iterations": 13}
    assert all(d > 0 for d in s["durations"])


@needs_openvino
def test_async_for_a_duration_keeps_every_request_it_started():
    rc, _, err, s = run(SCRIPT, "--model", "mnist_1d", "--opt", "api=async", "--opt", "nireq=2",
                        "--opt", "hint=none", "--opt", "streams=2", "--duration", "0.4")
    assert rc == 0, err
    assert s["bye"]["reason"] == "duration"
    assert len(s["durations"]) == s["bye"]["iterations"] > 2
    assert s["hello"]["num_streams"] == "2"


@needs_openvino
def test_async_pause_is_acknowledged_after_every_started_request():
    spec = WorkloadSpec(runner="openvino", model="mnist_1d", options={"api": "async", "nireq": "4"})
    c = Collector()
    rows_at_pause = []

    def on_event(event):
        if event.kind == "pause":
            rows_at_pause.append(c.rows())  # frames are delivered in order: rows before the ack
        c.on_event(event)

    w = Worker(spec, **dict(c.callbacks(), on_event=on_event)).start()
    try:
        assert c.wait_for(lambda: c.rows() >= 20 or c.exits), w.stderr_tail
        w.pause()
        assert c.wait_for(lambda: "pause" in c.kinds() or c.exits), w.stderr_tail
        w.resume()
        assert c.wait_for(lambda: "resume" in c.kinds() or c.exits), w.stderr_tail
    finally:
        w.stop()
    assert w.wait(30)
    assert c.exit.kind == "worker_exit", c.exit.details
    assert rows_at_pause == [c.first("pause").details["iterations"]]
    assert c.rows() == c.exit.details["iterations"]


@needs_openvino
@pytest.mark.parametrize("kind", ["ir", "onnx"])
def test_model_files_with_a_batch(tmp_path, kind):
    if kind == "ir":
        src = ov_runner.model_file("mnist_2d")
        model = tmp_path / "net.xml"
        shutil.copy(src, model)
        shutil.copy(src[:-4] + ".bin", tmp_path / "net.bin")
    else:
        if not has_module("onnx"):
            pytest.skip("the onnx package is not installed (pip install onnx)")
        model = tmp_path / "net.onnx"
        tensorrt_runner = registry.runner_module("tensorrt")
        shutil.copy(tensorrt_runner.onnx_file("mnist_2d"), model)
    registry.validate(WorkloadSpec(runner="openvino", model=str(model), batch=3))
    rc, _, err, s = run(SCRIPT, "--model", str(model), "--batch", "3", "--iterations", "3")
    assert rc == 0, err
    assert s["hello"]["inputs"][0]["shape"] == [3, 1, 28, 28] and s["hello"]["params"] is None


@needs_openvino
def test_a_known_device_that_is_absent_lists_the_available_ones():
    absent = next((d for d in ("NPU", "GPU", "MYRIAD") if d not in _available_devices()), None)
    if absent is None:
        pytest.skip("NPU, GPU and MYRIAD are all present here")
    rc, _, err, s = run(SCRIPT, "--model", "mnist_1d", "--opt", f"device={absent}", "--iterations", "2")
    assert rc == 3, err
    reason = error_reason(s)
    assert f"device {absent} is not available to OpenVINO here; available devices: " in reason
    assert ", ".join(_available_devices()) in reason


@needs_openvino
def test_auto_device_runs():
    rc, _, err, s = run(SCRIPT, "--model", "mnist_1d", "--opt", "device=AUTO", "--iterations", "2")
    assert rc == 0, err
    assert s["hello"]["device"] == "AUTO"


@needs_openvino
def test_a_compile_failure_is_an_error_result():
    rc, _, err, s = run(SCRIPT, "--model", "mnist_1d", "--opt", "precision=f99", "--iterations", "2")
    assert rc == 3, err
    reason = error_reason(s)
    assert "OpenVINO could not compile mnist_1d for CPU" in reason
    assert "Exception from" not in reason  # the line that says why, not OpenVINO's file:line header


@pytest.mark.parametrize("options, needle", [
    ({"device": "TPU"}, "OpenVINO knows no device 'TPU'"),
    ({"device": "AUTO:CPU,QPU"}, "no device 'QPU'"),
    ({"api": "batch"}, "use sync or async"),
    ({"nireq": "4"}, "needs --opt api=async"),
    ({"api": "async", "nireq": "0"}, "whole number >= 1"),
    ({"hint": "fast"}, "use latency, throughput"),
    ({"streams": "many"}, "a number >= 1 or AUTO"),
])
def test_bad_options_fail_before_a_worker_starts(options, needle):
    with pytest.raises(UserError, match=needle):
        registry.validate(WorkloadSpec(runner="openvino", model="mnist_1d", options=options))


@pytest.mark.parametrize("files, needle", [
    ({"net.xml": b"<?xml version='1.0'?><net name='x'></net>"}, "has no weights file"),
    ({"net.xml": b"hello", "net.bin": b""}, "no <net> element"),
    ({"net.onnx": b"PK\x03\x04"}, "not an ONNX model"),
    ({"net.tflite": b"xxxxTFL3"}, "expected a .onnx, .xml file"),
])
def test_bad_model_files_are_user_errors(tmp_path, files, needle):
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    model = tmp_path / next(iter(files))
    with pytest.raises(UserError, match=needle):
        registry.validate(WorkloadSpec(runner="openvino", model=str(model)))


@needs_openvino
def test_an_ir_that_does_not_parse_is_an_error_result(tmp_path):
    (tmp_path / "net.xml").write_text("<?xml version='1.0'?>\n<net name='broken' version='11'><layers>")
    (tmp_path / "net.bin").write_bytes(b"")
    rc, _, err, s = run(SCRIPT, "--model", str(tmp_path / "net.xml"), "--iterations", "2")
    assert rc == 3, err
    assert "OpenVINO cannot read" in error_reason(s)


def test_no_openvino_is_an_error_result_on_python36():
    why = py36_with_numpy()   # the runner imports numpy before it looks for its framework
    if why:
        pytest.skip(why)
    rc, _, err, s = run(SCRIPT, "--model", "mnist_1d", "--iterations", "2", python=PY36)
    if rc == 0:
        pytest.skip(f"{PY36} has OpenVINO")
    assert rc == 3, err
    assert "OpenVINO is not installed (pip install openvino)" in error_reason(s)


@needs_openvino
def test_async_time_based_warmup_flags_every_row_it_started():
    rc, _, err, s = run(SCRIPT, "--model", "mnist_1d", "--opt", "api=async", "--opt", "nireq=4",
                        "--warmup-seconds", "0.2", "--iterations", "50")
    assert rc == 0, err
    warm = s["warm"]
    assert warm.count(False) == 50 and warm == sorted(warm, reverse=True)  # all warm-up rows come first
    done = [e for e in s["events"] if e["kind"] == "warmup_done"]
    assert done[0]["iterations"] == warm.count(True)
