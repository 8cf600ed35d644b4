"""Expected metrics for every real tegrastats line of the reference set (LINES below).

Written by hand from reading each line (NVIDIA's "tegrastats Utility" page for the meaning of each
field), not by running the parser. ``_cores`` only spells out the three per-core
names so that 14-core lines stay readable: an entry is ``(util %, MHz)`` or
``OFF``. ``cpu_util_pct`` is written as the arithmetic over the online cores.

Decisions encoded here (see edgemon/telemetry/tegrastats.py docstring):
PMIC@ zones are dropped (constant placeholder), ``@-256C`` zones are dropped,
JetPack 7's third rail value (running max) and ``/max`` temperature are not
recorded, ``NC`` rails are dropped, lfb sizes are not recorded.
"""

from __future__ import annotations

OFF = None


def _cores(*entries):
    out = {}
    for n, entry in enumerate(entries):
        if entry is OFF:
            out["cpu%d_online" % n] = 0.0
        else:
            util, mhz = entry
            out["cpu%d_util_pct" % n] = float(util)
            out["cpu%d_freq_mhz" % n] = float(mhz)
            out["cpu%d_online" % n] = 1.0
    return out


EXPECTED: dict[str, dict[str, float]] = {}
EXPECTED_SKIPPED: dict[str, list[str]] = {}

# --- Nano, L4T 32, root ---------------------------------------------------------
EXPECTED["T05"] = {
    "ram_used_mb": 1180.0, "ram_total_mb": 3965.0,
    "swap_used_mb": 149.0, "swap_total_mb": 1024.0, "swap_cached_mb": 7.0,
    "iram_used_kb": 0.0,
    **_cores((30, 1036), (33, 1036), (28, 1036), (26, 1036)),
    "cpu_util_pct": (30 + 33 + 28 + 26) / 4,
    "emc_util_pct": 10.0, "emc_freq_mhz": 1600.0,
    "gpu_util_pct": 0.0, "gpu_freq_mhz": 76.0,
    "engine_nvenc_freq_mhz": 716.0, "engine_nvdec_freq_mhz": 716.0, "engine_ape_freq_mhz": 25.0,
    "temp_pll_c": 57.0, "temp_cpu_c": 60.5, "temp_gpu_c": 59.0, "temp_ao_c": 65.0,
    "temp_thermal_c": 59.75,
    "power_pom_5v_in_mw": 4520.0, "power_pom_5v_in_avg_mw": 4680.0,
    "power_pom_5v_gpu_mw": 0.0, "power_pom_5v_gpu_avg_mw": 0.0,
    "power_pom_5v_cpu_mw": 1078.0, "power_pom_5v_cpu_avg_mw": 1205.0,
    "power_total_mw": 4520.0,  # POM_5V_IN is the board input
}

# --- Nano, JetPack 4.6.1, root --------------------------------------------------
EXPECTED["T06"] = {
    "ram_used_mb": 1923.0, "ram_total_mb": 3964.0,
    "swap_used_mb": 191.0, "swap_total_mb": 1982.0, "swap_cached_mb": 6.0,
    "iram_used_kb": 0.0,
    **_cores((5, 1224), (4, 1224), (3, 1224), (6, 1224)),
    "cpu_util_pct": (5 + 4 + 3 + 6) / 4,
    "emc_util_pct": 0.0, "emc_freq_mhz": 1600.0,
    "gpu_util_pct": 0.0, "gpu_freq_mhz": 76.0,
    "engine_ape_freq_mhz": 25.0,
    "temp_pll_c": 37.0, "temp_cpu_c": 40.0, "temp_gpu_c": 40.0, "temp_ao_c": 45.0,
    "temp_thermal_c": 40.0,
    "power_pom_5v_in_mw": 1750.0, "power_pom_5v_in_avg_mw": 1628.0,
    "power_pom_5v_gpu_mw": 0.0, "power_pom_5v_gpu_avg_mw": 0.0,
    "power_pom_5v_cpu_mw": 366.0, "power_pom_5v_cpu_avg_mw": 406.0,
    "power_total_mw": 1750.0,
}

# --- TX2, L4T 28, root (no SWAP field, lfb in kB) --------------------------------
EXPECTED["T07"] = {
    "ram_used_mb": 4722.0, "ram_total_mb": 7844.0,
    **_cores((55, 2035), (14, 2034), (27, 2034), (55, 2035), (47, 2035), (45, 2035)),
    "cpu_util_pct": (55 + 14 + 27 + 55 + 47 + 45) / 6,
    "emc_util_pct": 2.0, "emc_freq_mhz": 1866.0,
    "gpu_util_pct": 71.0, "gpu_freq_mhz": 1300.0,
    "engine_ape_freq_mhz": 150.0,
    "engine_mts_fg_util_pct": 0.0, "engine_mts_bg_util_pct": 0.0,
    "temp_bcpu_c": 45.0, "temp_mcpu_c": 45.0, "temp_gpu_c": 51.0, "temp_pll_c": 45.0,
    "temp_ao_c": 47.5, "temp_tboard_c": 37.0, "temp_tdiode_c": 46.75, "temp_thermal_c": 46.4,
    "power_vdd_in_mw": 14025.0, "power_vdd_in_avg_mw": 14416.0,
    "power_vdd_cpu_mw": 2209.0, "power_vdd_cpu_avg_mw": 2538.0,
    "power_vdd_gpu_mw": 6854.0, "power_vdd_gpu_avg_mw": 6903.0,
    "power_vdd_soc_mw": 1371.0, "power_vdd_soc_avg_mw": 1370.0,
    "power_vdd_wifi_mw": 19.0, "power_vdd_wifi_avg_mw": 19.0,
    "power_vdd_ddr_mw": 2702.0, "power_vdd_ddr_avg_mw": 2702.0,
    "power_total_mw": 14025.0,  # VDD_IN
}

# --- TX2, JetPack 4.2, user (EMC/GR3D without @freq, no APE/MTS) -----------------
EXPECTED["T08"] = {
    "ram_used_mb": 2020.0, "ram_total_mb": 7852.0,
    **_cores((9, 345), (21, 345), (25, 345), (3, 345), (1, 345), (1, 345)),
    "cpu_util_pct": (9 + 21 + 25 + 3 + 1 + 1) / 6,
    "emc_util_pct": 0.0,
    "gpu_util_pct": 0.0,
    "temp_pll_c": 42.5, "temp_mcpu_c": 42.5, "temp_tboard_c": 40.0, "temp_gpu_c": 41.0,
    "temp_bcpu_c": 42.5, "temp_thermal_c": 41.9, "temp_tdiode_c": 41.25,
    "power_vdd_sys_gpu_mw": 153.0, "power_vdd_sys_gpu_avg_mw": 158.0,
    "power_vdd_sys_soc_mw": 536.0, "power_vdd_sys_soc_avg_mw": 547.0,
    "power_vdd_4v0_wifi_mw": 633.0, "power_vdd_4v0_wifi_avg_mw": 527.0,
    "power_vdd_in_mw": 3140.0, "power_vdd_in_avg_mw": 3208.0,
    "power_vdd_sys_cpu_mw": 536.0, "power_vdd_sys_cpu_avg_mw": 590.0,
    "power_vdd_sys_ddr_mw": 557.0, "power_vdd_sys_ddr_avg_mw": 601.0,
    "power_total_mw": 3140.0,  # VDD_IN, even though it is not the first rail
}

# --- TX2 NX, JetPack 4.6, user: two cores off, no rails ---------------------------
EXPECTED["T14"] = {
    "ram_used_mb": 1689.0, "ram_total_mb": 3825.0,
    "swap_used_mb": 0.0, "swap_total_mb": 1913.0, "swap_cached_mb": 0.0,
    **_cores((3, 345), OFF, OFF, (0, 345), (1, 345), (1, 345)),
    "cpu_util_pct": (3 + 0 + 1 + 1) / 4,
    "emc_util_pct": 0.0,
    "gpu_util_pct": 0.0,
    "temp_pll_c": 50.5, "temp_mcpu_c": 50.5, "temp_gpu_c": 50.0, "temp_bcpu_c": 50.5,
    "temp_thermal_c": 50.3,
}

# --- AGX Xavier, JetPack 4.1, root: rails GPU/CPU/SOC/CV/VDDRQ/SYS5V, no input rail
EXPECTED["T15"] = {
    "ram_used_mb": 1736.0, "ram_total_mb": 15827.0,
    **_cores((1, 1160), (2, 1161), (0, 1189), (0, 1189), OFF, OFF, OFF, OFF),
    "cpu_util_pct": (1 + 2 + 0 + 0) / 4,
    "emc_util_pct": 0.0, "emc_freq_mhz": 665.0,
    "gpu_util_pct": 0.0, "gpu_freq_mhz": 114.0,
    "engine_ape_freq_mhz": 150.0,
    "engine_mts_fg_util_pct": 0.0, "engine_mts_bg_util_pct": 0.0,
    "temp_ao_c": 29.0, "temp_gpu_c": 30.0, "temp_iwlwifi_c": 34.0, "temp_tboard_c": 30.0,
    "temp_tdiode_c": 33.0, "temp_aux_c": 29.0, "temp_cpu_c": 30.0, "temp_thermal_c": 29.45,
    "power_gpu_mw": 466.0, "power_gpu_avg_mw": 466.0,
    "power_cpu_mw": 466.0, "power_cpu_avg_mw": 466.0,
    "power_soc_mw": 932.0, "power_soc_avg_mw": 932.0,
    "power_cv_mw": 0.0, "power_cv_avg_mw": 0.0,
    "power_vddrq_mw": 0.0, "power_vddrq_avg_mw": 0.0,
    "power_sys5v_mw": 1854.0, "power_sys5v_avg_mw": 1854.0,
    "power_total_mw": 466.0 + 466.0 + 932.0 + 0.0 + 0.0 + 1854.0,  # sum: SYS5V is not an input
}

# --- Xavier NX, JetPack 4.x, root -------------------------------------------------
EXPECTED["T20"] = {
    "ram_used_mb": 5246.0, "ram_total_mb": 7771.0,
    "swap_used_mb": 983.0, "swap_total_mb": 20269.0, "swap_cached_mb": 280.0,
    **_cores((47, 1420), (23, 1420), (32, 1420), (22, 1420), (31, 1420), (96, 1420)),
    "cpu_util_pct": (47 + 23 + 32 + 22 + 31 + 96) / 6,
    "emc_util_pct": 2.0, "emc_freq_mhz": 1600.0,
    "gpu_util_pct": 0.0, "gpu_freq_mhz": 1109.0,
    "engine_ape_freq_mhz": 150.0,
    "engine_mts_fg_util_pct": 1.0, "engine_mts_bg_util_pct": 9.0,
    "temp_ao_c": 29.0, "temp_gpu_c": 31.5, "temp_aux_c": 30.0, "temp_cpu_c": 33.5,
    "temp_thermal_c": 31.35,
    "power_vdd_in_mw": 6140.0, "power_vdd_in_avg_mw": 5510.0,
    "power_vdd_cpu_gpu_cv_mw": 2706.0, "power_vdd_cpu_gpu_cv_avg_mw": 2119.0,
    "power_vdd_soc_mw": 1074.0, "power_vdd_soc_avg_mw": 1051.0,
    "power_total_mw": 6140.0,
}

# --- Xavier NX, JetPack 5.1.2, root: timestamp, mW rails, GR3D_FREQ x%@[f] --------
EXPECTED["T21"] = {
    "ram_used_mb": 3168.0, "ram_total_mb": 6851.0,
    "swap_used_mb": 161.0, "swap_total_mb": 3426.0, "swap_cached_mb": 0.0,
    **_cores((23, 1397), (17, 1192), (16, 1190), (13, 1190), (23, 1190), (10, 1190)),
    "cpu_util_pct": (23 + 17 + 16 + 13 + 23 + 10) / 6,
    "emc_util_pct": 2.0, "emc_freq_mhz": 204.0,
    "gpu_util_pct": 0.0, "gpu_freq_mhz": 114.0, "gpu_gpc0_freq_mhz": 114.0,
    "engine_vic_freq_mhz": 115.0, "engine_ape_freq_mhz": 150.0,
    "temp_aux_c": 45.0, "temp_cpu_c": 46.5, "temp_thermal_c": 45.6, "temp_ao_c": 45.0,
    "temp_gpu_c": 45.5,
    "power_vdd_in_mw": 2763.0, "power_vdd_in_avg_mw": 2846.0,
    "power_vdd_cpu_gpu_cv_mw": 650.0, "power_vdd_cpu_gpu_cv_avg_mw": 670.0,
    "power_vdd_soc_mw": 650.0, "power_vdd_soc_avg_mw": 711.0,
    "power_total_mw": 2763.0,
}

# --- AGX Orin, JetPack 5.1: GR3D_FREQ + GR3D2_FREQ, -256C zones, NC rails twice -----
EXPECTED["T22"] = {
    "ram_used_mb": 1282.0, "ram_total_mb": 62795.0,
    "swap_used_mb": 0.0, "swap_total_mb": 31398.0, "swap_cached_mb": 0.0,
    **_cores(*[(0, 729)] * 12),
    "cpu_util_pct": 0.0,
    "emc_util_pct": 0.0, "emc_freq_mhz": 2133.0,
    # "@0": tegrastats did not read the GPC clocks; unknown, not 0 MHz (no gpu_freq_mhz)
    "gpu_util_pct": 0.0,
    "engine_vic_freq_mhz": 729.0, "engine_ape_freq_mhz": 174.0,
    # CV0, CV1, GPU, CV2 read -256C: dropped
    "temp_cpu_c": 42.593, "temp_tboard_c": 32.0, "temp_soc2_c": 39.343, "temp_tdiode_c": 33.25,
    "temp_soc0_c": 39.375, "temp_tj_c": 42.593, "temp_soc1_c": 40.468,
    "power_vdd_gpu_soc_mw": 2399.0, "power_vdd_gpu_soc_avg_mw": 2399.0,
    "power_vdd_cpu_cv_mw": 400.0, "power_vdd_cpu_cv_avg_mw": 400.0,
    "power_vin_sys_5v0_mw": 4032.0, "power_vin_sys_5v0_avg_mw": 4032.0,
    "power_vddq_vdd2_1v8ao_mw": 301.0, "power_vddq_vdd2_1v8ao_avg_mw": 301.0,
    "power_total_mw": 2399.0 + 400.0 + 4032.0 + 301.0,  # AGX Orin has no input rail
}

# --- AGX Orin, JetPack 6: lower-case zones, engines off, 2-GPC list ---------------
EXPECTED["T25"] = {
    "ram_used_mb": 6879.0, "ram_total_mb": 62841.0,
    "swap_used_mb": 0.0, "swap_total_mb": 31421.0, "swap_cached_mb": 0.0,
    **_cores((5, 729), (1, 729), (0, 729), (9, 729), (1, 729), (3, 729),
             (5, 729), (0, 729), (3, 729), (1, 729), (1, 729), (7, 729)),
    "cpu_util_pct": (5 + 1 + 0 + 9 + 1 + 3 + 5 + 0 + 3 + 1 + 1 + 7) / 12,
    "emc_util_pct": 0.0, "emc_freq_mhz": 2133.0,
    "gpu_util_pct": 0.0, "gpu_freq_mhz": 305.0,
    "gpu_gpc0_freq_mhz": 305.0, "gpu_gpc1_freq_mhz": 305.0,
    "engine_nvenc_freq_mhz": 0.0, "engine_nvenc_util_pct": 0.0,
    "engine_nvdec_freq_mhz": 0.0, "engine_nvdec_util_pct": 0.0,
    "engine_nvjpg_freq_mhz": 0.0, "engine_nvjpg_util_pct": 0.0,
    "engine_nvjpg1_freq_mhz": 0.0, "engine_nvjpg1_util_pct": 0.0,
    "engine_vic_freq_mhz": 0.0, "engine_vic_util_pct": 0.0,
    "engine_ofa_freq_mhz": 0.0, "engine_ofa_util_pct": 0.0,
    "engine_nvdla0_freq_mhz": 0.0, "engine_nvdla0_util_pct": 0.0,
    "engine_nvdla1_freq_mhz": 0.0, "engine_nvdla1_util_pct": 0.0,
    "engine_pva0_freq_mhz": 0.0, "engine_pva0_util_pct": 0.0,
    "engine_ape_freq_mhz": 174.0,
    "temp_cpu_c": 47.687, "temp_tboard_c": 36.75, "temp_soc2_c": 44.312, "temp_tdiode_c": 37.5,
    "temp_soc0_c": 45.718, "temp_gpu_c": 43.218, "temp_tj_c": 47.687, "temp_soc1_c": 45.125,
    "power_vdd_gpu_soc_mw": 2801.0, "power_vdd_gpu_soc_avg_mw": 2801.0,
    "power_vdd_cpu_cv_mw": 400.0, "power_vdd_cpu_cv_avg_mw": 400.0,
    "power_vin_sys_5v0_mw": 4536.0, "power_vin_sys_5v0_avg_mw": 4536.0,
    "power_vddq_vdd2_1v8ao_mw": 604.0, "power_vddq_vdd2_1v8ao_avg_mw": 604.0,
    "power_total_mw": 2801.0 + 400.0 + 4536.0 + 604.0,
}

# --- Orin NX 8GB, JetPack 6, root: busy engines, lfb 5x1MB, two CPU clusters ------
EXPECTED["T28"] = {
    "ram_used_mb": 6982.0, "ram_total_mb": 7620.0,
    "swap_used_mb": 2640.0, "swap_total_mb": 16384.0, "swap_cached_mb": 202.0,
    **_cores((97, 1984), (95, 1984), (95, 1984), (91, 1984), (88, 1984), (93, 247)),
    "cpu_util_pct": (97 + 95 + 95 + 91 + 88 + 93) / 6,
    "emc_util_pct": 18.0, "emc_freq_mhz": 3199.0,
    "gpu_util_pct": 84.0, "gpu_freq_mhz": 713.0, "gpu_gpc0_freq_mhz": 713.0,
    "engine_nvenc_util_pct": 1.0, "engine_nvenc_freq_mhz": 115.0,
    "engine_nvdec_util_pct": 40.0, "engine_nvdec_freq_mhz": 115.0,
    "engine_nvjpg_util_pct": 0.0, "engine_nvjpg_freq_mhz": 0.0,
    "engine_nvjpg1_util_pct": 0.0, "engine_nvjpg1_freq_mhz": 0.0,
    "engine_vic_util_pct": 31.0, "engine_vic_freq_mhz": 115.0,
    "engine_ofa_util_pct": 0.0, "engine_ofa_freq_mhz": 0.0,
    "engine_nvdla0_util_pct": 0.0, "engine_nvdla0_freq_mhz": 0.0,
    "engine_pva0_util_pct": 0.0, "engine_pva0_freq_mhz": 0.0,
    "engine_ape_freq_mhz": 174.0,
    "temp_cv0_c": 63.031, "temp_cpu_c": 65.562, "temp_soc2_c": 64.156, "temp_soc0_c": 63.031,
    "temp_cv1_c": 62.937, "temp_gpu_c": 63.5, "temp_tj_c": 65.562, "temp_soc1_c": 64.718,
    "temp_cv2_c": 60.875,
    "power_vdd_in_mw": 17946.0, "power_vdd_in_avg_mw": 15710.0,
    "power_vdd_cpu_gpu_cv_mw": 8896.0, "power_vdd_cpu_gpu_cv_avg_mw": 7585.0,
    "power_vdd_soc_mw": 3923.0, "power_vdd_soc_avg_mw": 3515.0,
    "power_total_mw": 17946.0,
}

# --- Orin Nano 8GB, JetPack 6, user: no EMC, GR3D_FREQ x% only ---------------------
EXPECTED["T30"] = {
    "ram_used_mb": 3452.0, "ram_total_mb": 7620.0,
    "swap_used_mb": 1518.0, "swap_total_mb": 16384.0, "swap_cached_mb": 174.0,
    **_cores((1, 1420), (2, 1420), (0, 1420), (2, 1420), (2, 729), (1, 729)),
    "cpu_util_pct": (1 + 2 + 0 + 2 + 2 + 1) / 6,
    "gpu_util_pct": 0.0,
    "temp_cpu_c": 50.031, "temp_soc2_c": 49.031, "temp_soc0_c": 50.0, "temp_gpu_c": 49.031,
    "temp_tj_c": 50.25, "temp_soc1_c": 50.25,
    "power_vdd_in_mw": 4824.0, "power_vdd_in_avg_mw": 4824.0,
    "power_vdd_cpu_gpu_cv_mw": 518.0, "power_vdd_cpu_gpu_cv_avg_mw": 518.0,
    "power_vdd_soc_mw": 1475.0, "power_vdd_soc_avg_mw": 1475.0,
    "power_total_mw": 4824.0,
}

# --- Orin Nano, JetPack 7.2: cur/max temps, cur/avg/max rails, no SWAP -------------
EXPECTED["T32"] = {
    "ram_used_mb": 1803.0, "ram_total_mb": 7486.0,
    **_cores((66, 1510), (2, 1510), (0, 1510), (1, 1510), (33, 729), (0, 729)),
    "cpu_util_pct": (66 + 2 + 0 + 1 + 33 + 0) / 6,
    "emc_util_pct": 1.0, "emc_freq_mhz": 2133.0,
    "gpu_util_pct": 4.0, "gpu_freq_mhz": 305.0, "gpu_gpc0_freq_mhz": 305.0,
    # JetPack 7's NVDEC0/NVJPG0 share JetPack 6's NVDEC/NVJPG columns
    "engine_nvdec_util_pct": 0.0, "engine_nvdec_freq_mhz": 0.0,
    "engine_nvjpg_util_pct": 0.0, "engine_nvjpg_freq_mhz": 0.0,
    "engine_nvjpg1_util_pct": 0.0, "engine_nvjpg1_freq_mhz": 0.0,
    "engine_vic_util_pct": 0.0, "engine_vic_freq_mhz": 0.0,
    "engine_ofa_util_pct": 0.0, "engine_ofa_freq_mhz": 0.0,
    "engine_ape_freq_mhz": 200.0,
    "temp_cpu_c": 48.0, "temp_soc2_c": 46.906, "temp_soc0_c": 46.031, "temp_gpu_c": 48.125,
    "temp_tj_c": 48.125, "temp_soc1_c": 46.906,
    "power_vdd_in_mw": 4832.0, "power_vdd_in_avg_mw": 4832.0,
    "power_vdd_cpu_gpu_cv_mw": 1236.0, "power_vdd_cpu_gpu_cv_avg_mw": 1236.0,
    "power_vdd_soc_mw": 1437.0, "power_vdd_soc_avg_mw": 1437.0,
    "power_total_mw": 4832.0,
}

# --- AGX Thor, JetPack 7.1: 14 cores, GR3D_FREQ @[f,f,f] without %, VIN ------------
EXPECTED["T35"] = {
    "ram_used_mb": 105265.0, "ram_total_mb": 125772.0,
    **_cores((0, 972), (0, 972), (0, 972), (0, 972), (0, 972), (0, 972), (1, 972),
             (0, 972), (0, 972), (0, 972), (0, 972), (8, 972), (0, 972), (0, 972)),
    "cpu_util_pct": (1 + 8) / 14,
    "emc_util_pct": 0.0, "emc_freq_mhz": 2750.0,
    "gpu_freq_mhz": 314.0,
    "gpu_gpc0_freq_mhz": 314.0, "gpu_gpc1_freq_mhz": 314.0, "gpu_gpc2_freq_mhz": 314.0,
    "engine_nvenc_freq_mhz": 314.0, "engine_nvenc1_freq_mhz": 314.0,
    "engine_nvdec_freq_mhz": 314.0, "engine_nvdec1_freq_mhz": 314.0,
    "engine_nvjpg_freq_mhz": 314.0,
    "engine_vic_freq_mhz": 0.0, "engine_vic_util_pct": 0.0,
    "engine_ofa_freq_mhz": 315.0,
    "engine_pva0_freq_mhz": 0.0, "engine_pva0_util_pct": 0.0,
    "engine_ape_freq_mhz": 300.0,
    "temp_cpu_c": 37.343, "temp_tj_c": 38.875, "temp_soc012_c": 37.468, "temp_gpu_c": 38.875,
    "temp_soc345_c": 37.406,
    "power_vdd_gpu_mw": 1962.0, "power_vdd_gpu_avg_mw": 1962.0,
    "power_vdd_cpu_soc_mss_mw": 5887.0, "power_vdd_cpu_soc_mss_avg_mw": 5887.0,
    "power_vin_sys_5v0_mw": 5635.0, "power_vin_sys_5v0_avg_mw": 5635.0,
    "power_vin_mw": 19780.0, "power_vin_avg_mw": 19780.0,
    "power_total_mw": 19780.0,  # VIN (carrier INA238), not VIN_SYS_5V0
}

# --- AGX Thor, R39 (edited test data): off core, x%@[f,f,f], triplets, unknown token
EXPECTED["T39"] = {
    "ram_used_mb": 8353.0, "ram_total_mb": 125749.0,
    **_cores((90, 2601), (75, 2601), OFF, (7, 2601)),
    "cpu_util_pct": (90 + 75 + 7) / 3,
    "emc_util_pct": 34.0, "emc_freq_mhz": 4266.0,
    "gpu_util_pct": 87.0, "gpu_freq_mhz": 1574.0,
    "gpu_gpc0_freq_mhz": 1574.0, "gpu_gpc1_freq_mhz": 1574.0, "gpu_gpc2_freq_mhz": 1574.0,
    "engine_nvenc_freq_mhz": 1691.0,
    "engine_vic_freq_mhz": 0.0, "engine_vic_util_pct": 0.0,
    "temp_cpu_c": 58.25, "temp_tj_c": 66.625, "temp_gpu_c": 56.937, "temp_soc012_c": 55.375,
    "temp_soc345_c": 55.812,
    "power_vdd_gpu_mw": 37939.0, "power_vdd_gpu_avg_mw": 8660.0,
    "power_vdd_cpu_soc_mss_mw": 30059.0, "power_vdd_cpu_soc_mss_avg_mw": 12281.0,
    "power_vin_sys_5v0_mw": 15486.0, "power_vin_sys_5v0_avg_mw": 7424.0,
    "power_vin_mw": 124486.0, "power_vin_avg_mw": 36487.0,
    "power_total_mw": 124486.0,
}
EXPECTED_SKIPPED["T39"] = ["FUTURE_TOKEN", "value"]

# The board input rail (or None where the total is the sum of the rails / no rails).
INPUT_RAIL_BY_LINE = {
    "T05": "POM_5V_IN", "T06": "POM_5V_IN",
    "T07": "VDD_IN", "T08": "VDD_IN",
    "T14": None,  # TX2 NX: no rails at all
    "T15": None,  # AGX Xavier: sum
    "T20": "VDD_IN", "T21": "VDD_IN",
    "T22": None, "T25": None,  # AGX Orin: sum
    "T28": "VDD_IN", "T30": "VDD_IN", "T32": "VDD_IN",
    "T35": "VIN", "T39": "VIN",
}


# The input lines, verbatim from the reference file tegrastats_lines.jsonl kept beside the
# repository (so the tests also run where it is absent; test_tegrastats_parse checks they still match it).
LINES: dict[str, str] = {
    # Nano, L4T 32, root
    "T05": (
        "RAM 1180/3965MB (lfb 1x2MB) SWAP 149/1024MB (cached 7MB) IRAM 0/252kB(lfb 252kB) CPU"
        " [30%@1036,33%@1036,28%@1036,26%@1036] EMC_FREQ 10%@1600 GR3D_FREQ 0%@76 NVENC 716 NVDEC"
        " 716 APE 25 PLL@57C CPU@60.5C PMIC@100C GPU@59C AO@65C thermal@59.75C POM_5V_IN"
        " 4520/4680 POM_5V_GPU 0/0 POM_5V_CPU 1078/1205"
    ),
    # Nano, JetPack 4.6.1, root
    "T06": (
        "RAM 1923/3964MB (lfb 2x2MB) SWAP 191/1982MB (cached 6MB) IRAM 0/252kB(lfb 252kB) CPU"
        " [5%@1224,4%@1224,3%@1224,6%@1224] EMC_FREQ 0%@1600 GR3D_FREQ 0%@76 APE 25 PLL@37C"
        " CPU@40C PMIC@50C GPU@40C AO@45C thermal@40C POM_5V_IN 1750/1628 POM_5V_GPU 0/0"
        " POM_5V_CPU 366/406"
    ),
    # TX2, L4T 28, root
    "T07": (
        "RAM 4722/7844MB (lfb 1x512kB) CPU"
        " [55%@2035,14%@2034,27%@2034,55%@2035,47%@2035,45%@2035] EMC_FREQ 2%@1866 GR3D_FREQ"
        " 71%@1300 APE 150 MTS fg 0% bg 0% BCPU@45C MCPU@45C GPU@51C PLL@45C AO@47.5C Tboard@37C"
        " Tdiode@46.75C PMIC@100C thermal@46.4C VDD_IN 14025/14416 VDD_CPU 2209/2538 VDD_GPU"
        " 6854/6903 VDD_SOC 1371/1370 VDD_WIFI 19/19 VDD_DDR 2702/2702"
    ),
    # TX2, JetPack 4.2, user
    "T08": (
        "RAM 2020/7852MB (lfb 1164x4MB) CPU [9%@345,21%@345,25%@345,3%@345,1%@345,1%@345]"
        " EMC_FREQ 0% GR3D_FREQ 0% PLL@42.5C MCPU@42.5C PMIC@100C Tboard@40C GPU@41C BCPU@42.5C"
        " thermal@41.9C Tdiode@41.25C VDD_SYS_GPU 153/158 VDD_SYS_SOC 536/547 VDD_4V0_WIFI"
        " 633/527 VDD_IN 3140/3208 VDD_SYS_CPU 536/590 VDD_SYS_DDR 557/601"
    ),
    # TX2 NX, JetPack 4.6, user
    "T14": (
        "RAM 1689/3825MB (lfb 339x4MB) SWAP 0/1913MB (cached 0MB) CPU"
        " [3%@345,off,off,0%@345,1%@345,1%@345] EMC_FREQ 0% GR3D_FREQ 0% PLL@50.5C MCPU@50.5C"
        " PMIC@50C GPU@50C BCPU@50.5C thermal@50.3C"
    ),
    # AGX Xavier, JetPack 4.1, root
    "T15": (
        "RAM 1736/15827MB (lfb 3283x4MB) CPU [1%@1160,2%@1161,0%@1189,0%@1189,off,off,off,off]"
        " EMC_FREQ 0%@665 GR3D_FREQ 0%@114 APE 150 MTS fg 0% bg 0% AO@29C GPU@30C iwlwifi@34C"
        " Tboard@30C Tdiode@33C AUX@29C CPU@30C thermal@29.45C PMIC@100C GPU 466/466 CPU 466/466"
        " SOC 932/932 CV 0/0 VDDRQ 0/0 SYS5V 1854/1854"
    ),
    # Xavier NX, JetPack 4.x, root
    "T20": (
        "RAM 5246/7771MB (lfb 7x4MB) SWAP 983/20269MB (cached 280MB) CPU"
        " [47%@1420,23%@1420,32%@1420,22%@1420,31%@1420,96%@1420] EMC_FREQ 2%@1600 GR3D_FREQ"
        " 0%@1109 APE 150 MTS fg 1% bg 9% AO@29C GPU@31.5C PMIC@100C AUX@30C CPU@33.5C"
        " thermal@31.35C VDD_IN 6140/5510 VDD_CPU_GPU_CV 2706/2119 VDD_SOC 1074/1051"
    ),
    # Xavier NX, JetPack 5.1.2, root
    "T21": (
        "07-09-2024 13:31:31 RAM 3168/6851MB (lfb 2x4MB) SWAP 161/3426MB (cached 0MB) CPU"
        " [23%@1397,17%@1192,16%@1190,13%@1190,23%@1190,10%@1190] EMC_FREQ 2%@204 GR3D_FREQ"
        " 0%@[114] VIC_FREQ 115 APE 150 AUX@45C CPU@46.5C thermal@45.6C AO@45C GPU@45.5C PMIC@50C"
        " VDD_IN 2763mW/2846mW VDD_CPU_GPU_CV 650mW/670mW VDD_SOC 650mW/711mW"
    ),
    # AGX Orin, JetPack 5.1, root
    "T22": (
        "04-24-2023 00:01:24 RAM 1282/62795MB (lfb 15152x4MB) SWAP 0/31398MB (cached 0MB) CPU"
        " [0%@729,0%@729,0%@729,0%@729,0%@729,0%@729,0%@729,0%@729,0%@729,0%@729,0%@729,0%@729]"
        " EMC_FREQ 0%@2133 GR3D_FREQ 0%@0 GR3D2_FREQ 0%@0 VIC_FREQ 729 APE 174 CV0@-256C"
        " CPU@42.593C Tboard@32C SOC2@39.343C Tdiode@33.25C SOC0@39.375C CV1@-256C GPU@-256C"
        " tj@42.593C SOC1@40.468C CV2@-256C VDD_GPU_SOC 2399mW/2399mW VDD_CPU_CV 400mW/400mW"
        " VIN_SYS_5V0 4032mW/4032mW NC 0mW/0mW VDDQ_VDD2_1V8AO 301mW/301mW NC 0mW/0mW"
    ),
    # AGX Orin, JetPack 6, root
    "T25": (
        "10-26-2025 05:10:54 RAM 6879/62841MB (lfb 3x4MB) SWAP 0/31421MB (cached 0MB) CPU"
        " [5%@729,1%@729,0%@729,9%@729,1%@729,3%@729,5%@729,0%@729,3%@729,1%@729,1%@729,7%@729]"
        " EMC_FREQ 0%@2133 GR3D_FREQ 0%@[305,305] NVENC off NVDEC off NVJPG off NVJPG1 off VIC"
        " off OFA off NVDLA0 off NVDLA1 off PVA0_FREQ off APE 174 cpu@47.687C tboard@36.75C"
        " soc2@44.312C tdiode@37.5C soc0@45.718C gpu@43.218C tj@47.687C soc1@45.125C VDD_GPU_SOC"
        " 2801mW/2801mW VDD_CPU_CV 400mW/400mW VIN_SYS_5V0 4536mW/4536mW VDDQ_VDD2_1V8AO"
        " 604mW/604mW"
    ),
    # Orin NX 8GB, JetPack 6, root
    "T28": (
        "05-15-2025 18:30:28 RAM 6982/7620MB (lfb 5x1MB) SWAP 2640/16384MB (cached 202MB) CPU"
        " [97%@1984,95%@1984,95%@1984,91%@1984,88%@1984,93%@247] EMC_FREQ 18%@3199 GR3D_FREQ"
        " 84%@[713] NVENC 1%@115 NVDEC 40%@115 NVJPG off NVJPG1 off VIC 31%@115 OFA off NVDLA0"
        " off PVA0_FREQ off APE 174 cv0@63.031C cpu@65.562C soc2@64.156C soc0@63.031C cv1@62.937C"
        " gpu@63.5C tj@65.562C soc1@64.718C cv2@60.875C VDD_IN 17946mW/15710mW VDD_CPU_GPU_CV"
        " 8896mW/7585mW VDD_SOC 3923mW/3515mW"
    ),
    # Orin Nano 8GB, JetPack 6, user
    "T30": (
        "06-18-2025 11:25:24 RAM 3452/7620MB (lfb 25x4MB) SWAP 1518/16384MB (cached 174MB) CPU"
        " [1%@1420,2%@1420,0%@1420,2%@1420,2%@729,1%@729] GR3D_FREQ 0% cpu@50.031C soc2@49.031C"
        " soc0@50C gpu@49.031C tj@50.25C soc1@50.25C VDD_IN 4824mW/4824mW VDD_CPU_GPU_CV"
        " 518mW/518mW VDD_SOC 1475mW/1475mW"
    ),
    # Orin Nano, JetPack 7.2, root
    "T32": (
        "09-04-2026 19:40:46 RAM 1803/7486MB (lfb 8x4MB) CPU"
        " [66%@1510,2%@1510,0%@1510,1%@1510,33%@729,0%@729] EMC_FREQ 1%@2133 GR3D_FREQ 4%@[305]"
        " NVDEC0 off NVJPG0 off NVJPG1 off VIC off OFA off APE 200 cpu@48C/48C"
        " soc2@46.906C/46.906C soc0@46.031C/46.031C gpu@48.125C/48.125C tj@48.125C/48.125C"
        " soc1@46.906C/46.906C VDD_IN 4832mW/4832mW/4832mW VDD_CPU_GPU_CV 1236mW/1236mW/1236mW"
        " VDD_SOC 1437mW/1437mW/1437mW"
    ),
    # AGX Thor, JetPack 7.1, root
    "T35": (
        "04-21-2026 15:50:52 RAM 105265/125772MB (lfb 34x4MB) CPU"
        " [0%@972,0%@972,0%@972,0%@972,0%@972,0%@972,1%@972,0%@972,0%@972,0%@972,0%@972,8%@972,0%@972,0%@972]"
        " EMC_FREQ 0%@2750 GR3D_FREQ @[314,314,314] NVENC0_FREQ @314 NVENC1_FREQ @314 NVDEC0_FREQ"
        " @314 NVDEC1_FREQ @314 NVJPG0_FREQ @314 VIC off OFA_FREQ @315 PVA0_FREQ off APE 300"
        " cpu@37.343C tj@38.875C soc012@37.468C gpu@38.875C soc345@37.406C VDD_GPU 1962mW/1962mW"
        " VDD_CPU_SOC_MSS 5887mW/5887mW VIN_SYS_5V0 5635mW/5635mW VIN 19780mW/19780mW"
    ),
    # AGX Thor, R39 (edited test data), root
    "T39": (
        "08-08-2026 21:00:39 RAM 8353/125749MB (lfb 31x4MB) CPU [90%@2601,75%@2601,off,7%@2601]"
        " EMC_FREQ 34%@4266 GR3D_FREQ 87%@[1574,1574,1574] NVENC0_FREQ @1691 VIC off"
        " cpu@58.25C/61.75C tj@66.625C/66.625C gpu@56.937C/66.625C soc012@55.375C/58.781C"
        " soc345@55.812C/60.031C VDD_GPU 37939mW/8660mW/37939mW VDD_CPU_SOC_MSS"
        " 30059mW/12281mW/30059mW VIN_SYS_5V0 15486mW/7424mW/15486mW VIN"
        " 124486mW/36487mW/124486mW FUTURE_TOKEN value"
    ),
}
