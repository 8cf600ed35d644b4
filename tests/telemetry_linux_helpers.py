"""Fixture trees for the generic Linux telemetry, platform and info tests.

Each builder writes a small machine under ``root`` shaped like a real one (paths,
file formats and units as the kernel exposes them); values are illustrative.
"""

from __future__ import annotations

from pathlib import Path

# user nice system idle iowait irq softirq steal guest guest_nice
_STAT_TAIL = "intr 12345 0 0 0\nctxt 999\nbtime 1700000000\nprocesses 42\n"


def write(root: Path, rel: str, content: str | bytes) -> Path:
    path = root / rel.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


def write_proc_stat(root: Path, cores: dict[int, tuple[int, int]]) -> None:
    """``cores``: {N: (busy jiffies, idle jiffies)}; written as a real /proc/stat with all 10 fields."""
    def fields(busy: int, idle: int) -> str:
        # split busy over user/system/irq/softirq and idle over idle/iowait; guest stays 0
        user, system = busy // 2, busy - busy // 2
        return f"{user} 0 {system} {idle} 0 0 0 0 0 0"
    total_busy = sum(b for b, _ in cores.values())
    total_idle = sum(i for _, i in cores.values())
    lines = [f"cpu  {fields(total_busy, total_idle)}"]
    lines += [f"cpu{n} {fields(b, i)}" for n, (b, i) in sorted(cores.items())]
    write(root, "/proc/stat", "\n".join(lines) + "\n" + _STAT_TAIL)


MEMINFO_X86 = """\
MemTotal:       16315740 kB
MemFree:         9021312 kB
MemAvailable:   12287588 kB
Buffers:          402112 kB
Cached:          3071492 kB
SwapCached:         1024 kB
Active:          4212340 kB
SwapTotal:       2097148 kB
SwapFree:        1573884 kB
"""


def make_x86_host(root: Path) -> Path:
    """4 cores (cpu2 offline), cpufreq, 2 thermal zones, coretemp + nvme + fans + an INA3221 hwmon."""
    write(root, "/sys/class/dmi/id/product_name", "OptiPlex 7090\n")
    write(root, "/proc/cpuinfo", "".join(
        f"processor\t: {n}\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Core(TM) i7-10700 CPU @ 2.90GHz\n\n"
        for n in (0, 1, 3)))
    write_proc_stat(root, {0: (1000, 9000), 1: (2000, 8000), 3: (500, 9500)})
    write(root, "/sys/devices/system/cpu/online", "0-1,3\n")
    write(root, "/sys/devices/system/cpu/present", "0-3\n")
    for n in range(4):
        write(root, f"/sys/devices/system/cpu/cpu{n}/online", "0\n" if n == 2 else "1\n")
        if n == 2:
            continue      # an offline core loses its cpufreq directory
        d = f"/sys/devices/system/cpu/cpu{n}/cpufreq"
        write(root, f"{d}/scaling_cur_freq", f"{2900000 + n * 100000}\n")
        write(root, f"{d}/scaling_min_freq", "800000\n")
        write(root, f"{d}/scaling_max_freq", "4800000\n")
        write(root, f"{d}/cpuinfo_min_freq", "800000\n")
        write(root, f"{d}/cpuinfo_max_freq", "4800000\n")
        write(root, f"{d}/scaling_governor", "powersave\n")
    write(root, "/proc/meminfo", MEMINFO_X86)
    write(root, "/proc/loadavg", "1.25 0.80 0.55 2/811 123456\n")

    tz = "/sys/class/thermal"
    write(root, f"{tz}/thermal_zone0/type", "acpitz\n")
    write(root, f"{tz}/thermal_zone0/temp", "27800\n")
    write(root, f"{tz}/thermal_zone0/trip_point_0_type", "critical\n")
    write(root, f"{tz}/thermal_zone0/trip_point_0_temp", "119000\n")
    write(root, f"{tz}/thermal_zone1/type", "x86_pkg_temp\n")
    write(root, f"{tz}/thermal_zone1/temp", "45000\n")
    write(root, f"{tz}/thermal_zone1/trip_point_0_type", "passive\n")
    write(root, f"{tz}/thermal_zone1/trip_point_0_temp", "95000\n")
    write(root, f"{tz}/thermal_zone1/trip_point_1_type", "critical\n")
    write(root, f"{tz}/thermal_zone1/trip_point_1_temp", "105000\n")
    write(root, f"{tz}/cooling_device0/type", "Processor\n")

    hw = "/sys/class/hwmon"
    write(root, f"{hw}/hwmon0/name", "acpitz\n")                 # mirror of thermal_zone0
    write(root, f"{hw}/hwmon0/temp1_input", "27800\n")
    write(root, f"{hw}/hwmon1/name", "coretemp\n")
    for n, (label, mdeg) in enumerate((("Package id 0", 48000), ("Core 0", 46000), ("Core 1", 47000)), 1):
        write(root, f"{hw}/hwmon1/temp{n}_label", label + "\n")
        write(root, f"{hw}/hwmon1/temp{n}_input", f"{mdeg}\n")
        write(root, f"{hw}/hwmon1/temp{n}_crit", "100000\n")
    write(root, f"{hw}/hwmon2/name", "nvme\n")
    write(root, f"{hw}/hwmon2/temp1_label", "Composite\n")
    write(root, f"{hw}/hwmon2/temp1_input", "38850\n")
    write(root, f"{hw}/hwmon2/temp2_label", "Sensor 1\n")
    write(root, f"{hw}/hwmon2/temp2_input", "38850\n")
    write(root, f"{hw}/hwmon3/name", "nct6798\n")
    write(root, f"{hw}/hwmon3/fan1_input", "1210\n")
    write(root, f"{hw}/hwmon3/fan2_input", "0\n")
    write(root, f"{hw}/hwmon3/in0_input", "1040\n")             # voltages without labels: kept
    write(root, f"{hw}/hwmon4/name", "ina3221\n")               # power monitor: skipped
    write(root, f"{hw}/hwmon4/in1_label", "VDD_IN\n")
    write(root, f"{hw}/hwmon4/in1_input", "5072\n")
    write(root, f"{hw}/hwmon4/curr1_input", "1020\n")
    return root


def make_rpi(root: Path) -> Path:
    """Raspberry Pi 4 (64-bit OS): device-tree model, cpu-thermal zone and its hwmon mirror."""
    write(root, "/proc/device-tree/model", b"Raspberry Pi 4 Model B Rev 1.4\x00")
    write(root, "/proc/device-tree/compatible", b"raspberrypi,4-model-b\x00brcm,bcm2711\x00")
    write(root, "/proc/cpuinfo", "".join(
        f"processor\t: {n}\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\n"
        f"CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd08\n"
        f"CPU revision\t: 3\n\n" for n in range(4))
        + "Revision\t: c03114\nSerial\t\t: 10000000abcdef01\nModel\t\t: Raspberry Pi 4 Model B Rev 1.4\n")
    write_proc_stat(root, {n: (100 * (n + 1), 10000) for n in range(4)})
    write(root, "/sys/devices/system/cpu/online", "0-3\n")
    write(root, "/sys/devices/system/cpu/present", "0-3\n")
    for n in range(4):
        d = f"/sys/devices/system/cpu/cpu{n}/cpufreq"
        write(root, f"{d}/scaling_cur_freq", "1500000\n")
        write(root, f"{d}/scaling_min_freq", "600000\n")
        write(root, f"{d}/scaling_max_freq", "1500000\n")
        write(root, f"{d}/scaling_governor", "ondemand\n")
        write(root, f"{d}/scaling_available_frequencies", "600000 700000 800000 900000 1000000 1100000 "
                                                            "1200000 1300000 1400000 1500000 \n")
    write(root, "/proc/meminfo", "MemTotal:        3880092 kB\nMemFree:         3012345 kB\n"
                                 "MemAvailable:    3345678 kB\nSwapCached:            0 kB\n"
                                 "SwapTotal:        102396 kB\nSwapFree:         102396 kB\n")
    write(root, "/proc/loadavg", "0.08 0.03 0.01 1/160 1234\n")
    write(root, "/sys/class/thermal/thermal_zone0/type", "cpu-thermal\n")
    write(root, "/sys/class/thermal/thermal_zone0/temp", "45277\n")
    write(root, "/sys/class/thermal/thermal_zone0/trip_point_0_type", "critical\n")
    write(root, "/sys/class/thermal/thermal_zone0/trip_point_0_temp", "110000\n")
    write(root, "/sys/class/hwmon/hwmon0/name", "cpu_thermal\n")
    write(root, "/sys/class/hwmon/hwmon0/temp1_input", "45277\n")
    write(root, "/sys/class/hwmon/hwmon1/name", "rpi_volt\n")
    write(root, "/sys/class/hwmon/hwmon1/in0_lcrit_alarm", "0\n")
    return root


def make_jetson_nano(root: Path) -> Path:
    """Just enough of a Jetson Nano (L4T 32.7.1) for platform detection."""
    write(root, "/etc/nv_tegra_release",
          "# R32 (release), REVISION: 7.1, GCID: 29818004, BOARD: t210ref, EABI: aarch64, "
          "DATE: Sat Feb 19 17:05:08 UTC 2022\n")
    write(root, "/proc/device-tree/model", b"NVIDIA Jetson Nano Developer Kit\x00")
    write(root, "/proc/device-tree/compatible", b"nvidia,p3449-0000-b00+p3448-0000-b00\x00nvidia,jetson-nano"
                                                b"\x00nvidia,tegra210\x00")
    write(root, "/proc/cpuinfo", "".join(
        f"processor\t: {n}\nCPU implementer\t: 0x41\nCPU part\t: 0xd07\n\n" for n in range(4)))
    write(root, "/sys/devices/system/cpu/online", "0-3\n")
    write(root, "/sys/devices/system/cpu/present", "0-3\n")
    return root
