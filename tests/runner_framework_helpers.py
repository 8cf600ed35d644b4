"""Helpers for the torch and tensorflow runner tests: in-thread builds, frames, a fake missing framework."""

from __future__ import annotations

import importlib.util
import io
import os
import subprocess
import sys
import threading
from argparse import Namespace
from pathlib import Path

from edgemon.workload import registry

proto = registry.protocol()


def have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def args(model, batch=1, threads=None, seed=0, **opts) -> Namespace:
    """What _common.parse_args gives a runner's build()."""
    return Namespace(model=str(model), batch=batch, threads=threads, seed=seed, warmup_iters=0,
                     warmup_seconds=0.0, duration=None, iterations=0,
                     opts={k: str(v) for k, v in opts.items()})


def in_thread(fn, *a):
    """Run ``fn`` on a fresh thread and return (or raise) its result.

    The runners enter thread-local modes for good (torch.inference_mode, tf.device);
    a throwaway thread keeps them out of the test process's main thread.
    """
    box = {}

    def target():
        try:
            box["value"] = fn(*a)
        except BaseException as exc:  # handed to the caller
            box["error"] = exc

    t = threading.Thread(target=target)
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def build_and_run(runner, ns, runs=2):
    """``(Model, last output)`` after ``runs`` calls of the built model's run()."""

    def go():
        model = runner.build(ns)
        out = None
        for _ in range(runs):
            out = model.run()
        return model, out

    return in_thread(go)


def frames_of(stdout: bytes) -> list:
    return [(t, proto.decode_latency(f) if t == proto.LATENCY else f) for t, f in proto.FrameReader(io.BytesIO(stdout))]


def run_with_env(script: Path, *argv, env_extra: dict | None = None, python=sys.executable, timeout=120):
    """Run a runner whose build fails fast (stdin at EOF); ``(rc, frames, stderr)``."""
    env = dict(os.environ)
    env.update(env_extra or {})
    p = subprocess.run([str(python), str(script), *argv], stdin=subprocess.DEVNULL, capture_output=True,
                       env=env, timeout=timeout)
    return p.returncode, frames_of(p.stdout), p.stderr.decode("utf-8", "replace")


def shadow_package(folder: Path, name: str) -> dict:
    """A package ``name`` in ``folder`` that fails to import, as an uninstalled framework does.

    Returns the environment (PYTHONPATH) that puts it first on sys.path.
    """
    pkg = folder / name
    pkg.mkdir()
    (pkg / "__init__.py").write_text(f"raise ModuleNotFoundError(\"No module named '{name}'\", name={name!r})\n")
    return {"PYTHONPATH": str(folder)}


def events(frames, kind: str) -> list[dict]:
    return [f for t, f in frames if t == proto.EVENT and f["kind"] == kind]


def hello(frames) -> dict:
    found = [f for t, f in frames if t == proto.HELLO]
    assert len(found) == 1, frames
    return found[0]


def latency_rows(frames) -> list[tuple[int, int, int, bool]]:
    """``(t_end, duration, items, warmup)`` per row, in order."""
    return [(t, d, i, w) for ftype, f in frames if ftype == proto.LATENCY for t, d, i, w in
            zip(f[0], f[1], f[2], [f[3]] * len(f[0]))]
