"""Which Jetson is this: model, module, L4T/JetPack release, family, CPU clusters.

Everything is read from files under ``root`` (the ``--sysfs-root``), the way
jetson-stats does it (https://github.com/rbonghi/jetson_stats/blob/master/jtop/core/jetson_variables.py):

* ``/proc/device-tree/model`` (or ``/sys/firmware/devicetree/base/model``),
  NUL-terminated, e.g. ``NVIDIA Jetson Orin Nano Developer Kit``;
* ``/proc/device-tree/compatible``: NUL-separated, e.g.
  ``nvidia,p3768-0000+p3767-0005``, ``nvidia,p3767-0005``, ``nvidia,tegra234``;
  the module is the part after ``+`` (carrier first, module second);
* ``/proc/device-tree/nvidia,dtsfilename`` (TX2 and older name the module only there);
* ``/etc/nv_tegra_release``: ``# R35 (release), REVISION: 4.1, ...`` -> L4T ``35.4.1``.

:func:`identify` never raises; a non-Jetson host gives ``is_jetson == False``
and family ``unknown``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from edgemon.platform.detect import parse_l4t_release as raw_l4t_release

FAMILIES = ("nano", "tx1", "tx2", "xavier-nx", "agx-xavier", "orin-nano", "orin-nx", "agx-orin", "thor", "unknown")

# L4T release -> JetPack: an excerpt of jetson-stats' NVIDIA_JETPACK in
# https://github.com/rbonghi/jetson_stats/blob/master/jtop/core/jetson_variables.py,
# plus the 4.6.x maintenance releases.
L4T_TO_JETPACK: dict[str, str] = {
    "39.2.0": "7.2", "38.4.0": "7.1", "38.2.0": "7.0",
    "36.5.0": "6.2.2", "36.4.4": "6.2.1", "36.4.3": "6.2", "36.4.0": "6.1", "36.3.0": "6.0",
    "35.6.0": "5.1.4", "35.5.0": "5.1.3", "35.4.1": "5.1.2", "35.3.1": "5.1.1", "35.2.1": "5.1",
    "35.1.0": "5.0.2",
    "32.7.6": "4.6.6", "32.7.5": "4.6.5", "32.7.4": "4.6.4", "32.7.3": "4.6.3", "32.7.2": "4.6.2",
    "32.7.1": "4.6.1", "32.6.1": "4.6", "32.5.1": "4.5.1", "32.4.4": "4.4.1", "32.3.1": "4.3",
    "32.1.0": "4.2", "31.1.0": "4.1.1", "28.2.1": "3.3 | 3.2.1", "28.1.0": "3.1",
}

# Module part numbers (jetson-stats MODULE_NAME_TABLE excerpt).
MODULE_NAMES: dict[str, str] = {
    "p3834-0008": "NVIDIA Jetson AGX Thor (Developer kit)",
    "p3767-0005": "NVIDIA Jetson Orin Nano (Developer kit)",
    "p3767-0004": "NVIDIA Jetson Orin Nano (4GB ram)",
    "p3767-0003": "NVIDIA Jetson Orin Nano (8GB ram)",
    "p3767-0001": "NVIDIA Jetson Orin NX (8GB ram)",
    "p3767-0000": "NVIDIA Jetson Orin NX (16GB ram)",
    "p3701-0005": "NVIDIA Jetson AGX Orin (64GB ram)",
    "p3701-0004": "NVIDIA Jetson AGX Orin (32GB ram)",
    "p3701-0000": "NVIDIA Jetson AGX Orin",
    "p3668-0000": "NVIDIA Jetson Xavier NX (Developer kit)",
    "p3668-0001": "NVIDIA Jetson Xavier NX",
    "p3668-0003": "NVIDIA Jetson Xavier NX (16GB ram)",
    "p2888-0001": "NVIDIA Jetson AGX Xavier (16GB ram)",
    "p2888-0004": "NVIDIA Jetson AGX Xavier (32GB ram)",
    "p2888-0005": "NVIDIA Jetson AGX Xavier (64GB ram)",
    "p2888-0008": "NVIDIA Jetson AGX Xavier Industrial (32GB ram)",
    "p3448-0000": "NVIDIA Jetson Nano (4GB ram)",
    "p3448-0002": "NVIDIA Jetson Nano module (16Gb eMMC)",
    "p3448-0003": "NVIDIA Jetson Nano (2GB ram)",
    "p3636-0001": "NVIDIA Jetson TX2 NX",
    "p3310-1000": "NVIDIA Jetson TX2",
    "p2180-1000": "NVIDIA Jetson TX1",
}

# Module prefix -> family. p3767 is split by SKU below. Carrier boards (p3449, p2771, p3509,
# p2822, p3737, p3768, p4071) are deliberately absent.
_FAMILY_BY_PREFIX = {
    "p3448": "nano", "p2180": "tx1", "p3310": "tx2", "p3489": "tx2", "p3636": "tx2",
    "p3668": "xavier-nx", "p2888": "agx-xavier", "p3701": "agx-orin", "p3834": "thor",
}
_ORIN_NX_SKUS = {"0000", "0001"}          # p3767-0000/0001 = Orin NX 16/8 GB; 0003-0005 = Orin Nano

# (pattern on the lower-cased model string, family); first match wins.
_FAMILY_BY_MODEL = (
    (re.compile(r"thor"), "thor"),
    (re.compile(r"agx orin"), "agx-orin"),
    (re.compile(r"orin nx"), "orin-nx"),
    (re.compile(r"orin nano"), "orin-nano"),
    (re.compile(r"xavier nx"), "xavier-nx"),
    (re.compile(r"agx xavier|jetson-agx|xavier"), "agx-xavier"),
    (re.compile(r"tx2|quill|lanai"), "tx2"),
    (re.compile(r"tx1"), "tx1"),
    (re.compile(r"nano"), "nano"),
)

_PART_RE = re.compile(r"\bp(\d{4})-(\d{4})")
_SOC_RE = re.compile(r"nvidia,(tegra\d+)")


@dataclass(frozen=True)
class CpuCluster:
    """Cores that share a clock: ``cpus`` use one cpufreq policy."""

    name: str                 # e.g. "A57", "Denver", "cluster1"
    core: str                 # micro-architecture: "Cortex-A57", "Denver2", "Carmel", "Cortex-A78AE"
    cpus: tuple[int, ...]


@dataclass(frozen=True)
class JetsonBoard:
    """What :func:`identify` found. Empty strings where a file was missing."""

    is_jetson: bool
    family: str                              # one of FAMILIES
    model: str = ""                          # device-tree model string
    compatible: tuple[str, ...] = ()         # device-tree compatible entries, in order
    module: str = ""                         # e.g. "p3767-0005"
    module_name: str = ""                    # e.g. "NVIDIA Jetson Orin Nano (Developer kit)"
    carrier: str = ""                        # e.g. "p3768-0000"
    soc: str = ""                            # e.g. "tegra234"
    l4t: str = ""                            # e.g. "35.4.1"
    jetpack: str = ""                        # e.g. "5.1.2"; "" when the release is not in the table
    release_line: str = ""                   # first line of /etc/nv_tegra_release
    cpu_clusters: tuple[CpuCluster, ...] = field(default=())

    def cluster_of(self, cpu: int) -> CpuCluster | None:
        for cluster in self.cpu_clusters:
            if cpu in cluster.cpus:
                return cluster
        return None


def _read(path: Path) -> str | None:
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return None


def _dt_file(root: Path, name: str) -> str | None:
    """A device-tree property from ``/proc/device-tree`` or ``/sys/firmware/devicetree/base``."""
    for base in ("proc/device-tree", "sys/firmware/devicetree/base"):
        text = _read(root / base / name)
        if text is not None:
            return text
    return None


def parse_l4t_release(text: str | None) -> tuple[str, str]:
    """``("35.4.1", first line)`` from ``/etc/nv_tegra_release``; ``("", ...)`` if unparseable."""
    if not text:
        return "", ""
    first = text.strip().splitlines()[0].strip() if text.strip() else ""
    return normalise_l4t(raw_l4t_release(text) or ""), first


def normalise_l4t(l4t: str) -> str:
    """Three numbers: ``"32.7.1"``, ``"36.4"`` -> ``"36.4.0"``, ``"035.04.1"`` -> ``"35.4.1"``;
    ``""`` if not a release."""
    parts = l4t.split(".")[:3] if l4t else []
    if not parts or not all(p.isdigit() for p in parts):
        return ""
    return ".".join(str(int(p)) for p in parts + ["0"] * (3 - len(parts)))


def jetpack_for(l4t: str | None) -> str:
    """JetPack release for an L4T release (``"35.4.1"`` -> ``"5.1.2"``); ``""`` if unknown."""
    return L4T_TO_JETPACK.get(normalise_l4t(l4t or ""), "")


def _module_and_carrier(compatible: tuple[str, ...], dtsfilename: str) -> tuple[str, str]:
    """The module part number: after ``+`` in ``carrier+module``, else the first known module."""
    for entry in compatible:
        if "+" in entry:
            carrier, _, module = entry.partition("+")
            mm, cm = _PART_RE.search(module), _PART_RE.search(carrier)
            if mm:
                return mm.group(0), cm.group(0) if cm else ""
    candidates = [m.group(0) for entry in compatible for m in _PART_RE.finditer(entry)]
    candidates += [m.group(0) for m in _PART_RE.finditer(dtsfilename)]
    for part in candidates:
        if part in MODULE_NAMES or part[:5] in _FAMILY_BY_PREFIX:
            return part, ""
    return "", ""


def family_for(module: str, model: str, soc: str) -> str:
    """Short family name from the module part number, else the model string, else the SoC."""
    if module:
        prefix, _, sku = module.partition("-")
        if prefix == "p3767":
            return "orin-nx" if sku in _ORIN_NX_SKUS else "orin-nano"
        if prefix in _FAMILY_BY_PREFIX:
            return _FAMILY_BY_PREFIX[prefix]
    lowered = model.lower()
    for pattern, family in _FAMILY_BY_MODEL:
        if pattern.search(lowered):
            return family
    # tegra210 (Nano/TX1), tegra194 and tegra234 are shared by several families.
    return {"tegra264": "thor", "tegra186": "tx2"}.get(soc, "unknown")


def _range(a: int, b: int) -> tuple[int, ...]:
    return tuple(range(a, b + 1))


def cpu_clusters_for(family: str, module: str = "") -> tuple[CpuCluster, ...]:
    """Known CPU cluster layout; ``()`` where it is not known (e.g. Thor)."""
    if family in ("nano", "tx1"):
        return (CpuCluster("A57", "Cortex-A57", _range(0, 3)),)
    if family == "tx2":
        # cpu0 and cpu3-5 are the A57 cluster, cpu1-2 the Denver cluster.
        return (CpuCluster("A57", "Cortex-A57", (0, 3, 4, 5)), CpuCluster("Denver", "Denver2", (1, 2)))
    if family == "agx-xavier":
        return tuple(CpuCluster(f"cluster{i}", "Carmel", (2 * i, 2 * i + 1)) for i in range(4))
    if family == "xavier-nx":
        return tuple(CpuCluster(f"cluster{i}", "Carmel", (2 * i, 2 * i + 1)) for i in range(3))
    if family == "agx-orin":
        n = 2 if module == "p3701-0004" else 3           # AGX Orin 32GB: 8 cores
        return tuple(CpuCluster(f"cluster{i}", "Cortex-A78AE", _range(4 * i, 4 * i + 3)) for i in range(n))
    if family == "orin-nx" and module == "p3767-0000":   # Orin NX 16GB: 8 cores
        return (CpuCluster("cluster0", "Cortex-A78AE", _range(0, 3)),
                CpuCluster("cluster1", "Cortex-A78AE", _range(4, 7)))
    if family in ("orin-nx", "orin-nano"):               # 6 cores: 4 + 2
        return (CpuCluster("cluster0", "Cortex-A78AE", _range(0, 3)),
                CpuCluster("cluster1", "Cortex-A78AE", _range(4, 5)))
    return ()


def identify(root: Path | str = "/") -> JetsonBoard:
    """Identify the Jetson whose files live under ``root``. Never raises."""
    root = Path(root)
    model = (_dt_file(root, "model") or "").replace("\x00", "").strip()
    compat_text = _dt_file(root, "compatible") or ""
    compatible = tuple(p.strip() for p in compat_text.split("\x00") if p.strip())
    dtsfilename = (_dt_file(root, "nvidia,dtsfilename") or "").replace("\x00", "").strip()
    l4t, release_line = parse_l4t_release(_read(root / "etc/nv_tegra_release"))

    soc = ""
    for entry in compatible:
        m = _SOC_RE.search(entry)
        if m:
            soc = m.group(1)
    module, carrier = _module_and_carrier(compatible, dtsfilename)
    is_jetson = bool(l4t or release_line or soc or module)
    family = family_for(module, model, soc) if is_jetson else "unknown"
    return JetsonBoard(
        is_jetson=is_jetson,
        family=family,
        model=model,
        compatible=compatible,
        module=module,
        module_name=MODULE_NAMES.get(module, ""),
        carrier=carrier,
        soc=soc,
        l4t=l4t,
        jetpack=jetpack_for(l4t),
        release_line=release_line,
        cpu_clusters=cpu_clusters_for(family, module),
    )
