"""Install hints work where edgemon came from: it is not on the package index, so never
``pip install 'edgemon[...]'``; from a checkout, the checkout's own extras."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from edgemon import install_hint as ih

REPO = Path(__file__).resolve().parent.parent

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

EXTRAS = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]


@pytest.mark.parametrize("extra", ["torch", "tensorflow", "tflite", "openvino", "nvml", "prometheus"])
def test_from_a_checkout_the_hint_names_the_checkout_and_an_extra_it_has(extra):
    assert ih.checkout_root() == REPO
    hint = ih.install_hint(extra)
    assert hint == f"pip install -e '{REPO}[{extra}]'"
    assert extra in EXTRAS, "the extra the hint names exists in this checkout's pyproject.toml"


@pytest.mark.parametrize("extra", ["torch", "tensorflow", "tflite", "openvino", "nvml", "prometheus"])
def test_from_a_wheel_the_hint_names_the_extras_own_packages(monkeypatch, extra):
    monkeypatch.setattr(ih, "checkout_root", lambda: None)
    hint = ih.install_hint(extra)
    assert hint.startswith("pip install ") and "edgemon" not in hint
    wanted = {p.split(";")[0].strip().split(">")[0].split("=")[0].split("<")[0] for p in EXTRAS[extra]}
    named = {p.strip("'").split(">")[0].split("=")[0].split("<")[0] for p in hint.split()[2:]}
    assert named and named <= wanted, (hint, wanted)


def test_info_never_suggests_the_package_index(run_edgemon):
    p = run_edgemon("info", "--json")
    assert p.returncode == 0, p.stderr
    reasons = [r.get("reason", "") for r in json.loads(p.stdout)["runners"]]
    assert not any("edgemon[" in r for r in reasons), reasons
    text = run_edgemon("info").stdout
    assert "'edgemon[" not in text


def test_a_runner_without_its_framework_names_a_working_install(monkeypatch):
    import importlib.util

    from edgemon.workload import registry

    real = importlib.util.find_spec
    missing = {"openvino", "torch"}
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in missing else real(name, *a))
    entries = {r["name"]: r for r in registry.runner_statuses() if r["name"] in missing}
    for entry in entries.values():
        assert not entry["available"]
        reason = entry["reason"]
        assert "pip install" in reason and "edgemon[" not in reason, reason
    # a runner without a probe of its own gets the registry's hint: this checkout's extra
    assert f"pip install -e '{REPO}[torch]'" in entries["torch"]["reason"]
