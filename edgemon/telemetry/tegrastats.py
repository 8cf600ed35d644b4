"""Parse one line of ``tegrastats`` output into edgemon metric names (docs/metrics.md).

Handles every form seen from L4T 24 to JetPack 7 (fields: NVIDIA's "tegrastats Utility" page,
https://docs.nvidia.com/jetson/archives/r35.4.1/DeveloperGuide/text/AT/JetsonLinuxDevelopmentTools/TegrastatsUtility.html;
one real line of each form in tests/tegrastats_expected.py): with or
without the leading ``MM-DD-YYYY HH:MM:SS``, root and user lines, any field
order. The line is split on whitespace and walked once; a token that fits no
known field is skipped and reported, never fatal. :func:`parse_line` never
raises.

Decisions beyond the table in docs/metrics.md:

* ``off`` cores give only ``cpuN_online = 0``; ``off`` engines/GPU/EMC give
  0 MHz and 0 %.
* ``PMIC@100C`` / ``PMIC@50C`` is a constant placeholder in every release
  (jtop skips it too), so it is dropped.
* A value outside its physical range (the metric catalogue's: the ``-256C`` "sensor off"
  zones, a load over 100 %) is dropped and listed in ``ParseResult.implausible``.
* Values the schema has no name for are ignored on purpose: RAM/IRAM largest
  free block, IRAM total, JetPack 7's running max of rails (third value) and
  of temperatures (``cur/max``).
* ``MTS fg x% bg y%`` -> ``engine_mts_fg_util_pct`` / ``engine_mts_bg_util_pct``.
* A GPU clock printed as ``@0`` (``GR3D_FREQ 0%@0 GR3D2_FREQ 0%@0``, AGX Orin on
  JetPack 5.0.2/5.1) is unknown, not 0 MHz: that tegrastats printed 0 for a clock it
  did not read (jetson_stats#362); a GPU is never clocked at 0 MHz.
* JetPack 7 numbers the first instance of an engine that JetPack 6 does not
  (``NVDEC0``/``NVJPG0``/``NVENC0``, with or without ``_FREQ``): they land in the same
  column as ``NVDEC``/``NVJPG``/``NVENC``; the second instance keeps its ``1``.
* :attr:`ParseResult.power_total_source` says what ``power_total_mw`` is: the input
  rail's name where the line prints one, else ``"sum"`` (Thor on R38.4 prints no ``VIN``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from edgemon.telemetry import catalogue

__all__ = ["ParseResult", "parse_line", "parse_line_ex", "INPUT_RAILS"]

# Board input rails, in order of preference. Where one is present it *is* the
# board's total; adding it to its sub-rails would double count (jetson_stats#51).
# AGX Xavier (SYS5V) and AGX Orin (VIN_SYS_5V0) have no input rail: total = sum.
INPUT_RAILS = ("POM_5V_IN", "VDD_IN", "VIN")

# Zones whose reading is a fixed placeholder, not a measurement.
PLACEHOLDER_ZONES = frozenset({"pmic"})

# Bounded digits: always a finite float (a 400-digit "number" is garbage, not inf).
_NUM = r"[0-9]{1,15}(?:\.[0-9]{1,9})?"

_TIMESTAMP_PREFIX_RE = re.compile(r"\s*\d{1,2}-\d{1,2}-\d{4}\s+\d{1,2}:\d{2}:\d{2}(?=\s|$)")
_DATE_TOKEN_RE = re.compile(r"\d{1,2}-\d{1,2}-\d{4}$")
_TIME_TOKEN_RE = re.compile(r"\d{1,2}:\d{2}:\d{2}$")
# Wrapper scripts log `date` output between tegrastats lines: "Tue Jan 26 18:22:31 UTC 2021".
_DATE_CMD_RE = re.compile(
    r"\s*(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)\s+[A-Z][a-z]{2}\s+\d{1,2}\s+\d{1,2}:\d{2}:\d{2}"
    r"(?:\s+[A-Z]{2,5}[+-]?\d*)?\s+\d{4}(?=\s|$)"
)

# "2000/3964MB" and "0/252kB(lfb" (IRAM glues the parenthesis on).
_MEM_RE = re.compile(r"(" + _NUM + r")/(" + _NUM + r")([kMG]?B)(\((?:lfb|cached))?$")
# "25x4MB)", "1x512kB)", "252kB)", "0MB)"
_MEM_PAREN_RE = re.compile(r"(?:[0-9]+x)?(" + _NUM + r")([kMG]?B)\)$")
_CPU_LIST_RE = re.compile(r"\[([^\]]*)\](?:@(" + _NUM + r"))?$")
_CORE_RE = re.compile(r"(" + _NUM + r")%(?:@(" + _NUM + r"))?$")
_TEMP_RE = re.compile(
    r"([A-Za-z][A-Za-z0-9_.\-]*)@(-?" + _NUM + r")C(?:/-?" + _NUM + r"C)?$"
)
_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*$")
_UPPER_NAME_RE = re.compile(r"[A-Z][A-Z0-9_]*$")
# "5000/5000", "2763mW/2846mW", "4832mW/4832mW/4832mW", "1.5W/2W"
_RAIL_RE = re.compile(
    r"(" + _NUM + r")(mW|W|uW)?/(" + _NUM + r")(mW|W|uW)?(?:/(" + _NUM + r")(mW|W|uW)?)?$"
)
# "0%@1600", "0%", "@4266", "0%@[305,305]", "@[314,314,314]", "115", "off"
_LOAD_RE = re.compile(
    r"(?:(" + _NUM + r")%)?(?:@(?:(" + _NUM + r")|\[(" + _NUM + r"(?:," + _NUM + r")*)\]))?$"
)
_BARE_RE = re.compile(_NUM + r"$")
_GR3D_RE = re.compile(r"GR3D([0-9]{0,3})(?:_FREQ)?$")
_PCT_RE = re.compile(r"(" + _NUM + r")%$")
_NON_ALNUM_RE = re.compile(r"[^a-z0-9]+")

_MB_PER = {"B": 1.0 / (1024 * 1024), "kB": 1.0 / 1024, "MB": 1.0, "GB": 1024.0}
_KB_PER = {"B": 1.0 / 1024, "kB": 1.0, "MB": 1024.0, "GB": 1024.0 * 1024}
_MW_PER = {"mW": 1.0, "W": 1000.0, "uW": 0.001}


@dataclass
class ParseResult:
    """Metrics parsed from one line, and the tokens that fit no known field."""

    values: dict[str, float] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    implausible: list[str] = field(default_factory=list)   # metrics dropped as physically impossible
    power_total_source: str | None = None   # the input rail's name, "sum", or None (no rails)


def parse_line(line: str) -> dict[str, float]:
    """``{metric: value}`` for one tegrastats line; ``{}`` for nothing usable. Never raises."""
    return parse_line_ex(line).values


def parse_line_ex(line: str) -> ParseResult:
    """Like :func:`parse_line`, plus the list of tokens that were skipped. Never raises."""
    result = ParseResult()
    try:
        if isinstance(line, (bytes, bytearray)):
            line = line.decode("utf-8", "replace")
        elif not isinstance(line, str):
            result.skipped.append(repr(line)[:80])
            return result
        _Parser(result).run(line)
        result.implausible = catalogue.drop_implausible(result.values)
    except Exception:  # defensive: a parser bug must not kill the sampler
        result.skipped.append("<parser error>")
    return result


class _Parser:
    """One pass over the tokens of one line; collects, then derives totals."""

    __slots__ = ("result", "out", "skipped", "gpu_util", "gpcs", "gpc_list", "rails")

    def __init__(self, result: ParseResult):
        self.result = result
        self.out = result.values
        self.skipped = result.skipped
        self.gpu_util: list[float] = []
        self.gpcs: dict[int, float] = {}     # GPC index -> MHz
        self.gpc_list = False                 # a per-GPC clock list was given
        self.rails: dict[str, float] = {}     # upper-case name -> mW (NC excluded)

    def run(self, line: str) -> None:
        m = _TIMESTAMP_PREFIX_RE.match(line) or _DATE_CMD_RE.match(line)
        if m:
            line = line[m.end():]
        toks = line.split()
        n = len(toks)
        skipped = self.skipped
        i = 0
        # One pass; the common cases are inlined because this runs 10x/s on a Nano.
        while i < n:
            t = toks[i]
            nxt = toks[i + 1] if i + 1 < n else None
            if nxt is not None:
                handler = _KEYWORDS.get(t)
                if handler is not None:
                    j = handler(self, toks, i, n)
                    if j:
                        i = j
                        continue
            if "@" in t:
                if not self._temp(t):
                    skipped.append(t)
                i += 1
                continue
            if "0" <= t[0] <= "9":
                if not (_DATE_TOKEN_RE.match(t) or _TIME_TOKEN_RE.match(t)):
                    skipped.append(t)
                i += 1
                continue
            if nxt is not None and _NAME_RE.match(t):
                m = _RAIL_RE.match(nxt) if "/" in nxt else None
                if m:
                    self._rail(t, m)
                    i += 2
                    continue
                if _UPPER_NAME_RE.match(t) and self._load(t, nxt):
                    i += 2
                    continue
            skipped.append(t)
            i += 1
        self._finish()

    # -- memory -----------------------------------------------------------------

    def _memory(self, toks: list[str], i: int, n: int):
        """``RAM u/tMB (lfb NxSMB)``, ``SWAP u/tMB (cached NMB)``, ``IRAM u/tkB(lfb NkB)``."""
        kind = toks[i]
        m = _MEM_RE.match(toks[i + 1])
        if not m:
            return 0
        used, total, unit, glued = float(m.group(1)), float(m.group(2)), m.group(3), m.group(4)
        j = i + 2
        paren = None
        if glued:
            if j < n:
                paren = _MEM_PAREN_RE.match(toks[j])
                if paren:
                    j += 1
        elif j + 1 < n and toks[j] in ("(lfb", "(cached"):
            paren = _MEM_PAREN_RE.match(toks[j + 1])
            if paren:
                j += 2
        out = self.out
        if kind == "IRAM":
            out["iram_used_kb"] = used * _KB_PER[unit]
        else:
            scale = _MB_PER[unit]
            prefix = "ram" if kind == "RAM" else "swap"
            out[prefix + "_used_mb"] = used * scale
            out[prefix + "_total_mb"] = total * scale
            if kind == "SWAP" and paren is not None:
                out["swap_cached_mb"] = float(paren.group(1)) * _MB_PER[paren.group(2)]
        return j

    # -- CPU --------------------------------------------------------------------

    def _cpu(self, toks: list[str], i: int, n: int):
        """``CPU [a%@f,off,...]``, old ``cpu [a%,b%]@f`` and ``CPU [0%,off]@f``."""
        m = _CPU_LIST_RE.match(toks[i + 1])
        if not m:
            return 0
        entries, shared_freq = m.groups()
        out = self.out
        utils = []
        for idx, entry in enumerate(entries.split(",")):
            keys = _CORE_KEYS[idx] if idx < len(_CORE_KEYS) else _core_keys(idx)
            if entry == "off":
                out[keys[2]] = 0.0
                continue
            cm = _CORE_RE.match(entry)
            if not cm:
                self.skipped.append(entry)
                continue
            util, freq = cm.groups()
            util = float(util)
            freq = freq or shared_freq
            out[keys[0]] = util
            if freq is not None:
                out[keys[1]] = float(freq)
            out[keys[2]] = 1.0
            utils.append(util)
        if utils:
            out["cpu_util_pct"] = sum(utils) / len(utils)
        return i + 2

    # -- MTS --------------------------------------------------------------------

    def _mts(self, toks: list[str], i: int, n: int):
        """``MTS fg x% bg y%`` (Denver/Carmel boards, root only)."""
        if i + 4 >= n or toks[i + 1] != "fg" or toks[i + 3] != "bg":
            return 0
        fg, bg = _PCT_RE.match(toks[i + 2]), _PCT_RE.match(toks[i + 4])
        if not (fg and bg):
            return 0
        self.out["engine_mts_fg_util_pct"] = float(fg.group(1))
        self.out["engine_mts_bg_util_pct"] = float(bg.group(1))
        return i + 5

    # -- temperatures -----------------------------------------------------------

    def _temp(self, t: str) -> bool:
        m = _TEMP_RE.match(t)
        if not m:
            return False
        name, value = m.groups()
        key = _TEMP_KEYS.get(name)
        if key is None:
            zone = _NON_ALNUM_RE.sub("_", name.lower()).strip("_")
            key = "" if not zone or zone in PLACEHOLDER_ZONES else "temp_" + zone + "_c"
            _remember(_TEMP_KEYS, name, key)
        if key:
            self.out[key] = float(value)     # "sensor off" (-256) is dropped with the implausible values
        return True

    # -- power rails ------------------------------------------------------------

    def _rail(self, name: str, m: re.Match) -> None:
        if name == "NC":  # unconnected INA channel, may appear several times
            return
        cur, cur_unit, avg, avg_unit = m.group(1, 2, 3, 4)
        cur_unit = cur_unit or "mW"
        avg_unit = avg_unit or cur_unit   # a unitless second value shares the first's unit
        keys = _RAIL_KEYS.get(name)
        if keys is None:
            base = "power_" + name.lower()
            keys = (base + "_mw", base + "_avg_mw", name.upper())
            _remember(_RAIL_KEYS, name, keys)
        cur = float(cur) * _MW_PER[cur_unit]
        self.out[keys[0]] = cur
        self.out[keys[1]] = float(avg) * _MW_PER[avg_unit]
        self.rails[keys[2]] = cur

    # -- GPU, EMC, engines: "x%@f", "x%", "@f", "f", "off", "x%@[f,f]" ----------

    def _load(self, name: str, value: str) -> bool:
        if value == "off":
            util, freqs, is_list = 0.0, [0.0], False
        elif _BARE_RE.match(value):
            util, freqs, is_list = None, [float(value)], False
        else:
            m = _LOAD_RE.match(value)
            if not m:
                return False
            pct, freq, freq_list = m.groups()
            if not (pct or freq or freq_list):
                return False
            util = float(pct) if pct else None
            if freq_list:
                freqs = [float(f) for f in freq_list.split(",")]
                is_list = True
            elif freq:
                freqs, is_list = [float(freq)], False
            else:
                freqs, is_list = [], False
        gm = _GR3D_RE.match(name) if name.startswith("GR3D") else None
        if gm:
            first = int(gm.group(1)) - 1 if gm.group(1) else 0
            if first < 0:
                return False
            if util is not None:
                self.gpu_util.append(util)
            for k, f in enumerate(freqs):
                if f > 0 or value == "off":           # "@0": the clock is unknown, not 0 MHz
                    self.gpcs[first + k] = f
            if is_list or first > 0:
                self.gpc_list = True
            return True
        out = self.out
        prefix = _LOAD_PREFIXES.get(name)
        if prefix is None:
            if name == "EMC_FREQ" or name == "EMC":
                prefix = "emc_"
            else:
                base = name[:-5] if name.endswith("_FREQ") else name
                base = _FIRST_INSTANCE.get(base, base)
                prefix = "engine_" + base.lower() + "_"
            _remember(_LOAD_PREFIXES, name, prefix)
        if util is not None:
            out[prefix + "util_pct"] = util
        if freqs:
            out[prefix + "freq_mhz"] = max(freqs)
        return True

    # -- derived ----------------------------------------------------------------

    def _finish(self) -> None:
        out = self.out
        if self.gpu_util:
            out["gpu_util_pct"] = max(self.gpu_util)
        if self.gpcs:
            out["gpu_freq_mhz"] = max(self.gpcs.values())
            if self.gpc_list:
                for idx, f in self.gpcs.items():
                    out["gpu_gpc%d_freq_mhz" % idx] = f
        rails = self.rails
        if rails:
            for name in INPUT_RAILS:
                if name in rails:
                    out["power_total_mw"] = rails[name]
                    self.result.power_total_source = name
                    break
            else:
                out["power_total_mw"] = sum(rails.values())
                self.result.power_total_source = "sum"


# Metric keys derived from names; names repeat on every line. Bounded so that a
# stream of garbage names cannot grow them without limit.
_CACHE_MAX = 512
_TEMP_KEYS: dict[str, str] = {}
_RAIL_KEYS: dict[str, tuple[str, str, str]] = {}
_LOAD_PREFIXES: dict[str, str] = {}


# JetPack 7 names the first instance of these engines with a 0 (JetPack 6: NVDEC, NVJPG, NVJPG1).
_FIRST_INSTANCE = {"NVDEC0": "NVDEC", "NVENC0": "NVENC", "NVJPG0": "NVJPG"}


def _core_keys(idx: int) -> tuple[str, str, str]:
    return ("cpu%d_util_pct" % idx, "cpu%d_freq_mhz" % idx, "cpu%d_online" % idx)


_CORE_KEYS = [_core_keys(idx) for idx in range(64)]


def _remember(cache: dict, name: str, value) -> None:
    if len(cache) < _CACHE_MAX:
        cache[name] = value


_KEYWORDS = {
    "RAM": _Parser._memory,
    "SWAP": _Parser._memory,
    "IRAM": _Parser._memory,
    "CPU": _Parser._cpu,
    "cpu": _Parser._cpu,
    "MTS": _Parser._mts,
}
