"""A small model of the board, advanced ~10 times a second by the emulator daemon.

Per tick:

1. CPU load per emulated core comes from the host's real ``/proc/stat`` (so the
   running worker's load shows up), host cores mapped onto the online emulated
   cores round-robin; the worker's own CPU time (in cores) is a floor on the first
   online cores, so a host with more cores than the board cannot hide it.
2. The worker (``workload.WorkerInfo``, registered by the session): its real RSS
   is added to the board's idle memory; past the board's RAM it goes to swap, past
   swap the worker is killed with SIGKILL as the OOM killer would (and the
   workload cgroup's ``oom_kill`` count rises, which is how edgemon tells an OOM
   death). The GPU load is the worker's activity when it uses the GPU, else 0.
3. DVFS like schedutil: a cluster's clock follows its busiest core
   (``1.25 * util * max``), snapped to the frequency table and clamped to
   ``scaling_min_freq``/``scaling_max_freq`` (nvpmodel and jetson_clocks write
   those) and to the thermal cap; the GPU and EMC likewise. ``cpu_scale`` (the
   fastest online cluster's clock over its maximum) is what the worker is made to
   feel (``workload`` explains how); with fewer online cores than the host has,
   the worker is pinned to that many host CPUs.
4. Power per component (CPU, GPU, CV, SOC, DDR, I/O) from load and clock
   (dynamic power ~ f^3, i.e. V^2 f with V ~ f); rails sum components; the input
   rail is the module sum over a 90 % efficient regulator plus board overhead.
5. Thermal RC per zone: the temperature moves toward ``ambient + offset + R * P``
   with time constant ``tau``; the fan lowers ``R``. A board starts at ambient.
6. Throttling: a zone at or above its passive trip caps CPU and GPU clocks to
   ``throttle`` x their ceiling until it falls below ``trip - hyst``; each
   change is logged and shown in the state file.

Options (``EDGEMON_EMULATE_OPTS="tau=2,trip=60"`` or a dict): see :data:`OPTION_HELP`.
"""

from __future__ import annotations

import json
import math
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from edgemon.emulate import tree, workload
from edgemon.emulate.boards import Board
from edgemon.errors import UserError
from edgemon.telemetry.process import process_tree

OPTION_HELP = {
    "tau": "thermal time constant in seconds (default 240)",
    "trip": "passive trip point in C of the CPU/GPU zones (default: the board's, ~96-99)",
    "hyst": "hysteresis in C below the trip before throttling ends (default 5)",
    "r": "thermal resistance in C per W (default: the board's)",
    "ambient": "ambient temperature in C (default 25)",
    "start": "'ambient' starts the board cold at ambient (default), 'steady' at its idle temperature, "
             "or a temperature in C",
    "throttle": "clock fraction allowed while throttled (default 0.6)",
    "gpu": "GPU load: 'worker' follows the worker's GPU use (default), or a fixed percentage",
    "slowdown": "how the worker feels the CPU clock: 'auto' (default: edgemon's runners stretch "
                "their iterations, other workers are stopped and continued), 'stretch', 'sigstop' or 'off'",
    "ram_used": "RAM in use before the worker starts, MB (default: the board's idle use)",
    "swap_used": "swap in use before the worker starts, MB (default: the board's)",
    "tegrastats": "'root' (default) or 'user': which tegrastats line the board prints",
    "hz": "model ticks per second (default 10)",
}
OPTS_ENV = "EDGEMON_EMULATE_OPTS"
_WORDS = {"gpu": ("worker",), "start": ("ambient", "steady"), "slowdown": ("auto", "stretch", "sigstop", "off"),
          "tegrastats": ("root", "user")}
_ONLY_WORDS = ("slowdown", "tegrastats")


def parse_options(text: str | None) -> dict:
    """``"tau=2,trip=60"`` -> ``{"tau": 2.0, "trip": 60.0}``; UserError for anything else."""
    out: dict = {}
    for part in (text or "").replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        key, sep, value = part.partition("=")
        out[key.strip().lower()] = value.strip() if sep else ""
    return check_options(out)


def check_options(opts: dict) -> dict:
    checked: dict = {}
    for key, value in opts.items():
        key = str(key).lower()
        if key not in OPTION_HELP:
            raise UserError(f"unknown emulator option {key!r}; known: {', '.join(OPTION_HELP)}")
        word = str(value).strip().lower()
        if word in _WORDS.get(key, ()):
            checked[key] = word
            continue
        if key in _ONLY_WORDS:
            raise UserError(f"emulator option {key}={value!r}: use {' or '.join(_WORDS[key])} ({OPTION_HELP[key]})")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise UserError(f"emulator option {key}={value!r} is not a number ({OPTION_HELP[key]})") from None
        if key in ("tau", "r", "hz", "throttle") and number <= 0:
            raise UserError(f"emulator option {key} must be positive ({OPTION_HELP[key]})")
        if key in ("ram_used", "swap_used") and number < 0:
            raise UserError(f"emulator option {key} must not be negative ({OPTION_HELP[key]})")
        checked[key] = number
    return checked


def options_text(opts: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in opts.items())


@dataclass
class Options:
    tau: float = 240.0
    trip: float | None = None
    hyst: float = 5.0
    r: float | None = None
    ambient: float = 25.0
    start: object = "ambient"
    throttle: float = 0.6
    gpu: object = "worker"
    slowdown: str = "auto"
    ram_used: float | None = None
    swap_used: float | None = None
    tegrastats: str = "root"
    hz: float = 10.0

    @classmethod
    def from_dict(cls, opts: dict) -> "Options":
        return cls(**check_options(opts))


def _snap_up(freqs: tuple[int, ...], target: float, lo: int, hi: int) -> int:
    """Lowest table frequency >= target within [lo, hi]; the highest <= hi when none fits."""
    allowed = [f for f in freqs if lo <= f <= hi] or [max([f for f in freqs if f <= hi] or [freqs[0]])]
    for f in allowed:
        if f >= target:
            return f
    return allowed[-1]


def _snap_down(freqs: tuple[int, ...], limit: float) -> int:
    below = [f for f in freqs if f <= limit]
    return below[-1] if below else freqs[0]


class Physics:
    """The model. ``tick()`` reads what controls wrote, advances, and writes the tree."""

    def __init__(self, board: Board, root: Path, options: dict | None = None, host_proc: Path = Path("/proc")):
        self.board, self.root, self.host_proc = board, Path(root), Path(host_proc)
        self.opt = Options.from_dict(options or {})
        self.w = tree.ChangedWriter(self.root)
        self.r_k_per_w = self.opt.r if self.opt.r is not None else board.r_k_per_w
        self.temps: dict[str, float] = {}
        self.trips: dict[str, float] = {}          # zone type -> passive trip in C
        for z in board.zones:
            for mc, ttype in tree.zone_trips(z, {"trip": self.opt.trip} if self.opt.trip is not None else {}):
                if ttype == "passive" and z.throttles:
                    self.trips[z.type] = mc / 1000.0
        self.throttled_by: str | None = None
        self.throttle_since: float | None = None
        self.throttle_events = 0
        self.host_prev: list[tuple[int, int]] | None = None
        self.freq_khz = {cl.cpus[0]: cl.freqs_khz[0] for cl in board.clusters}
        self.gpu_hz = board.gpu.freqs_hz[0]
        self.emc_hz = board.emc.freqs_hz[0]
        self.fan_pwm = 0.0
        self.fan_written: int | None = None
        self.power: dict[str, float] = {}
        self.last_t: float | None = None
        self.files = tree.fan_files(board)
        self.emc = tree.emc_files(board)
        self.emc_cap = tree.emc_cap_file(board)
        self.rails = tree.rail_files(board)
        self.state: dict = {}
        mem = board.memory
        used_mb = mem.used_mb if self.opt.ram_used is None else self.opt.ram_used
        swap_mb = mem.swap_used_mb if self.opt.swap_used is None else self.opt.swap_used
        self.base_used_kb, self.base_swap_kb = int(used_mb * 1024), int(swap_mb * 1024)
        self.mem = {"worker_kb": 0, "used_kb": self.base_used_kb, "swap_used_kb": self.base_swap_kb}
        self.oom_kills = 0
        self.worker: workload.WorkerInfo | None = None
        self.worker_pids: list[int] = []
        self.worker_cpu_s: float | None = None
        self.worker_activity = 0.0
        self.worker_cores = 0.0                          # CPU the worker used since the last tick, in cores
        self.cpu_scale = 1.0
        self.duty: workload.DutyCycle | None = None      # started by the daemon (needs a thread)
        self._pinned: tuple[int, ...] | None = None
        self._host_cpus = tuple(sorted(os.sched_getaffinity(0))) if hasattr(os, "sched_getaffinity") else ()

    # -- inputs ---------------------------------------------------------------------------

    def _host_utils(self, stat_text: str) -> list[float]:
        cores, _ = tree.host_cpu_lines(stat_text)
        now = []
        for v in cores:
            v = v[:8]
            total = sum(v)
            idle = v[3] + (v[4] if len(v) > 4 else 0)
            now.append((total - idle, total))
        prev, self.host_prev = self.host_prev, now
        if prev is None or len(prev) != len(now):
            return [0.0] * max(len(now), 1)
        out = []
        for (b0, t0), (b1, t1) in zip(prev, now):
            dt = t1 - t0
            out.append(min(1.0, max(0.0, (b1 - b0) / dt)) if dt > 0 else 0.0)
        return out

    def _read(self, rel: str) -> int | None:
        return tree.read_number(self.root / rel)

    def _online(self) -> list[int]:
        online = []
        for c in self.board.cpus:
            text = tree.read_value(self.root / tree.cpu_online_file(c))
            if c == 0:
                if text != "1":            # the boot CPU cannot be unplugged: the kernel refuses
                    tree.write_value(self.root / tree.cpu_online_file(0), "1\n")
                online.append(0)
            elif text == "1":
                online.append(c)
        return online

    # -- one step -------------------------------------------------------------------------

    def tick(self, now: float | None = None) -> dict:
        now = time.monotonic() if now is None else now
        dt = 0.1 if self.last_t is None else max(1e-3, now - self.last_t)
        first = self.last_t is None
        self.last_t = now
        b, opt = self.board, self.opt

        online = self._online()
        # The online lists before /proc/stat: a reader that saw a core leave /proc/stat must
        # find it gone from cpu/online too (the kernel changes both at once).
        self._write_online(online)
        stat_text = tree.mirror_proc(b, self.root, self.host_proc, set(online), writer=self.w)
        host = self._host_utils(stat_text)
        util = {c: host[j % len(host)] for j, c in enumerate(online)}
        host_mean = sum(host) / len(host)
        self._worker_tick(dt)
        self._worker_floor(util, online)
        self._memory()

        throttled = self.throttled_by is not None
        cpu_w = self._cpu(online, util, throttled)
        self._feel_clock(online)
        if opt.gpu == "worker":
            gpu_util = self.worker_activity if self.worker is not None and self.worker.gpu else 0.0
        else:
            gpu_util = min(1.0, max(0.0, float(opt.gpu) / 100.0))
        gpu_w = self._gpu(gpu_util, throttled)
        emc_util = min(1.0, 0.05 + 0.6 * host_mean + 0.5 * gpu_util)   # busy CPUs keep the EMC near its top
        ddr_w = self._emc(emc_util)
        self._fan(first)
        fan_w = 0.6 * self.fan_pwm / tree.FAN_MAX_PWM if b.fan else 0.0
        soc_w = b.soc_w * (1.0 + 0.2 * host_mean)
        module = cpu_w + gpu_w + soc_w + ddr_w
        self.power = {"cpu": cpu_w, "gpu": gpu_w, "cv": 0.0, "soc": soc_w, "ddr": ddr_w, "io": b.io_w,
                      "in": module / 0.9 + b.overhead_w + fan_w + b.io_w}
        self._write_rails()
        self._thermal(dt, first)
        self._throttle(now)
        self.state = self._snapshot(now, online, util, gpu_util)
        return self.state

    # -- the worker -----------------------------------------------------------------------

    def _worker_tick(self, dt: float) -> None:
        """Who the worker is now, its processes, and how busy it was since the last tick."""
        info = workload.read_worker(self.root)
        if info != self.worker:
            self.worker, self.worker_cpu_s, self._pinned = info, None, None
        if info is None:
            self.worker_pids, self.worker_activity, self.worker_cores = [], 0.0, 0.0
            return
        self.worker_pids = process_tree(info.pid, self.host_proc)
        cpu_s = workload.cpu_seconds(self.worker_pids, self.host_proc) if self.worker_pids else None
        if cpu_s is not None and self.worker_cpu_s is not None and dt > 0:
            self.worker_cores = max(0.0, (cpu_s - self.worker_cpu_s) / dt)
        else:
            self.worker_cores = 0.0
        self.worker_activity = min(1.0, self.worker_cores)
        self.worker_cpu_s = cpu_s

    def _worker_floor(self, util: dict[int, float], online: list[int]) -> None:
        """The worker's CPU load lands on the board's cores whatever host cores ran it: board core j
        mirrors host core j (mod the host's count), so on a host with more cores than the board
        the worker may run where the board does not look, and the board would stay cold."""
        left = self.worker_cores
        for c in online:
            if left <= 0:
                break
            util[c] = max(util[c], min(1.0, left))
            left -= 1.0

    def _memory(self) -> None:
        """The board's RAM and swap: idle use plus the worker's; past swap, the OOM killer."""
        m = self.board.memory
        total, swap_total = m.ram_mb * 1024, m.swap_mb * 1024
        worker_kb = workload.memory_kb(self.worker_pids, self.host_proc) if self.worker_pids else 0
        room = total - total // 50                    # the kernel keeps ~2 % free †
        demand = self.base_used_kb + worker_kb
        used = min(demand, room)
        swap_used = self.base_swap_kb + (demand - used)
        if swap_used > swap_total and self.worker is not None and self.worker_pids:
            self._oom_kill(worker_kb, used, swap_used)
            worker_kb, used, swap_used = 0, min(self.base_used_kb, room), self.base_swap_kb
        swap_used = min(swap_used, swap_total)
        self.mem = {"worker_kb": worker_kb, "used_kb": used, "swap_used_kb": swap_used}
        self.w("proc/meminfo", tree.meminfo_text(self.board, used, swap_used))

    def _oom_kill(self, worker_kb: int, used_kb: int, swap_kb: int) -> None:
        """What the kernel does when RAM and swap are full: SIGKILL the biggest process, count it."""
        pid = self.worker.pid
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            return
        self.oom_kills += 1
        self.w(f"{tree.WORKLOAD_CGROUP}/memory.events",
               f"low 0\nhigh 0\nmax {self.oom_kills}\noom {self.oom_kills}\noom_kill {self.oom_kills}\n")
        self._log(f"oom-kill pid={pid} worker_rss_mb={worker_kb // 1024} ram_used_mb={used_kb // 1024} "
                  f"swap_needed_mb={swap_kb // 1024} swap_total_mb={self.board.memory.swap_mb}")
        self.worker_pids = []

    def _feel_clock(self, online: list[int]) -> None:
        """Publish ``cpu_scale`` for a stretching runner, duty-cycle any other worker, pin to online cores."""
        b = self.board
        scales = [self.freq_khz[cl.cpus[0]] / cl.freqs_khz[-1] for cl in b.clusters
                  if any(c in online for c in cl.cpus)]
        scale = max(scales, default=1.0)
        mode = self.opt.slowdown
        if mode == "off":
            scale = 1.0
        self.cpu_scale = scale
        stretch = mode == "stretch" or (mode == "auto" and self.worker is not None and self.worker.stretch)
        self.w(tree.CPU_SCALE_FILE, f"{scale if mode != 'sigstop' else 1.0:.4f}\n")
        if self.duty is not None:
            alive = self.worker is not None and bool(self.worker_pids)
            self.duty.set(self.worker.pid if alive and not stretch else None, scale)
        if self.worker_pids and self._host_cpus:
            want = self._host_cpus[:max(1, min(len(online), len(self._host_cpus)))]
            restricted = len(want) < len(self._host_cpus)
            if restricted or (self._pinned is not None and self._pinned != want):
                workload.set_affinity(self.worker_pids, set(want), self.host_proc)   # new threads too
                self._pinned = want if restricted else None

    def _write_online(self, online: list[int]) -> None:
        from edgemon.emulate.commands import _cpu_list
        b = self.board
        offline = [c for c in b.cpus if c not in online]
        self.w(f"{tree.CPU_DIR}/online", _cpu_list(online) + "\n")
        self.w(f"{tree.CPU_DIR}/offline", _cpu_list(offline) + "\n")
        for cl in b.clusters:
            on = [c for c in cl.cpus if c in online]
            self.w(f"{tree.policy_dir(cl)}/affected_cpus", " ".join(str(c) for c in on) + "\n")

    def _cpu(self, online: list[int], util: dict[int, float], throttled: bool) -> float:
        total = 0.0
        for cl in self.board.clusters:
            p = tree.policy_dir(cl)
            hw_lo, hw_hi = cl.freqs_khz[0], cl.freqs_khz[-1]
            lo = min(max(self._read(f"{p}/scaling_min_freq") or hw_lo, hw_lo), hw_hi)
            hi = min(max(self._read(f"{p}/scaling_max_freq") or hw_hi, hw_lo), hw_hi)
            if throttled:
                hi = max(hw_lo, _snap_down(cl.freqs_khz, hi * self.opt.throttle))
            lo = min(lo, hi)
            gov = tree.read_value(self.root / p / "scaling_governor") or "schedutil"
            on = [c for c in cl.cpus if c in online]
            busiest = max((util[c] for c in on), default=0.0)
            if gov == "performance":
                target = hi
            elif gov == "powersave":
                target = lo
            elif gov == "userspace":
                target = self._read(f"{p}/scaling_setspeed") or self.freq_khz[cl.cpus[0]]
            else:
                target = 1.25 * busiest * hw_hi
            f = _snap_up(cl.freqs_khz, target, lo, hi)
            if not on:
                f = self.freq_khz[cl.cpus[0]]        # a cluster with no online core keeps its last clock
            self.freq_khz[cl.cpus[0]] = f
            self.w(f"{p}/scaling_cur_freq", f"{f}\n")
            self.w(f"{p}/cpuinfo_cur_freq", f"{f}\n")
            scale = (f / hw_hi) ** 3
            total += sum(cl.idle_w + cl.core_w * util[c] * scale for c in on)
        return total

    def _gpu(self, load: float, throttled: bool) -> float:
        g = self.board.gpu
        d = g.devfreq_dir
        hw_lo, hw_hi = g.freqs_hz[0], g.freqs_hz[-1]
        lo = min(max(self._read(f"{d}/min_freq") or hw_lo, hw_lo), hw_hi)
        hi = min(max(self._read(f"{d}/max_freq") or hw_hi, hw_lo), hw_hi)
        if throttled:
            hi = max(hw_lo, _snap_down(g.freqs_hz, hi * self.opt.throttle))
        lo = min(lo, hi)
        gov = tree.read_value(self.root / d / "governor") or "nvhost_podgov"
        if gov == "performance":
            target = hi
        elif gov == "powersave":
            target = lo
        elif gov == "userspace":
            target = self._read(f"{d}/target_freq") or self.gpu_hz
        else:
            target = 1.2 * load * hw_hi
        self.gpu_hz = _snap_up(g.freqs_hz, target, lo, hi)
        self.w(f"{d}/cur_freq", f"{self.gpu_hz}\n")
        if gov != "userspace":
            self.w(f"{d}/target_freq", f"{self.gpu_hz}\n")
        permille = f"{int(round(load * 1000))}\n"
        for path in g.load_paths:
            self.w(path, permille)
        self.w(tree.GPU_LOAD_FILE, permille)
        return g.idle_w + g.max_w * load * (self.gpu_hz / hw_hi) ** 3

    def _emc(self, util: float) -> float:
        b, e = self.board, self.emc
        steps = b.emc.freqs_hz
        top = min(self._read(e["max"]) or steps[-1], steps[-1])
        cap = self._read(self.emc_cap) or 0
        if cap:
            top = min(top, cap)
        lock = self._read(e["lock"]) or 0
        floor = self._read(e["min"]) or steps[0]
        if b.emc.style == "t210":
            lock = (self._read(e["update"]) or top) if lock else 0
        if lock:
            rate = min(lock, top)
        else:
            rate = _snap_up(steps, util * 1.5 * steps[-1], min(floor, top), top)
        self.emc_hz = rate
        demand = util * steps[-1]
        pct = min(100.0, 100.0 * demand / rate) if rate else 0.0
        self.w(e["rate"], f"{rate}\n")
        activity = f"{int(pct * rate / 1000)}\n"      # EMC % = activity / kHz (jetson-stats' formula)
        self.w(e["activity"], activity)
        for extra in tree.EMC_ACTIVITY:
            self.w(extra, activity)
        idle_w, busy_w = b.ddr_w
        return idle_w + (busy_w - idle_w) * util * (rate / steps[-1])

    def _fan(self, first: bool) -> None:
        b, f = self.board, self.files
        auto = self._read(f["auto"]) == 1
        hot = max((t for z, t in self.temps.items()), default=self.opt.ambient)
        want = min(255.0, max(0.0, (hot - 35.0) / 40.0 * 255.0))
        if b.fan.kind == "legacy":
            if auto:
                self.w(f["target"], f"{int(want)}\n")
            target = self._read(f["target"]) or 0
        else:
            current = self._read(f["pwm"])
            if auto and self.fan_written is not None and current is not None and current != self.fan_written:
                # Someone set the PWM by hand (jetson_clocks, a fan control): the fan daemon stands down.
                tree.write_value(self.root / f["auto"], "0\n")
                auto = False
            target = want if auto else (current or 0)
        # The fan ramps rather than jumping (step_time): ~250 PWM steps per second at 10 Hz.
        step = 25.0
        self.fan_pwm += max(-step, min(step, target - self.fan_pwm))
        if first:
            self.fan_pwm = float(target)
        pwm = int(round(self.fan_pwm))
        if b.fan.kind == "legacy":
            self.w(f["pwm"], f"{pwm}\n")
        elif auto:
            self.w(f["pwm"], f"{pwm}\n")
            self.fan_written = pwm
        else:
            self.fan_written = self._read(f["pwm"])
        if "rpm" in f:
            self.w(f["rpm"], f"{int(b.fan.max_rpm * self.fan_pwm / 255.0)}\n")

    def _write_rails(self) -> None:
        p = self.power
        for rail in self.board.rails:
            kind, volt, curr, power = self.rails[rail.name]
            mw = 1000.0 * sum(p.get(part, 0.0) for part in rail.parts)
            ma = int(round(mw * 1000.0 / rail.mv))
            self.w(volt, f"{rail.mv}\n")
            self.w(curr, f"{ma}\n")
            if kind == "iio":
                self.w(power, f"{int(round(mw))}\n")
            elif kind == "ina238":
                self.w(power, f"{int(round(mw * 1000))}\n")

    def _thermal(self, dt: float, first: bool) -> None:
        b, opt = self.board, self.opt
        p = self.power
        comp = {"cpu": p["cpu"], "gpu": p["gpu"], "soc": p["soc"] + p["ddr"] + p["cv"]}
        r = self.r_k_per_w * (1.0 - b.fan_cut * self.fan_pwm / 255.0)
        alpha = 1.0 - math.exp(-dt / opt.tau)
        for i, z in enumerate(b.zones):
            d = tree.thermal_zone_dir(i)
            if z.fixed_mc is not None:
                self.w(f"{d}/temp", f"{z.fixed_mc}\n")
                continue
            steady = opt.ambient + z.offset_c + r * sum(w * comp.get(c, 0.0) for c, w in z.heat)
            if first:
                t = {"steady": steady, "ambient": opt.ambient}.get(str(opt.start))
                t = float(opt.start) if t is None else t
            else:
                t = self.temps[z.type] + (steady - self.temps[z.type]) * alpha
            self.temps[z.type] = t
            mc = int(round(t * 1000.0 / z.step_mc) * z.step_mc)     # e.g. 47.6875 C reads 47687
            self.w(f"{d}/temp", f"{mc}\n")

    def _throttle(self, now: float) -> None:
        if self.throttled_by is None:
            for ztype, trip in self.trips.items():
                if self.temps.get(ztype, -999.0) >= trip:
                    self.throttled_by, self.throttle_since = ztype, now
                    self.throttle_events += 1
                    self._log(f"throttle start zone={ztype} temp={self.temps[ztype]:.2f} trip={trip:.1f}")
                    break
        else:
            ztype = self.throttled_by
            trip = self.trips[ztype]
            if self.temps.get(ztype, 0.0) < trip - self.opt.hyst:
                self._log(f"throttle end zone={ztype} temp={self.temps[ztype]:.2f} "
                          f"release_below={trip - self.opt.hyst:.1f}")
                self.throttled_by = self.throttle_since = None

    def _log(self, text: str) -> None:
        with open(self.root / tree.LOG_FILE, "a") as f:
            f.write(f"{time.monotonic_ns()} {text}\n")

    def _snapshot(self, now: float, online: list[int], util: dict[int, float], gpu_util: float) -> dict:
        b = self.board
        cpu_khz, cpu_max = {}, {}
        for c in b.cpus:
            cl = b.cluster_of(c)
            cpu_khz[c] = self.freq_khz[cl.cpus[0]]
            cpu_max[c] = min(max(self._read(f"{tree.policy_dir(cl)}/scaling_max_freq") or cl.freqs_khz[-1],
                                 cl.freqs_khz[0]), cl.freqs_khz[-1])
        return {
            "t_mono": now, "board": b.key,
            "online": online,
            "cpu_util": {str(c): round(u, 4) for c, u in util.items()},
            "cpu_khz": {str(c): v for c, v in cpu_khz.items()},
            "cpu_max_khz": {str(c): v for c, v in cpu_max.items()},
            "gpu_util": round(gpu_util, 4), "gpu_hz": self.gpu_hz, "emc_hz": self.emc_hz,
            "temps_c": {k: round(v, 3) for k, v in self.temps.items()},
            "trips_c": self.trips,
            "power_w": {k: round(v, 4) for k, v in self.power.items()},
            "fan_pwm": int(round(self.fan_pwm)),
            "throttled": self.throttled_by is not None,
            "throttle_zone": self.throttled_by,
            "throttle_events": self.throttle_events,
            "cpu_scale": round(self.cpu_scale, 4),
            "worker": None if self.worker is None else {
                "pid": self.worker.pid, "gpu": self.worker.gpu, "stretch": self.worker.stretch,
                "processes": len(self.worker_pids), "activity": round(self.worker_activity, 3)},
            "memory_mb": {k[:-3] + "_mb": round(v / 1024.0, 1) for k, v in self.mem.items()},
            "oom_kills": self.oom_kills,
        }


def write_state(root: Path, state: dict) -> None:
    """The snapshot for tests and humans: written to a temp name and renamed (it is not sysfs)."""
    path = Path(root) / tree.STATE_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state) + "\n")
    os.replace(tmp, path)
