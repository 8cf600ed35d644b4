"""`edgemon serve`: the dashboard in a web browser, through textual-serve. Standard library only at
module level; textual-serve (the ``serve`` extra) is imported when it runs.

Each browser tab gets its own dashboard process, ``edgemon attach DIR`` or ``edgemon replay DIR``
(textual-serve runs the command with Textual's web driver). A live session is resolved once,
here, and only ever attached to: closing the tab ends that dashboard process, which detaches,
and the session goes on; serving never starts a session.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from edgemon.commands.common import resolve_running_session, resolve_session
from edgemon.errors import UserError
from edgemon.help_format import HelpFormatter

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8040
MODES = ("attach", "replay")
SERVED_ENV = "EDGEMON_SERVED"        # set for the dashboard processes the server starts
INSTALL_HINT = "edgemon serve needs textual-serve: pip install 'edgemon[serve]'"

_EXAMPLES = """\
examples:
  edgemon serve                        # the newest running session, else
                                       # the newest recording, on 127.0.0.1:8040
  edgemon serve attach latest --port 9000
  edgemon serve replay recordings/<session>
  ssh -L 8040:127.0.0.1:8040 nano-01   # then open http://127.0.0.1:8040
"""


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "serve", help="the dashboard of a live session or a recording in a web browser",
        description="Serve the dashboard over HTTP (textual-serve; pip install 'edgemon[serve]'). "
        "'attach' shows a session running in the background (edgemon run --detach) with every "
        "control; closing the page only detaches, the session goes on. 'replay' plays a "
        "recording back. Without a mode: attach when the session runs, else replay. Every "
        "browser tab gets its own dashboard. Listens on 127.0.0.1 unless --host says otherwise: "
        "the page has no login and its controls change the machine.",
        epilog=_EXAMPLES, formatter_class=HelpFormatter,
    )
    p.add_argument("mode", nargs="?", metavar="attach|replay",
                   help="attach to a running session, or replay a recording (default: whichever fits)")
    p.add_argument("session", nargs="?", metavar="DIR|latest", help="session folder (default: latest)")
    p.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default: {DEFAULT_HOST}; "
                   "0.0.0.0 for every interface)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default: {DEFAULT_PORT})")
    return p


def parse_target(first: str | None, second: str | None) -> tuple[str | None, str]:
    """``[attach|replay] [DIR|latest]`` -> (mode or None for automatic, folder argument)."""
    if first is not None and first not in MODES:
        if second is not None:
            raise UserError(f"serve: the mode is attach or replay, got {first!r}; e.g. edgemon serve replay {second}")
        return None, first
    return first, second or "latest"


def choose(mode: str | None, arg: str) -> tuple[str, Path]:
    """The mode and folder to serve; UserError when the session cannot be attached to."""
    from edgemon.recording.layout import load_session_json, recording_folder

    if mode == "replay":
        return "replay", recording_folder(resolve_session(arg)).resolve()
    folder = recording_folder(resolve_running_session(arg)).resolve()
    running = load_session_json(folder).get("state") == "running"
    if mode is None and not running:
        return "replay", folder
    # Attach once here: every one-line reason it cannot be (ended, died, runs in a terminal,
    # another user's socket) comes out now, not in a browser tab. Then detach again.
    from edgemon.feeds.remote import open_remote

    open_remote(folder).close()
    return "attach", folder


def check_port(host: str, port: int) -> None:
    """UserError (one line) when ``host:port`` cannot be listened on."""
    import errno
    import socket

    if not 0 < port < 65536:
        raise UserError(f"--port {port} is out of range; pick one from 1024 to 65535, e.g. {DEFAULT_PORT}")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror:
        raise UserError(f"--host {host!r}: no such address; use 127.0.0.1, 0.0.0.0 or an address of this "
                        "machine") from None
    family, _, _, _, addr = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(addr)
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise UserError(f"port {port} on {host} is already in use; pick another with --port "
                                f"(e.g. --port {port + 1}) or stop what listens there") from None
            if e.errno == errno.EACCES:
                raise UserError(f"not allowed to listen on port {port}; use a port above 1023") from None
            raise UserError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None


def dashboard_command(mode: str, folder: Path) -> str:
    """The shell command textual-serve runs for each browser tab."""
    return shlex.join([sys.executable, "-m", "edgemon", mode, str(folder)])


def run(args: argparse.Namespace) -> int:
    mode, arg = parse_target(args.mode, args.session)
    check_port(args.host, args.port)
    try:
        from textual_serve.server import Server
    except ImportError:
        raise UserError(INSTALL_HINT) from None
    mode, folder = choose(mode, arg)
    os.environ[SERVED_ENV] = "1"     # the dashboards inherit it: no terminal, nothing to print after
    host = f"[{args.host}]" if ":" in args.host else args.host
    server = Server(dashboard_command(mode, folder), host=args.host, port=args.port,
                    title=f"edgemon {mode} {folder.name}", public_url=f"http://{host}:{args.port}")
    print(f"serving the dashboard ({mode} {folder}) on http://{host}:{args.port}; Ctrl+C stops serving"
          + ("; the session goes on" if mode == "attach" else ""), flush=True)
    try:
        server.serve()
    except OSError as e:     # lost the race for the port after check_port
        raise UserError(f"cannot listen on {args.host}:{args.port}: {e.strerror or e}") from None
    return 0
