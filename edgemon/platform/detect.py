"""What machine is this: a Jetson, a Raspberry Pi or plain Linux, and its basic facts.

Everything about the board is read under ``root`` (so an emulated Jetson tree
is detected as that Jetson); hostname, kernel release and architecture come
from the machine edgemon actually runs on.
"""

from __future__ import annotations

import os
import platform as _platform
import re
import socket
from dataclasses import asdict, dataclass, field
from pathlib import Path

_L4T_RE = re.compile(r"#\s*R(\d+)\s*\(release\),\s*REVISION:\s*(\d+(?:\.\d+)*)")
_CPU_DIR_RE = re.compile(r"^cpu(\d+)$")

# aarch64 /proc/cpuinfo has no "model name"; map (implementer, part) to the core's name.
_ARM_PARTS = {
    (0x41, 0xD03): "Cortex-A53", (0x41, 0xD04): "Cortex-A35", (0x41, 0xD05): "Cortex-A55",
    (0x41, 0xD07): "Cortex-A57", (0x41, 0xD08): "Cortex-A72", (0x41, 0xD09): "Cortex-A73",
    (0x41, 0xD0A): "Cortex-A75", (0x41, 0xD0B): "Cortex-A76", (0x41, 0xD0C): "Neoverse-N1",
    (0x41, 0xD0D): "Cortex-A77", (0x41, 0xD41): "Cortex-A78", (0x41, 0xD42): "Cortex-A78AE",
    (0x41, 0xD4F): "Neoverse-V2", (0x41, 0xD84): "Neoverse-V3AE",
    (0x4E, 0x003): "NVIDIA Denver 2", (0x4E, 0x004): "NVIDIA Carmel",
}


@dataclass
class PlatformInfo:
    kind: str                        # "jetson" | "rpi" | "linux"
    model: str                       # board/product name; "" when unknown
    hostname: str
    kernel: str                      # platform.release()
    arch: str                        # platform.machine()
    cpu_count: int                   # cores present (online or not)
    cpu_online: int                  # cores online now
    cpu_model: str                   # e.g. "Intel(R) Xeon(R) ...", "Cortex-A78AE"; "" when unknown
    l4t_release: str | None = None   # "32.7.1" from /etc/nv_tegra_release
    jetpack: str | None = None       # "4.6.1": the JetPack release of that L4T, where known
    in_container: bool = False
    compatible: list[str] = field(default_factory=list)   # device-tree compatible strings
    root: str = "/"

    @property
    def is_jetson(self) -> bool:
        return self.kind == "jetson"

    def to_dict(self) -> dict:
        return asdict(self)


def _read(path: Path) -> str | None:
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return None


def parse_l4t_release(text: str | None) -> str | None:
    """``"# R32 (release), REVISION: 7.1, ..."`` -> ``"32.7.1"``; ``None`` if not that shape."""
    if not text:
        return None
    m = _L4T_RE.search(text)
    return f"{m.group(1)}.{m.group(2)}" if m else None


def parse_cpu_model(cpuinfo: str | None) -> str:
    if not cpuinfo:
        return ""
    fields: dict[str, str] = {}
    for line in cpuinfo.splitlines():
        key, sep, value = line.partition(":")
        key = key.strip()
        if sep and key and key not in fields:
            fields[key] = value.strip()
    for key in ("model name", "cpu model"):   # x86 and 32-bit ARM; MIPS
        if fields.get(key):
            return fields[key]
    try:
        part = _ARM_PARTS.get((int(fields["CPU implementer"], 0), int(fields["CPU part"], 0)))
    except (KeyError, ValueError):
        part = None
    if part:
        return part
    return fields.get("Hardware") or fields.get("Processor") or fields.get("cpu") or ""


def _cpu_counts(root: Path) -> tuple[int, int]:
    from edgemon.telemetry.procstat import parse_cpu_list   # light; keeps one list parser

    cpu_dir = root / "sys/devices/system/cpu"
    present = parse_cpu_list(_read(cpu_dir / "present"))
    if not present:
        try:
            present = {int(m.group(1)) for m in map(_CPU_DIR_RE.match, os.listdir(cpu_dir)) if m}
        except OSError:
            present = set()
    online = parse_cpu_list(_read(cpu_dir / "online"))
    if online is None:
        online = present
    if not present and root == Path("/"):
        n = os.cpu_count() or 0
        return n, n
    return len(present | online), len(online)


def _model(root: Path) -> str:
    for rel in ("proc/device-tree/model", "sys/firmware/devicetree/base/model",
                "sys/class/dmi/id/product_name", "sys/devices/virtual/dmi/id/product_name"):
        text = _read(root / rel)
        if text:
            text = text.replace("\x00", "").strip()
            if text:
                return text
    return ""


def _compatible(root: Path) -> list[str]:
    for rel in ("proc/device-tree/compatible", "sys/firmware/devicetree/base/compatible"):
        text = _read(root / rel)
        if text:
            return [s for s in text.split("\x00") if s]
    return []


def _in_container(root: Path) -> bool:
    if (root / ".dockerenv").exists() or (root / "run/.containerenv").exists():
        return True
    cgroup = _read(root / "proc/1/cgroup") or ""
    return any(hint in cgroup for hint in ("docker", "kubepods", "containerd", "lxc", "libpod"))


def detect(root: Path | str = Path("/")) -> PlatformInfo:
    """Never raises: unknown facts are empty strings / ``None``."""
    from edgemon.platform.jetson import jetpack_for   # jetson.py builds on this module

    root = Path(root)
    model = _model(root)
    compatible = _compatible(root)
    nv_release = _read(root / "etc/nv_tegra_release")
    if nv_release is not None or any(c.startswith("nvidia,tegra") for c in compatible):
        kind = "jetson"
    elif "Raspberry Pi" in model:
        kind = "rpi"
    else:
        kind = "linux"
    cpu_count, cpu_online = _cpu_counts(root)
    l4t = parse_l4t_release(nv_release)
    try:
        hostname = socket.gethostname()
    except OSError:
        hostname = ""
    return PlatformInfo(
        kind=kind,
        model=model,
        hostname=hostname,
        kernel=_platform.release(),
        arch=_platform.machine(),
        cpu_count=cpu_count,
        cpu_online=cpu_online,
        cpu_model=parse_cpu_model(_read(root / "proc/cpuinfo")),
        l4t_release=l4t,
        jetpack=jetpack_for(l4t) or None,
        in_container=_in_container(root),
        compatible=compatible,
        root=str(root),
    )
