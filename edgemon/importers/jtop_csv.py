"""The CSV that jetson-stats' logger example (``examples/jtop_logger.py``) writes: one row per
``jtop.stats``, its keys as columns (jetson-stats 4.x and later):

==================== ================================= ===================================
column               meaning                           edgemon metric / event
==================== ================================= ===================================
``time``             the board's local date-time       the row's time
``uptime``           time since boot                   (not used)
``CPU1`` .. ``CPUn`` load %, ``OFF`` for an offline    ``cpu{n-1}_util_pct``,
                     core                              ``cpu{n-1}_online``
``RAM``, ``SWAP``    used / total (a fraction)         ``ram_used_pct``, ``swap_used_pct``
``IRAM``             used / total                      ``iram_used_pct``
``EMC``              memory controller load %          ``emc_util_pct``
``GPU``, ``GPU1``    GPU load %                        ``gpu_util_pct``, ``gpu1_util_pct``
engine names         current clock in kHz, ``OFF``     ``engine_{name}_freq_mhz`` (0 when off)
``Fan <name><i>``    fan speed %                       ``fan{i}_pwm_pct``
``Temp <zone>``      degrees C (-256: sensor off)      ``temp_{zone}_c`` (off dropped)
``Power <rail>``     mW                                ``power_{rail}_mw``
``Power TOT``        mW                                ``power_total_mw``
``jetson_clocks``    ``ON`` / ``OFF``                  a ``jetson_clocks`` event when it changes
``nvp model``        power mode name                   a ``power_mode`` event when it changes
==================== ================================= ===================================

jtop logs no clock frequencies, so the throttling analysis of such a recording says there is no
clock to judge. Other columns are listed as unused; a row that cannot be read (a bad time, the
wrong number of fields) is counted with its line number.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from edgemon.errors import UserError
from edgemon.importers.csvfile import Rows, header, open_csv
from edgemon.importers.timebase import LineProblems, parse_datetime

_CPU = re.compile(r"^CPU(\d+)$")
_GPU = re.compile(r"^GPU(\d*)$")
_FAN = re.compile(r"^Fan .*?(\d+)$")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_NOT_ENGINES = {"time", "uptime", "RAM", "SWAP", "IRAM", "EMC", "jetson_clocks", "nvp model"}
TEMP_OFF_C = -40.0


def _name(text: str) -> str:
    return _NON_ALNUM.sub("_", text.strip().lower()).strip("_")


def _float(text: str) -> float | None:
    try:
        v = float(text)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


@dataclass
class JtopImport:
    path: Path
    rows: int = 0
    samples: int = 0
    unparsed: LineProblems = field(default_factory=lambda: LineProblems(what="rows"))
    unused_columns: list[str] = field(default_factory=list)
    first_power_mode: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_meta(self) -> dict:
        out = {"source": "jtop", "file": str(self.path.resolve()), "rows": self.rows, "samples": self.samples,
               "time_from": "timestamps", "unparsed": self.unparsed.to_dict(), "notes": list(self.notes)}
        if self.unused_columns:
            out["unused_columns"] = list(self.unused_columns)
        return out


def _column_metric(col: str) -> tuple[str, str] | None:
    """``(kind, metric)`` for a column; kind says how to read the value."""
    m = _CPU.match(col)
    if m:
        return "cpu", f"cpu{int(m.group(1)) - 1}"
    m = _GPU.match(col)
    if m:
        return "pct", f"gpu{m.group(1)}_util_pct"
    if col in ("RAM", "SWAP", "IRAM"):
        return "fraction", f"{col.lower()}_used_pct"
    if col == "EMC":
        return "pct", "emc_util_pct"
    if col.startswith("Temp "):
        return "temp", f"temp_{_name(col[5:])}_c"
    if col == "Power TOT":
        return "value", "power_total_mw"
    if col.startswith("Power "):
        return "value", f"power_{_name(col[6:])}_mw"
    m = _FAN.match(col)
    if m:
        return "value", f"fan{m.group(1)}_pwm_pct"
    if col in _NOT_ENGINES:
        return None
    if re.match(r"^[A-Z][A-Z0-9_]*$", col):          # APE, NVENC, DLA0_CORE, ...: kHz or OFF
        return "engine", f"engine_{_name(col)}_freq_mhz"
    return None


def samples(job: JtopImport) -> Iterator[tuple[int, dict[str, float], list[tuple[str, dict]]]]:
    """``(unix ns, values, events)`` per row, in file order (jtop writes them in time order)."""
    with open_csv(job.path, "jtop CSV") as f:
        reader = csv.reader(f)
        cols = header(job.path, reader)
        if "time" not in cols:
            raise UserError(f"{job.path} is not a jtop logger CSV: no 'time' column "
                            f"(columns: {', '.join(cols[:12]) or 'none'})")
        known = {c: _column_metric(c) for c in cols}
        if not any(k is not None for k in known.values()):
            raise UserError(f"{job.path} is not a jtop logger CSV: none of its columns is one jtop writes "
                            f"(CPU1, RAM, GPU, Temp ..., Power ...): {', '.join(cols[:12])}")
        job.unused_columns = [c for c, k in known.items() if k is None and c not in _NOT_ENGINES]
        i_time = cols.index("time")
        i_clocks = cols.index("jetson_clocks") if "jetson_clocks" in cols else None
        i_mode = cols.index("nvp model") if "nvp model" in cols else None
        last_clocks, last_mode = None, None
        rows = Rows(reader, job.unparsed)
        for number, row in rows:
            t = parse_datetime(row[i_time]) if len(row) == len(cols) else None
            if t is None:
                job.unparsed.add(number)
                continue
            values: dict[str, float] = {}
            for cell, col in zip(row, cols):
                spec = known[col]
                if spec is not None:
                    _read(values, spec, cell.strip())
            loads = [v for k, v in values.items() if k.startswith("cpu") and k.endswith("_util_pct")]
            if loads:               # as tegrastats and the live sources: the mean of the online cores
                values["cpu_util_pct"] = sum(loads) / len(loads)
            events: list[tuple[str, dict]] = []
            if i_clocks is not None:
                on = row[i_clocks].strip().upper()
                if on in ("ON", "OFF") and on != last_clocks:
                    if last_clocks is not None:
                        events.append(("jetson_clocks", {"on": on == "ON", "ok": True, "source": "jtop log"}))
                    last_clocks = on
            if i_mode is not None:
                mode = row[i_mode].strip()
                if mode and mode != last_mode:
                    if last_mode is None:
                        job.first_power_mode = mode
                    else:
                        events.append(("power_mode", {"name": mode, "from": last_mode, "ok": True,
                                                      "source": "jtop log"}))
                    last_mode = mode
            job.samples += 1
            yield t, values, events
        job.rows = rows.count


def _read(values: dict[str, float], spec: tuple[str, str], cell: str) -> None:
    kind, metric = spec
    if kind == "cpu":
        if cell.upper() == "OFF":
            values[f"{metric}_online"] = 0.0
            return
        v = _float(cell)
        if v is not None and 0 <= v <= 100:
            values[f"{metric}_util_pct"] = v
            values[f"{metric}_online"] = 1.0
        return
    if kind == "engine":
        if cell.upper() == "OFF":
            values[metric] = 0.0
            return
        v = _float(cell)
        if v is not None and v >= 0:
            values[metric] = v / 1000.0          # jtop keeps engine clocks in kHz
        return
    v = _float(cell)
    if v is None:
        return
    if kind == "fraction":
        if 0 <= v <= 1:
            values[metric] = v * 100.0
    elif kind == "pct":
        if 0 <= v <= 100:
            values[metric] = v
    elif kind == "temp":
        if v > TEMP_OFF_C:
            values[metric] = v
    else:
        values[metric] = v
