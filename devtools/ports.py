"""Free ports for the tests and the developer tools: below the ephemeral range, once each."""

from __future__ import annotations

import random
import socket

from oms.ports import port_in_use

_EPHEMERAL_FILE = "/proc/sys/net/ipv4/ip_local_port_range"
_handed_out: set[int] = set()


def ephemeral_floor() -> int:
    """The lowest port the kernel gives outgoing connections as their local port."""
    try:
        with open(_EPHEMERAL_FILE) as handle:
            return int(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port(host: str = "127.0.0.1", low: int = 20000) -> int:
    """A port free to listen on now, chosen below the kernel's ephemeral range.

    A port the kernel hands out with ``bind(0)`` lies inside that range, so any outgoing
    connection on the machine may take it as its local port before the caller listens on
    it, or between a stop and a restart on the same port. Below the range only a listener
    can take it. Each port is handed out once per process; ``bind(0)`` is the fallback on
    a machine whose range leaves no room below it."""
    high = ephemeral_floor() - 1
    for _ in range(200 if high > low else 0):
        port = random.randint(low, high)
        if port not in _handed_out and not port_in_use(host, port):
            _handed_out.add(port)
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port = int(sock.getsockname()[1])
    _handed_out.add(port)
    return port
