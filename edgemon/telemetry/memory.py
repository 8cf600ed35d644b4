"""RAM and swap from ``/proc/meminfo`` (kB -> MB, where MB = MiB as tegrastats and free(1) use it).

Metrics: ``ram_used_mb`` (MemTotal - MemAvailable), ``ram_total_mb``,
``swap_used_mb`` (SwapTotal - SwapFree), ``swap_total_mb``, ``swap_cached_mb``.
Kernels before 3.14 (e.g. L4T 24 on a TX1) have no MemAvailable; there it is
estimated as MemFree + Buffers + Cached. Read twice a second, not at every tick.
"""

from __future__ import annotations

from edgemon.telemetry.base import SourceContext, SourceStatus, SplitSource, read_text

_WANTED = ("MemTotal", "MemAvailable", "MemFree", "Buffers", "Cached",
           "SwapTotal", "SwapFree", "SwapCached")
_NEEDLES = tuple((key, b"\n" + key.encode() + b":") for key in _WANTED)


def parse_meminfo(text: str | bytes) -> dict[str, int]:
    """``{"MemTotal": kB, ...}`` for the keys edgemon uses.

    One ``bytes.find`` per wanted key rather than splitting all ~50 lines: this runs ten
    times a second, and the file is a few kB of which edgemon needs eight lines."""
    raw = b"\n" + (text.encode("ascii", "replace") if isinstance(text, str) else text)
    values: dict[str, int] = {}
    for key, needle in _NEEDLES:
        start = raw.find(needle)
        if start < 0:
            continue
        start += len(needle)
        end = raw.find(b"\n", start)
        try:
            values[key] = int(raw[start:end if end >= 0 else len(raw)].split()[0])
        except (ValueError, IndexError):
            pass
    return values


def meminfo_metrics(kb: dict[str, int]) -> dict[str, float]:
    out: dict[str, float] = {}
    total = kb.get("MemTotal")
    if total is not None:
        avail = kb.get("MemAvailable")
        if avail is None and "MemFree" in kb:
            avail = kb["MemFree"] + kb.get("Buffers", 0) + kb.get("Cached", 0)
        out["ram_total_mb"] = total / 1024.0
        if avail is not None:
            out["ram_used_mb"] = max(total - avail, 0) / 1024.0
    swap_total = kb.get("SwapTotal")
    if swap_total is not None:
        out["swap_total_mb"] = swap_total / 1024.0
        if "SwapFree" in kb:
            out["swap_used_mb"] = max(swap_total - kb["SwapFree"], 0) / 1024.0
    if "SwapCached" in kb:
        out["swap_cached_mb"] = kb["SwapCached"] / 1024.0
    return out


class MemorySource(SplitSource):
    name = "meminfo"
    # Twice a second (the dashboard's redraw rate): memory moves on the scale of seconds, and
    # this is the costliest read of a tick after /proc/stat (benchmarks/monitor_profile.py).
    every_s = 0.5

    def __init__(self, ctx: SourceContext):
        super().__init__(ctx)
        self._path = ctx.path("/proc/meminfo")
        self._file = str(self._path)

    def probe(self) -> SourceStatus:
        text = read_text(self._path)
        if text is None:
            return SourceStatus(self.name, False, f"cannot read {self._path}")
        if "MemTotal" not in parse_meminfo(text):
            return SourceStatus(self.name, False, f"no MemTotal in {self._path}")
        return SourceStatus(self.name, True)

    def capture(self) -> bytes:
        return self.files.raw(self._file)

    def decode(self, captured: object) -> dict[str, float]:
        values = meminfo_metrics(parse_meminfo(captured))  # type: ignore[arg-type]  # our capture: bytes
        if not values:
            raise ValueError(f"no MemTotal in {self._path}")
        return values
