"""PgBouncer in transaction mode in front of an embedded PostgreSQL (``pgserver``: a Unix
socket, no TCP), on a loopback port: for the tests and the benchmark of the OMS behind a
pooler (docs/deployment.md, "A connection pooler"). PgBouncer is the system's (Debian's
``pgbouncer`` package), not a wheel."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from devtools.ports import free_port


class PgBouncerMissing(RuntimeError):
    """No pgbouncer executable on this machine."""


@dataclass(frozen=True)
class Bouncer:
    url: str  # postgresql://… through the pooler
    log: Path

    def logins(self) -> int:
        """Client logins PgBouncer has logged so far."""
        return sum("login attempt" in line for line in self.log.read_text().splitlines())


def binary() -> str:
    found = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    if not os.access(found, os.X_OK):
        raise PgBouncerMissing(
            "pgbouncer is not installed (make test installs Debian's when it runs as root "
            "with apt-get: apt-get install pgbouncer)"
        )
    return found


@contextmanager
def running(pg_url: str, pool_size: int, max_clients: int = 200) -> Iterator[Bouncer]:
    """PgBouncer (``pool_mode = transaction``, ``pool_size`` server connections) in front
    of the PostgreSQL at ``pg_url``, a ``postgresql://user@/db?host=SOCKET_DIR`` URL."""
    command = [binary()]
    parts = urlsplit(pg_url)
    socket_dir = parse_qs(parts.query)["host"][0]
    database = parts.path.lstrip("/") or "postgres"
    user = parts.username or "postgres"
    home = Path(tempfile.mkdtemp(prefix="oms-pgbouncer-"))
    port = free_port()
    (home / "pgbouncer.ini").write_text(
        f"""[databases]
{database} = host={socket_dir} dbname={database} user={user}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = any
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = {max_clients}
logfile = {home / "pgbouncer.log"}
pidfile = {home / "pgbouncer.pid"}
"""
    )
    if os.geteuid() == 0:
        # PgBouncer refuses to run as root: it runs as the user PostgreSQL runs as, who
        # can reach the socket's directory.
        os.chmod(home, 0o777)
        command += ["-u", pwd.getpwuid(os.stat(socket_dir).st_uid).pw_name]
    process = subprocess.Popen(
        [*command, str(home / "pgbouncer.ini")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    said = process.stderr.read().decode() if process.stderr else ""
                    raise RuntimeError(f"pgbouncer did not start: {said[-800:]}") from None
                time.sleep(0.05)
        yield Bouncer(f"postgresql://{user}@127.0.0.1:{port}/{database}", home / "pgbouncer.log")
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(home, ignore_errors=True)
