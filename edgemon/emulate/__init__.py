"""An emulated Jetson: a sysfs/procfs tree plus tegrastats/nvpmodel/jetson_clocks that react to load.

    with EmulatedBoard("orin-nano", options={"tau": 2, "trip": 60}) as board:
        ctx = SourceContext(root=board.root, executables=board.executables)
        ...   # the same readers and controls as on a real board

:meth:`EmulatedBoard.start` builds the tree in a temporary directory (or
``workdir``) and starts the physics daemon as a separate process
(``python -m edgemon.emulate.daemon``), so its CPU time is not counted as the
monitor's. Options come from ``EDGEMON_EMULATE_OPTS`` ("tau=2,trip=60"),
overridden by the ``options`` dict; see :data:`edgemon.emulate.physics.OPTION_HELP`.

A session tells the board about its worker (:meth:`EmulatedBoard.attach_worker` when it
starts, :meth:`EmulatedBoard.worker_hello` with the runner's hello): the board's memory,
GPU load and clocks then follow that process (``edgemon.emulate.workload``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from edgemon.emulate.boards import BOARD_NAMES, get_board

BOARDS: list[str] = list(BOARD_NAMES)

__all__ = ["BOARDS", "EmulatedBoard", "BOARD_ENV", "CPU_SCALE_ENV"]

_START_TIMEOUT_S = 15.0
BOARD_ENV = "EDGEMON_EMULATED_BOARD"          # in the worker's environment: the board's name
CPU_SCALE_ENV = "EDGEMON_EMULATE_CPU_SCALE"   # the file a runner reads to stretch its iterations


class EmulatedBoard:
    """One emulated board: its tree (``root``), stand-in tools (``bin_dir``) and physics daemon."""

    def __init__(self, board: str, workdir: Path | None = None, *, options: dict | None = None):
        from edgemon.emulate.physics import OPTS_ENV, check_options, parse_options

        self.board = get_board(board)                     # UserError for an unknown name
        opts = parse_options(os.environ.get(OPTS_ENV))
        opts.update(check_options(dict(options or {})))
        self.options = opts
        self._workdir = Path(workdir) if workdir is not None else None
        self.root: Path = self._workdir if self._workdir is not None else Path()
        self.bin_dir: Path = self.root / "bin"
        self.executables: dict[str, str] = {}
        self._proc: subprocess.Popen | None = None
        self._tmp: str | None = None

    @property
    def name(self) -> str:
        return self.board.key

    def start(self) -> "EmulatedBoard":
        from edgemon.emulate import tree
        from edgemon.emulate.physics import options_text

        if self._proc is not None:
            return self
        if self._workdir is None:
            self._tmp = tempfile.mkdtemp(prefix=f"edgemon-emulate-{self.board.key}-")
            self.root = Path(self._tmp)
        else:
            self.root = self._workdir.resolve()
        tree.build_tree(self.board, self.root, self.options)
        self.bin_dir = self.root / "bin"
        self.executables = {name: str(self.bin_dir / name) for name in tree.TOOLS}
        state = self.root / tree.STATE_FILE
        state.unlink(missing_ok=True)          # a reused workdir: wait for this daemon's first tick
        log = open(self.root / "var/log/edgemon-emulate.daemon.log", "ab")
        env = dict(os.environ)
        pkg_parent = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = pkg_parent + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "edgemon.emulate.daemon", "--root", str(self.root),
                 "--board", self.board.key, "--opts", options_text(self.options),
                 "--parent-pid", str(os.getpid())],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env, start_new_session=True)
        finally:
            log.close()
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not state.exists():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                why = self._daemon_log_tail()
                self.stop()
                raise RuntimeError(f"emulated {self.board.key} did not start: {why}")
            time.sleep(0.02)
        return self

    def _daemon_log_tail(self) -> str:
        try:
            text = (self.root / "var/log/edgemon-emulate.daemon.log").read_text(errors="replace")
        except OSError:
            return "no daemon log"
        return text.strip().splitlines()[-1] if text.strip() else "daemon exited without output"

    def env(self, base: dict | None = None) -> dict[str, str]:
        """An environment with the stand-in tools first on PATH, and what a runner needs to feel the board."""
        from edgemon.emulate import tree

        env = dict(os.environ if base is None else base)
        env["PATH"] = str(self.bin_dir) + os.pathsep + env.get("PATH", "")
        env[BOARD_ENV] = self.board.key
        env[CPU_SCALE_ENV] = str(self.root / tree.CPU_SCALE_FILE)
        return env

    def attach_worker(self, pid: int) -> None:
        """The session's worker started: the board counts its memory and makes it feel the clocks.

        Puts ``pid`` in the board's workload memory cgroup (``proc/<pid>/cgroup`` under the
        root), so a worker the board OOM-kills is recognised as an OOM death.
        """
        from edgemon.emulate import tree, workload

        tree.write_value(self.root / "proc" / str(pid) / "cgroup", f"0::/{tree.WORKLOAD_CGROUP_NAME}\n")
        workload.write_worker(self.root, workload.WorkerInfo(pid))

    def worker_hello(self, hello: dict) -> None:
        """The runner's hello: whether it uses the GPU and whether it stretches its own iterations."""
        from edgemon.emulate import workload

        current = workload.read_worker(self.root)
        if current is None:
            return
        workload.write_worker(self.root, workload.WorkerInfo(
            current.pid, gpu=workload.uses_gpu(hello.get("device")), stretch=bool(hello.get("clock_stretch")),
            device=str(hello.get("device") or "")))

    def state(self) -> dict:
        """The daemon's latest snapshot (clocks, temperatures, power, throttling)."""
        from edgemon.emulate import tree

        return json.loads((self.root / tree.STATE_FILE).read_text())

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> "EmulatedBoard":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"EmulatedBoard({self.board.key!r}, root={str(self.root)!r}, running={self.is_running()})"
