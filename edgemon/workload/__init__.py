"""Spawn a runner (worker process), decode its frames, detect and describe its death.

Exports are resolved lazily so that ``from edgemon.workload import validate`` on the
CLI path does not import numpy.
"""

from __future__ import annotations

__all__ = ["Worker", "validate", "list_runners", "models_for", "runner_dir", "runner_script"]


def __getattr__(name: str):
    if name == "Worker":
        from edgemon.workload.worker import Worker

        return Worker
    if name in __all__:
        from edgemon.workload import registry

        return getattr(registry, name)
    raise AttributeError(f"module 'edgemon.workload' has no attribute {name!r}")
