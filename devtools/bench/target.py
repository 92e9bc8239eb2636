"""What ``oms bench`` runs against: the running ``oms dev`` (or the servers the settings
name), checked before anything is measured, and the clients that reach it."""

from __future__ import annotations

import asyncio
import json
import os
import re
from dataclasses import dataclass, field
from urllib.parse import urlparse

import httpx
from temporalio.client import Client

from devtools.bench.preflight import pace_problems, refusal, say
from oms.settings import Settings

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
MAX_ORDERS = 20_000


class BenchError(RuntimeError):
    """Nothing to measure (no running system, not loopback): a message, not a traceback."""


@dataclass
class Plan:
    orders: int = 200
    concurrency: int = 20
    half_orders: int | None = None  # None: as many as ``orders``
    within_s: float = 1800.0

    def check(self) -> None:
        if not 1 <= self.orders <= MAX_ORDERS:
            raise BenchError(f"--orders must be between 1 and {MAX_ORDERS}")
        if not 0 <= (self.half_orders or 0) <= MAX_ORDERS:
            raise BenchError(f"--half-orders must be between 0 and {MAX_ORDERS}")
        if not 1 <= self.concurrency <= min(self.orders, 1000):
            raise BenchError("--concurrency must be between 1 and min(--orders, 1000)")
        if not 1 <= self.within_s <= 86_400:
            raise BenchError("--within must be between 1 and 86400 seconds")


@dataclass
class Target:
    api_url: str
    temporal_address: str
    admin_key: str
    payload_keys: str | None
    pids: dict[str, int | None]
    # The running oms dev's simulator delays and cancel window (its run.json): None when
    # it did not record them; {} for a system named by OMS_API_URL (not known here).
    pace: dict[str, float] | None = None
    # Every process of a role: ``oms dev --api N --workers N`` runs api-1..N and
    # worker-1..N (``pids`` then names only the single-process roles).
    groups: dict[str, list[int]] = field(default_factory=dict)


# The processes oms dev names api-1, api-2, ... or worker-1, ... when it runs several.
_NUMBERED = re.compile(r"^(api|worker)-\d+$")


def role_groups(pids: dict[str, int | None], postgres: int | None) -> dict[str, list[int]]:
    """The run file's processes by role: ``api-2`` is an ``api``, ``worker-1`` a ``worker``;
    the front is a role of its own; PostgreSQL is its postmaster."""
    groups: dict[str, list[int]] = {}
    for name, pid in pids.items():
        if pid:
            numbered = _NUMBERED.match(name)
            groups.setdefault(numbered.group(1) if numbered else name, []).append(pid)
    if postgres:
        groups["postgres"] = [postgres]
    return groups


def find_target(settings: Settings) -> Target:
    """The running ``oms dev`` under ``OMS_HOME``; without one, the servers the settings
    name (``OMS_API_URL``, ``TEMPORAL_ADDRESS``, ``OMS_ADMIN_API_KEY``), without CPU figures."""
    from devtools.dev import read_run_file

    home = settings.home.resolve()
    run = read_run_file(home) or {}
    stored: dict[str, str] = {}
    if run and (home / "secrets.json").exists():
        stored = json.loads((home / "secrets.json").read_text())
    api = run.get("api_url") or settings.api_base_url
    temporal = run.get("temporal_address") or settings.temporal_target
    key = settings.admin_api_key or stored.get("admin_api_key")
    if not run and not settings.api_url:
        raise BenchError(f"no running oms dev found under {home} (start it with make dev)")
    if not key:
        raise BenchError("no admin key: set OMS_ADMIN_API_KEY")
    for where in (urlparse(api).hostname, temporal.rsplit(":", 1)[0].strip("[]")):
        if where not in LOOPBACK:
            raise BenchError(f"{where} is not on loopback; oms bench only runs on this machine")
    pids = dict(run.get("pids") or {})
    return Target(
        api,
        temporal,
        key,
        settings.payload_keys or stored.get("payload_keys"),
        {
            "worker": pids.get("worker"),
            "api": pids.get("api"),
            "temporal": pids.get("temporal"),
            "postgres": run.get("postgres_pid"),
            "sim": pids.get("sim"),
            "bench": os.getpid(),
        },
        run.get("pace") if run else {},
        {**role_groups(pids, run.get("postgres_pid")), "bench": [os.getpid()]},
    )


def require_zero_pace(target: Target) -> None:
    """Refuse to measure a system whose simulators or cancel window make orders wait."""
    if target.pace == {}:
        say("a system not started by oms dev: its simulator delays are not known here")
        return
    problems = pace_problems(target.pace)
    if problems:
        raise BenchError(refusal(problems))


def settings_for(target: Target, settings: Settings) -> Settings:
    return settings.model_copy(
        update={"temporal_address": target.temporal_address, "payload_keys": target.payload_keys}
    )


async def connect_client(target: Target, settings: Settings) -> Client:
    """The bench's Temporal client, with the system's payload keys."""
    from oms.temporal_client import connect

    try:
        return await asyncio.wait_for(connect(settings_for(target, settings)), timeout=15)
    except Exception as exc:  # refused, timed out, a bad payload key: nothing to measure
        reason = str(exc) or type(exc).__name__
        raise BenchError(f"Temporal at {target.temporal_address}: {reason}") from exc


def api_client(target: Target, concurrency: int) -> httpx.AsyncClient:
    """An admin's HTTP client for the API, with room for ``concurrency`` orders in flight."""
    return httpx.AsyncClient(
        base_url=target.api_url,
        headers={"Authorization": f"Bearer {target.admin_key}"},
        timeout=60,
        limits=httpx.Limits(max_connections=max(100, concurrency * 2)),
    )
