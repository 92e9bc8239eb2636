"""Port checks: a port already in use is a clear message, never a traceback."""

from __future__ import annotations

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
