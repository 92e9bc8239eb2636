"""Port checks: a port already in use is a clear message, never a traceback."""

from __future__ import annotations

import random
import socket
import sys


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def require_free(host: str, port: int, what: str, variable: str) -> None:
    if port_in_use(host, port):
        sys.stderr.write(
            f"error: port {port} on {host} ({what}) is already in use.\n"
            f"Stop whatever is listening there, or choose another port with {variable}=<port>.\n"
        )
        sys.stderr.flush()
        raise SystemExit(2)


_EPHEMERAL_FILE = "/proc/sys/net/ipv4/ip_local_port_range"
_handed_out: set[int] = set()


def _ephemeral_range() -> tuple[int, int]:
    """The range the kernel draws outgoing connections' local ports from."""
    try:
        with open(_EPHEMERAL_FILE) as handle:
            low, high = (int(part) for part in handle.read().split())
            return low, high
    except (OSError, ValueError):
        return 32768, 60999


def free_port(host: str = "127.0.0.1", low: int = 20000) -> int:
    """A port free to listen on now, chosen below the kernel's ephemeral range.

    A port the kernel hands out with ``bind(0)`` lies inside that range, so any outgoing
    connection on the machine may take it as its local port before the caller listens on
    it, or between a stop and a restart on the same port. Below the range only a listener
    can take it. Each port is handed out once per process."""
    first, _ = _ephemeral_range()
    high = first - 1 if first - 1 > low else 0
    if high:
        for _ in range(200):
            port = random.randint(low, high)
            if port in _handed_out or port_in_use(host, port):
                continue
            _handed_out.add(port)
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port = int(sock.getsockname()[1])
    _handed_out.add(port)
    return port
