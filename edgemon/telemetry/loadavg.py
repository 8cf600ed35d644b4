"""``load1`` (one-minute load average) from ``/proc/loadavg``, once a second: the kernel
recomputes it only every 5 s, so reading it at every tick would repeat the same number."""

from __future__ import annotations

from edgemon.telemetry.base import SourceContext, SourceStatus, SplitSource, read_text


class LoadAvgSource(SplitSource):
    name = "loadavg"
    every_s = 1.0

    def __init__(self, ctx: SourceContext):
        super().__init__(ctx)
        self._path = ctx.path("/proc/loadavg")
        self._file = str(self._path)

    def probe(self) -> SourceStatus:
        text = read_text(self._path)
        if text is None:
            return SourceStatus(self.name, False, f"cannot read {self._path}")
        try:
            float(text.split()[0])
        except (ValueError, IndexError):
            return SourceStatus(self.name, False, f"unexpected content in {self._path}: {text[:40]!r}")
        return SourceStatus(self.name, True)

    def capture(self) -> bytes:
        return self.files.raw(self._file)

    def decode(self, captured: object) -> dict[str, float]:
        return {"load1": float(captured.split()[0])}  # type: ignore[attr-defined]  # our capture: bytes
