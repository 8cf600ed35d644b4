"""Bad input gets a one-line error and exit code 2, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _assert_one_line_error(proc, *needles):
    assert proc.returncode == 2, proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    assert lines, "no error message"
    last = lines[-1]
    for n in needles:
        assert n in last, last


def test_help_teaches_commands_and_examples(run_edgemon):
    p = run_edgemon("--help")
    assert p.returncode == 0
    for word in ("run", "replay", "analyze", "info", "recover", "examples:"):
        assert word in p.stdout
    p = run_edgemon("run", "--help")
    for opt in ("--runner", "--model", "--batch", "--threads", "--duration", "--warmup", "--record",
                "--no-record", "--sample-hz", "--sysfs-root", "--headless"):
        assert opt in p.stdout


def test_every_help_fits_an_80_column_terminal_and_has_examples(run_edgemon):
    from edgemon.cli import COMMANDS

    for command in ((), *((c,) for c in COMMANDS), ("import", "tegrastats"), ("import", "jtop")):
        p = run_edgemon(*command, "--help", env={"COLUMNS": "80"})
        assert p.returncode == 0, p.stderr
        wide = [line for line in p.stdout.splitlines() if len(line) > 80]
        assert not wide, (command, wide)
        examples = p.stdout.split("examples:\n", 1)
        assert len(examples) == 2, (command, "no examples")
        assert f"  edgemon {' '.join(command)}".rstrip() in examples[1], (command, examples[1])


@pytest.mark.parametrize(
    "args, needles",
    [
        (["run", "--runner", "nope", "--headless"], ["unknown runner", "nope"]),
        (["run", "--model", "nope", "--headless"], ["model", "nope"]),
        (["run", "--duration", "ten minutes", "--headless"], ["duration"]),
        (["run", "--duration", "-5s", "--headless"], ["duration"]),
        (["run", "--batch", "0", "--headless"], ["--batch"]),
        (["run", "--sysfs-root", "/does/not/exist", "--headless"], ["sysfs-root"]),
        (["--duration", "3x"], ["duration"]),
        (["run", "--warmup", "abc", "--headless"], ["--warmup", "50,5s"]),
    ],
)
def test_bad_run_options(run_edgemon, args, needles):
    _assert_one_line_error(run_edgemon(*args), *needles)


@pytest.mark.parametrize("runner, name, data, opts, needle", [
    ("torch", "junk.pt", b"not a model", [], "not a TorchScript file"),
    ("tensorflow", "junk.keras", b"not a model", [], "not a Keras model"),
    ("tflite", "junk.tflite", b"not a model", [], "not a TFLite model"),
    ("openvino", "junk.onnx", b"not a model", [], "not an ONNX model"),
    ("torch", None, None, ["--opt", "device=tpu"], "device=tpu"),
    ("tensorflow", None, None, ["--opt", "device=tpu"], "device=tpu"),
    ("openvino", None, None, ["--opt", "device=TPU"], "knows no device 'TPU'"),
    ("numpy", None, None, ["--opt", "dtype=int3"], "dtype=int3"),
])
def test_bad_models_and_devices_stop_before_any_worker(run_edgemon, tmp_path, runner, name, data, opts, needle):
    if name:
        (tmp_path / name).write_bytes(data)
    model = str(tmp_path / name) if name else "mnist_1d"
    rec = tmp_path / "rec"
    p = run_edgemon("run", "--headless", "--runner", runner, "--model", model, *opts, "--duration", "5s",
                    "--record", str(rec))
    _assert_one_line_error(p, needle)
    assert not rec.exists()  # nothing started, nothing recorded


def test_unwritable_record_folder(run_edgemon, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    p = run_edgemon("run", "--headless", "--duration", "2s", "--record", str(blocker / "sub"))
    _assert_one_line_error(p)


def test_folder_that_is_not_a_recording(run_edgemon, tmp_path):
    (tmp_path / "junk").mkdir()
    for cmd in ("analyze", "replay", "recover"):
        _assert_one_line_error(run_edgemon(cmd, str(tmp_path / "junk")), "recording")
    _assert_one_line_error(run_edgemon("analyze", str(tmp_path / "missing")), "missing")


def test_latest_without_recordings(run_edgemon):
    _assert_one_line_error(run_edgemon("analyze", "latest"), "no sessions yet")


def test_info_json_lists_sources(run_edgemon):
    p = run_edgemon("info", "--json")
    assert p.returncode == 0, p.stderr
    data = json.loads(p.stdout)
    assert "platform" in data and "sources" in data


def test_models_lists_default_model(run_edgemon):
    p = run_edgemon("models", "--json")
    assert p.returncode == 0, p.stderr
    data = json.loads(p.stdout)
    assert "mnist_1d" in data["numpy"]
    assert data["numpy"]["mnist_1d"]["params"] == 407_050  # 784*512+512 + 512*10+10


def _breaking(module: str, error: str) -> str:
    """Python that makes importing ``module`` raise ``error`` and then runs the CLI on sys.argv[1:]."""
    return (
        "import importlib.abc, importlib.machinery, sys\n"
        "class Broken(importlib.abc.MetaPathFinder, importlib.abc.Loader):\n"
        f"    def find_spec(self, name, path, target=None):\n"
        f"        return importlib.machinery.ModuleSpec(name, self) if name == {module!r} else None\n"
        "    def create_module(self, spec):\n        return None\n"
        f"    def exec_module(self, module):\n        raise {error}\n"
        "sys.meta_path.insert(0, Broken())\n"
        "from edgemon.cli import main\n"
        "raise SystemExit(main(sys.argv[1:]))\n"
    )


@pytest.mark.parametrize("argv", [["info", "--json"], ["--help"], ["matrix"]])
@pytest.mark.parametrize("error", ["ImportError('No module named shiny')", "RuntimeError('boom at import')"])
def test_a_broken_command_module_fails_loudly(tmp_path, argv, error):
    code = _breaking("edgemon.commands.matrix", error)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    p = subprocess.run([sys.executable, "-c", code, *argv], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "invalid choice" not in p.stderr
    message = error.split("(")[0] + ": " + error.split("'")[1]
    assert p.stderr.strip() == f"edgemon: internal error: cannot load command module edgemon.commands.matrix: {message}"
    assert p.stdout == ""
