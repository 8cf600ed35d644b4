"""edgemon.telemetry.tegrastats: every reference line, every form tegrastats printed from L4T 24 to JetPack 7."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from edgemon.telemetry.tegrastats import ParseResult, parse_line, parse_line_ex

try:  # tests/ as a package (rootdir on sys.path) or as a plain folder (pytest prepends it)
    from tests.tegrastats_expected import EXPECTED, EXPECTED_SKIPPED, INPUT_RAIL_BY_LINE, LINES
except ImportError:
    from tegrastats_expected import EXPECTED, EXPECTED_SKIPPED, INPUT_RAIL_BY_LINE, LINES

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "tegrastats_lines.jsonl"
IDS = sorted(LINES)


@pytest.mark.skipif(not REFERENCE.is_file(), reason=f"{REFERENCE} not found")
def test_embedded_lines_are_the_reference_lines():
    with open(REFERENCE, encoding="utf-8") as f:
        records = [json.loads(x) for x in f if x.strip()]
    assert {r["id"]: r["line"] for r in records} == LINES


def test_every_line_has_a_hand_written_expectation():
    assert sorted(EXPECTED) == IDS == sorted(INPUT_RAIL_BY_LINE)


@pytest.mark.parametrize("tid", IDS)
def test_reference_line_full_metric_set(tid):
    result = parse_line_ex(LINES[tid])
    assert result.values == EXPECTED[tid]
    assert result.skipped == EXPECTED_SKIPPED.get(tid, [])
    assert parse_line(LINES[tid]) == EXPECTED[tid]


@pytest.mark.parametrize("tid", IDS)
def test_reference_line_without_timestamp_and_with_newline(tid):
    line = re.sub(r"^\d+-\d+-\d+ \d+:\d+:\d+ ", "", LINES[tid])
    assert parse_line(line + "\n") == EXPECTED[tid]
    assert parse_line("  " + LINES[tid] + "\r\n") == EXPECTED[tid]


@pytest.mark.parametrize("tid", IDS)
def test_power_total_is_the_input_rail_or_the_sum(tid):
    values = parse_line(LINES[tid])
    rail = INPUT_RAIL_BY_LINE[tid]
    rails = {k: v for k, v in values.items()
             if k.startswith("power_") and k.endswith("_mw")
             and not k.endswith("_avg_mw") and k != "power_total_mw"}
    if not rails:
        assert "power_total_mw" not in values
    elif rail is None:
        assert values["power_total_mw"] == sum(rails.values())
    else:
        assert values["power_total_mw"] == values["power_%s_mw" % rail.lower()]
        assert values["power_total_mw"] < sum(rails.values())  # never input + sub-rails


# --- power total per board family (short lines, hand-computed totals) -------------------

@pytest.mark.parametrize("line, total", [
    # Nano: POM_5V_IN is the input; GPU/CPU are sub-rails
    ("POM_5V_IN 933/933 POM_5V_GPU 0/0 POM_5V_CPU 84/105", 933.0),
    # input rail printed last still wins
    ("POM_5V_GPU 10/10 POM_5V_CPU 84/105 POM_5V_IN 933/933", 933.0),
    # TX2 L4T 28
    ("VDD_IN 1383/1383 VDD_CPU 153/191 VDD_GPU 76/76 VDD_SOC 384/384 VDD_WIFI 364/335 VDD_DDR 192/201",
     1383.0),
    # TX2 L4T 32: VDD_IN in the middle
    ("VDD_SYS_GPU 153/158 VDD_IN 3140/3208 VDD_SYS_CPU 536/590", 3140.0),
    # Xavier NX / Orin NX / Orin Nano
    ("VDD_IN 4824mW/4824mW VDD_CPU_GPU_CV 518mW/518mW VDD_SOC 1475mW/1475mW", 4824.0),
    # AGX Xavier: no input rail, SYS5V is not a total -> sum
    ("GPU 1155/1155 CPU 385/385 SOC 2502/2502 CV 0/0 VDDRQ 192/192 SYS5V 2692/2692",
     1155.0 + 385.0 + 2502.0 + 0.0 + 192.0 + 2692.0),
    # AGX Orin: no input rail, NC dropped -> sum of the named rails
    ("VDD_GPU_SOC 2390mW/2390mW VDD_CPU_CV 796mW/796mW VIN_SYS_5V0 3522mW/3522mW NC 0mW/0mW "
     "VDDQ_VDD2_1V8AO 301mW/301mW NC 0mW/0mW", 2390.0 + 796.0 + 3522.0 + 301.0),
    # Thor: VIN, not VIN_SYS_5V0
    ("VDD_GPU 1962mW/1962mW VDD_CPU_SOC_MSS 5887mW/5887mW VIN_SYS_5V0 5635mW/5635mW VIN 19780mW/19780mW",
     19780.0),
    # JetPack 7 triplets
    ("VDD_IN 4832mW/4832mW/4900mW VDD_CPU_GPU_CV 1236mW/1236mW/1300mW", 4832.0),
])
def test_power_total_rule_per_board_family(line, total):
    assert parse_line(line)["power_total_mw"] == total


def test_no_rails_no_total():
    # TX1 root template (§1.2): no rails at all
    values = parse_line("RAM 388/3984MB (lfb 779x4MB) IRAM 0/252kB(lfb 252kB) "
                        "CPU [1%@1734,2%@1734,3%@1734,4%@1734] EMC_FREQ 0%@1600 GR3D_FREQ 5%@998 "
                        "APE 25 AO@30.5C CPU@25.5C GPU@23C PLL@21.5C Tdiode@28.5C PMIC@100C "
                        "Tboard@28C thermal@24C")
    assert not any(k.startswith("power_") for k in values)
    assert values["gpu_util_pct"] == 5.0 and values["gpu_freq_mhz"] == 998.0
    assert values["iram_used_kb"] == 0.0


def test_nc_rails_are_dropped_and_not_summed():
    values = parse_line("NC 500mW/500mW VDD_A 100mW/90mW NC 7mW/7mW")
    assert values == {"power_vdd_a_mw": 100.0, "power_vdd_a_avg_mw": 90.0, "power_total_mw": 100.0}


# --- individual forms of §1.3 (expected values written from the token) ------------------

@pytest.mark.parametrize("line, expected", [
    # L4T 24/28 global-frequency form, lower-case 'cpu'
    ("cpu [37%,11%,1%,0%]@1734", {
        "cpu0_util_pct": 37.0, "cpu0_freq_mhz": 1734.0, "cpu0_online": 1.0,
        "cpu1_util_pct": 11.0, "cpu1_freq_mhz": 1734.0, "cpu1_online": 1.0,
        "cpu2_util_pct": 1.0, "cpu2_freq_mhz": 1734.0, "cpu2_online": 1.0,
        "cpu3_util_pct": 0.0, "cpu3_freq_mhz": 1734.0, "cpu3_online": 1.0,
        "cpu_util_pct": (37 + 11 + 1 + 0) / 4}),
    # T40 form: global frequency with an off core
    ("CPU [0%,5%,off]@2601", {
        "cpu0_util_pct": 0.0, "cpu0_freq_mhz": 2601.0, "cpu0_online": 1.0,
        "cpu1_util_pct": 5.0, "cpu1_freq_mhz": 2601.0, "cpu1_online": 1.0,
        "cpu2_online": 0.0,
        "cpu_util_pct": 2.5}),
    # all cores off: no mean
    ("CPU [off,off]", {"cpu0_online": 0.0, "cpu1_online": 0.0}),
    # per-core list, no frequency at all
    ("CPU [10%,20%]", {
        "cpu0_util_pct": 10.0, "cpu0_online": 1.0, "cpu1_util_pct": 20.0, "cpu1_online": 1.0,
        "cpu_util_pct": 15.0}),
    # old EMC / GR3D names without _FREQ, AVP/MSENC engines
    ("EMC 7%@1600 AVP 1%@115 NVDEC 192 MSENC 192 GR3D 12%@76", {
        "emc_util_pct": 7.0, "emc_freq_mhz": 1600.0,
        "engine_avp_util_pct": 1.0, "engine_avp_freq_mhz": 115.0,
        "engine_nvdec_freq_mhz": 192.0, "engine_msenc_freq_mhz": 192.0,
        "gpu_util_pct": 12.0, "gpu_freq_mhz": 76.0}),
    # user-mode EMC/GR3D: percentage only
    ("EMC_FREQ 3% GR3D_FREQ 45%", {"emc_util_pct": 3.0, "gpu_util_pct": 45.0}),
    # T40: frequency only
    ("EMC_FREQ @4266", {"emc_freq_mhz": 4266.0}),
    # GPC lists
    ("GR3D_FREQ 0%@[305,305]", {
        "gpu_util_pct": 0.0, "gpu_freq_mhz": 305.0,
        "gpu_gpc0_freq_mhz": 305.0, "gpu_gpc1_freq_mhz": 305.0}),
    ("GR3D_FREQ 12%@[1300,918]", {
        "gpu_util_pct": 12.0, "gpu_freq_mhz": 1300.0,
        "gpu_gpc0_freq_mhz": 1300.0, "gpu_gpc1_freq_mhz": 918.0}),
    ("GR3D_FREQ @[1000,1000,1000]", {
        "gpu_freq_mhz": 1000.0,
        "gpu_gpc0_freq_mhz": 1000.0, "gpu_gpc1_freq_mhz": 1000.0, "gpu_gpc2_freq_mhz": 1000.0}),
    # JP5.0.2/5.1 AGX Orin / Orin NX 16GB: one field per GPC, highest clock wins; "@0" is a clock
    # tegrastats did not read (unknown), not 0 MHz
    ("GR3D_FREQ 99%@917 GR3D2_FREQ 99%@0", {
        "gpu_util_pct": 99.0, "gpu_freq_mhz": 917.0, "gpu_gpc0_freq_mhz": 917.0}),
    ("GR3D2_FREQ 99%@0 GR3D_FREQ 99%@917", {
        "gpu_util_pct": 99.0, "gpu_freq_mhz": 917.0, "gpu_gpc0_freq_mhz": 917.0}),
    ("GR3D_FREQ 0%@0 GR3D2_FREQ 0%@0", {"gpu_util_pct": 0.0}),
    ("GR3D_FREQ 0%@[0,0]", {"gpu_util_pct": 0.0}),
    ("GR3D_FREQ off", {"gpu_util_pct": 0.0, "gpu_freq_mhz": 0.0}),
    # engines: off, busy, frequency-only, renamed JP7 engines
    ("NVENC off NVDEC 40%@115 NVDLA0_FREQ @1600 NVJPG1 729 VIC_FREQ 0%@115 PVA0_FREQ off", {
        "engine_nvenc_freq_mhz": 0.0, "engine_nvenc_util_pct": 0.0,
        "engine_nvdec_util_pct": 40.0, "engine_nvdec_freq_mhz": 115.0,
        "engine_nvdla0_freq_mhz": 1600.0,
        "engine_nvjpg1_freq_mhz": 729.0,
        "engine_vic_util_pct": 0.0, "engine_vic_freq_mhz": 115.0,
        "engine_pva0_freq_mhz": 0.0, "engine_pva0_util_pct": 0.0}),
    ("MTS fg 12% bg 3%", {"engine_mts_fg_util_pct": 12.0, "engine_mts_bg_util_pct": 3.0}),
    # memory forms
    ("RAM 4722/7844MB (lfb 1x512kB)", {"ram_used_mb": 4722.0, "ram_total_mb": 7844.0}),
    ("RAM 6982/7620MB (lfb 5x1MB)", {"ram_used_mb": 6982.0, "ram_total_mb": 7620.0}),
    ("RAM 2000/3964MB", {"ram_used_mb": 2000.0, "ram_total_mb": 3964.0}),
    ("SWAP 494/7443MB (cached 1MB)", {
        "swap_used_mb": 494.0, "swap_total_mb": 7443.0, "swap_cached_mb": 1.0}),
    ("IRAM 12/252kB(lfb 240kB)", {"iram_used_kb": 12.0}),
    ("IRAM 12/252kB (lfb 240kB)", {"iram_used_kb": 12.0}),
    ("IRAM 0/252kB", {"iram_used_kb": 0.0}),
    # temperatures: -256 and -45 dropped, PMIC placeholder dropped, cur/max takes cur
    ("CV0@-256C BCPU@-45C AUX@-40C MCPU@-39.5C PMIC@100C cpu@52.968C/60.1C Charger@31C max170xx@30.5C LCPU@29C", {
        "temp_mcpu_c": -39.5, "temp_cpu_c": 52.968, "temp_charger_c": 31.0,
        "temp_max170xx_c": 30.5, "temp_lcpu_c": 29.0}),
    # rails: W unit, unitless second value, JP7 triplet
    ("VDD_GPU 1.5W/2W VDD_SOC 1234mW/1200 VDD_CPU 10mW/20mW/30mW", {
        "power_vdd_gpu_mw": 1500.0, "power_vdd_gpu_avg_mw": 2000.0,
        "power_vdd_soc_mw": 1234.0, "power_vdd_soc_avg_mw": 1200.0,
        "power_vdd_cpu_mw": 10.0, "power_vdd_cpu_avg_mw": 20.0,
        "power_total_mw": 1500.0 + 1234.0 + 10.0}),
])
def test_forms(line, expected):
    result = parse_line_ex(line)
    assert result.values == expected
    assert result.skipped == []


def test_non_root_nano_template_from_jtop_emulator():
    line = ("RAM 331/3964MB (lfb 758x4MB) SWAP 0/1982MB (cached 0MB) CPU [3%@102,4%@102,0%@102,1%@102] "
            "EMC_FREQ 0% GR3D_FREQ 7% PLL@20.5C CPU@23C PMIC@100C GPU@22.5C AO@27C thermal@22.5C "
            "POM_5V_IN 933/933 POM_5V_GPU 0/0 POM_5V_CPU 84/84")
    values = parse_line(line)
    assert values["emc_util_pct"] == 0.0 and "emc_freq_mhz" not in values
    assert values["gpu_util_pct"] == 7.0 and "gpu_freq_mhz" not in values
    assert values["cpu_util_pct"] == (3 + 4 + 0 + 1) / 4
    assert values["power_total_mw"] == 933.0
    assert values["temp_thermal_c"] == 22.5


def test_swap_after_cpu_and_engine_between_rails():
    line = ("RAM 696/7854MB (lfb 1675x4MB) CPU [5%@345,6%@345] SWAP 10/100MB (cached 2MB) "
            "VDD_IN 1383/1383 NVENC 716 VDD_CPU 153/191")
    values = parse_line(line)
    assert values["swap_used_mb"] == 10.0 and values["swap_cached_mb"] == 2.0
    assert values["engine_nvenc_freq_mhz"] == 716.0
    assert values["power_total_mw"] == 1383.0


# --- what is not tegrastats data -------------------------------------------------------

def test_wrapper_date_line_is_empty_and_not_skipped():
    assert parse_line_ex("Tue Jan 26 18:22:31 UTC 2021") == ParseResult({}, [])


def test_timestamp_only_and_empty():
    assert parse_line_ex("07-09-2024 13:31:31") == ParseResult({}, [])
    assert parse_line_ex("") == ParseResult({}, [])
    assert parse_line_ex("   \n") == ParseResult({}, [])


def test_unknown_tokens_are_skipped_and_the_rest_still_parses():
    result = parse_line_ex("RAM 10/20MB garbage?? VDD_IN 5/5 [weird] 12%@ VDD_IN")
    assert result.values == {"ram_used_mb": 10.0, "ram_total_mb": 20.0,
                             "power_vdd_in_mw": 5.0, "power_vdd_in_avg_mw": 5.0,
                             "power_total_mw": 5.0}
    assert result.skipped == ["garbage??", "[weird]", "12%@", "VDD_IN"]


def test_malformed_fields_fall_back_to_skipping():
    result = parse_line_ex("RAM lots CPU [x,5%@100] SWAP 1/2MB (cached")
    # RAM's value is not a size; the CPU list keeps core 1 (core 0 is garbage)
    assert result.values == {"cpu1_util_pct": 5.0, "cpu1_freq_mhz": 100.0, "cpu1_online": 1.0,
                             "cpu_util_pct": 5.0, "swap_used_mb": 1.0, "swap_total_mb": 2.0}
    assert result.skipped == ["RAM", "lots", "x", "(cached"]


def test_non_string_input_never_raises():
    assert parse_line(None) == {}  # type: ignore[arg-type]  # not a str on purpose
    assert parse_line(b"RAM 1/2MB") == {"ram_used_mb": 1.0, "ram_total_mb": 2.0}  # type: ignore[arg-type]  # not a str on purpose


def test_jetpack7_first_engine_instances_share_the_jetpack6_columns():
    jp6 = parse_line("NVENC off NVDEC 40%@115 NVJPG off NVJPG1 off")
    jp7 = parse_line("NVENC0 off NVDEC0 40%@115 NVJPG0 off NVJPG1 off")
    assert jp6 == jp7
    thor = parse_line("NVENC0_FREQ @314 NVENC1_FREQ @314 NVDEC0_FREQ @314 NVDEC1_FREQ @314")
    assert thor == {"engine_nvenc_freq_mhz": 314.0, "engine_nvenc1_freq_mhz": 314.0,
                    "engine_nvdec_freq_mhz": 314.0, "engine_nvdec1_freq_mhz": 314.0}


@pytest.mark.parametrize("tid", IDS)
def test_power_total_source_names_the_input_rail_or_the_sum(tid):
    result = parse_line_ex(LINES[tid])
    rail = INPUT_RAIL_BY_LINE[tid]
    if "power_total_mw" not in result.values:
        assert result.power_total_source is None
    else:
        assert result.power_total_source == (rail or "sum")
