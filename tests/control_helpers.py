"""A fake Jetson for the control tests: a sysfs tree under tmp_path plus stand-in
``nvpmodel``, ``jetson_clocks`` and ``sudo`` programs (real subprocesses) that act on it.

Every stand-in appends one JSON line per call to ``<tmp>/calls.jsonl``; the
nvpmodel stand-in also records what it read from stdin when it prompted.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

CPU_MIN_KHZ = 729600
CPU_MAX_KHZ = 2201600
GPU_MIN_HZ = 306000000
GPU_MAX_HZ = 1300500000
GPU_DEVFREQ = "sys/class/devfreq/17000000.gpu"

# id, name, TPC_PG_MASK, online cores, CPU max kHz, prompt behaviour:
#   "none" switches; "eof" asks to reboot and gives up on end-of-file (as real nvpmodel does);
#   "hang" asks and then never exits. Modes 4/5 have the current gating mask, so only the
#   run-time prompt reveals that they need a reboot (as Thor's core-count modes do).
MODES = [
    {"id": 0, "name": "MAXN", "mask": 0, "cores": [0, 1, 2, 3], "cpu_max": CPU_MAX_KHZ, "prompt": "none"},
    {"id": 1, "name": "MODE_15W", "mask": 0, "cores": [0, 1], "cpu_max": 1113600, "prompt": "none"},
    {"id": 2, "name": "MODE_30W", "mask": 0, "cores": [0, 1, 2, 3], "cpu_max": 1728000, "prompt": "none"},
    {"id": 3, "name": "MODE_10W", "mask": 248, "cores": [0, 1], "cpu_max": 1113600, "prompt": "eof"},
    {"id": 4, "name": "MODE_90W", "mask": 0, "cores": [0, 1, 2], "cpu_max": 1497600, "prompt": "eof"},
    {"id": 5, "name": "MODE_HANG", "mask": 0, "cores": [0, 1, 2], "cpu_max": 1497600, "prompt": "hang"},
]
DEFAULT_MODE = 2

_COMMON = r'''
import json, os, sys, time
CFG = json.loads(__CFG__)
ROOT = CFG["root"]

def log(entry):
    with open(CFG["log"], "a") as f:
        f.write(json.dumps(entry) + "\n")

def path(p):
    return os.path.join(ROOT, p.lstrip("/"))

def read(p, default=None):
    try:
        with open(path(p)) as f:
            return f.read().strip()
    except OSError:
        return default

def write(p, value):
    with open(path(p), "w") as f:
        f.write(str(value) + "\n")

def cpus():
    base = path("/sys/devices/system/cpu")
    return sorted(int(n[3:]) for n in os.listdir(base) if n[3:].isdigit() and n.startswith("cpu"))

def online(n):
    return read("/sys/devices/system/cpu/cpu%d/online" % n, "1") == "1"
'''

_NVPMODEL = r'''
def mode(i):
    return next((m for m in CFG["modes"] if m["id"] == i), None)

def current():
    with open(CFG["state"]) as f:
        return json.load(f)["mode"]

def apply(m):
    for n in cpus():
        if n:
            write("/sys/devices/system/cpu/cpu%d/online" % n, 1 if n in m["cores"] else 0)
        write("/sys/devices/system/cpu/cpu%d/cpufreq/scaling_min_freq" % n, CFG["cpu_min"])
        write("/sys/devices/system/cpu/cpu%d/cpufreq/scaling_max_freq" % n, m["cpu_max"])
    write(CFG["gpu"] + "/min_freq", CFG["gpu_min"])
    write(CFG["gpu"] + "/max_freq", CFG["gpu_max"])
    with open(CFG["state"], "w") as f:
        json.dump({"mode": m["id"]}, f)

def verbose():
    d = mode(CFG["default"])
    out = ["NVPM VERB: Config file: /etc/nvpmodel.conf",
           "NVPM VERB: parsing done for /etc/nvpmodel.conf",
           "succeed to parse file /etc/nvpmodel.conf.",
           "NVPM VERB: PM_CONFIG: DEFAULT=%s(%d)" % (d["name"], d["id"]),
           "NVPM VERB: PARAM TYPE=FILE NAME=CPU_ONLINE"]
    out += ["NVPM VERB: CORE_%d /sys/devices/system/cpu/cpu%d/online" % (n, n) for n in cpus()]
    out += ["NVPM VERB: PARAM TYPE=FILE NAME=TPC_POWER_GATING",
            "NVPM VERB: TPC_PG_MASK /sys/devices/gpu.0/tpc_pg_mask",
            "NVPM VERB: PARAM TYPE=FILE NAME=GPU_POWER_CONTROL_ENABLE",
            "NVPM VERB: GPU_PWR_CNTL_EN /sys/devices/gpu.0/power/control",
            "NVPM VERB: PARAM TYPE=CLOCK NAME=CPU_A78_0",
            "NVPM VERB: FREQ_TABLE /sys/devices/system/cpu/cpu0/cpufreq/scaling_available_frequencies",
            "NVPM VERB: MAX_FREQ /sys/devices/system/cpu/cpu0/cpufreq/scaling_max_freq",
            "NVPM VERB: MIN_FREQ /sys/devices/system/cpu/cpu0/cpufreq/scaling_min_freq",
            "NVPM VERB: PARAM TYPE=CLOCK NAME=GPU",
            "NVPM VERB: FREQ_TABLE /sys/devices/17000000.ga10b/devfreq_dev/available_frequencies",
            "NVPM VERB: MAX_FREQ /sys/devices/17000000.ga10b/devfreq_dev/max_freq",
            "NVPM VERB: MIN_FREQ /sys/devices/17000000.ga10b/devfreq_dev/min_freq",
            "NVPM VERB: PARAM TYPE=CLOCK NAME=EMC",
            "NVPM VERB: MAX_FREQ /sys/kernel/nvpmodel_emc_cap/emc_iso_cap"]
    for m in CFG["modes"]:
        out += ["NVPM VERB:", "NVPM VERB: POWER_MODEL: ID=%d NAME=%s" % (m["id"], m["name"])]
        out += ["NVPM VERB: CPU_ONLINE CORE_%d %d" % (n, n in m["cores"]) for n in cpus()]
        out += ["NVPM VERB: TPC_POWER_GATING TPC_PG_MASK %d" % m["mask"],
                "NVPM VERB: GPU_POWER_CONTROL_ENABLE GPU_PWR_CNTL_EN on",
                "NVPM VERB: CPU_A78_0 MIN_FREQ %d" % CFG["cpu_min"],
                "NVPM VERB: CPU_A78_0 MAX_FREQ %d" % (2147483647 if m["id"] == 0 else m["cpu_max"]),
                "NVPM VERB: GPU MIN_FREQ 0",
                "NVPM VERB: GPU MAX_FREQ %d" % (2147483647 if m["id"] == 0 else 624750000),
                "NVPM VERB: GPU_POWER_CONTROL_DISABLE GPU_PWR_CNTL_DIS auto",
                "NVPM VERB: EMC MAX_FREQ %d" % (0 if m["id"] == 0 else 2133000000)]
    print("\n".join(out))

args = sys.argv[1:]
if args[:1] in (["-q"], ["--query"]):
    log({"tool": "nvpmodel", "argv": args})
    m = mode(current())
    print("NVPM WARN: fan mode is not set!")
    print("NV Power Mode: %s" % m["name"])
    print(m["id"])
elif "-p" in args:
    log({"tool": "nvpmodel", "argv": args})
    verbose()
elif args[:1] == ["-m"]:
    m = mode(int(args[1]))
    if m is None:
        log({"tool": "nvpmodel", "argv": args})
        print("NVPM ERROR: Invalid power mode id %s" % args[1])
        sys.exit(1)
    if m["prompt"] == "none":
        log({"tool": "nvpmodel", "argv": args})
        apply(m)
        sys.exit(0)
    print("NVPM WARN: Golden image context is already created")
    print("NVPM WARN: Reboot required for changing to this power mode: %d" % m["id"])
    print("NVPM WARN: DO YOU WANT TO REBOOT NOW? enter YES/yes to confirm:", flush=True)
    answer = sys.stdin.readline() if sys.stdin is not None else ""
    log({"tool": "nvpmodel", "argv": args, "prompted": True, "stdin": answer})
    if answer.strip().lower() == "yes":
        log({"tool": "nvpmodel", "rebooted": True})
        apply(m)
        print("NVPM WARN: rebooting")
        sys.exit(0)
    if m["prompt"] == "hang":
        time.sleep(60)
    print("NVPM ERROR: bad input!")
    print("NVPM ERROR: optMask is 1, no request for power mode")
    sys.exit(1)
else:
    print("usage: nvpmodel [-q] [-p --verbose] [-m <mode>]")
    sys.exit(1)
'''

_JETSON_CLOCKS = r'''
def limits():
    files = []
    for n in cpus():
        if online(n):
            files += ["/sys/devices/system/cpu/cpu%d/cpufreq/scaling_min_freq" % n,
                      "/sys/devices/system/cpu/cpu%d/cpufreq/scaling_max_freq" % n]
    return files + [CFG["gpu"] + "/min_freq", CFG["gpu"] + "/max_freq"]

args = sys.argv[1:]
log({"tool": "jetson_clocks", "argv": args})
if not args:
    for n in cpus():
        if online(n):
            base = "/sys/devices/system/cpu/cpu%d/cpufreq/" % n
            write(base + "scaling_min_freq", read(base + "scaling_max_freq"))
    write(CFG["gpu"] + "/min_freq", read(CFG["gpu"] + "/max_freq"))
elif args[0] == "--store":
    with open(args[1], "w") as f:
        for p in limits():
            f.write("%s %s\n" % (p, read(p)))
elif args[0] == "--restore":
    with open(args[1]) as f:
        for line in f:
            p, value = line.split()
            write(p, value)
elif args[0] == "--show":
    print("SOC family:tegra234  Machine:NVIDIA Jetson AGX Orin Developer Kit")
    print("Online CPUs: %s" % ",".join(str(n) for n in cpus() if online(n)))
    for n in cpus():
        base = "/sys/devices/system/cpu/cpu%d/cpufreq/" % n
        print("cpu%d: Online=%d Governor=schedutil MinFreq=%s MaxFreq=%s CurrentFreq=%s IdleStates: WFI=1 c7=1 "
              % (n, online(n), read(base + "scaling_min_freq"), read(base + "scaling_max_freq"),
                 read(base + "scaling_max_freq")))
    print("GPU MinFreq=%s MaxFreq=%s CurrentFreq=%s" % (read(CFG["gpu"] + "/min_freq"),
          read(CFG["gpu"] + "/max_freq"), read(CFG["gpu"] + "/min_freq")))
    print("EMC MinFreq=204000000 MaxFreq=3199000000 CurrentFreq=2133000000 FreqOverride=0")
    print("FAN Dynamic Speed control=active hwmon0_pwm1=%s" % read("/sys/class/hwmon/hwmon0/pwm1"))
else:
    sys.exit(2)
'''

_SUDO = r'''
args = sys.argv[1:]
log({"tool": "sudo", "argv": args})
if args[:1] != ["-n"]:
    sys.stderr.write("sudo: a terminal is required to read the password\n")
    sys.exit(1)
args = args[1:]
if args[:1] == ["--"]:
    args = args[1:]
if CFG["mode"] == "deny":
    sys.stderr.write("sudo: a password is required\n")
    sys.exit(1)
os.execv(args[0], args)
'''


def _script(path: Path, body: str, cfg: dict) -> str:
    text = f"#!{sys.executable} -S\n"  # -S: no site import, stand-ins start faster
    text = text + (_COMMON + body).replace("__CFG__", repr(json.dumps(cfg)))
    path.write_text(text)
    path.chmod(0o755)
    return str(path)


class FakeBoard:
    """A 4-core Orin-like board under ``tmp/root`` with stand-in tools in ``tmp/bin``."""

    def __init__(self, tmp: Path, *, cores: int = 4, mode: int = DEFAULT_MODE, fan_pwm: int = 62,
                 fan_enable: str = "0"):
        self.tmp = tmp
        self.root = tmp / "root"
        self.bin = tmp / "bin"
        self.bin.mkdir(parents=True)
        self.log = tmp / "calls.jsonl"
        self.state = tmp / "nvpmodel_state.json"
        current = next(m for m in MODES if m["id"] == mode)
        for n in range(cores):
            cpu = self.root / f"sys/devices/system/cpu/cpu{n}"
            (cpu / "cpufreq").mkdir(parents=True)
            if n:    # real boards often have no online file for cpu0
                (cpu / "online").write_text("1\n" if n in current["cores"] else "0\n")
            (cpu / "cpufreq/scaling_min_freq").write_text(f"{CPU_MIN_KHZ}\n")
            (cpu / "cpufreq/scaling_max_freq").write_text(f"{current['cpu_max']}\n")
        (self.root / "sys/devices/system/cpu/online").write_text(f"0-{cores - 1}\n")
        gpu = self.root / GPU_DEVFREQ
        gpu.mkdir(parents=True)
        (gpu / "min_freq").write_text(f"{GPU_MIN_HZ}\n")
        (gpu / "max_freq").write_text(f"{GPU_MAX_HZ}\n")
        hw = self.root / "sys/class/hwmon"
        (hw / "hwmon1").mkdir(parents=True)                 # a sensor, not a fan
        (hw / "hwmon1/name").write_text("ina3221\n")
        (hw / "hwmon0").mkdir()
        (hw / "hwmon0/name").write_text("pwmfan\n")
        (hw / "hwmon0/pwm1").write_text(f"{fan_pwm}\n")
        (hw / "hwmon0/pwm1_enable").write_text(f"{fan_enable}\n")   # "1": automatic control
        self.state.write_text(json.dumps({"mode": mode}))
        cfg = {"root": str(self.root), "log": str(self.log), "state": str(self.state), "modes": MODES,
               "default": DEFAULT_MODE, "cpu_min": CPU_MIN_KHZ, "gpu": "/" + GPU_DEVFREQ,
               "gpu_min": GPU_MIN_HZ, "gpu_max": GPU_MAX_HZ}
        self.nvpmodel = _script(self.bin / "nvpmodel", _NVPMODEL, cfg)
        self.jetson_clocks = _script(self.bin / "jetson_clocks", _JETSON_CLOCKS, cfg)
        self.sudo_allow = _script(self.bin / "sudo_allow", _SUDO, {**cfg, "mode": "allow"})
        self.sudo_deny = _script(self.bin / "sudo_deny", _SUDO, {**cfg, "mode": "deny"})
        self.tee = shutil.which("tee")

    def executables(self, sudo: str = "allow") -> dict[str, str]:
        return {"nvpmodel": self.nvpmodel, "jetson_clocks": self.jetson_clocks,
                "sudo": self.sudo_allow if sudo == "allow" else self.sudo_deny, "tee": self.tee}

    def calls(self, tool: str | None = None) -> list[dict]:
        if not self.log.exists():
            return []
        rows = [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]
        return [r for r in rows if tool is None or r.get("tool") == tool]

    def mode(self) -> int:
        return json.loads(self.state.read_text())["mode"]

    def online_file(self, n: int) -> Path:
        return self.root / f"sys/devices/system/cpu/cpu{n}/online"

    def fan_enable_file(self) -> Path:
        return self.root / "sys/class/hwmon/hwmon0/pwm1_enable"

    def fan_pwm(self) -> int:
        return int((self.root / "sys/class/hwmon/hwmon0/pwm1").read_text())

    def cpu_min(self, n: int) -> int:
        return int((self.root / f"sys/devices/system/cpu/cpu{n}/cpufreq/scaling_min_freq").read_text())
