"""Where the exporter listens (``--prometheus [HOST:]PORT``) and whether prometheus_client is there.

Binding: ``PORT`` alone listens on 127.0.0.1 only. The endpoint has no authentication and
names the host, board and model, so exposing it to the network is an explicit choice:
``--prometheus 0.0.0.0:9400`` (or ``:9400``, the exporters' convention for "all interfaces",
or one interface's address).

Imports only the standard library: the CLI checks the option in the user's terminal before a
detached session starts.
"""

from __future__ import annotations

import errno
import re
import socket

from edgemon.errors import UserError

DEFAULT_HOST = "127.0.0.1"
ALL_INTERFACES = "0.0.0.0"
def _install() -> str:
    from edgemon.install_hint import install_hint

    return install_hint("prometheus")


def parse_listen_address(text: str) -> tuple[str, int]:
    """``"9400"`` -> (127.0.0.1, 9400); ``":9400"`` -> (0.0.0.0, 9400); ``"HOST:PORT"``, ``"[::1]:9400"``.

    UserError (one line) for anything else. Port 0 asks the kernel for a free port.
    """
    raw = str(text).strip()
    host, port_text = DEFAULT_HOST, raw
    if raw.startswith("["):                       # [IPv6]:PORT
        end = raw.find("]")
        if end < 0 or raw[end + 1:end + 2] != ":":
            raise _bad_address(raw)
        host, port_text = raw[1:end], raw[end + 2:]
    elif ":" in raw:
        host, _, port_text = raw.rpartition(":")
        if ":" in host:
            raise UserError(f"--prometheus: write an IPv6 address in brackets, e.g. [{host}]:{port_text}")
        host = host or ALL_INTERFACES
    if not port_text.isdigit() or not host or any(c.isspace() for c in host):
        raise _bad_address(raw)
    port = int(port_text)
    if port > 65535:
        raise UserError(f"--prometheus: port {port} is out of range; pick one from 1024 to 65535, e.g. 9400")
    return host, port


def _bad_address(raw: str) -> UserError:
    return UserError(f"--prometheus expects PORT or HOST:PORT (e.g. 9400 or 0.0.0.0:9400), got {raw!r}")


MIN_CLIENT = (0, 20)   # start_http_server returns (server, thread) from 0.20: needed to stop serving


def require_prometheus_client() -> None:
    """UserError with the install hint when the optional dependency is missing or too old."""
    try:
        import prometheus_client  # noqa: F401 - imported only to see whether it is installed
    except ImportError:
        raise UserError(f"--prometheus needs prometheus_client: {_install()}") from None
    try:
        from importlib.metadata import version

        found = tuple(int(p) for p in re.findall(r"\d+", version("prometheus_client"))[:2])
    except Exception:  # noqa: BLE001 - no metadata (vendored copy): trust it
        return
    if found < MIN_CLIENT:
        raise UserError(f"--prometheus needs prometheus_client {MIN_CLIENT[0]}.{MIN_CLIENT[1]} or newer "
                        f"(found {'.'.join(map(str, found))}): {_install()} -U")


def bind_error(exc: OSError, host: str, port: int) -> UserError:
    where = f"{host}:{port}"
    if isinstance(exc, socket.gaierror):
        return UserError(f"--prometheus: cannot resolve {host!r}; give an IP address such as 0.0.0.0")
    if exc.errno == errno.EADDRINUSE:
        return UserError(f"--prometheus: port {port} on {host} is already in use; pick another port "
                         f"(e.g. --prometheus {port + 1}) or stop what listens there")
    if exc.errno == errno.EACCES:
        return UserError(f"--prometheus: not allowed to listen on {where}; use a port above 1023")
    if exc.errno == errno.EADDRNOTAVAIL:
        return UserError(f"--prometheus: {host} is not an address of this machine; "
                         "use 127.0.0.1, 0.0.0.0 or one of its interface addresses")
    return UserError(f"--prometheus: cannot listen on {where}: {exc.strerror or exc}")
