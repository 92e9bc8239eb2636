"""``oms chaos``: orders under load while the system is being broken, then the books.

Against a running ``oms dev`` (it reads ``.oms/run.json``; loopback only), it turns the
simulators' faults on, submits orders and cancels some, SIGKILLs a worker at random
moments, kills the Temporal server once and every PostgreSQL process once (``oms dev``
starts each again), waits for every accepted order to end, and checks.

On the scaled-out shape (``oms dev --api N --workers N``) each worker kill takes ONE worker
process while the others work on, and ``--api-kills`` SIGKILLs one API process at a time
behind ``oms front``. All traffic goes through the API's address (the front then), and a
submission answered 502 or 503, or whose connection dropped, is sent again with the same
body, as a client would: intake is idempotent by (channel, external_id), so a retry of an
order the dead API had already recorded answers that order. The checks:

- every submission is at most one order (a retry never makes a second);

- every accepted order is terminal;
- per order at most one authorization at the gateway, captures at most the order total
  and never without a shipment that left;
- every failed or cancelled order's authorization is voided (at the gateway too);
- per chaos SKU and warehouse: initial on_hand = on_hand now + shipped, and reserved =
  the open reservations;
- the read model and Temporal (``OrderStatus``) agree on every order's status.

It exits 1 on any violation. Bounded: a fixed number of orders over a fixed window.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx

from devtools.chaos_books import (
    check_payments,
    check_stock,
    check_temporal,
    retrying,
    say,
    settle,
    snapshot_stock,
)
from devtools.order_body import order_body
from oms.settings import Settings

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
DEFAULT_FAULTS: dict[str, dict[str, float]] = {
    "gateway": {"error_rate": 0.1, "timeout_rate": 0.03, "timeout_s": 7},
    "wms": {"error_rate": 0.1},
    "carrier": {"error_rate": 0.1, "duplicate_rate": 0.2},
}


class ChaosError(RuntimeError):
    """The run cannot start (no oms dev, not loopback): a message, not a traceback."""


@dataclass
class Plan:
    orders: int = 200
    concurrency: int = 8
    worker_kills: int = 20
    # API SIGKILLs; None: a few when several API processes run behind oms front, else none.
    api_kills: int | None = None
    restart_temporal: bool = True
    restart_postgres: bool = True
    window_s: float = 120.0
    settle_timeout_s: float = 600.0
    cancel_share: float = 0.1
    seed: int | None = None
    faults: dict[str, dict[str, float]] = field(default_factory=lambda: dict(DEFAULT_FAULTS))


@dataclass
class Target:
    home: Path
    api_url: str
    sim_url: str
    database_url: str
    temporal_address: str
    admin_key: str
    pgdata: Path | None

    def run_file(self) -> dict[str, Any]:
        return dict(json.loads((self.home / "run.json").read_text()))


@dataclass
class Tally:
    accepted: list[str] = field(default_factory=list)
    refused: int = 0  # never accepted, after retrying 502s and 503s for a while
    retries: int = 0  # 502s, 503s and dropped connections, each sent again
    cancels_sent: int = 0
    # By process name as run.json has it ("worker", "worker-2", "api-1", ...), and "pg".
    kills: dict[str, int] = field(default_factory=lambda: {"temporal": 0, "pg": 0})
    violations: list[str] = field(default_factory=list)


def find_target(settings: Settings) -> Target:
    from devtools.dev import read_run_file

    home = settings.home.resolve()
    run = read_run_file(home)
    if run is None:
        raise ChaosError(f"no running oms dev found under {home} (start it with make dev)")
    for url in (run["api_url"], run["sim_url"]):
        if urlparse(url).hostname not in LOOPBACK:
            raise ChaosError(f"{url} is not on loopback; oms chaos only runs on this machine")
    key = settings.admin_api_key or json.loads((home / "secrets.json").read_text())["admin_api_key"]
    return Target(
        home,
        run["api_url"],
        run["sim_url"],
        run["database_url"],
        run["temporal_address"],
        key,
        Path(run["pgdata"]) if run.get("pgdata") else None,
    )


# --- load ----------------------------------------------------------------------------


# Answers that say "not now, send it again": the front's 502 (the API process died with the
# request) and any 503 (no API process, or a dependency down).
RETRIED = (502, 503)


async def _post(http: httpx.AsyncClient, tally: Tally, path: str, body: Any) -> httpx.Response:
    """POST, retrying 502s, 503s and dropped connections for up to a minute with the same
    body, as a client would."""
    deadline = time.monotonic() + 60
    while True:
        try:
            response = await http.post(path, json=body)
            if response.status_code not in RETRIED:
                return response
            tally.retries += 1
        except httpx.HTTPError:
            tally.retries += 1
        if time.monotonic() > deadline:
            return httpx.Response(503)
        await asyncio.sleep(1.0)


async def _post_or_put(
    http: httpx.AsyncClient, method: str, path: str, body: Any
) -> httpx.Response:
    """A call that must get through (setting or clearing faults): retried for a minute."""
    for attempt in range(30):
        try:
            return await http.request(method, path, json=body)
        except httpx.HTTPError:
            if attempt == 29:
                raise
            await asyncio.sleep(2)
    raise AssertionError("unreachable")


def _order_body(run: str, n: int, rng: random.Random, skus: list[str]) -> dict[str, Any]:
    token = rng.choice(["tok_ok"] * 8 + ["tok_flaky", "tok_declined"])
    picked = rng.sample(skus, rng.choice([1, 1, 2]))
    lines = [(sku, rng.randint(1, 3), "9.90") for sku in picked]
    # One address per customer: the address-velocity hold rule stays quiet.
    street = f"{n % 17} Test St"
    return order_body("Chaos", f"chaos-{run}-{n}", f"chaos-{n % 17}", street, lines, token)


async def _submit_all(
    http: httpx.AsyncClient, plan: Plan, run: str, skus: list[str], tally: Tally
) -> None:
    rng = random.Random(plan.seed)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(plan.orders):
        queue.put_nowait(n)
    started = time.monotonic()
    spacing = plan.window_s * 0.8 / max(plan.orders, 1)

    async def client() -> None:
        while not queue.empty():
            n = queue.get_nowait()
            await asyncio.sleep(max(0.0, started + n * spacing - time.monotonic()))
            response = await _post(http, tally, "/v1/orders", _order_body(run, n, rng, skus))
            if response.status_code != 202:
                tally.refused += 1
                continue
            order_id = response.json()["id"]
            tally.accepted.append(order_id)
            if rng.random() < plan.cancel_share:
                await asyncio.sleep(rng.uniform(0, 3))
                tally.cancels_sent += 1
                await _post(http, tally, f"/v1/orders/{order_id}/cancel", {"reason": "chaos"})

    await asyncio.gather(*(client() for _ in range(plan.concurrency)))


# --- breaking things -------------------------------------------------------------------


def _kill(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    return True


async def _wait_new_pid(target: Target, name: str, old: int | None, within: float = 60) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        pid = target.run_file()["pids"].get(name)
        if pid and pid != old:
            return
        await asyncio.sleep(0.3)
    say(f"{name} did not come back within {within:g} s")


async def _wait_serving(target: Target, name: str, within: float = 90) -> None:
    """Until API process ``name`` (``api-N``) answers again: the next API kill then takes
    one of several that serve, never the last one standing."""
    urls = target.run_file().get("api_urls") or []
    index = int(name.rsplit("-", 1)[1]) - 1 if name.startswith("api-") else -1
    if not 0 <= index < len(urls):
        return
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(timeout=2) as http:
        while time.monotonic() < deadline:
            try:
                if (await http.get(f"{urls[index]}/health")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.5)
    say(f"{name} did not answer again within {within:g} s")


def roles(pids: dict[str, Any], role: str) -> list[str]:
    """The process names of ``role`` in run.json: ``[role]`` alone, or ``role-1`` ..."""
    return sorted(name for name in pids if name == role or name.startswith(f"{role}-"))


def api_kills(plan: Plan, pids: dict[str, Any]) -> int:
    """The API kills of the run: as asked, else a few when several APIs run behind the
    front (one dying leaves the others serving), else none."""
    if plan.api_kills is not None:
        return plan.api_kills
    return max(2, plan.worker_kills // 4) if len(roles(pids, "api")) > 1 else 0


async def _break_things(target: Target, plan: Plan, tally: Tally) -> None:
    rng = random.Random(None if plan.seed is None else plan.seed + 1)
    pids = target.run_file()["pids"]
    events = [(rng.uniform(1, plan.window_s), "worker") for _ in range(plan.worker_kills)]
    events += [(rng.uniform(1, plan.window_s), "api") for _ in range(api_kills(plan, pids))]
    if plan.restart_temporal:
        events.append((plan.window_s * 0.35, "temporal"))
    if plan.restart_postgres and target.pgdata is not None:
        events.append((plan.window_s * 0.7, "pg"))
    started = time.monotonic()
    for at, what in sorted(events):
        await asyncio.sleep(max(0.0, started + at - time.monotonic()))
        if what == "pg":
            from devtools.embedded_pg import server_processes

            assert target.pgdata is not None
            killed = [p.pid for p in server_processes(target.pgdata) if _kill(p.pid)]
            if killed:
                tally.kills["pg"] += 1
                say(f"killed PostgreSQL ({len(killed)} processes)")
            continue
        # One process of the role: the others (several workers, several APIs) carry on.
        name = rng.choice(roles(pids, what))
        pid = target.run_file()["pids"].get(name)
        if _kill(pid):
            tally.kills[name] = tally.kills.get(name, 0) + 1
            say(f"killed {name} (pid {pid})")
            await _wait_new_pid(target, name, pid)
            if what == "api":
                await _wait_serving(target, name)


# --- the run ---------------------------------------------------------------------------


async def _setup(http: httpx.AsyncClient, run: str, orders: int) -> list[str]:
    """Two warehouses and three SKUs of this run's own, so other traffic cannot blur the
    stock books. An order asks for about 2.7 units; the stock covers about three orders in
    four, so some orders split across the warehouses and some fail for lack of stock."""
    stock = {
        "A": (orders * 6 // 10, orders * 3 // 10),
        "B": (orders // 2, 0),
        "C": (0, orders * 4 // 10),
    }
    warehouses = [f"chaos-{run}-1", f"chaos-{run}-2"]
    for priority, wid in enumerate(warehouses, start=1):
        answer = await http.post(
            "/v1/warehouses",
            json={
                "id": wid,
                "name": wid,
                "country": "DE",
                "lat": 52.5,
                "lon": 13.4,
                "priority": priority,
            },
        )
        answer.raise_for_status()
    skus = []
    for name, levels in stock.items():
        sku = f"CHAOS-{run}-{name}"
        skus.append(sku)
        for wid, on_hand in zip(warehouses, levels, strict=True):
            answer = await http.put(f"/v1/stock/{wid}/{sku}", json={"on_hand": on_hand})
            answer.raise_for_status()
    return skus


async def run_chaos(target: Target, plan: Plan) -> int:
    from oms.db.engine import make_engine

    run = hashlib.sha256(os.urandom(8)).hexdigest()[:6]
    tally = Tally()
    engine = make_engine(
        Settings(database_url=target.database_url, admin_api_key=None), pool_size=2
    )
    headers = {"Authorization": f"Bearer {target.admin_key}"}
    sim = httpx.AsyncClient(base_url=target.sim_url, headers=headers, timeout=10)
    http = httpx.AsyncClient(base_url=target.api_url, headers=headers, timeout=15)
    started = time.monotonic()
    try:
        skus = await _setup(http, run, plan.orders)
        initial = await snapshot_stock(engine, skus)
        before = (await sim.get("/sim/faults")).json()
        (await _post_or_put(sim, "PUT", "/sim/faults", plan.faults)).raise_for_status()
        say(
            f"run {run}: {plan.orders} orders over {plan.window_s:g} s, "
            f"{plan.worker_kills} worker kills, "
            f"{api_kills(plan, target.run_file()['pids'])} API kills, "
            f"faults {json.dumps(plan.faults)}"
        )
        try:
            await asyncio.gather(
                _submit_all(http, plan, run, skus, tally), _break_things(target, plan, tally)
            )
        finally:
            await _post_or_put(sim, "PUT", "/sim/faults", _cleared(before))
        say(f"{len(tally.accepted)} orders accepted; faults off; waiting for every one to end")
        # A submission whose answer was lost with its API process is an order all the same:
        # every order of the run is followed and checked, not only those answered 202.
        tally.violations += await check_once(engine, run, tally)
        stuck = await settle(engine, tally.accepted, plan.settle_timeout_s)
        tally.violations += [f"{r.id}: still {r.status}" for r in stuck]
        tally.violations += await check_payments(engine, tally.accepted)
        tally.violations += await check_stock(engine, skus, initial)
        tally.violations += await check_temporal(target.temporal_address, engine, tally.accepted)
        statuses = await retrying(
            engine,
            "SELECT COALESCE(failure_reason, status) AS status, count(*) AS n FROM orders "
            "WHERE id = ANY(:ids) GROUP BY 1",
            {"ids": tally.accepted},
        )
    finally:
        await http.aclose()
        await sim.aclose()
        await engine.dispose()
    _report(tally, {r.status: r.n for r in statuses}, time.monotonic() - started)
    return 1 if tally.violations else 0


async def check_once(engine: Any, run: str, tally: Tally) -> list[str]:
    """Every submission is at most one order, and every order answered 202 is one of the
    run's; the run's orders whose 202 never arrived join the ones followed."""
    rows = await retrying(
        engine,
        "SELECT id, external_id FROM orders WHERE channel = 'chaos' AND external_id LIKE :run",
        {"run": f"chaos-{run}-%"},
    )
    problems = []
    per_submission: dict[str, list[str]] = {}
    for row in rows:
        per_submission.setdefault(row.external_id, []).append(row.id)
    problems += [
        f"{external_id}: {len(ids)} orders"
        for external_id, ids in per_submission.items()
        if len(ids) > 1
    ]
    if len(set(tally.accepted)) != len(tally.accepted):
        problems.append("one order id answered for two submissions")
    found = {row.id for row in rows}
    problems += [f"{i}: accepted but not recorded" for i in tally.accepted if i not in found]
    unanswered = sorted(found - set(tally.accepted))
    if unanswered:
        say(f"{len(unanswered)} orders were recorded though their answer was lost; followed too")
        tally.accepted += unanswered
    return problems


def _cleared(before: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The faults as they were before the run, with any outage cleared."""
    cleared: dict[str, dict[str, Any]] = {}
    for partner, faults in before.items():
        kept = {k: v for k, v in faults.items() if k != "outage_until"}
        cleared[partner] = {**kept, "outage_s": 0}
    return cleared


def _kills_of(tally: Tally, role: str) -> int:
    return sum(n for name, n in tally.kills.items() if name in roles(tally.kills, role))


def _report(tally: Tally, statuses: dict[str, int], elapsed: float) -> None:
    lines = [
        "",
        f"orders accepted        {len(tally.accepted)}",
        f"orders refused         {tally.refused}",
        f"502/503s retried       {tally.retries}",
        f"cancels sent           {tally.cancels_sent}",
        "outcomes               " + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())),
        f"worker kills           {_kills_of(tally, 'worker')}",
        f"API kills              {_kills_of(tally, 'api')}",
        "kills by process       "
        + (", ".join(f"{k} {v}" for k, v in sorted(tally.kills.items()) if v) or "none"),
        f"Temporal restarts      {tally.kills['temporal']}",
        f"PostgreSQL restarts    {tally.kills['pg']}",
        f"elapsed                {elapsed:.0f} s",
        f"violations             {len(tally.violations)}",
    ]
    lines += [f"  - {v}" for v in tally.violations[:50]]
    print("\n".join(lines), flush=True)
