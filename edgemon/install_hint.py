"""How to install an optional extra, in words that work where this edgemon came from.

edgemon is not on the package index, so ``pip install 'edgemon[torch]'`` fails. Running from a
source checkout (an editable install, or ``PYTHONPATH``), the hint names that checkout:
``pip install -e '/abs/path/to/checkout[torch]'``; otherwise (a wheel built from it) it names
the extra's own packages: ``pip install 'torch>=2.0'``. Standard library only.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

# What each extra installs, for a wheel whose metadata is unreadable (pyproject.toml is the truth).
_FALLBACK = {
    "torch": ["torch"],
    "tensorflow": ["tensorflow"],
    "tflite": ["ai-edge-litert"],
    "openvino": ["openvino", "onnx"],
    "tensorrt": ["onnx"],
    "nvml": ["nvidia-ml-py"],
    "jtop": ["jetson-stats"],
    "prometheus": ["prometheus_client"],
}


def checkout_root() -> Path | None:
    """The source checkout this edgemon runs from (its pyproject.toml names edgemon), else None."""
    import edgemon

    root = Path(edgemon.__file__).resolve().parents[1]
    try:
        text = (root / "pyproject.toml").read_text(encoding="utf-8")
    except OSError:
        return None
    return root if re.search(r'^name\s*=\s*"edgemon"', text, re.M) else None


@lru_cache(maxsize=None)
def extra_packages(extra: str) -> tuple[str, ...]:
    """The requirements of ``edgemon[extra]`` from the installed metadata (markers for this
    machine applied), else a built-in list."""
    try:
        from importlib import metadata

        reqs = metadata.requires("edgemon") or []
    except Exception:  # noqa: BLE001 - not installed as a distribution: the fallback
        reqs = []
    out = []
    for req in reqs:
        spec, _, marker = req.partition(";")
        if f'extra == "{extra}"' not in marker and f"extra == '{extra}'" not in marker:
            continue
        rest = re.sub(r"extra\s*==\s*['\"][^'\"]+['\"]", "True", marker)
        if not _marker_ok(rest):
            continue
        out.append(spec.strip().replace(" ", ""))
    return tuple(out or _FALLBACK.get(extra, [extra]))


def _marker_ok(marker: str) -> bool:
    """Evaluate a requirement's environment marker where ``packaging`` is at hand (else: keep it)."""
    marker = marker.strip()
    if not marker or marker == "True":
        return True
    try:
        from packaging.markers import Marker

        return Marker(marker.replace(" and True", "").replace("True and ", "")).evaluate()
    except Exception:  # noqa: BLE001 - no packaging module, or a marker it cannot read: keep the requirement
        return True


def install_hint(extra: str) -> str:
    """E.g. ``pip install -e '/home/me/edgemon[torch]'`` or ``pip install 'torch>=2.0'``."""
    root = checkout_root()
    if root is not None:
        return f"pip install -e '{root}[{extra}]'"
    return "pip install " + " ".join(f"'{p}'" if any(c in p for c in "<>=!;[ ") else p
                                     for p in extra_packages(extra))
