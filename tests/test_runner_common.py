"""runners/_common.py as a later framework runner uses it, and the Python 3.6 rule for runners/."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edgemon.workload import registry
from workload_helpers import RUNNERS, run_runner

proto = registry.protocol()

# A minimal runner written the way torch/tflite/openvino runners will be: it only builds and runs.
# Its model prints to stdout from Python and from the OS level, which must not corrupt the frames.
TOY_RUNNER = '''
import os, sys
sys.path.insert(0, {runners!r})
import _common

MODELS = {{"toy": {{"input_shape": [2], "params": 3, "gflops": 0.0, "description": "toy"}}}}

class Arr(object):
    shape = (1, 2)
    dtype = "float32"

def build(args):
    print("framework banner on stdout")
    if args.opts.get("fail") == "build":
        raise ImportError("libfoo.so: cannot open shared object file")
    if args.opts.get("fail") == "missing":
        raise _common.RunnerError("Toyframework is not installed: pip install toyframework")
    calls = []
    def run():
        calls.append(1)
        os.write(1, b"native chatter on fd 1\\n")
        if args.opts.get("fail") == "run" and len(calls) > 2:
            raise ValueError("shape mismatch\\nsecond line of detail")
    return _common.Model(run, [_common.input_info("x", Arr())], params=3, device="toy0",
                         framework_version="9.9", info={{"engine": "toy"}})

if __name__ == "__main__":
    sys.exit(_common.run_main("toy", "toyframework", MODELS, build))
'''


@pytest.fixture
def toy(tmp_path):
    path = tmp_path / "toy_runner.py"
    path.write_text(TOY_RUNNER.format(runners=str(RUNNERS)))
    return path


def _run(script: Path, *argv):
    return run_runner(script, *argv)


def test_a_framework_runner_only_supplies_build(toy):
    rc, frames, err = _run(toy, "--model", "toy", "--iterations", "4", "--opt", "a=b")
    assert rc == 0, err
    hello = [f for t, f in frames if t == proto.HELLO][0]
    assert hello["runner"] == "toy" and hello["framework"] == "toyframework"
    assert hello["framework_version"] == "9.9" and hello["device"] == "toy0" and hello["engine"] == "toy"
    assert hello["inputs"] == [{"name": "x", "shape": [1, 2], "dtype": "float32"}]
    assert hello["options"] == {"a": "b"} and hello["python"] == ".".join(map(str, sys.version_info[:3]))
    # 4 measured iterations after the first inference, which is always warm-up
    assert frames[-1] == (proto.BYE, {"reason": "done", "iterations": 5})
    lat = [f for t, f in frames if t == proto.LATENCY]
    assert [(len(f[0]), f[3]) for f in lat] == [(1, True), (4, False)]
    # what the model printed went to stderr, not into the frame stream
    assert "framework banner on stdout" in err and err.count("native chatter on fd 1") == 5


def test_errors_in_build_and_run_are_reported_as_results(toy):
    rc, frames, err = _run(toy, "--model", "toy", "--opt", "fail=build")
    assert rc == 3
    error = [f for t, f in frames if t == proto.EVENT and f["kind"] == "error"][0]
    assert error["reason"] == "ImportError: libfoo.so: cannot open shared object file"
    assert error["stage"] == "build" and "Traceback" in error["traceback"]

    # a failure the runner already put into words is reported verbatim, without the type name
    rc, frames, err = _run(toy, "--model", "toy", "--opt", "fail=missing")
    assert rc == 3
    error = [f for t, f in frames if t == proto.EVENT and f["kind"] == "error"][0]
    assert error["reason"] == "Toyframework is not installed: pip install toyframework"

    rc, frames, err = _run(toy, "--model", "toy", "--opt", "fail=run")
    assert rc == 3
    error = [f for t, f in frames if t == proto.EVENT and f["kind"] == "error"][0]
    assert error["reason"] == "ValueError: shape mismatch"  # one line
    assert "second line of detail" in error["message"] or "second line of detail" in error["traceback"]
    assert frames[-1] == (proto.BYE, {"reason": "error", "iterations": 2})
    assert "ValueError: shape mismatch" in err


@pytest.mark.parametrize("float_clock", [False, True], ids=["ns-clock", "py36-float-clock"])
def test_raw_rows_frames_are_the_same_with_and_without_numpy(float_clock):
    common = registry.runner_module("numpy")._common
    t0_ns = [10_000_000_000_123, 10_000_000_050_000, 10_000_000_090_001]
    t1_ns = [10_000_000_040_000, 10_000_000_080_000, 10_000_000_099_999]
    decoded = []
    for use_numpy in (True, False):
        out = io.BytesIO()
        rows = common.RawRows(proto.FrameWriter(out), batch=8)
        if not use_numpy:
            rows._np = None
        if float_clock:  # what Python 3.6 gets: float seconds of CLOCK_MONOTONIC
            rows.to_ns, rows.from_ns = common._seconds_to_ns, common._ns_to_seconds
            raw = [t / 1e9 for pair in zip(t0_ns, t1_ns) for t in pair]
        else:
            raw = [t for pair in zip(t0_ns, t1_ns) for t in pair]
        rows.set_warmup(True)
        rows.raw.extend(raw)
        rows.flush()
        rows.flush()  # nothing left: no empty frame
        frames = list(proto.FrameReader(io.BytesIO(out.getvalue())))
        assert len(frames) == 1
        t_end, dur, items, warm = proto.decode_latency(frames[0][1])
        decoded.append((list(t_end), list(dur), list(items), warm))
    assert decoded[0] == decoded[1]
    t_end, dur, items, warm = decoded[0]
    assert items == [8, 8, 8] and warm is True
    if float_clock:
        assert t_end == [int(t / 1e9 * 1e9) for t in t1_ns]  # the inline conversion's values
        assert all(abs(d - (b - a)) <= 4 for d, a, b in zip(dur, t0_ns, t1_ns))
    else:
        assert t_end == t1_ns and dur == [b - a for a, b in zip(t0_ns, t1_ns)]


def _vermin() -> str | None:
    exe = Path(sys.executable).with_name("vermin")
    return str(exe) if exe.is_file() else shutil.which("vermin")


def test_runners_are_python36_compatible():
    vermin = _vermin()
    if vermin is None:
        pytest.skip("vermin is not installed (pip install vermin)")
    # _protocol.py uses time.monotonic_ns only behind a hasattr() check, with a 3.6 fallback
    p = subprocess.run([vermin, "-t=3.6-", "--no-tips", "--violations",
                        str(RUNNERS)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "Analyzing" in p.stdout  # it really looked at the files


def test_vermin_check_catches_a_violation(tmp_path):
    vermin = _vermin()
    if vermin is None:
        pytest.skip("vermin is not installed (pip install vermin)")
    (tmp_path / "bad.py").write_text("x = 1\nprint(f'{x=}')\n")
    p = subprocess.run([vermin, "-t=3.6-", "--no-tips", "--violations", str(tmp_path)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode != 0
