"""Helpers for the stress/tflite/openvino/tensorrt runner tests and the matrix tests."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from edgemon.workload import registry
from workload_helpers import RUNNERS, run_runner

proto = registry.protocol()


def has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def run(script: str, *argv, **kw):
    """``(rc, frames, stderr, summary)``; summary: hello, events (list), rows, warm flags, bye."""
    rc, frames, err = run_runner(RUNNERS / script, *argv, **kw)
    summary = {"hello": None, "events": [], "durations": [], "warm": [], "bye": None, "order": []}
    for ftype, f in frames:
        summary["order"].append(ftype)
        if ftype == proto.HELLO:
            summary["hello"] = f
        elif ftype == proto.EVENT:
            summary["events"].append(f)
        elif ftype == proto.LATENCY:
            summary["durations"].extend(f[1])
            summary["warm"].extend([f[3]] * len(f[0]))
        elif ftype == proto.BYE:
            summary["bye"] = f
    return rc, frames, err, summary


def error_reason(summary: dict) -> str:
    errors = [e for e in summary["events"] if e["kind"] == "error"]
    assert errors, f"no error event in {summary['events']}"
    return errors[0]["reason"]


class CacheDir:
    """Point EDGEMON_CACHE at a temporary folder for a test module (runners inherit it)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._old = os.environ.get("EDGEMON_CACHE")

    def __enter__(self) -> Path:
        os.environ["EDGEMON_CACHE"] = str(self.folder)
        return self.folder

    def __exit__(self, *exc) -> None:
        if self._old is None:
            os.environ.pop("EDGEMON_CACHE", None)
        else:
            os.environ["EDGEMON_CACHE"] = self._old
