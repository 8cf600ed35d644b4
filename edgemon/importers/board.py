"""Which Jetson printed these tegrastats lines: a guess from their rails, core count and RAM.

The power rails name the carrier's INA sensors and differ per board (docs/architecture.md
"Metric names" lists the families); where they are shared (Xavier NX, Orin NX and Orin Nano all
have ``VDD_CPU_GPU_CV``) the RAM total, the core count and MTS (Carmel cores only) decide. Totals
as tegrastats prints them: Nano 3964-3965 MB, TX1 3983-3995, TX2 7844-7859, TX2 NX 3825-3830,
AGX Xavier 15692-15827, Xavier NX 6851 / 7771, Orin Nano 7486 / 7620, Orin NX 8 GB 7620, AGX
Orin 30536 / 62780-62841, Thor 125749-125773. A guess says so, with its evidence, and may name
several candidates.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class BoardGuess:
    family: str                       # one of edgemon.platform.jetson.FAMILIES ("unknown" if no clue)
    candidates: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"family": self.family, "candidates": list(self.candidates), "evidence": list(self.evidence),
                "guessed": True}

    @property
    def title(self) -> str:
        names = " or ".join(self.candidates) if len(self.candidates) > 1 else self.family
        return f"Jetson {names} (guessed from the log)"


def _between(v: float | None, lo: float, hi: float) -> bool:
    return v is not None and lo <= v <= hi


def guess_board(lines: list[dict[str, float]]) -> BoardGuess:
    """The most likely family for parsed tegrastats lines (``parse_line`` results)."""
    keys: set[str] = set()
    for values in lines:
        keys.update(values)
    ram = next((v["ram_total_mb"] for v in lines if "ram_total_mb" in v), None)
    cores = len({k.split("_")[0] for k in keys if k.startswith("cpu") and k[3:4].isdigit()})
    rails = {k[len("power_"):-len("_mw")] for k in keys
             if k.startswith("power_") and k.endswith("_mw") and not k.endswith("_avg_mw")} - {"total"}
    mts = any(k.startswith("engine_mts") for k in keys)
    ev = [f"{cores} CPU cores" if cores else "no CPU cores listed"]
    if ram is not None:
        ev.append(f"RAM total {ram:g} MB")
    if rails:
        ev.append("rails " + ", ".join(sorted(r.upper() for r in rails)))
    if mts:
        ev.append("MTS (Denver/Carmel cores)")

    def one(family: str, *more: str) -> BoardGuess:
        return BoardGuess(family, [family, *more], ev)

    if "pom_5v_in" in rails:
        return one("nano")
    if rails & {"vdd_cpu_soc_mss"} or (ram is not None and ram > 100_000):
        return one("thor")
    if rails & {"vdd_gpu_soc", "vdd_cpu_cv"} or _between(ram, 30_000, 31_000) or _between(ram, 62_000, 64_500):
        return one("agx-orin")
    if rails & {"sys5v", "vddrq", "cv"} or (cores == 8 and mts):
        return one("agx-xavier")
    if rails & {"vdd_sys_gpu", "vdd_sys_cpu", "vdd_ddr", "vdd_wifi"} or _between(ram, 7_840, 7_860):
        return one("tx2")
    if "vdd_cpu_gpu_cv" in rails or cores in (6, 8) and ram is not None:
        if mts or _between(ram, 6_800, 6_900) or _between(ram, 7_700, 7_800):
            return one("xavier-nx")
        if cores == 8 or _between(ram, 14_000, 16_500):
            return one("orin-nx")
        if _between(ram, 7_400, 7_500):
            return one("orin-nano")
        if _between(ram, 7_550, 7_700):
            return BoardGuess("orin-nano", ["orin-nano", "orin-nx"], ev)
        if _between(ram, 3_800, 3_850):
            return one("tx2")
        return BoardGuess("orin-nano", ["orin-nano", "orin-nx", "xavier-nx"], ev)
    if cores == 6 and _between(ram, 3_800, 3_850):
        return one("tx2")
    if cores == 4:
        if _between(ram, 3_975, 4_000) and not rails:
            return one("tx1")
        return one("nano", "tx1")
    return BoardGuess("unknown", [], ev)
