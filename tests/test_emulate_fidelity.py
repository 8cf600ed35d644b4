"""The emulated boards behave like real ones: tegrastats metric names, memory, GPU load, cool start,
current limits, and a workload that feels the clocks (docs/emulator-sources.md says where from)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from edgemon.emulate import BOARDS, CPU_SCALE_ENV, EmulatedBoard, tree, workload
from edgemon.emulate.boards import get_board
from edgemon.emulate.commands import TegrastatsLine
from edgemon.emulate.physics import Physics
from edgemon.workload.spec import WorkloadSpec
from edgemon.telemetry.base import SourceContext
from edgemon.telemetry.memory import MemorySource
from edgemon.telemetry.tegrastats import parse_line_ex
from edgemon.workload.worker import Worker

try:  # tests/ as a package or as a plain folder
    from tests.fixtures.jetson.orin_nx_lines import ORIN_NX_16GB_JP62_USER
    from tests.tegrastats_expected import LINES
    from tests.workload_helpers import Collector
    from tests.emulate_helpers import wait_for as _wait_for
except ImportError:
    from emulate_helpers import wait_for as _wait_for
    from fixtures.jetson.orin_nx_lines import ORIN_NX_16GB_JP62_USER
    from tegrastats_expected import LINES
    from workload_helpers import Collector

WAIT_S = 20.0     # a guard against hangs, never a performance expectation


def wait_for(pred, what: str, timeout: float = WAIT_S):
    return _wait_for(pred, what, timeout)


def _tree(name: str, root: Path, **options) -> Path:
    tree.build_tree(get_board(name), root, options)
    return root


# --- 7: the emulated tegrastats line has the real board's metric names ----------------------

_CORE = re.compile(r"^cpu\d+_(util_pct|freq_mhz)$")
_SWAP = {"swap_used_mb", "swap_total_mb", "swap_cached_mb"}

# emulated board, privilege, real line, names the real line may lack or add and why
CASES = [
    ("nano", "root", "T06", set()),
    ("tx2", "user", "T08", set()),
    ("xavier-nx", "root", "T21", set()),
    ("agx-orin", "root", "T25", set()),
    ("orin-nano", "user", "T30", set()),
    ("orin-nano", "root", "T32", _SWAP),        # that JetPack 7.2 board has no swap configured
    # T28 is an Orin NX 8GB: 6 cores and one DLA; the emulated 16GB module has 8 and two
    ("orin-nx", "root", "T28", {"cpu6_online", "cpu7_online", "engine_nvdla1_util_pct",
                                "engine_nvdla1_freq_mhz"}),
    ("orin-nx", "user", "S7", set()),
    ("thor", "root", "T35", {"power_vin_mw", "power_vin_avg_mw"}),   # R38.4 prints no VIN [S9]
]


def _names(line: str) -> set[str]:
    """Metric names of a line, less per-core load/clock: which cores are online depends on the mode
    (``cpuN_online`` stays, so the core count must match)."""
    result = parse_line_ex(line)
    assert result.skipped == [], (line, result.skipped)
    return {k for k in result.values if not _CORE.match(k)}


@pytest.mark.parametrize("name,privilege,real,allowed", CASES, ids=[f"{c[0]}-{c[2]}" for c in CASES])
def test_emulated_line_has_the_real_boards_metric_names(name, privilege, real, allowed, tmp_path):
    root = _tree(name, tmp_path)
    builder = TegrastatsLine(get_board(name), root, privileged=privilege == "root")
    builder.prime()
    emulated = _names(builder.line())
    actual = _names(ORIN_NX_16GB_JP62_USER if real == "S7" else LINES[real])
    assert emulated ^ actual <= allowed, (sorted(emulated - actual), sorted(actual - emulated))


def test_tegrastats_option_user_prints_a_user_line(tmp_path):
    with EmulatedBoard("orin-nx", tmp_path / "b", options={"tegrastats": "user", "tau": 1}) as b:
        proc = subprocess.Popen([b.executables["tegrastats"], "--interval", "100"], stdout=subprocess.PIPE, text=True)
        try:
            line = proc.stdout.readline().strip()
        finally:
            proc.terminate()
            proc.wait(timeout=5)
            proc.stdout.close()
    assert "EMC_FREQ" not in line and re.search(r"GR3D_FREQ \d+% ", line) and "APE" not in line, line
    assert _names(line) == _names(ORIN_NX_16GB_JP62_USER)


# --- 1: the board's memory -------------------------------------------------------------------

@pytest.mark.parametrize("name", BOARDS)
def test_meminfo_tegrastats_and_the_memory_reader_agree_on_the_boards_memory(name, tmp_path):
    board = get_board(name)
    root = _tree(name, tmp_path)
    values = MemorySource(SourceContext(root=root)).read()
    assert values["ram_total_mb"] == board.memory.ram_mb
    assert values["ram_used_mb"] == pytest.approx(board.memory.used_mb, abs=1)
    builder = TegrastatsLine(board, root)
    builder.prime()
    parsed = parse_line_ex(builder.line()).values
    assert parsed["ram_total_mb"] == board.memory.ram_mb
    assert parsed["ram_used_mb"] == pytest.approx(values["ram_used_mb"], abs=1)
    if board.memory.swap_mb:
        assert parsed["swap_total_mb"] == values["swap_total_mb"] == board.memory.swap_mb
        assert parsed["swap_used_mb"] == pytest.approx(values["swap_used_mb"], abs=1)
    else:
        assert "swap_total_mb" not in parsed and values["swap_total_mb"] == 0


HOLD = r"""
import sys, time
import numpy as np
blocks = []
for line in sys.stdin:
    mb = int(line)
    block = np.empty(mb * 1024 * 1024, dtype=np.uint8)
    block[::4096] = 1
    blocks.append(block)
    print(len(blocks), flush=True)
"""


def _mem(b: EmulatedBoard) -> dict:
    return b.state()["memory_mb"]


def test_the_workers_real_memory_fills_the_boards_ram_then_its_swap(tmp_path):
    nano = get_board("nano")
    # 20 MB of free RAM before the worker, 600 MB of free swap
    opts = {"tau": 1, "ram_used": nano.memory.ram_mb - nano.memory.ram_mb // 50 - 20,
            "swap_used": nano.memory.swap_mb - 600}
    with EmulatedBoard("nano", tmp_path / "nano", options=opts) as b:
        proc = subprocess.Popen([sys.executable, "-c", HOLD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            b.attach_worker(proc.pid)
            base = wait_for(lambda: (m := _mem(b))["worker_mb"] > 5 and m, "the worker's memory on the board")
            proc.stdin.write("200\n")
            proc.stdin.flush()
            assert proc.stdout.readline().strip() == "1"
            after = wait_for(lambda: (m := _mem(b))["worker_mb"] >= base["worker_mb"] + 190 and m,
                             "the 200 MB block on the board")
            assert after["swap_used_mb"] - opts["swap_used"] >= 150        # past RAM into swap
            meminfo = (b.root / "proc/meminfo").read_text()
            swap_free_mb = int(re.search(r"SwapFree:\s+(\d+)", meminfo).group(1)) // 1024
            assert swap_free_mb == pytest.approx(nano.memory.swap_mb - after["swap_used_mb"], abs=1)
            assert b.state()["oom_kills"] == 0 and proc.poll() is None
        finally:
            proc.kill()
            proc.wait()


def test_past_ram_and_swap_the_board_oom_kills_the_worker_and_edgemon_says_so(tmp_path):
    nano = get_board("nano")
    opts = {"tau": 1, "ram_used": nano.memory.ram_mb - nano.memory.ram_mb // 50 - 20,
            "swap_used": nano.memory.swap_mb - 150}
    with EmulatedBoard("nano", tmp_path / "nano", options=opts) as b:
        col = Collector()
        spec = WorkloadSpec(runner="stress", model="memory", options={"mem_mb": "2000", "mem_step_mb": "16"})
        w = Worker(spec, **col.callbacks(), env=b.env(), on_spawn=b.attach_worker, extra_oom_roots=(b.root,))
        w.start()
        try:
            assert col.wait_for(lambda: col.exits, timeout=60), "the worker was never killed"
        finally:
            w.stop(timeout=2)
        ex = col.exit
        assert ex.details["signal_name"] == "SIGKILL" and "killed_by_monitor" not in ex.details
        assert ex.details["oom"] is True and "likely the OOM killer" in ex.details["reason"], ex.details
        assert b.state()["oom_kills"] == 1
        assert "oom_kill 1" in (b.root / tree.WORKLOAD_CGROUP / "memory.events").read_text()
        assert "oom-kill pid=%d" % ex.details["pid"] in (b.root / tree.LOG_FILE).read_text()
        held = [e.details["held_mb"] for e in col.events if e.kind == "memory"]
        assert held and max(held) < 2000          # it died on the way, not at its target


# --- 2: the board's GPU load comes from the worker ------------------------------------------

BUSY = "import time\nend = time.monotonic() + 60\nwhile time.monotonic() < end:\n    pass\n"


def _gpu_load(b: EmulatedBoard) -> float:
    return float(b.state()["gpu_util"])


def test_gpu_load_is_the_workers_gpu_use_not_the_hosts_cpu_load(tmp_path):
    with EmulatedBoard("orin-nano", tmp_path / "on", options={"tau": 1}) as b:
        proc = subprocess.Popen([sys.executable, "-c", BUSY])
        try:
            b.attach_worker(proc.pid)
            b.worker_hello({"pid": proc.pid, "device": "cpu"})
            # activity is the worker's share of a CPU: low on a crowded host, but never 0 while it runs
            wait_for(lambda: b.state()["worker"] and b.state()["worker"]["activity"] > 0.05, "a busy worker")
            for _ in range(5):                      # a busy CPU-only worker: the GPU stays idle
                assert _gpu_load(b) == 0.0
                time.sleep(0.1)
            b.worker_hello({"pid": proc.pid, "device": "cuda:0"})
            wait_for(lambda: _gpu_load(b) > 0.05, "GPU load from a worker on cuda:0")
            load = b.root / get_board("orin-nano").gpu.load_paths[0]
            wait_for(lambda: int(load.read_text()) > 50, "the load file (per mille, as on the board)")
        finally:
            proc.kill()
            proc.wait()
        wait_for(lambda: _gpu_load(b) == 0.0, "the GPU idle once the worker is gone")


def test_stress_gpu_runs_a_stand_in_that_drives_the_emulated_gpu(tmp_path):
    with EmulatedBoard("xavier-nx", tmp_path / "x", options={"tau": 1}) as b:
        col = Collector()
        w = Worker(WorkloadSpec(runner="stress", model="gpu"), **col.callbacks(), env=b.env(),
                   on_spawn=b.attach_worker, extra_oom_roots=(b.root,))
        w.start()
        try:
            assert col.wait_for(lambda: col.hello is not None), col.exits
            assert col.hello["device"] == "gpu" and "stand-in" in col.hello["gpu"]
            b.worker_hello(col.hello)
            wait_for(lambda: _gpu_load(b) > 0.05, "GPU load from the stand-in")
        finally:
            w.stop(timeout=5)


# --- 4: a cool start ------------------------------------------------------------------------

class FakeHost:
    """A host /proc whose every core is busy (``load`` 0..1) and that advances one second per tick."""

    def __init__(self, path: Path, cores: int = 4):
        self.path, self.cores, self.t = path, cores, 0
        path.mkdir(parents=True, exist_ok=True)
        (path / "loadavg").write_text("1.0 1.0 1.0 1/100 1\n")
        (path / "uptime").write_text("100.0 100.0\n")
        self.write(1.0)

    def write(self, load: float) -> None:
        busy, idle = int(100 * load * self.t), int(100 * (1 - load) * self.t)
        lines = [f"cpu{i} {busy} 0 0 {idle} 0 0 0 0 0 0" for i in range(self.cores)]
        (self.path / "stat").write_text("cpu  0 0 0 0 0 0 0 0 0 0\n" + "\n".join(lines) + "\n")

    def step(self) -> None:
        self.t += 1
        self.write(1.0)


def _simulate(name: str, tmp_path: Path, seconds: int, **options) -> list[dict]:
    root = _tree(name, tmp_path / "root", **options)
    host = FakeHost(tmp_path / "proc")
    physics = Physics(get_board(name), root, {"gpu": 100, **options}, host_proc=host.path)
    states = []
    for t in range(seconds + 1):
        states.append(physics.tick(float(t)))
        host.step()
    return states


def test_a_board_starts_at_ambient_and_takes_minutes_to_heat_under_full_load(tmp_path):
    states = _simulate("nano", tmp_path, 1500)          # 25 minutes at full CPU and GPU load
    cpu = np.array([s["temps_c"]["CPU-therm"] for s in states])
    assert cpu[0] == pytest.approx(25.0, abs=0.5)        # ambient, not the idle or loaded steady state
    rise = cpu[-1] - cpu[0]
    assert rise > 10
    t63 = int(np.argmax(cpu >= cpu[0] + 0.632 * rise))   # one thermal time constant (240 s by default)
    assert 60 <= t63 <= 600, t63
    assert not any(s["throttled"] for s in states)       # 25 C ambient: a Nano under load stays below 97 C


def test_with_a_trip_below_the_loaded_temperature_throttling_starts_after_minutes_not_at_once(tmp_path):
    states = _simulate("nano", tmp_path, 900, trip=40)
    first = next((t for t, s in enumerate(states) if s["throttled"]), None)
    assert first is not None and first >= 60, first


def test_ambient_is_configurable(tmp_path):
    states = _simulate("orin-nx", tmp_path, 2, ambient=35)
    assert states[0]["temps_c"]["cpu-thermal"] == pytest.approx(35.0, abs=0.5)


# --- 5: current limits only where real ------------------------------------------------------

@pytest.mark.parametrize("name", BOARDS)
def test_current_limits_only_where_a_real_board_has_them(name, tmp_path):
    from edgemon.telemetry.limits import power_limits
    from edgemon.telemetry.jetson_power import JetsonPowerSource

    root = _tree(name, tmp_path)
    src = JetsonPowerSource(SourceContext(root=root))
    assert src.probe().available
    limits = power_limits([src])
    if name == "orin-nx":          # VDD_IN's fixed 7784 mA over-current ceiling [S4]
        assert list(limits) == ["power_vdd_in_mw"]
        assert src.limits()["VDD_IN"].crit_ma == 7784
    else:
        assert limits == {}


# --- 6: Orin NX 16GB with its JetPack 6.2 modes ---------------------------------------------

def test_orin_nx_conf_is_jetpack6_per_core_with_knext_paths(tmp_path):
    conf = (_tree("orin-nx", tmp_path) / tree.NVPMODEL_CONF).read_text()
    assert [f"CPU_A78_{i}" for i in range(8)] == re.findall(r"NAME=(CPU_A78_\d+)", conf)
    assert "< PARAM TYPE=FILE NAME=FBP_POWER_GATING >" in conf
    assert "MAX_FREQ_KNEXT /sys/devices/platform/17000000.gpu/devfreq_dev/max_freq" in conf
    assert "MAX_FREQ_KNEXT /sys/kernel/nvpmodel_clk_cap/emc" in conf
    assert re.findall(r"POWER_MODEL ID=(\d) NAME=(\S+) ", conf) == [
        ("0", "MAXN_SUPER"), ("1", "10W"), ("2", "15W"), ("3", "25W"), ("4", "40W")]
    assert "< PM_CONFIG DEFAULT=4 >" in conf


def test_orin_nx_modes_switch_live_or_are_refused_like_the_real_board(tmp_path):
    from edgemon.control import context, nvpmodel

    with EmulatedBoard("orin-nx", tmp_path / "nx", options={"tau": 1}) as b:
        ctx = context.ControlContext(root=b.root, executables=b.executables)
        assert nvpmodel.query(ctx)[0] == 4
        verbose = subprocess.run([b.executables["nvpmodel"], "-q", "--verbose"], capture_output=True, text=True,
                                 timeout=20, stdin=subprocess.DEVNULL).stdout
        # [S4]: the real 40W query reads these REAL_VALs through the *_KNEXT paths
        assert ("PARAM GPU: ARG MAX_FREQ: PATH /sys/devices/platform/17000000.gpu/devfreq_dev/max_freq: "
                "REAL_VAL: 1173000000") in verbose
        assert "PATH /sys/kernel/nvpmodel_clk_cap/emc: REAL_VAL: 3199000000" in verbose
        assert "PARAM CPU_A78_7: ARG MAX_FREQ: PATH /sys/devices/system/cpu/cpu7/cpufreq/scaling_max_freq: " \
               "REAL_VAL: 1497600" in verbose
        for mode in (1, 2):                       # 4 cores: nvpmodel asks for a reboot, edgemon refuses
            result = nvpmodel.set_mode(ctx, mode)
            assert not result.ok and "reboot" in result.message
        for mode in (3, 0):
            assert nvpmodel.set_mode(ctx, mode).ok
        cap = int((b.root / tree.policy_dir(get_board("orin-nx").clusters[1]) / "scaling_max_freq").read_text())
        assert cap == 1984000 and nvpmodel.query(ctx)[0] == 0


def test_the_emc_ceiling_is_read_from_the_jetpack6_knext_node(tmp_path):
    from edgemon.telemetry.jetson_emc import JetsonEmcSource

    with EmulatedBoard("orin-nano", tmp_path / "on", options={"tau": 1}) as b:
        emc = JetsonEmcSource(SourceContext(root=b.root))
        assert emc.probe().available
        assert not (b.root / tree.EMC_CAP).exists()             # JetPack 6 nvpmodel writes only the KNEXT node
        assert emc.limits().ceiling_mhz == 3199.0               # 25W [S5]
        subprocess.run([b.executables["nvpmodel"], "-m", "0"], check=True, timeout=20, stdin=subprocess.DEVNULL,
                       capture_output=True)
        assert emc.limits().ceiling_mhz == 2133.0               # 15W [S6]


# --- 3: the workload feels the clocks -------------------------------------------------------

def _runner_phases(spec: WorkloadSpec, env: dict, scale_file: Path, phases: list[float], phase_s: float):
    """Run ``spec`` while ``scale_file`` steps through ``phases``: ``[(scale, latencies ns)]`` per phase."""
    col = Collector()
    w = Worker(spec, **col.callbacks(), env=env)
    w.start()
    marks = []
    try:
        assert col.wait_for(lambda: col.hello is not None), col.exits
        assert col.hello.get("clock_stretch") is True
        for scale in phases:
            scale_file.write_text(f"{scale}\n")
            marks.append((time.monotonic_ns(), scale))
            time.sleep(phase_s)
        marks.append((time.monotonic_ns(), None))
    finally:
        w.stop(timeout=5)
    with col.cond:
        t_end = np.concatenate([np.asarray(bt.t_end_ns) for bt in col.batches])
        dur = np.concatenate([np.asarray(bt.duration_ns) for bt in col.batches])
    out = []
    for (t0, scale), (t1, _) in zip(marks, marks[1:]):
        sel = (t_end > t0 + 150_000_000) & (t_end < t1)      # the runner re-reads the file every 100 ms
        out.append((scale, dur[sel]))
    return out


def test_a_runner_stretches_every_iteration_by_the_clock_ratio(tmp_path):
    scale_file = tmp_path / "cpu_scale"
    scale_file.write_text("1.0\n")
    env = dict(os.environ, **{CPU_SCALE_ENV: str(scale_file)})
    phases = _runner_phases(WorkloadSpec(), env, scale_file, [1.0, 0.5] * 8, 0.4)
    # Neighbouring phases share the host's load of the moment; the median over the pairs ignores
    # the pairs a burst of other work landed on.
    ratios = [np.median(slow) / np.median(fast) for (_, fast), (_, slow) in zip(phases[0::2], phases[1::2])
              if len(fast) > 20 and len(slow) > 20]
    assert len(ratios) >= 4, [len(d) for _, d in phases]
    # every iteration takes twice as long at half the clock: the median too, not only the mean
    assert 1.5 <= np.median(ratios) <= 2.8, ratios


def _proc_state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return "?"


def test_a_worker_that_does_not_stretch_is_stopped_and_continued_in_proportion(tmp_path):
    with EmulatedBoard("nano", tmp_path / "n", options={"tau": 1}) as b:
        proc = subprocess.Popen([sys.executable, "-c", BUSY])
        try:
            b.attach_worker(proc.pid)
            wait_for(lambda: b.state()["worker"] is not None and b.state()["cpu_scale"] >= 0.999,
                     "the busy worker registered and the clock up from idle")
            states = [_proc_state(proc.pid) for _ in range(100) if time.sleep(0.01) is None]
            assert "T" not in states                  # MAXN at full clock: never stopped
            subprocess.run([b.executables["nvpmodel"], "-m", "1"], check=True, timeout=20,
                           stdin=subprocess.DEVNULL, capture_output=True)   # 5W: 921.6 of 1479 MHz
            wait_for(lambda: b.state()["cpu_scale"] < 0.7, "the clock capped by 5W")
            states = [_proc_state(proc.pid) for _ in range(200) if time.sleep(0.01) is None]
            stopped = states.count("T") / len(states)
            assert 0.1 < stopped < 0.7, stopped       # stopped ~38 % of the time
        finally:
            proc.kill()
            proc.wait()


def test_a_worker_gets_no_more_host_cpus_than_the_board_has_online(tmp_path):
    host = sorted(os.sched_getaffinity(0))
    if len(host) < 2:
        pytest.skip("this host gives us one CPU: there is nothing to take away")
    with EmulatedBoard("nano", tmp_path / "n", options={"tau": 1}) as b:
        proc = subprocess.Popen([sys.executable, "-c", BUSY])
        try:
            b.attach_worker(proc.pid)
            for c in (1, 2, 3):                     # only cpu0 left online
                tree.write_value(b.root / tree.cpu_online_file(c), "0\n")
            wait_for(lambda: os.sched_getaffinity(proc.pid) == {host[0]}, "the worker pinned to one CPU")
            for c in (1, 2, 3):
                tree.write_value(b.root / tree.cpu_online_file(c), "1\n")
            wait_for(lambda: os.sched_getaffinity(proc.pid) == set(host), "the worker on every host CPU again")
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()


def test_worker_info_round_trips(tmp_path):
    (tmp_path / tree.STATE_DIR).mkdir(parents=True)
    info = workload.WorkerInfo(42, gpu=True, stretch=True, device="cuda:0")
    workload.write_worker(tmp_path, info)
    assert workload.read_worker(tmp_path) == info
    assert workload.uses_gpu("cuda:0") and workload.uses_gpu("GPU") and not workload.uses_gpu("cpu")
