"""Property tests: parse_line never raises and does not depend on field order."""

from __future__ import annotations

import math
import re
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgemon.telemetry.tegrastats import parse_line, parse_line_ex

try:  # tests/ as a package or as a plain folder on sys.path
    from tests.tegrastats_expected import LINES as REFERENCE_LINES
except ImportError:
    from tegrastats_expected import LINES as REFERENCE_LINES

# A few lines beyond the reference lines, so old forms (L4T 24-28) are mutated too.
EXTRA_LINES = [
    "RAM 1725/3983MB (lfb 225x4MB) cpu [14%,5%,10%,8%]@204 EMC 5%@1600 AVP 51%@12 NVDEC 192 "
    "MSENC 192 GR3D 0%@76",
    "RAM 2257/30536MB (lfb 5392x4MB) SWAP 0/15268MB (cached 0MB) CPU [1%@729,2%@729,off,4%@729] "
    "EMC_FREQ 0%@204 GR3D_FREQ 9%@0 GR3D2_FREQ 9%@0 NVJPG1 729 VIC_FREQ 115 APE 233 CV0@-256C "
    "CPU@41.437C VDD_GPU_SOC 2390mW/2390mW NC 0mW/0mW VIN_SYS_5V0 3522mW/3522mW NC 0mW/0mW",
    "RAM 388/3984MB (lfb 779x4MB) IRAM 0/252kB(lfb 252kB) CPU [1%@1734,2%@1734,3%@1734,4%@1734] "
    "EMC_FREQ 0%@1600 GR3D_FREQ 5%@998 APE 25 AO@30.5C CPU@25.5C GPU@23C PMIC@100C thermal@24C",
    "08-08-2026 21:00:39 RAM 8353/125749MB (lfb 31x4MB) CPU [0%,5%,off]@2601 EMC_FREQ @4266 "
    "GR3D_FREQ @[1574,1574,1574] MTS fg 1% bg 2% VDD_GPU 1.5W/2W VIN 124486mW/36487mW/124486mW",
]


LINES = EXTRA_LINES + [REFERENCE_LINES[k] for k in sorted(REFERENCE_LINES)]
KEY_RE = re.compile(r"[a-z][a-z0-9_]*_(pct|mhz|mb|kb|c|mw|online)$")
# Values computed over several fields: they legitimately change when a field is missing.
DERIVED = {"power_total_mw", "cpu_util_pct", "gpu_util_pct", "gpu_freq_mhz"}

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _check(text):
    """parse_line_ex(text) is well-formed, and its catch-all was never needed (no bug hidden)."""
    result = parse_line_ex(text)
    assert "<parser error>" not in result.skipped
    assert all(isinstance(s, str) for s in result.skipped)
    _check_shape(result.values)
    assert parse_line(text) == result.values
    return result


def _check_shape(values):
    assert isinstance(values, dict)
    for k, v in values.items():
        assert isinstance(k, str) and KEY_RE.match(k), k
        assert type(v) is float and math.isfinite(v), (k, v)
        if k.endswith("_online"):
            assert v in (0.0, 1.0)


def _fields(line):
    """Split a line into fields (name + its value tokens) so that fields can be shuffled.

    A field starts at a token that begins with an upper-case letter, a ``name@`` token
    (temperatures), or the old lower-case ``cpu`` keyword; everything else (values,
    ``(lfb``, ``fg``/``bg``, ``off``, the time after the date) continues the field.
    """
    fields = []
    for tok in line.split():
        head = bool(re.match(r"[A-Z]", tok)) or bool(re.match(r"[a-z][\w.-]*@", tok)) or tok == "cpu"
        if head or not fields:
            fields.append([tok])
        else:
            fields[-1].append(tok)
    return [" ".join(f) for f in fields]


# --- never raises ------------------------------------------------------------------------

@SETTINGS
@given(st.text())
def test_never_raises_on_arbitrary_text(text):
    _check(text)


@SETTINGS
@given(st.lists(st.sampled_from(
    ["RAM", "SWAP", "IRAM", "CPU", "cpu", "MTS", "fg", "bg", "off", "(lfb", "(cached", "NC",
     "GR3D_FREQ", "GR3D2_FREQ", "GR3D0_FREQ", "EMC_FREQ", "VDD_IN", "VIN", "1/2MB", "0/252kB(lfb",
     "4x4MB)", "252kB)", "[1%@2,off]", "[]@", "[,]", "5%", "@[1,2]", "@[,]", "@[1..2]", "12%@",
     "1mW/2mW/3mW", "1W/", "/", "@", "cpu@-256C", "x@1C/2C", "@5C", "07-09-2024", "13:31:31",
     "1e309", "99999999999999999999999999999999999999%@1", "9" * 400 + "/1", "@[" + "9" * 400 + "]",
     "cpu [" + "9" * 400 + "%]", "GR3D99999_FREQ 1%", "\u0663%@\u0663", "\u00b2/1", "\x00", "\u00b5W"]),
    max_size=12))
def test_never_raises_on_token_soup(tokens):
    _check(" ".join(tokens))


@SETTINGS
@given(st.sampled_from(LINES), st.data())
def test_never_raises_on_mutated_real_lines(line, data):
    tokens = line.split()
    op = data.draw(st.sampled_from(["delete", "duplicate", "shuffle", "flip", "truncate", "splice"]))
    if op == "delete" and tokens:
        del tokens[data.draw(st.integers(0, len(tokens) - 1))]
        text = " ".join(tokens)
    elif op == "duplicate" and tokens:
        i = data.draw(st.integers(0, len(tokens) - 1))
        tokens.insert(i, tokens[i])
        text = " ".join(tokens)
    elif op == "shuffle":
        text = " ".join(data.draw(st.permutations(tokens)))
    elif op == "flip":
        chars = list(line)
        for _ in range(data.draw(st.integers(1, 8))):
            i = data.draw(st.integers(0, len(chars) - 1))
            chars[i] = data.draw(st.characters())
        text = "".join(chars)
    elif op == "truncate":
        text = line[:data.draw(st.integers(0, len(line)))]
    else:  # splice two lines together mid-way, as a torn pipe read might
        other = data.draw(st.sampled_from(LINES))
        text = line[:data.draw(st.integers(0, len(line)))] + other[data.draw(st.integers(0, len(other))):]
    _check(text)


# --- order independence --------------------------------------------------------------------

def test_field_splitter_keeps_multi_token_fields_together():
    assert _fields("07-09-2024 13:31:31 RAM 1/2MB (lfb 2x4MB) MTS fg 0% bg 0% cpu@4C NVENC off") == [
        "07-09-2024 13:31:31", "RAM 1/2MB (lfb 2x4MB)", "MTS fg 0% bg 0%", "cpu@4C", "NVENC off"]


@SETTINGS
@given(st.sampled_from(LINES), st.randoms(use_true_random=False))
def test_shuffled_fields_give_the_same_result(line, rnd):
    fields = _fields(line)
    rnd.shuffle(fields)
    shuffled = parse_line_ex(" ".join(fields))
    original = parse_line_ex(line)
    assert shuffled.values == original.values
    assert Counter(shuffled.skipped) == Counter(original.skipped)


@SETTINGS
@given(st.sampled_from(LINES), st.data())
def test_dropping_fields_never_changes_the_others(line, data):
    fields = _fields(line)
    keep = data.draw(st.lists(st.booleans(), min_size=len(fields), max_size=len(fields)))
    partial = parse_line(" ".join(f for f, k in zip(fields, keep) if k))
    full = parse_line(line)
    for key, value in partial.items():
        if key not in DERIVED:
            assert full[key] == value, key


@pytest.mark.parametrize("line", LINES)
def test_every_token_of_known_lines_is_understood_or_reported(line):
    result = parse_line_ex(line)
    assert result.values  # a real line always yields metrics
    assert set(result.skipped) <= {"FUTURE_TOKEN", "value"}
