"""The headless core never imports Textual; the CLI starts without heavy imports."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import edgemon

HEADLESS_PACKAGES = ("edgemon.session", "edgemon.recording", "edgemon.telemetry", "edgemon.workload",
                     "edgemon.analysis", "edgemon.platform", "edgemon.control", "edgemon.view", "edgemon.emulate",
                     "edgemon.feeds", "edgemon.prometheus", "edgemon.plan", "edgemon.daemon", "edgemon.commands")


def _modules_of(package: str) -> list[str]:
    mod = __import__(package, fromlist=["_"])
    return [package] + [f"{package}.{m.name}" for m in pkgutil.iter_modules(mod.__path__)]


def _loaded_after_import(modules: list[str]) -> set[str]:
    code = (
        "import sys, importlib\n"
        f"for m in {modules!r}:\n"
        "    try:\n        importlib.import_module(m)\n"
        "    except ImportError:\n        pass\n"
        "print('\\n'.join(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_headless_core_never_imports_textual():
    modules = [m for pkg in HEADLESS_PACKAGES for m in _modules_of(pkg) if not m.endswith("demo")]
    modules += ["edgemon.cli", "edgemon.info"]
    loaded = _loaded_after_import(modules)
    assert "textual" not in loaded, "a headless module imports Textual"


def test_cli_startup_imports_nothing_heavy():
    loaded = _loaded_after_import(["edgemon.cli"])
    for heavy in ("textual", "pyarrow", "numpy", "psutil", "torch", "tensorflow", "openvino", "plotext"):
        assert heavy not in loaded, f"`edgemon --help` would import {heavy}"


def test_package_version_is_exposed():
    assert edgemon.__version__.count(".") == 2


def test_building_every_command_parser_imports_nothing_heavy():
    code = "import sys\nfrom edgemon.cli import build_parser\nbuild_parser()\nprint('\\n'.join(sorted(sys.modules)))\n"
    loaded = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split())
    assert "edgemon.commands.matrix" in loaded and "edgemon.commands.run" in loaded
    for heavy in ("textual", "pyarrow", "numpy", "psutil", "torch", "tensorflow", "openvino", "plotext"):
        assert heavy not in loaded, f"`edgemon --help` would import {heavy}"
