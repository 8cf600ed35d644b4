"""The folder of generated model files, and making them ahead of time.

Runners that load model files (tflite, openvino, tensorrt) write their built-in
models into this cache on first use; ``scripts/make_models.py`` fills it (or any
folder) ahead of time, e.g. on a desktop for a board whose runtime cannot write
them (tflite_runtime ships no flatbuffer schema). The folder is ``$EDGEMON_CACHE``
or ``~/.cache/edgemon/models``; the rule lives in ``runners/_cache.py`` so the
runners (another interpreter, perhaps) and the monitor agree.

Nothing heavy at import: the frameworks are imported by ``make`` only.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from edgemon.workload import registry

ENV = "EDGEMON_CACHE"
FORMATS = ("tflite", "openvino", "onnx")
TFLITE_QUANTS = ("float32", "int8", "uint8")


def _cache_module():
    registry.runners_package()
    return importlib.import_module(registry.PACKAGE + "._cache")


def cache_dir() -> Path:
    """Where generated model files live (``$EDGEMON_CACHE`` or ``~/.cache/edgemon/models``)."""
    return Path(_cache_module().cache_root())


def builtin_models() -> list[str]:
    """Names of the built-in model definitions every file format can be made from."""
    registry.runners_package()
    defs = importlib.import_module(registry.PACKAGE + "._model_defs")
    return sorted(defs.DEFINITIONS)


def cached_files(folder: Path | None = None) -> list[Path]:
    """Model files present in the cache (or ``folder``), sorted."""
    root = Path(folder) if folder is not None else cache_dir()
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file() and ".tmp" not in p.name)


@dataclass(frozen=True)
class Made:
    """One model file asked for: where it is, or why it could not be made."""

    format: str
    model: str
    variant: str
    path: Path | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def make(formats=None, models=None, folder: Path | str | None = None, seed: int = 0,
         quants=None) -> list[Made]:
    """Write model files (skipping ones already there); one :class:`Made` per file, failures included.

    ``formats``: some of ``FORMATS`` (default all); ``models``: built-in names (default
    all); ``quants``: TFLite variants (default float32, int8, uint8); ``folder``: a
    folder instead of the cache (files go to ``folder/<format>/``).
    """
    formats = list(formats or FORMATS)
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        from edgemon.errors import UserError

        raise UserError(f"unknown model format {', '.join(unknown)}; choose from {', '.join(FORMATS)}")
    names = list(models or builtin_models())
    bad = [m for m in names if m not in builtin_models()]
    if bad:
        from edgemon.errors import UserError

        raise UserError(f"unknown built-in model {', '.join(bad)}; choose from {', '.join(builtin_models())}")
    quants = list(quants or TFLITE_QUANTS)
    root = str(folder) if folder is not None else None
    out: list[Made] = []
    for fmt in formats:
        for name in names:
            variants = quants if fmt == "tflite" else ["float32"]
            for variant in variants:
                try:
                    if fmt == "tflite":
                        path = registry.runner_module("tflite").model_file(name, variant, seed, root=root)
                    elif fmt == "openvino":
                        path = registry.runner_module("openvino").model_file(name, seed, root=root)
                    else:
                        path = registry.runner_module("tensorrt").onnx_file(name, seed, root=root)
                except Exception as exc:  # a missing framework is a result, not a crash
                    out.append(Made(fmt, name, variant, None, _one_line(exc)))
                else:
                    out.append(Made(fmt, name, variant, Path(path)))
    return out
