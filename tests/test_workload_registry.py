"""Runner lookup and WorkloadSpec validation: one-line UserErrors that say what to do."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from edgemon.errors import UserError
from edgemon.workload.spec import WorkloadSpec
from edgemon.workload import list_runners, models_for, registry, runner_dir, runner_script, validate
from workload_helpers import REPO


def test_runner_dir_holds_the_runner_scripts():
    folder = runner_dir()
    assert (folder / "numpy_runner.py").is_file() and (folder / "_protocol.py").is_file()
    assert runner_script("numpy") == folder / "numpy_runner.py"
    assert "numpy" in list_runners()


def test_protocol_is_one_module_for_monitor_and_runners():
    proto = registry.protocol()
    assert proto.__name__ == "edgemon._runners._protocol"
    assert registry.runner_module("numpy")._common._protocol is proto


def test_models_for_reads_the_catalogue_without_side_effects():
    models = models_for("numpy")
    assert models["mnist_1d"]["params"] == 407_050
    models["mnist_1d"]["params"] = 0  # a caller's edit must not reach the runner's catalogue
    assert models_for("numpy")["mnist_1d"]["params"] == 407_050


def test_runner_import_does_not_import_numpy():
    code = ("import sys\nfrom edgemon.workload import registry\nregistry.models_for('numpy')\n"
            "print('numpy' in sys.modules)")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


def test_valid_spec_passes():
    validate(WorkloadSpec())
    validate(WorkloadSpec(model="matmul", batch=4, threads=2, options={"size": "64"}, python=sys.executable))


@pytest.mark.parametrize(
    "spec, needles",
    [
        (WorkloadSpec(runner="tensorrtx"), ["unknown runner 'tensorrtx'", "choose one of:", "numpy"]),
        (WorkloadSpec(model="resnet9000"), ["unknown model 'resnet9000'", "mnist_1d"]),
        (WorkloadSpec(batch=0), ["batch", "at least 1"]),
        (WorkloadSpec(threads=0), ["threads", "at least 1"]),
        (WorkloadSpec(warmup_iters=-1), ["warm-up"]),
        (WorkloadSpec(options={"sise": "64"}), ["sise", "size"]),
        (WorkloadSpec(python="/no/such/python3.6"), ["/no/such/python3.6", "not found"]),
        (WorkloadSpec(python="no-such-python-anywhere"), ["no-such-python-anywhere"]),
    ],
)
def test_invalid_specs_are_one_line_user_errors(spec, needles):
    with pytest.raises(UserError) as err:
        validate(spec)
    text = str(err.value)
    assert "\n" not in text
    for needle in needles:
        assert needle in text, text


def test_unknown_runner_script():
    with pytest.raises(UserError, match="unknown runner 'nope'"):
        runner_script("nope")


def test_installed_package_finds_its_runners(tmp_path):
    """After a real, non-editable install, runner_dir() points into site-packages."""
    src = tmp_path / "src"  # build from a copy: setuptools leaves build/ and *.egg-info in the source
    src.mkdir()
    for name in ("edgemon", "runners"):
        shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (REPO / name).is_file():
            shutil.copy(REPO / name, src / name)
    target = tmp_path / "site"
    p = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation",
                        "--no-index", "--quiet", "--target", str(target), str(src)],
                       capture_output=True, text=True, timeout=300, cwd=tmp_path)
    if p.returncode != 0:
        pytest.skip("cannot build the package offline here: " + (p.stderr.strip().splitlines() or ["?"])[-1])
    code = ("from edgemon.workload import registry\n"
            "d = registry.runner_dir()\nprint(d)\nprint((d / 'numpy_runner.py').is_file())\n"
            "print(registry.protocol().__file__)\n"
            "from edgemon.cli import build_parser\nbuild_parser()  # every command module is installed\n")
    env = dict(os.environ, PYTHONPATH=str(target))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         cwd=tmp_path, timeout=60)
    assert out.returncode == 0, out.stderr
    folder, has_script, proto_file = out.stdout.split()
    assert folder.startswith(str(target)) and has_script == "True"
    assert proto_file.startswith(str(target))


def test_runner_statuses_give_versions_or_reasons_without_importing_frameworks():
    import importlib.util
    import subprocess
    import sys

    code = ("import sys, json; from edgemon.workload.registry import runner_statuses; "
            "print(json.dumps(runner_statuses())); "
            "print(json.dumps([m for m in ('torch', 'tensorflow', 'openvino') if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()
    import json

    statuses = {s["name"]: s for s in json.loads(out[0])}
    assert json.loads(out[1]) == [], "listing runners must not import a framework"
    import numpy

    assert statuses["numpy"]["available"] and statuses["numpy"]["version"] == numpy.__version__
    if importlib.util.find_spec("tensorrt") is None:
        assert statuses["tensorrt"]["available"] is False
        assert "TensorRT" in statuses["tensorrt"]["reason"]
