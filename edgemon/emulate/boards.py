"""What each emulated Jetson looks like: files, names, clocks, power modes, memory, tegrastats style.

Every table cites its source in a comment as ``[Sn]``: the numbered public
sources in ``docs/emulator-sources.md``, which says what each one shows. Real
tegrastats lines are cited by id (``T06``); their text is in
``tests/tegrastats_expected.py``. Values marked ``†`` have no primary source:
they are illustrative (plausible, not copied from a real board) and listed as
such in the README's emulator section and in ``docs/emulator-sources.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgemon.errors import UserError

INT_MAX = 2147483647     # nvpmodel.conf "-1" [S1]


@dataclass(frozen=True)
class Cluster:
    """CPU cores that share one cpufreq policy (``policy<first core>``)."""

    param: str                        # nvpmodel.conf PARAM name of the cluster, e.g. "CPU_A57"
    cpus: tuple[int, ...]
    freqs_khz: tuple[int, ...]        # scaling_available_frequencies, ascending
    core_w: float                     # dynamic power of one core at max clock, 100 % busy †
    idle_w: float = 0.05              # static power of one online core †
    governor: str = "schedutil"


@dataclass(frozen=True)
class Gpu:
    devfreq_dir: str                  # real devfreq directory (relative to the root)
    device_dir: str                   # the GPU device (``devfreq/<name>/device`` points here)
    freqs_hz: tuple[int, ...]
    of_node: str | None               # of_node/name ("gpu", "gp10b", "gv11b"); None on Thor
    load_paths: tuple[str, ...]       # per-mille load files besides none (Thor has no load file)
    gpcs: int = 1                     # frequencies listed by tegrastats (JetPack >= 5.1.2)
    enable_3d_scaling: bool = True    # JetPack 7 dropped it
    max_w: float = 5.0                # dynamic power at max clock, 100 % busy †
    idle_w: float = 0.05

    @property
    def name(self) -> str:
        return self.devfreq_dir.rstrip("/").rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Emc:
    style: str                        # "t210" (debugfs clk + tegra_bwmgr) or "bpmp" (t186 and later)
    freqs_hz: tuple[int, ...]         # steps the model uses, ascending


@dataclass(frozen=True)
class Zone:
    """One thermal zone. ``heat`` weights component power (W) into this sensor."""

    type: str                         # thermal_zoneN/type, as the board names it
    heat: tuple[tuple[str, float], ...] = (("cpu", 0.5), ("gpu", 0.5), ("soc", 0.5))
    offset_c: float = 5.0             # above ambient at zero power †
    trips: tuple[tuple[int, str], ...] = ()   # (m°C, type); a "passive" trip throttles
    throttles: tuple[str, ...] = ()   # clocks capped at the passive trip: "cpu", "gpu"
    fixed_mc: int | None = None       # constant reading (PMIC-Die placeholder, power-gated CV = -256000)
    in_tegrastats: bool = True
    step_mc: float = 500              # sensor resolution in m°C (Orin/Thor: 1/32 C)

    @property
    def short(self) -> str:
        """The name tegrastats prints: ``CPU-therm`` -> ``CPU``, ``Tboard_tegra`` -> ``Tboard``."""
        return self.type.split("-")[0] if "-" in self.type else self.type.split("_")[0]


@dataclass(frozen=True)
class InaChip:
    """One power monitor on I2C. ``channels[i]`` is the rail of input i (None = disabled)."""

    addr: str                         # "6-0040": /sys/bus/i2c/devices/<addr>
    parent: str                       # the I2C adapter's device directory
    kind: str                         # "iio" (JetPack 4), "hwmon" (JetPack 5+), "ina238" (Thor VIN)
    index: int                        # iio:deviceN / hwmonN
    channels: tuple[str | None, ...]
    # Over-current limit (mA) per channel, only where a real board shows one; () = no limit
    # files at all, which is what the throttling analysis then sees (no "power" cause).
    crit_ma: tuple[int | None, ...] = ()

    @property
    def driver(self) -> str:
        return {"iio": "ina3221x", "hwmon": "ina3221", "ina238": "ina238"}[self.kind]

    def crit_of(self, channel: int) -> int | None:
        return self.crit_ma[channel] if channel < len(self.crit_ma) else None


@dataclass(frozen=True)
class Rail:
    name: str
    parts: tuple[str, ...]            # components summed: cpu gpu cv soc ddr io in
    mv: int = 5000
    in_tegrastats: bool = True        # Thor R38.4 tegrastats prints no VIN although sysfs has it


@dataclass(frozen=True)
class Fan:
    kind: str                         # "legacy" (/sys/devices/pwm-fan/target_pwm) or "hwmon" (pwm1)
    device_dir: str
    hwmon_index: int = 0
    name: str = "pwmfan"
    max_rpm: int = 5000
    tach_index: int | None = None     # separate RPM-only hwmon node "pwm_tach" (Thor)


@dataclass(frozen=True)
class Memory:
    """RAM and swap as tegrastats prints them (MB), and what is in use before any workload runs."""

    ram_mb: int                       # MemTotal
    swap_mb: int                      # SwapTotal; 0 = no swap configured (no SWAP field)
    used_mb: int                      # RAM in use at idle (the baseline the workload adds to)
    swap_used_mb: int = 0


@dataclass(frozen=True)
class PowerMode:
    id: int
    name: str
    online: tuple[int, ...]           # cores online in this mode
    cpu_max_khz: tuple[int, ...]      # per cluster, -1 = no cap (INT_MAX), 0 = not set
    cpu_min_khz: int = 0
    gpu_max_hz: int = -1
    gpu_min_hz: int = 0
    emc_max_hz: int = 0               # 0 = no cap
    tpc_pg_mask: int = 0              # a different mask needs a reboot (golden GPU context)
    fbp_pg_mask: int | None = None    # JetPack 6 confs gate frame-buffer partitions too


@dataclass(frozen=True)
class Board:
    key: str
    title: str
    model: str
    compatible: tuple[str, ...]
    dtsfilename: str
    release: str                      # /etc/nv_tegra_release contents
    soc: str                          # "tegra210"
    machine: str                      # jetson_clocks "Machine:"
    generation: str                   # tegrastats/jetson_clocks style: jp4 jp5 jp6 jp7
    clusters: tuple[Cluster, ...]
    gpu: Gpu
    emc: Emc
    zones: tuple[Zone, ...]
    tegrastats_zone_order: tuple[str, ...]    # zone types in the order tegrastats prints them
    ina: tuple[InaChip, ...]
    rails: tuple[Rail, ...]           # in tegrastats order
    fan: Fan
    modes: tuple[PowerMode, ...]
    default_mode: int
    engines: str                      # static tegrastats tokens (root) copied from a real line
    memory: Memory
    hotplug_needs_reboot: bool = False  # JetPack 6+: a mode that changes the core count reboots
    # JetPack 6 nvpmodel.conf layout: one CPU clock parameter per core, FBP_POWER_GATING, and
    # *_KNEXT paths (platform/gpu.0, platform/17000000.gpu/devfreq_dev, nvpmodel_clk_cap/emc).
    conf_per_core: bool = False
    gr3d_util: bool = True            # Thor R38 prints "GR3D_FREQ @[f,f,f]" with no percentage
    tegrastats_running_max: bool = False   # R39 lines: rails cur/avg/max, zones cur/max
    iram: bool = False
    cpu_driver: str = "tegra_cpufreq"
    soc_w: float = 1.0                # †
    ddr_w: tuple[float, float] = (0.2, 1.5)   # idle, busy at max EMC †
    io_w: float = 0.0                 # constant rails (5 V I/O, Wi-Fi) †
    overhead_w: float = 0.5           # input rail minus the sum of the module rails †
    r_k_per_w: float = 5.0            # thermal resistance junction -> ambient †
    fan_cut: float = 0.45             # a full fan lowers the resistance by this fraction †

    @property
    def cpus(self) -> tuple[int, ...]:
        return tuple(sorted(c for cl in self.clusters for c in cl.cpus))

    def cluster_of(self, cpu: int) -> Cluster:
        for cl in self.clusters:
            if cpu in cl.cpus:
                return cl
        raise KeyError(cpu)

    def mode(self, mode_id: int) -> PowerMode | None:
        for m in self.modes:
            if m.id == mode_id:
                return m
        return None

    def needs_reboot(self, current: PowerMode | None, target: PowerMode) -> bool:
        """Whether switching ``current`` -> ``target`` prompts for a reboot, as nvpmodel does."""
        if current is None or current.id == target.id:
            return False
        if (current.tpc_pg_mask, current.fbp_pg_mask) != (target.tpc_pg_mask, target.fbp_pg_mask):
            return True
        return self.hotplug_needs_reboot and set(current.online) != set(target.online)


def _r(a: int, b: int) -> tuple[int, ...]:
    return tuple(range(a, b + 1))


# --- frequency tables (kHz / Hz) -----------------------------------------------------------

# [S2] Nano CPU/GPU tables confirmed against real boards.
_NANO_CPU = (102000, 204000, 307200, 403200, 518400, 614400, 710400, 825600, 921600, 1036800,
             1132800, 1224000, 1326000, 1428000, 1479000)
_TX2_CPU = (345600, 499200, 652800, 806400, 960000, 1113600, 1267200, 1420800, 1574400, 1728000,
            1881600, 2035200)       # T07/T08 print 345 and 2035 MHz; steps between †
_CARMEL = (115200, 192000, 268800, 345600, 422400, 499200, 576000, 652800, 729600, 806400, 883200,
           960000, 1036800, 1113600, 1190400, 1267200, 1344000, 1420800, 1497600, 1574400, 1651200,
           1728000, 1804800, 1881600, 1907200)
_A78 = (115200, 192000, 268800, 345600, 422400, 499200, 576000, 652800, 729600, 806400, 883200,
        960000, 1036800, 1113600, 1190400, 1267200, 1344000, 1420800, 1497600, 1510400, 1574400,
        1651200, 1728000, 1804800, 1881600, 1958400, 2035200, 2112000, 2188800, 2201600)
# [S4] Orin NX 16GB Super: 1984 MHz top (MAXN_SUPER), 1497.6 MHz in 25W/40W, 729.6 MHz floor.
_ORIN_NX_CPU = tuple(f for f in _A78 if f <= 1958400) + (1984000,)
# [S9] Thor R38.4 lines print 972 ... 2601 MHz including 1566 and 1890 MHz; other steps †.
_THOR_CPU = (972000, 1200000, 1401600, 1566000, 1600000, 1800000, 1890000, 1998000, 2201600,
             2400000, 2601000)

_NANO_GPU = tuple(76800000 * i for i in range(1, 13))                 # 76.8 ... 921.6 MHz [S2]
_TX2_GPU = (114750000, 216750000, 318750000, 420750000, 522750000, 624750000, 726750000,
            828750000, 930750000, 1032750000, 1134750000, 1236750000, 1300500000)
_XNX_GPU = (114750000, 204000000, 306000000, 408000000, 510000000, 599250000, 701250000, 752250000,
            803250000, 854250000, 905250000, 956250000, 1007250000, 1058250000, 1109250000)
_ORIN_GPU = (306000000, 408000000, 420750000, 510000000, 612000000, 624750000, 714000000, 816000000,
             828750000, 918000000, 1020000000, 1122000000, 1224000000, 1300500000)
# [S4] Orin NX: 306 MHz floor, 408 MHz (25W) and 1173 MHz (40W, MAXN_SUPER) ceilings; steps †.
_ORIN_NX_GPU = (306000000, 408000000, 510000000, 612000000, 714000000, 816000000, 918000000,
                1020000000, 1122000000, 1173000000)
# [S6] Orin Nano Super: 408 (7W), 612 (15W), 918 (25W), 1020 MHz (MAXN_SUPER); 306 floor [S5].
_ORIN_NANO_GPU = (306000000, 408000000, 510000000, 612000000, 714000000, 816000000, 918000000,
                  1020000000)
_THOR_GPU = (314000000, 420000000, 524000000, 629000000, 734000000, 839000000, 944000000, 1049000000,
             1154000000, 1259000000, 1386000000, 1530000000, 1575000000)        # T35: 314 MHz idle; rest †

_T234_STEP = 31.25     # Orin/Thor sensors read in 1/32 C steps: 47.6875 C -> "47687"
_ORIN_ZONES_JP6 = ("cpu-thermal", "gpu-thermal", "cv0-thermal", "cv1-thermal", "cv2-thermal",
                   "soc0-thermal", "soc1-thermal", "soc2-thermal", "tj-thermal")


def _cpu_zone(t: str, trip: int, step: float, offset: float = 6.0) -> Zone:
    return Zone(t, (("cpu", 1.0), ("gpu", 0.3), ("soc", 0.3)), offset, ((trip, "passive"), (trip + 5000, "critical")),
                ("cpu", "gpu"), step_mc=step)


def _gpu_zone(t: str, trip: int, step: float, offset: float = 5.0) -> Zone:
    return Zone(t, (("gpu", 1.0), ("cpu", 0.3), ("soc", 0.3)), offset, ((trip, "passive"), (trip + 5000, "critical")),
                ("gpu", "cpu"), step_mc=step)


def _soc_zone(t: str, step: float, offset: float = 4.0, trips: tuple = ()) -> Zone:
    return Zone(t, (("soc", 1.0), ("cpu", 0.4), ("gpu", 0.4)), offset, trips, step_mc=step)


def _orin_zones(gated_cv: bool, board_sensors: bool = False) -> tuple[Zone, ...]:
    """T234 zones (JetPack 6 names). ``gated_cv``: no DLA/PVA, the cv zones read the "off" marker."""
    zones = []
    for t in _ORIN_ZONES_JP6:
        if t == "cpu-thermal":
            zones.append(_cpu_zone(t, 99000, _T234_STEP))
        elif t == "gpu-thermal":
            zones.append(_gpu_zone(t, 99000, _T234_STEP))
        elif t.startswith("cv") and gated_cv:
            zones.append(Zone(t, fixed_mc=-256000, in_tegrastats=False))
        else:
            zones.append(_soc_zone(t, _T234_STEP, offset=5.0 if t == "tj-thermal" else 3.0))
    if board_sensors:   # [S10] AGX Orin devkit carrier sensors: "tboard"/"tdiode" on JetPack 6 (T25)
        zones.append(Zone("tboard_tegra", (("soc", 0.3), ("cpu", 0.2), ("gpu", 0.2)), 3.0, step_mc=250))
        zones.append(Zone("tdiode_tegra", (("soc", 0.8), ("cpu", 0.5), ("gpu", 0.5)), 4.0, step_mc=250))
    return tuple(zones)


# --- the boards ----------------------------------------------------------------------------

NANO = Board(
    key="nano", title="Jetson Nano 4GB (JetPack 4.6.1, L4T 32.7.1)",
    model="NVIDIA Jetson Nano Developer Kit",
    compatible=("nvidia,p3449-0000-b00+p3448-0000-b00", "nvidia,jetson-nano", "nvidia,tegra210"),
    dtsfilename="/dvs/git/dirty/git-master_linux/kernel/kernel-4.9/arch/arm64/boot/dts/../../../../../../"
                "hardware/nvidia/platform/t210/porg/kernel-dts/tegra210-p3448-0000-p3449-0000-b00.dts",
    release="# R32 (release), REVISION: 7.1, GCID: 29818004, BOARD: t210ref, EABI: aarch64, "
            "DATE: Sat Feb 19 17:05:08 UTC 2022\n",
    soc="tegra210", machine="NVIDIA Jetson Nano Developer Kit", generation="jp4",
    clusters=(Cluster("CPU_A57", _r(0, 3), _NANO_CPU, core_w=0.8),),
    # [S2] GPU at /sys/devices/gpu.0/devfreq/57000000.gpu, load in gpu.0/load.
    gpu=Gpu("sys/devices/gpu.0/devfreq/57000000.gpu", "sys/devices/gpu.0", _NANO_GPU, "gpu",
            ("sys/devices/gpu.0/load",), max_w=3.5),
    emc=Emc("t210", (204000000, 408000000, 665600000, 800000000, 1065600000, 1331200000, 1600000000)),
    zones=(
        _soc_zone("AO-therm", 500, offset=8.0),
        _cpu_zone("CPU-therm", 97000, 500),
        _gpu_zone("GPU-therm", 97000, 500),
        _soc_zone("PLL-therm", 500, offset=5.0),
        Zone("PMIC-Die", fixed_mc=50000, step_mc=1000),
        Zone("thermal-fan-est", (("cpu", 0.7), ("gpu", 0.7), ("soc", 0.4)), 5.0,
             ((51000, "active"), (61000, "active"), (71000, "active")), step_mc=50),
    ),
    tegrastats_zone_order=("PLL-therm", "CPU-therm", "PMIC-Die", "GPU-therm", "AO-therm", "thermal-fan-est"),  # T06
    # [S3] INA3221 at 6-0040 (iio, JetPack 4); no over-current limit is known for the Nano.
    ina=(InaChip("6-0040", "sys/devices/7000c400.i2c/i2c-6", "iio", 0, ("POM_5V_IN", "POM_5V_GPU", "POM_5V_CPU")),),
    rails=(Rail("POM_5V_IN", ("in",)), Rail("POM_5V_GPU", ("gpu",)), Rail("POM_5V_CPU", ("cpu",))),
    fan=Fan("legacy", "sys/devices/pwm-fan", max_rpm=5000),
    modes=(   # [S2] MAXN, and 5W = 2 cores, 918000 kHz, GPU 640 MHz, EMC 1600 MHz
        PowerMode(0, "MAXN", _r(0, 3), (-1,)),
        PowerMode(1, "5W", _r(0, 1), (918000,), gpu_max_hz=640000000, emc_max_hz=1600000000),
    ),
    default_mode=0,
    engines="APE 25",                                   # T06
    memory=Memory(ram_mb=3964, swap_mb=1982, used_mb=1923, swap_used_mb=191),   # T06 (JetPack 4.6.1)
    iram=True, soc_w=0.5, ddr_w=(0.15, 0.8), overhead_w=0.6, r_k_per_w=9.0,
)

TX2 = Board(
    key="tx2", title="Jetson TX2 (JetPack 4.6.1, L4T 32.7.1)",
    model="quill",
    compatible=("nvidia,p2771-0000-500", "nvidia,p2771-0000", "nvidia,tegra186"),
    dtsfilename="/dvs/git/dirty/git-master_linux/kernel/kernel-4.9/arch/arm64/boot/dts/../../../../../../"
                "hardware/nvidia/platform/t18x/quill/kernel-dts/tegra186-quill-p3310-1000-c03-00-base.dts",
    release="# R32 (release), REVISION: 7.1, GCID: 29818004, BOARD: t186ref, EABI: aarch64, "
            "DATE: Sat Feb 19 17:07:00 UTC 2022\n",
    soc="tegra186", machine="quill", generation="jp4",
    # [S1] cpu0 and cpu3-5 are the A57 cluster, cpu1-2 Denver (the real TX2 nvpmodel.conf).
    clusters=(Cluster("CPU_A57", (0, 3, 4, 5), _TX2_CPU, core_w=0.75),
              Cluster("CPU_DENVER", (1, 2), _TX2_CPU, core_w=1.2)),
    gpu=Gpu("sys/devices/17000000.gp10b/devfreq/17000000.gp10b", "sys/devices/17000000.gp10b", _TX2_GPU,
            "gp10b", ("sys/devices/17000000.gp10b/load", "sys/devices/gpu.0/load"), max_w=7.0),
    emc=Emc("bpmp", (40800000, 204000000, 408000000, 665600000, 800000000, 1062400000, 1331200000,
                     1600000000, 1866000000)),
    zones=(
        _cpu_zone("BCPU-therm", 96500, 500),
        _cpu_zone("MCPU-therm", 96500, 500),
        _gpu_zone("GPU-therm", 96500, 500),
        _soc_zone("PLL-therm", 500),
        Zone("Tboard_tegra", (("soc", 0.3), ("cpu", 0.2), ("gpu", 0.2)), 3.0, step_mc=1000),
        Zone("Tdiode_tegra", (("soc", 0.8), ("cpu", 0.5), ("gpu", 0.5)), 4.0, step_mc=250),
        Zone("PMIC-Die", fixed_mc=100000, step_mc=1000),
        Zone("thermal-fan-est", (("cpu", 0.7), ("gpu", 0.7), ("soc", 0.4)), 5.0,
             ((51000, "active"), (61000, "active"), (71000, "active")), step_mc=100),
    ),
    # T08 (L4T 32): PLL MCPU PMIC Tboard GPU BCPU thermal Tdiode (L4T 28, T07, prints another order)
    tegrastats_zone_order=("PLL-therm", "MCPU-therm", "PMIC-Die", "Tboard_tegra", "GPU-therm", "BCPU-therm",
                           "thermal-fan-est", "Tdiode_tegra"),
    # [S3] Two INA3221 on I2C bus 0, L4T 32 rail names (T08); no over-current limit known.
    ina=(InaChip("0-0040", "sys/devices/3160000.i2c/i2c-0", "iio", 0, ("VDD_SYS_GPU", "VDD_SYS_SOC", "VDD_4V0_WIFI")),
         InaChip("0-0041", "sys/devices/3160000.i2c/i2c-0", "iio", 1, ("VDD_IN", "VDD_SYS_CPU", "VDD_SYS_DDR"))),
    rails=(Rail("VDD_SYS_GPU", ("gpu",)), Rail("VDD_SYS_SOC", ("soc",)), Rail("VDD_4V0_WIFI", ("io",), 4000),
           Rail("VDD_IN", ("in",)), Rail("VDD_SYS_CPU", ("cpu",)), Rail("VDD_SYS_DDR", ("ddr",))),
    fan=Fan("legacy", "sys/devices/pwm-fan", max_rpm=8000),
    modes=(   # [S1] the real TX2 nvpmodel.conf
        PowerMode(0, "MAXN", _r(0, 5), (-1, -1)),
        PowerMode(1, "MAXQ", (0, 3, 4, 5), (1200000, 0), gpu_max_hz=850000000, emc_max_hz=1331200000),
        PowerMode(2, "MAXP_CORE_ALL", _r(0, 5), (1400000, 1400000), gpu_max_hz=1120000000, emc_max_hz=1600000000),
        PowerMode(3, "MAXP_CORE_ARM", (0, 3, 4, 5), (2000000, 0), gpu_max_hz=1120000000, emc_max_hz=1600000000),
        PowerMode(4, "MAXP_CORE_DENVER", (0, 1, 2), (2000000, 2000000), gpu_max_hz=1120000000,
                  emc_max_hz=1600000000),
    ),
    default_mode=3,
    engines="APE 150 MTS fg 0% bg 0%",                  # T07 (root)
    memory=Memory(ram_mb=7852, swap_mb=0, used_mb=2020),   # T08: no swap configured
    soc_w=1.2, ddr_w=(0.5, 2.7), io_w=0.3, overhead_w=0.8, r_k_per_w=6.0,
)

XAVIER_NX = Board(
    key="xavier-nx", title="Jetson Xavier NX (JetPack 5.1.2, L4T 35.4.1)",
    model="NVIDIA Jetson Xavier NX Developer Kit",
    compatible=("nvidia,p3509-0000+p3668-0000", "nvidia,p3668-0000", "nvidia,jetson-xavier-nx", "nvidia,tegra194"),
    dtsfilename="tegra194-p3668-0000-p3509-0000.dts",
    release="# R35 (release), REVISION: 4.1, GCID: 33958178, BOARD: t186ref, EABI: aarch64, "
            "DATE: Tue Aug  1 19:57:35 UTC 2023\n",
    soc="tegra194", machine="NVIDIA Jetson Xavier NX Developer Kit", generation="jp5",
    clusters=tuple(Cluster(f"CPU_DENVER_{i}", (2 * i, 2 * i + 1), _CARMEL, core_w=1.3) for i in range(3)),
    gpu=Gpu("sys/devices/17000000.gv11b/devfreq/17000000.gv11b", "sys/devices/17000000.gv11b", _XNX_GPU, "gv11b",
            ("sys/devices/17000000.gv11b/load", "sys/devices/gpu.0/load", "sys/devices/platform/gpu.0/load"),
            gpcs=1, max_w=6.0),
    emc=Emc("bpmp", (204000000, 408000000, 665600000, 800000000, 1065600000, 1331200000, 1600000000, 1866000000)),
    zones=(
        _soc_zone("AO-therm", 500, offset=6.0),
        _cpu_zone("CPU-therm", 96000, 500),
        _gpu_zone("GPU-therm", 96000, 500),
        Zone("PMIC-Die", fixed_mc=50000, step_mc=1000),
        _soc_zone("AUX-therm", 500, offset=5.0),
        Zone("thermal-fan-est", (("cpu", 0.7), ("gpu", 0.7), ("soc", 0.4)), 5.0,
             ((51000, "active"), (61000, "active"), (71000, "active")), step_mc=50),
    ),
    tegrastats_zone_order=("AUX-therm", "CPU-therm", "thermal-fan-est", "AO-therm", "GPU-therm", "PMIC-Die"),  # T21
    # [S3] /sys/bus/i2c/drivers/ina3221/7-0040 under c250000.i2c/i2c-7, in1..3 = VDD_IN, VDD_CPU_GPU_CV, VDD_SOC
    ina=(InaChip("7-0040", "sys/devices/platform/c250000.i2c/i2c-7", "hwmon", 4,
                 ("VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC")),),
    rails=(Rail("VDD_IN", ("in",)), Rail("VDD_CPU_GPU_CV", ("cpu", "gpu", "cv")), Rail("VDD_SOC", ("soc", "ddr"))),
    fan=Fan("hwmon", "sys/devices/platform/pwm-fan", hwmon_index=5, max_rpm=5000),
    modes=(   # [S2] JetPack 5 Xavier NX mode ids 0-8 and names; their clock caps †
        PowerMode(0, "MODE_15W_2CORE", _r(0, 1), (1907200,) * 3, gpu_max_hz=1109250000, emc_max_hz=1600000000),
        PowerMode(1, "MODE_15W_4CORE", _r(0, 3), (1420800,) * 3, gpu_max_hz=1109250000, emc_max_hz=1600000000),
        PowerMode(2, "MODE_15W_6CORE", _r(0, 5), (1420800,) * 3, gpu_max_hz=1109250000, emc_max_hz=1600000000),
        PowerMode(3, "MODE_10W_2CORE", _r(0, 1), (1497600,) * 3, gpu_max_hz=803250000, emc_max_hz=1600000000),
        PowerMode(4, "MODE_10W_4CORE", _r(0, 3), (1190400,) * 3, gpu_max_hz=803250000, emc_max_hz=1600000000),
        PowerMode(5, "MODE_10W_DESKTOP", _r(0, 3), (1190400,) * 3, gpu_max_hz=510000000, emc_max_hz=1600000000),
        PowerMode(6, "MODE_20W_2CORE", _r(0, 1), (1907200,) * 3, gpu_max_hz=1109250000, emc_max_hz=1866000000),
        PowerMode(7, "MODE_20W_4CORE", _r(0, 3), (1420800,) * 3, gpu_max_hz=1109250000, emc_max_hz=1866000000),
        PowerMode(8, "MODE_20W_6CORE", _r(0, 5), (1420800,) * 3, gpu_max_hz=1109250000, emc_max_hz=1866000000),
    ),
    default_mode=8,
    engines="VIC_FREQ 115 APE 150",                     # T21
    memory=Memory(ram_mb=6851, swap_mb=3426, used_mb=3168, swap_used_mb=161),   # T21 (JetPack 5.1.2)
    soc_w=0.9, ddr_w=(0.2, 1.2), overhead_w=1.0, r_k_per_w=4.5,
)

AGX_ORIN = Board(
    key="agx-orin", title="Jetson AGX Orin 64GB (JetPack 6.2, L4T 36.4.3)",
    model="NVIDIA Jetson AGX Orin Developer Kit",
    compatible=("nvidia,p3737-0000+p3701-0005", "nvidia,p3701-0005", "nvidia,tegra234"),
    dtsfilename="tegra234-p3737-0000+p3701-0005-nv.dts",
    release="# R36 (release), REVISION: 4.3, GCID: 38968081, BOARD: generic, EABI: aarch64, "
            "DATE: Wed Jan  8 01:49:37 UTC 2025\n# KERNEL_VARIANT: oot\n",
    soc="tegra234", machine="NVIDIA Jetson AGX Orin Developer Kit", generation="jp6",
    clusters=tuple(Cluster(f"CPU_A78_{i}", _r(4 * i, 4 * i + 3), _A78, core_w=1.3) for i in range(3)),
    gpu=Gpu("sys/devices/platform/bus@0/17000000.gpu/devfreq/17000000.gpu", "sys/devices/platform/bus@0/17000000.gpu",
            _ORIN_GPU, "gpu", ("sys/devices/platform/bus@0/17000000.gpu/load", "sys/devices/platform/gpu.0/load"),
            gpcs=2, max_w=28.0, idle_w=0.3),
    emc=Emc("bpmp", (204000000, 665600000, 1600000000, 2133000000, 3199000000)),
    zones=_orin_zones(gated_cv=True, board_sensors=True),
    # T25 (JetPack 6, devkit carrier): cpu tboard soc2 tdiode soc0 gpu tj soc1
    tegrastats_zone_order=("cpu-thermal", "tboard_tegra", "soc2-thermal", "tdiode_tegra", "soc0-thermal",
                           "gpu-thermal", "tj-thermal", "soc1-thermal"),
    # [S3] two INA3221 on bus 1; 1-0041 inputs 1 and 3 are disabled. No over-current limit known.
    ina=(InaChip("1-0040", "sys/devices/platform/bus@0/c240000.i2c/i2c-1", "hwmon", 3,
                 ("VDD_GPU_SOC", "VDD_CPU_CV", "VIN_SYS_5V0")),
         InaChip("1-0041", "sys/devices/platform/bus@0/c240000.i2c/i2c-1", "hwmon", 4,
                 (None, "VDDQ_VDD2_1V8AO", None))),
    rails=(Rail("VDD_GPU_SOC", ("gpu", "soc")), Rail("VDD_CPU_CV", ("cpu", "cv")), Rail("VIN_SYS_5V0", ("io",)),
           Rail("VDDQ_VDD2_1V8AO", ("ddr",))),
    fan=Fan("hwmon", "sys/devices/platform/pwm-fan", hwmon_index=2, max_rpm=3000),
    modes=(   # [S1] AGX Orin nvpmodel -p --verbose
        PowerMode(0, "MAXN", _r(0, 11), (-1,) * 3, cpu_min_khz=729600, tpc_pg_mask=0),
        PowerMode(1, "MODE_15W", _r(0, 3), (1113600,) * 3, cpu_min_khz=729600, gpu_max_hz=420750000,
                  emc_max_hz=2133000000, tpc_pg_mask=248),
        PowerMode(2, "MODE_30W", _r(0, 7), (1728000,) * 3, cpu_min_khz=729600, gpu_max_hz=624750000,
                  emc_max_hz=3199000000, tpc_pg_mask=240),
        PowerMode(3, "MODE_50W", _r(0, 11), (1497600,) * 3, cpu_min_khz=729600, gpu_max_hz=828750000,
                  emc_max_hz=3199000000, tpc_pg_mask=0),
    ),
    default_mode=2,
    engines="NVENC off NVDEC off NVJPG off NVJPG1 off VIC off OFA off NVDLA0 off NVDLA1 off PVA0_FREQ off "
            "APE 174",                                                                               # T25
    memory=Memory(ram_mb=62841, swap_mb=31421, used_mb=6879),      # T25 (JetPack 6)
    hotplug_needs_reboot=True, cpu_driver="tegra194", soc_w=2.2, ddr_w=(0.3, 3.0), io_w=4.0, overhead_w=0.0,
    r_k_per_w=1.6,
)

ORIN_NANO = Board(
    key="orin-nano", title="Jetson Orin Nano 8GB Developer Kit (JetPack 6.2, L4T 36.4.3)",
    model="NVIDIA Jetson Orin Nano Developer Kit",
    compatible=("nvidia,p3768-0000+p3767-0005", "nvidia,p3767-0005", "nvidia,tegra234"),
    dtsfilename="tegra234-p3768-0000+p3767-0005-nv.dts",
    release="# R36 (release), REVISION: 4.3, GCID: 38968081, BOARD: generic, EABI: aarch64, "
            "DATE: Wed Jan  8 01:49:37 UTC 2025\n# KERNEL_VARIANT: oot\n",
    # [S5] jetson_clocks --show on an R36.4.3 Orin Nano Super
    soc="tegra234", machine="NVIDIA Jetson Orin Nano Engineering Reference Developer Kit Super", generation="jp6",
    clusters=(Cluster("CPU_A78_0", _r(0, 3), _A78[:_A78.index(1728000) + 1], core_w=0.9),
              Cluster("CPU_A78_1", _r(4, 5), _A78[:_A78.index(1728000) + 1], core_w=0.9)),
    gpu=Gpu("sys/devices/platform/bus@0/17000000.gpu/devfreq/17000000.gpu", "sys/devices/platform/bus@0/17000000.gpu",
            _ORIN_NANO_GPU, "gpu", ("sys/devices/platform/bus@0/17000000.gpu/load", "sys/devices/platform/gpu.0/load"),
            gpcs=1, max_w=7.0, idle_w=0.1),
    emc=Emc("bpmp", (204000000, 665600000, 1600000000, 2133000000, 3199000000)),
    # No DLA/PVA: the cv zones are power-gated (JetPack 7.2 lines print 0.0C or -256C; R36.4.3 fails
    # the read [S5]); they read the -256 C "off" marker here, so every reader shows them as absent.
    zones=_orin_zones(gated_cv=True),
    tegrastats_zone_order=("cpu-thermal", "soc2-thermal", "soc0-thermal", "gpu-thermal", "tj-thermal",
                           "soc1-thermal"),                                   # T30, T32
    # [S3] one INA3221 (p3767 power-sensor@40); no over-current limit is known for the Orin Nano.
    ina=(InaChip("1-0040", "sys/devices/platform/bus@0/c240000.i2c/i2c-1", "hwmon", 1,
                 ("VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC")),),
    rails=(Rail("VDD_IN", ("in",)), Rail("VDD_CPU_GPU_CV", ("cpu", "gpu", "cv")), Rail("VDD_SOC", ("soc", "ddr"))),
    fan=Fan("hwmon", "sys/devices/platform/pwm-fan", hwmon_index=0, max_rpm=4000),
    # [S6] Orin Nano Super nvpmodel.conf: 0 15W, 1 25W (default), 2 MAXN_SUPER, 3 7W (4 cores: a reboot
    # on JetPack 6). [S5] 25W live on R36.4.3: CPU 1344000, GPU 918 MHz, EMC 3199 MHz, FBP 2, TPC 240;
    # the gating masks of the other modes †.
    modes=(
        PowerMode(0, "15W", _r(0, 5), (1497600, 1497600), cpu_min_khz=729600, gpu_max_hz=612000000,
                  emc_max_hz=2133000000, tpc_pg_mask=240, fbp_pg_mask=2),
        PowerMode(1, "25W", _r(0, 5), (1344000, 1344000), cpu_min_khz=729600, gpu_max_hz=918000000,
                  emc_max_hz=3199000000, tpc_pg_mask=240, fbp_pg_mask=2),
        PowerMode(2, "MAXN_SUPER", _r(0, 5), (-1, -1), cpu_min_khz=729600, tpc_pg_mask=240, fbp_pg_mask=2),
        PowerMode(3, "7W", _r(0, 3), (960000, 960000), cpu_min_khz=729600, gpu_max_hz=408000000,
                  emc_max_hz=2133000000, tpc_pg_mask=240, fbp_pg_mask=2),
    ),
    default_mode=1,
    engines="NVDEC off NVJPG off NVJPG1 off VIC off OFA off APE 200",   # T32 (Orin Nano prints APE 200)
    memory=Memory(ram_mb=7620, swap_mb=16384, used_mb=3452, swap_used_mb=1518),   # T30 (JetPack 6)
    hotplug_needs_reboot=True, conf_per_core=True, cpu_driver="tegra194", soc_w=1.4, ddr_w=(0.2, 1.5),
    overhead_w=2.6, r_k_per_w=4.0,
)

ORIN_NX = Board(
    key="orin-nx", title="Jetson Orin NX 16GB (JetPack 6.2.2, L4T 36.5.0)",
    model="NVIDIA Jetson Orin NX Engineering Reference Developer Kit",   # †
    compatible=("nvidia,p3768-0000+p3767-0000", "nvidia,p3767-0000", "nvidia,tegra234"),
    dtsfilename="tegra234-p3768-0000+p3767-0000-nv.dts",                 # †
    # [S4] /etc/nv_tegra_release of an R36.5.0 Orin NX
    release="# R36 (release), REVISION: 5.0, GCID: 43688277, BOARD: generic, EABI: aarch64, "
            "DATE: Fri Jan 16 03:50:45 UTC 2026\n# KERNEL_VARIANT: oot\n",
    soc="tegra234", machine="NVIDIA Jetson Orin NX Engineering Reference Developer Kit", generation="jp6",
    clusters=(Cluster("CPU_A78_0", _r(0, 3), _ORIN_NX_CPU, core_w=1.1),
              Cluster("CPU_A78_1", _r(4, 7), _ORIN_NX_CPU, core_w=1.1)),
    gpu=Gpu("sys/devices/platform/bus@0/17000000.gpu/devfreq/17000000.gpu", "sys/devices/platform/bus@0/17000000.gpu",
            _ORIN_NX_GPU, "gpu", ("sys/devices/platform/bus@0/17000000.gpu/load", "sys/devices/platform/gpu.0/load"),
            gpcs=1, max_w=12.0, idle_w=0.2),
    emc=Emc("bpmp", (204000000, 665600000, 1600000000, 2133000000, 3199000000)),   # T28: 3199 MHz
    zones=_orin_zones(gated_cv=False),      # Orin NX has DLA/PVA: its cv zones measure (T28, [S7])
    tegrastats_zone_order=("cv0-thermal", "cpu-thermal", "soc2-thermal", "soc0-thermal", "cv1-thermal",
                           "gpu-thermal", "tj-thermal", "soc1-thermal", "cv2-thermal"),   # T28, [S7]
    # [S3] in1 = VDD_IN, in2 = VDD_CPU_GPU_CV, in3 = VDD_SOC; [S4] curr1_crit = curr1_max = 7784 mA,
    # a fixed over-current ceiling on VDD_IN only (the same in every power mode).
    ina=(InaChip("1-0040", "sys/devices/platform/bus@0/c240000.i2c/i2c-1", "hwmon", 1,
                 ("VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC"), crit_ma=(7784, None, None)),),
    rails=(Rail("VDD_IN", ("in",)), Rail("VDD_CPU_GPU_CV", ("cpu", "gpu", "cv")), Rail("VDD_SOC", ("soc", "ddr"))),
    fan=Fan("hwmon", "sys/devices/platform/pwm-fan", hwmon_index=0, max_rpm=4000),
    # [S4] JetPack 6.2 / R36.5 modes: 0 MAXN_SUPER (8 cores, 1984 MHz, GPU uncapped), 1 10W and 2 15W
    # (4 cores: need a reboot), 3 25W (8 cores, 1497.6 MHz, GPU 408 MHz), 4 40W (default; 1497.6 MHz,
    # GPU 1173 MHz, EMC uncapped; FBP 2, TPC 240 live). 10W/15W clock caps and the masks of modes
    # other than 40W †.
    modes=(
        PowerMode(0, "MAXN_SUPER", _r(0, 7), (-1, -1), cpu_min_khz=729600, tpc_pg_mask=240, fbp_pg_mask=2),
        PowerMode(1, "10W", _r(0, 3), (1190400, 1190400), cpu_min_khz=729600, gpu_max_hz=612000000,
                  emc_max_hz=2133000000, tpc_pg_mask=240, fbp_pg_mask=2),
        PowerMode(2, "15W", _r(0, 3), (1497600, 1497600), cpu_min_khz=729600, gpu_max_hz=714000000,
                  emc_max_hz=3199000000, tpc_pg_mask=240, fbp_pg_mask=2),
        PowerMode(3, "25W", _r(0, 7), (1497600, 1497600), cpu_min_khz=729600, gpu_max_hz=408000000,
                  tpc_pg_mask=240, fbp_pg_mask=2),
        PowerMode(4, "40W", _r(0, 7), (1497600, 1497600), cpu_min_khz=729600, gpu_max_hz=1173000000,
                  tpc_pg_mask=240, fbp_pg_mask=2),
    ),
    default_mode=4,
    # T28 (an Orin NX 8GB) prints NVDLA0 only; the 16GB module has two DLAs ([S4] DLA0/DLA1 caps).
    engines="NVENC off NVDEC off NVJPG off NVJPG1 off VIC off OFA off NVDLA0 off NVDLA1 off PVA0_FREQ off APE 174",
    memory=Memory(ram_mb=15656, swap_mb=7828, used_mb=1224),        # [S7] JetPack 6.2 idle line
    hotplug_needs_reboot=True, conf_per_core=True, cpu_driver="tegra194", soc_w=1.6, ddr_w=(0.3, 2.0),
    overhead_w=1.5, r_k_per_w=3.0,
)

THOR = Board(
    key="thor", title="Jetson AGX Thor Developer Kit (JetPack 7.1, L4T 38.4.0)",
    model="NVIDIA Jetson AGX Thor Developer Kit",
    compatible=("nvidia,p4071-0000+p3834-0008", "nvidia,p3834-0008", "nvidia,tegra264"),
    dtsfilename="tegra264-p4071-0000+p3834-0008-nv.dts",
    release="# R38 (release), REVISION: 4.0, GCID: 43000000, BOARD: generic, EABI: aarch64, "   # GCID, DATE †
            "DATE: Mon Jan 12 00:00:00 UTC 2026\n# KERNEL_VARIANT: oot\n",
    soc="tegra264", machine="NVIDIA Jetson AGX Thor Developer Kit", generation="jp7",
    clusters=(Cluster("CPU_NEOVERSE_0", _r(0, 13), _THOR_CPU, core_w=2.0, idle_w=0.1),),   # one policy †
    gpu=Gpu("sys/devices/platform/bus@0/gpu-gpc-0/devfreq/gpu-gpc-0", "sys/devices/platform/bus@0/gpu-gpc-0",
            _THOR_GPU, None, (), gpcs=3, enable_3d_scaling=False, max_w=45.0, idle_w=1.5),
    # [S9] EMC idles at 665 MHz on R38.4; 2750 (T35) and 4266 MHz also print.
    emc=Emc("bpmp", (665600000, 2750000000, 3200000000, 4266000000)),
    zones=(
        _soc_zone("tj-thermal", _T234_STEP, offset=6.0, trips=((99000, "passive"), (104000, "critical"))),
        _soc_zone("soc012-thermal", _T234_STEP, offset=3.0),
        _cpu_zone("cpu-thermal", 99000, _T234_STEP),
        _soc_zone("soc345-thermal", _T234_STEP, offset=3.0),
        _gpu_zone("gpu-thermal", 99000, _T234_STEP),
    ),
    tegrastats_zone_order=("cpu-thermal", "tj-thermal", "soc012-thermal", "gpu-thermal", "soc345-thermal"),  # T35
    # [S8] the carrier's INA238 is VIN at 2-0044 (its adapter's device directory †). No limit known.
    ina=(InaChip("1-0040", "sys/devices/platform/bus@0/c240000.i2c/i2c-1", "hwmon", 3,
                 ("VDD_GPU", "VDD_CPU_SOC_MSS", "VIN_SYS_5V0")),
         InaChip("2-0044", "sys/devices/platform/bus@0/3180000.i2c/i2c-2", "ina238", 4, ("VIN",))),
    # [S9] R38.4 tegrastats prints no VIN rail (sysfs has it: the readers take the total from there).
    rails=(Rail("VDD_GPU", ("gpu",)), Rail("VDD_CPU_SOC_MSS", ("cpu", "soc", "ddr")), Rail("VIN_SYS_5V0", ("io",)),
           Rail("VIN", ("in",), 20000, in_tegrastats=False)),
    fan=Fan("hwmon", "sys/devices/platform/pwm-fan", hwmon_index=1, max_rpm=3500, tach_index=2),
    modes=(   # [S11] MAXN/120W switch live, 90W/70W need a reboot (GPU PG mask 15873, 12 cores)
        PowerMode(0, "MAXN", _r(0, 13), (-1,), cpu_min_khz=972000, tpc_pg_mask=64),
        PowerMode(1, "120W", _r(0, 13), (2601000,), cpu_min_khz=972000, gpu_max_hz=1386000000, tpc_pg_mask=64),
        PowerMode(2, "90W", _r(0, 11), (2601000,), cpu_min_khz=972000, gpu_max_hz=1530000000, tpc_pg_mask=15873),
        PowerMode(3, "70W", _r(0, 11), (1998000,), cpu_min_khz=972000, gpu_max_hz=1530000000, tpc_pg_mask=15873),
    ),
    default_mode=0,
    engines="NVENC0_FREQ @314 NVENC1_FREQ @314 NVDEC0_FREQ @314 NVDEC1_FREQ @314 NVJPG0_FREQ @314 VIC off "
            "OFA_FREQ @315 PVA0_FREQ off APE 300",                                         # T35
    memory=Memory(ram_mb=125772, swap_mb=0, used_mb=8353),   # T35: 125772 MB, no swap; the idle use †
    gr3d_util=False,
    hotplug_needs_reboot=True, cpu_driver="cppc_cpufreq", soc_w=5.0, ddr_w=(0.8, 4.0), io_w=5.5, overhead_w=6.0,
    r_k_per_w=0.8,
)

_ALL = (NANO, TX2, XAVIER_NX, AGX_ORIN, ORIN_NANO, ORIN_NX, THOR)
BOARDS: dict[str, Board] = {b.key: b for b in _ALL}
BOARD_NAMES: list[str] = [b.key for b in _ALL]


def get_board(name: str) -> Board:
    """The board called ``name``; :class:`UserError` naming the choices otherwise."""
    board = BOARDS.get(str(name).strip().lower())
    if board is None:
        raise UserError(f"unknown board {name!r}; choose one of: {', '.join(BOARD_NAMES)}")
    return board
