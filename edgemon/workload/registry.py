"""Which runners exist, where their scripts are, and whether a WorkloadSpec can run.

Runners live in ``runners/`` and ship in the wheel as the package ``edgemon._runners``.
In a source checkout that is not installed, that package does not exist yet; then
the ``runners/`` folder next to ``edgemon/`` is used (and registered under the
same name, so ``edgemon._runners._protocol`` is one module either way).
"""

from __future__ import annotations

import copy
import importlib
import importlib.util
import os
import shutil
import sys
import threading
from pathlib import Path
from types import ModuleType

from edgemon.errors import UserError

PACKAGE = "edgemon._runners"

# runner name -> script file in runners/. A framework runner's module must not
# import its framework at import time (models_for imports it to read MODELS).
RUNNERS: dict[str, str] = {
    "numpy": "numpy_runner.py",
    "torch": "torch_runner.py",
    "tensorflow": "tensorflow_runner.py",
    "stress": "stress_runner.py",
    "tflite": "tflite_runner.py",
    "openvino": "openvino_runner.py",
    "tensorrt": "tensorrt_runner.py",
}

# What each runner needs from this interpreter: the import names it tries (any one will do)
# and the distributions whose version `edgemon info` reports (read from package metadata, so
# listing runners never imports TensorFlow or PyTorch).
FRAMEWORKS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "numpy": (("numpy",), ("numpy",)),
    "stress": (("numpy",), ("numpy",)),
    "torch": (("torch",), ("torch",)),
    "tensorflow": (("tensorflow",), ("tensorflow", "tensorflow-cpu")),
    "tflite": (("tflite_runtime", "ai_edge_litert", "tensorflow"),
               ("tflite-runtime", "ai-edge-litert", "tensorflow", "tensorflow-cpu")),
    "openvino": (("openvino",), ("openvino",)),
    "tensorrt": (("tensorrt",), ("tensorrt",)),
}

# Where the runner's framework does not come from its extra.
INSTALL_NOTES = {"tensorrt": "TensorRT ships with JetPack; on x86 with CUDA: pip install tensorrt"}

_lock = threading.Lock()


def _source_runners_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "runners"


def runners_package() -> ModuleType:
    """The ``edgemon._runners`` package, installed or from the source checkout."""
    with _lock:
        if PACKAGE in sys.modules:
            return sys.modules[PACKAGE]
        if importlib.util.find_spec(PACKAGE) is not None:
            return importlib.import_module(PACKAGE)
        src = _source_runners_dir()
        init = src / "__init__.py"
        if not init.is_file():
            raise RuntimeError(f"edgemon's runners are missing: neither {PACKAGE} nor {src} exists")
        spec = importlib.util.spec_from_file_location(PACKAGE, init, submodule_search_locations=[str(src)])
        if spec is None or spec.loader is None:
            raise RuntimeError(f"edgemon's runners cannot be loaded from {src}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[PACKAGE] = module
        spec.loader.exec_module(module)
        return module


def runner_dir() -> Path:
    """Folder holding the runner scripts (``numpy_runner.py``, ``_protocol.py``, ...)."""
    spec = importlib.util.find_spec(PACKAGE) if PACKAGE not in sys.modules else sys.modules[PACKAGE].__spec__
    if spec is not None and spec.submodule_search_locations:
        return Path(list(spec.submodule_search_locations)[0]).resolve()
    return Path(runners_package().__path__[0]).resolve()


def probe_dir() -> Path:
    """Folder holding ``edgemon_probe.py`` and nothing else: what a command's ``PYTHONPATH`` gets,
    and what another interpreter needs on its path to ``import edgemon_probe``."""
    return runner_dir() / "probe"


def protocol() -> ModuleType:
    """The wire-protocol module the runners use (one definition of the format)."""
    runners_package()
    return importlib.import_module(PACKAGE + "._protocol")


def list_runners() -> list[str]:
    """Runner names whose script is present, sorted."""
    folder = runner_dir()
    return sorted(name for name, script in RUNNERS.items() if (folder / script).is_file())


def _unknown_runner(name: str) -> UserError:
    return UserError(f"unknown runner {name!r}; choose one of: {', '.join(list_runners())}")


def runner_script(name: str) -> Path:
    if name not in RUNNERS:
        raise _unknown_runner(name)
    path = runner_dir() / RUNNERS[name]
    if not path.is_file():
        raise UserError(f"runner {name!r} is not installed ({path} is missing); reinstall edgemon")
    return path


def runner_module(name: str) -> ModuleType:
    """Import a runner as ``edgemon._runners.<script>`` (its framework is not imported)."""
    if name not in RUNNERS:
        raise _unknown_runner(name)
    runners_package()
    return importlib.import_module(f"{PACKAGE}.{Path(RUNNERS[name]).stem}")


def models_for(name: str) -> dict[str, dict]:
    """The runner's MODELS catalogue: name -> {input_shape, params, gflops, description} (a copy)."""
    return copy.deepcopy(getattr(runner_module(name), "MODELS", {}))


def options_for(name: str) -> dict[str, str] | None:
    """The runner's --opt keys with help text, or None if the runner does not declare them."""
    options = getattr(runner_module(name), "OPTIONS", None)
    return dict(options) if options is not None else None


def option_defaults(name: str) -> dict[str, str]:
    """What each of the runner's --opt keys is when not given (``OPTION_DEFAULTS``)."""
    return dict(getattr(runner_module(name), "OPTION_DEFAULTS", {}) or {})


def _python_exists(python: str) -> bool:
    if os.sep in python:
        return os.path.isfile(python) and os.access(python, os.X_OK)
    return shutil.which(python) is not None


def _validate_command(spec) -> None:
    argv = list(spec.command or [])
    if not argv or not str(argv[0]).strip():
        raise UserError("no command after --; e.g. edgemon run --duration 10m -- python loop.py")
    program = str(argv[0])
    if os.sep in program:
        if not os.path.isfile(program):
            raise UserError(f"command not found: {program} (no such file)")
        if not os.access(program, os.X_OK):
            raise UserError(f"command {program} is not executable (chmod +x, or run it with its interpreter)")
    elif shutil.which(program) is None:
        raise UserError(f"command not found: {program} (not on PATH)")
    if spec.python is not None:
        raise UserError("--python chooses the built-in runners' interpreter; a command names its own "
                        f"(e.g. -- {spec.python} loop.py)")
    if spec.options:
        raise UserError("--opt sets built-in runner options; give a command its own arguments after --")
    if spec.latency_regex:
        from edgemon.workload.latency_regex import LatencyPattern

        LatencyPattern.parse(spec.latency_regex)
    if spec.warmup_iters < 0 or spec.warmup_s < 0:
        raise UserError("warm-up cannot be negative; use e.g. --warmup 50 or --warmup 5s")


def validate(spec) -> None:
    """Raise UserError (one line, says what to do) if ``spec`` (a WorkloadSpec) cannot run."""
    if spec.is_watch:
        return
    if spec.is_command:
        _validate_command(spec)
        return
    if spec.command:
        raise UserError(f"a command after -- replaces the runner; drop --runner {spec.runner}")
    if spec.latency_regex:
        raise UserError("--latency-regex reads the lines of a command (edgemon run ... -- CMD); "
                        "the built-in runners time their own iterations")
    if spec.runner not in RUNNERS or spec.runner not in list_runners():
        raise _unknown_runner(spec.runner)
    module = runner_module(spec.runner)
    models = getattr(module, "MODELS", {})
    options = getattr(module, "OPTIONS", None)
    if options is not None:
        unknown = sorted(set(spec.options) - set(options))
        if unknown:
            raise UserError(
                f"runner {spec.runner!r} has no option {', '.join(unknown)}; "
                f"known options: {', '.join(sorted(options)) or 'none'}"
            )
    # A runner's own check (model file contents, device names, batch limits); it runs
    # in the monitor, so it must not import the framework. Returns a message or None.
    hook = getattr(module, "validate", None)
    if hook is not None:
        problem = hook(spec)
        if problem:
            raise UserError(problem)
    if spec.model not in models:
        accepts_files = getattr(module, "ACCEPTS_MODEL_FILES", False)
        if not (accepts_files and Path(spec.model).exists()):  # SavedModel is a folder
            hint = " or a model file" if accepts_files else ""
            raise UserError(
                f"unknown model {spec.model!r} for runner {spec.runner!r}; "
                f"choose one of: {', '.join(sorted(models))}{hint}"
            )
    if spec.batch < 1:
        raise UserError(f"batch must be at least 1, got {spec.batch}")
    if spec.threads is not None and spec.threads < 1:
        raise UserError(f"threads must be at least 1, got {spec.threads}")
    if spec.warmup_iters < 0 or spec.warmup_s < 0:
        raise UserError("warm-up cannot be negative; use e.g. --warmup 50 or --warmup 5s")
    if spec.python is not None and not _python_exists(spec.python):
        raise UserError(f"Python interpreter {spec.python!r} not found; give the path of an existing python")


def runner_statuses() -> list[dict]:
    """Each runner with its framework and version under this interpreter, or why it cannot run.

    Cheap: package metadata and ``find_spec`` only, plus the runner's own ``probe()`` where it
    has one (which imports nothing heavy). A runner started with ``--python`` may see more.
    """
    import importlib.util
    from importlib import metadata

    out = []
    for name in list_runners():
        imports, dists = FRAMEWORKS.get(name, ((), ()))
        entry = {"name": name, "available": True, "framework": None, "version": None, "reason": ""}
        for dist in dists:
            try:
                entry["framework"], entry["version"] = dist, metadata.version(dist)
                break
            except metadata.PackageNotFoundError:
                continue
        if imports and not any(importlib.util.find_spec(m) for m in imports):
            from edgemon.install_hint import install_hint

            entry["available"] = False
            how = INSTALL_NOTES.get(name) or install_hint(name)
            entry["reason"] = f"needs {' or '.join(imports)} ({how})"
        try:
            reason = getattr(runner_module(name), "probe", lambda: None)()
        except Exception as exc:  # a broken runner module is a reason, not a crash of `info`
            reason = f"runner module failed to load: {exc}"
        if reason:
            entry["available"], entry["reason"] = False, reason
        out.append(entry)
    return out
