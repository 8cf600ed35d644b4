"""Jetson integrated GPU: load and clock from devfreq (the files jetson-stats reads too:
https://github.com/rbonghi/jetson_stats/blob/master/jtop/core/gpu.py).

Discovery (once, in :meth:`JetsonGpuSource.probe`): every ``/sys/class/devfreq/*``
entry whose name or ``device/of_node/name`` names the GPU (``57000000.gpu`` Nano/TX1,
``17000000.gp10b`` TX2, ``17000000.gv11b`` Xavier, ``17000000.ga10b`` Orin JP5,
``17000000.gpu`` Orin JP6/7, ``gpu-gpc-N`` Thor), falling back to the fixed
nvpmodel paths when the class directory is missing. ``gpu-nvd-N`` (Thor's NVDEC)
is not the GPU.

Metrics:

* ``gpu_freq_mhz``: devfreq ``cur_freq`` (Hz) / 1e6; with several GPC nodes (Thor)
  each is ``gpu_gpc{N}_freq_mhz`` and ``gpu_freq_mhz`` is the highest.
* ``gpu_gpc{N}_freq_mhz`` also from ``/sys/kernel/debug/bpmp/debug/clk/nafll_gpc{N}/pto_counter``
  (Hz, root only; AGX Orin's two GPCs) when readable. ``gpu_freq_mhz`` stays the devfreq
  clock there: the counters read 0 while a GPC is power-gated.
* ``gpu_util_pct``: the per-mille ``load`` file / 10 — ``<devfreq>/device/load``, else
  ``/sys/devices/gpu.0/load``, else ``/sys/devices/platform/gpu.0/load``. Thor has none
  (its utilisation comes from NVML or tegrastats).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from edgemon.telemetry.base import Source, SourceContext, SourceStatus, read_int, read_text

# devfreq of_node names jetson-stats accepts as the iGPU, and devfreq entry names seen on boards.
GPU_OF_NODE_NAMES = frozenset({"gv11b", "gp10b", "ga10b", "gb10b", "gpu"})
_GPU_ENTRY_RE = re.compile(r"^(?:[0-9a-f]+\.(?:gpu|gp10b|gv11b|ga10b|gb10b)|gpu-gpc-\d+)$")
_GPC_ENTRY_RE = re.compile(r"^gpu-gpc-(\d+)$")
_NOT_GPU_RE = re.compile(r"^gpu-nv[a-z]-\d+$")        # Thor gpu-nvd-0 (NVDEC) and friends

# Fixed devfreq directories (nvpmodel.conf paths) for trees without /sys/class/devfreq.
FALLBACK_DEVFREQ_DIRS = (
    "/sys/devices/gpu.0/devfreq/57000000.gpu",
    "/sys/devices/57000000.gpu/devfreq/57000000.gpu",
    "/sys/devices/17000000.gp10b/devfreq/17000000.gp10b",
    "/sys/devices/17000000.gv11b/devfreq/17000000.gv11b",
    "/sys/devices/17000000.ga10b/devfreq_dev",
)
LEGACY_LOAD_FILES = ("/sys/devices/gpu.0/load", "/sys/devices/platform/gpu.0/load")
GPC_COUNTER = "/sys/kernel/debug/bpmp/debug/clk/nafll_gpc{n}/pto_counter"


@dataclass(frozen=True)
class GpuDevfreq:
    """One discovered devfreq node of the GPU."""

    name: str            # class entry name, e.g. "17000000.gpu", "gpu-gpc-0"
    path: str            # devfreq directory (cur_freq, min_freq, max_freq, ...)
    gpc: int | None      # GPC index for Thor's per-GPC nodes


@dataclass(frozen=True)
class GpuLimits:
    """The GPU clock range; ``max_mhz`` is the ceiling the current power mode allows."""

    governor: str | None
    cur_mhz: float | None
    min_mhz: float | None            # devfreq min_freq
    max_mhz: float | None            # devfreq max_freq (nvpmodel / jetson_clocks write it)
    available_mhz: tuple[float, ...]  # available_frequencies, ascending; () when not given
    hw_max_mhz: float | None         # highest available frequency (else max_mhz)


def _mhz(hz: int | None) -> float | None:
    return None if hz is None else hz / 1e6


def _is_gpu_entry(name: str, of_node: str | None) -> bool:
    if _NOT_GPU_RE.match(name):
        return False
    if _GPU_ENTRY_RE.match(name):
        return True
    if of_node is not None:
        of_node = of_node.replace("\x00", "").strip()
        return of_node in GPU_OF_NODE_NAMES or "gpu" in of_node
    return False


def find_gpu_devfreq(ctx: SourceContext) -> list[GpuDevfreq]:
    """The GPU's devfreq nodes under ``ctx.root``, GPCs in index order."""
    found: list[GpuDevfreq] = []
    seen: set[str] = set()
    class_dir = ctx.path("/sys/class/devfreq")
    try:
        names = sorted(os.listdir(class_dir))
    except OSError:
        names = []
    for name in names:
        entry = class_dir / name
        of_node = read_text(entry / "device" / "of_node" / "name")
        if not _is_gpu_entry(name, of_node):
            continue
        if not (entry / "cur_freq").exists():
            continue
        real = os.path.realpath(entry)
        if real in seen:
            continue
        seen.add(real)
        m = _GPC_ENTRY_RE.match(name)
        found.append(GpuDevfreq(name, real, int(m.group(1)) if m else None))
    if not found:
        for fixed in FALLBACK_DEVFREQ_DIRS:
            path = ctx.path(fixed)
            if (path / "cur_freq").exists():
                found.append(GpuDevfreq(Path(fixed).name, os.path.realpath(path), None))
                break
    found.sort(key=lambda d: (d.gpc is None, d.gpc if d.gpc is not None else 0, d.name))
    return found


def find_load_file(ctx: SourceContext, node: GpuDevfreq) -> str | None:
    """The per-mille load file for the GPU, or ``None`` (Thor)."""
    candidates = [os.path.join(node.path, "device", "load")]
    candidates += [str(ctx.path(p)) for p in LEGACY_LOAD_FILES]
    for path in candidates:
        if read_int(Path(path)) is not None:
            return path
    return None


class JetsonGpuSource(Source):
    """``gpu_util_pct``, ``gpu_freq_mhz`` and ``gpu_gpc{N}_freq_mhz`` of a Jetson iGPU."""

    name = "jetson_gpu"

    def __init__(self, ctx: SourceContext):
        super().__init__(ctx)
        self.nodes: list[GpuDevfreq] = []
        self.load_path: str | None = None
        self._freq_paths: list[tuple[str | None, str]] = []   # (gpc metric or None, cur_freq path)
        self._counter_paths: list[tuple[str, str]] = []       # (metric, pto_counter path)

    def probe(self) -> SourceStatus:
        try:
            return self._probe()
        except Exception as exc:     # a broken tree must not take the session down
            return SourceStatus(self.name, False, f"GPU discovery failed: {exc}")

    def _probe(self) -> SourceStatus:
        self.nodes = find_gpu_devfreq(self.ctx)
        if not self.nodes:
            return SourceStatus(
                self.name, False,
                f"no GPU devfreq node under {self.ctx.path('/sys/class/devfreq')} "
                "(no entry named *.gpu/gp10b/gv11b/ga10b/gpu-gpc-N or with of_node name gpu)")
        gpcs = [n for n in self.nodes if n.gpc is not None]
        if gpcs:
            self._freq_paths = [(f"gpu_gpc{n.gpc}_freq_mhz", os.path.join(n.path, "cur_freq")) for n in gpcs]
        else:
            self._freq_paths = [(None, os.path.join(self.nodes[0].path, "cur_freq"))]
        if read_int(Path(self._freq_paths[0][1])) is None:
            return SourceStatus(self.name, False, f"GPU clock unreadable: {self._freq_paths[0][1]}")
        self.load_path = find_load_file(self.ctx, self.nodes[0])
        self._counter_paths = []
        if not gpcs:
            for n in range(8):
                path = self.ctx.path(GPC_COUNTER.format(n=n))
                if read_int(path) is None:
                    break
                self._counter_paths.append((f"gpu_gpc{n}_freq_mhz", str(path)))
        detail = ", ".join(n.name for n in self.nodes)
        if self.load_path is None:
            detail += "; no load file (utilisation from NVML/tegrastats)"
        if self._counter_paths:
            detail += f"; {len(self._counter_paths)} GPC counters"
        return SourceStatus(self.name, True, detail=detail)

    def read(self) -> dict[str, float]:
        out: dict[str, float] = {}
        freqs: list[float] = []
        for metric, path in self._freq_paths:
            hz = self.files.int(path)
            if hz is None:
                continue
            mhz = hz / 1e6
            freqs.append(mhz)
            if metric:
                out[metric] = mhz
        if freqs:
            out["gpu_freq_mhz"] = max(freqs)
        for metric, path in self._counter_paths:
            hz = self.files.int(path)
            if hz is not None:
                out[metric] = hz / 1e6
        if self.load_path is not None:
            permille = self.files.int(self.load_path)
            if permille is not None:
                out["gpu_util_pct"] = permille / 10.0
        if not out and (self._freq_paths or self.load_path):
            raise OSError(f"GPU files vanished: {self._freq_paths[0][1] if self._freq_paths else self.load_path}")
        return out

    def limits(self) -> GpuLimits | None:
        """Current clock range of the (first) GPU devfreq node, read now; ``None`` if not probed."""
        if not self.nodes:
            return None
        path = Path(self.nodes[0].path)
        available: list[float] = []
        for tok in (read_text(path / "available_frequencies") or "").split():
            try:
                available.append(int(tok) / 1e6)
            except ValueError:
                continue
        available.sort()
        max_mhz = _mhz(read_int(path / "max_freq"))
        return GpuLimits(
            governor=read_text(path / "governor"),
            cur_mhz=_mhz(read_int(path / "cur_freq")),
            min_mhz=_mhz(read_int(path / "min_freq")),
            max_mhz=max_mhz,
            available_mhz=tuple(available),
            hw_max_mhz=available[-1] if available else max_mhz,
        )
