"""``oms bench --channels-push``: orders pushed by the marketplace simulator as signed
Shopify and WooCommerce webhooks, with duplicates and forged copies among them, and what the
OMS made of them.

Against a running ``oms dev`` started for a benchmark (the simulators' delays and the
cancel window at zero, as for ``oms bench``: the orders are followed to ``delivered``), it

1. adds a Shopify and a WooCommerce push channel of its own (fresh names and secrets,
   through ``/v1/channels`` with the admin key), a warehouse and SKUs of its own, stocked
   for every order;
2. registers the simulator's push targets for them (``POST /sim/market/push-targets``, the
   OMS's ``/v1/channels/<name>/webhooks``) with the duplicate and bad-signature ratios;
3. has the simulator make N paid orders, half on each platform, in batches every second at
   ``--rate`` orders/s, so the pusher works as it would through a day, not on a backlog;
4. waits until the pusher's queues are empty and every order is in the OMS, then until
   every order has ended (an order held by a hold rule, such as a new customer's high
   value, is approved as an operator would);
5. reads the simulator's counts and the OMS's database, and checks: each order once per
   channel, every forged copy answered 401 and none let in, no delivery refused or given
   up, every order delivered with one ``platform`` ledger row, stock down by exactly the
   units delivered and nothing left reserved.

Push-to-order latency is the order's ``created_at`` in the OMS less the moment the bench
asked the simulator for its batch (the simulator makes the order and queues its webhooks
within that request), so it includes the pusher's queue. Exit 1 on any violation.

The pieces the pull bench shares (the target with the simulator and the database, the
stocked warehouse, the SQL reads) are here too; the arithmetic is in pure functions.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import uuid
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlparse

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from devtools.bench.figures import percentile
from devtools.bench.preflight import say
from devtools.bench.target import (
    LOOPBACK,
    BenchError,
    Target,
    find_target,
    require_zero_pace,
)
from oms.settings import Settings

MAX_CHANNEL_ORDERS = 20_000
PUSH_PLATFORMS = ("shopify", "woocommerce")
TERMINAL = ("delivered", "cancelled", "failed", "shadowed")
SKUS_PER_RUN = 4  # the simulator picks one to four of them for each order
MAX_UNITS_A_LINE = 3  # the simulator's largest quantity on a line


# --- pure arithmetic ---------------------------------------------------------------------


def split_evenly(total: int, parts: int) -> list[int]:
    """``total`` shared over ``parts`` as evenly as whole numbers allow, the larger first."""
    if parts <= 0:
        return []
    base, extra = divmod(total, parts)
    return [base + (1 if n < extra else 0) for n in range(parts)]


def round_robin(start: int, count: int, parts: int) -> list[int]:
    """Orders ``start`` to ``start + count - 1`` dealt to ``parts`` platforms in turn (order
    k to platform k mod parts): how many each gets. Dealt so, second after second, every
    platform gets its share and none runs on alone at the end."""
    if parts <= 0 or count <= 0:
        return [0] * max(parts, 0)
    return [len(range(start + (i - start) % parts, start + count, parts)) for i in range(parts)]


def batch_sizes(total: int, per_batch: int) -> list[int]:
    """``total`` in batches of ``per_batch`` (the last one smaller); none for nothing."""
    per_batch = max(1, per_batch)
    full, rest = divmod(max(0, total), per_batch)
    return [per_batch] * full + ([rest] if rest else [])


def seconds_figures(values: Sequence[float]) -> dict[str, float | int | None]:
    """p50, p99 and max in seconds (two decimals), and how many samples."""
    p50, p99 = percentile(values, 50), percentile(values, 99)
    return {
        "p50": None if p50 is None else round(p50, 2),
        "p99": None if p99 is None else round(p99, 2),
        "max": round(max(values), 2) if values else None,
        "n": len(values),
    }


def lags_s(made_at: Mapping[str, float], taken_at: Mapping[str, float]) -> list[float]:
    """For each order in both maps (external id to a UNIX time): taken less made."""
    return [taken_at[key] - made_at[key] for key in made_at if key in taken_at]


def intake_problems(channel: str, expected: Iterable[str], found: Sequence[str]) -> list[str]:
    """Every expected external id is among the channel's orders, each once, and nothing else."""
    wanted = set(expected)
    seen = set(found)
    problems = []
    missing = wanted - seen
    if missing:
        problems.append(
            f"{channel}: {len(missing)} of {len(wanted)} orders not in the OMS "
            f"(e.g. {sorted(missing)[:3]})"
        )
    if len(found) != len(seen):
        problems.append(f"{channel}: {len(found) - len(seen)} external ids taken more than once")
    extra = seen - wanted
    if extra:
        problems.append(f"{channel}: {len(extra)} orders the simulator did not make")
    return problems


def push_problems(name: str, counts: Mapping[str, int]) -> list[str]:
    """A push target's counts: every forged copy answered 401 and none let in; no genuine
    delivery refused or given up; nothing still queued."""
    problems = []
    forged = counts.get("bad_signatures", 0)
    rejected = counts.get("bad_signatures_rejected", 0)
    if rejected != forged:
        problems.append(f"{name}: {rejected} of {forged} forged webhooks answered 401")
    for key in ("bad_signatures_let_in", "refused", "gave_up", "errors"):
        if counts.get(key, 0):
            problems.append(f"{name}: {counts[key]} {key.replace('_', ' ')}")
    return problems


def answers_by_status(counts: Mapping[str, int]) -> dict[str, Any]:
    """The final answers the pusher got, as 202, 200, 401 and other (``answered_<code>``)."""
    found = {
        key.removeprefix("answered_"): n for key, n in counts.items() if key.startswith("answered_")
    }
    named: dict[str, Any] = {code: found.pop(code, 0) for code in ("202", "200", "401")}
    return {**named, "other": sum(found.values()), "other_by_status": found}


def ledger_problems(order_ids: Iterable[str], platform_rows: Mapping[str, int]) -> list[str]:
    """One ``platform`` ledger row per order."""
    problems = []
    for order_id in order_ids:
        rows = platform_rows.get(order_id, 0)
        if rows != 1:
            problems.append(f"{order_id}: {rows} platform ledger rows, not 1")
    return problems


def stock_balance(
    initial: Mapping[str, int], levels: Mapping[str, tuple[int, int]], delivered: Mapping[str, int]
) -> list[str]:
    """Per SKU: on_hand down by exactly the units delivered, nothing reserved."""
    problems = []
    for sku, start in initial.items():
        if sku not in levels:
            problems.append(f"{sku}: no stock row")
            continue
        on_hand, reserved = levels[sku]
        if on_hand != start - delivered.get(sku, 0):
            problems.append(
                f"{sku}: on_hand {on_hand}, expected {start} - {delivered.get(sku, 0)} delivered"
            )
        if reserved:
            problems.append(f"{sku}: {reserved} still reserved")
    return problems


def delivered_units(views: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Units per SKU over the delivered orders' lines."""
    units: dict[str, int] = {}
    for view in views:
        if view.get("status") != "delivered":
            continue
        for line in view.get("lines", []):
            units[line["sku"]] = units.get(line["sku"], 0) + int(line["quantity"])
    return units


# --- what it runs against ----------------------------------------------------------------


@dataclass
class ChannelTarget:
    """The running system with what the channel benches need beyond ``Target``."""

    base: Target
    sim_url: str
    database_url: str
    market: dict[str, float] | None  # the simulator's market settings, from run.json


def find_channel_target(settings: Settings) -> ChannelTarget:
    from devtools.dev import read_run_file

    base = find_target(settings)
    run = read_run_file(settings.home.resolve())
    if not run:
        raise BenchError("the channel benches need a running oms dev (start it with make dev)")
    if urlparse(run["sim_url"]).hostname not in LOOPBACK:
        raise BenchError(f"{run['sim_url']} is not on loopback; oms bench only runs here")
    return ChannelTarget(base, run["sim_url"], run["database_url"], run.get("market"))


def engine_for(target: ChannelTarget) -> AsyncEngine:
    from oms.db.engine import make_engine

    return make_engine(Settings(database_url=target.database_url, admin_api_key=None), pool_size=2)


def admin_client(url: str, key: str, connections: int = 20) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=url,
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
        limits=httpx.Limits(max_connections=connections),
    )


async def checked(answer: Awaitable[httpx.Response], what: str) -> dict[str, Any]:
    """The answer's JSON body, or a ``BenchError`` saying what was refused."""
    response = await answer
    if response.status_code >= 300:
        raise BenchError(f"{what}: {response.status_code} {response.text[:300]}")
    body = response.json()
    return body if isinstance(body, dict) else {"items": body}


@dataclass
class Stockroom:
    """The bench's own warehouse and SKUs, stocked for every order, so other traffic
    cannot blur the books."""

    run: str
    warehouse: str = ""
    skus: list[str] = field(default_factory=list)
    initial: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.warehouse = f"bench-ch-{self.run}"
        self.skus = [f"CH-{self.run}-{n}" for n in range(1, SKUS_PER_RUN + 1)]

    async def open(self, http: httpx.AsyncClient, orders: int) -> None:
        place: dict[str, Any] = {"id": self.warehouse, "name": "Bench", "country": "DE"}
        place |= {"lat": 52.5, "lon": 13.4, "priority": 1}
        await checked(http.post("/v1/warehouses", json=place), "adding the warehouse")
        units = orders * MAX_UNITS_A_LINE
        for sku in self.skus:
            path = f"/v1/stock/{self.warehouse}/{sku}"
            await checked(http.put(path, json={"on_hand": units}), f"stocking {sku}")
            self.initial[sku] = units


# --- the database ------------------------------------------------------------------------


async def rows(engine: AsyncEngine, sql: str, **params: Any) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(text(sql), params)).all())


async def channel_orders(engine: AsyncEngine, channels: list[str]) -> list[Any]:
    """(channel, external_id, id, status, created_at) of the channels' orders."""
    return await rows(
        engine,
        "SELECT channel, external_id, id, status, created_at FROM orders "
        "WHERE channel = ANY(:channels)",
        channels=channels,
    )


async def count_by_channel(engine: AsyncEngine, channels: list[str]) -> dict[str, int]:
    found = await rows(
        engine,
        "SELECT channel, count(*) FROM orders WHERE channel = ANY(:channels) GROUP BY channel",
        channels=channels,
    )
    return {channel: int(n) for channel, n in found}


async def status_counts(engine: AsyncEngine, channels: list[str]) -> dict[str, int]:
    found = await rows(
        engine,
        "SELECT status, count(*) FROM orders WHERE channel = ANY(:channels) GROUP BY status",
        channels=channels,
    )
    return {status: int(n) for status, n in found}


async def platform_rows(engine: AsyncEngine, order_ids: list[str]) -> dict[str, int]:
    """Settled ``platform`` ledger rows per order."""
    found = await rows(
        engine,
        "SELECT order_id, count(*) FROM payments WHERE kind = 'platform' "
        "AND status <> 'failed' AND order_id = ANY(:ids) GROUP BY order_id",
        ids=order_ids,
    )
    return {order_id: int(n) for order_id, n in found}


async def received_events(engine: AsyncEngine, order_ids: list[str]) -> dict[str, int]:
    """``order_received`` timeline entries per order."""
    found = await rows(
        engine,
        "SELECT order_id, count(*) FROM order_events WHERE type = 'order_received' "
        "AND order_id = ANY(:ids) GROUP BY order_id",
        ids=order_ids,
    )
    return {order_id: int(n) for order_id, n in found}


async def order_views(engine: AsyncEngine, order_ids: list[str]) -> list[dict[str, Any]]:
    found = await rows(engine, "SELECT view FROM orders WHERE id = ANY(:ids)", ids=order_ids)
    return [dict(view) for (view,) in found]


async def stock_levels(engine: AsyncEngine, warehouse: str) -> dict[str, tuple[int, int]]:
    found = await rows(
        engine,
        "SELECT sku, on_hand, reserved FROM stock WHERE warehouse_id = :w",
        w=warehouse,
    )
    return {sku: (int(on_hand), int(reserved)) for sku, on_hand, reserved in found}


def unix(moment: datetime) -> float:
    return moment.timestamp()


# --- the simulator -----------------------------------------------------------------------


async def make_orders(
    sim: httpx.AsyncClient, platform: str, count: int, skus: list[str], seed: int
) -> tuple[float, list[str]]:
    """``count`` paid orders on ``platform``; the time asked (UNIX) and their ids."""
    asked = time.time()
    body = {
        "platform": platform,
        "count": count,
        "seed": seed,
        "skus": skus,
        "paid_ratio": 1.0,
        "unpaid_then_paid_ratio": 0.0,
        "closed_ratio": 0.0,
        "refund_ratio": 0.0,
    }
    made = await checked(sim.post("/sim/market/orders", json=body), f"{platform} orders")
    return asked, [str(i) for i in made["ids"]]


async def paced_batches(
    sim: httpx.AsyncClient,
    platforms: Sequence[str],
    total: int,
    rate: float,
    skus: list[str],
    seed: int,
    deadline: float,
    made_at: dict[str, dict[str, float]],
) -> None:
    """``total`` orders over ``platforms`` in turn, one batch a second at ``rate`` orders/s;
    ``made_at[platform][id]`` = when the batch was asked for."""
    per_second = max(1, round(rate))
    started = time.monotonic()
    made = tick = 0
    while made < total:
        if time.monotonic() > deadline:
            say("the time is up before every order was made")
            return
        await asyncio.sleep(max(0.0, started + tick - time.monotonic()))
        count = min(per_second, total - made)
        for platform, share in zip(
            platforms, round_robin(made, count, len(platforms)), strict=True
        ):
            if share <= 0:
                continue
            asked, ids = await make_orders(sim, platform, share, skus, seed + tick)
            made_at.setdefault(platform, {}).update(dict.fromkeys(ids, asked))
        made += count
        tick += 1
        if tick % 10 == 0:
            say(f"made {made}/{total} orders in {time.monotonic() - started:.0f} s")


# --- the run -----------------------------------------------------------------------------


@dataclass
class PushPlan:
    orders: int = 1000
    duplicate_ratio: float = 0.1
    bad_signature_ratio: float = 0.01
    rate: float = 10.0
    within_s: float = 1800.0

    def check(self) -> None:
        if not 2 <= self.orders <= MAX_CHANNEL_ORDERS:
            raise BenchError(f"--orders must be between 2 and {MAX_CHANNEL_ORDERS}")
        for name, ratio in (
            ("--duplicate-ratio", self.duplicate_ratio),
            ("--bad-signature-ratio", self.bad_signature_ratio),
        ):
            if not 0 <= ratio <= 1:
                raise BenchError(f"{name} must be between 0 and 1")
        if not 0.5 <= self.rate <= 1000:
            raise BenchError("--rate must be between 0.5 and 1000 orders/s")
        if not 1 <= self.within_s <= 86_400:
            raise BenchError("--within must be between 1 and 86400 seconds")


async def _add_push_channel(
    http: httpx.AsyncClient,
    sim: httpx.AsyncClient,
    target: ChannelTarget,
    platform: str,
    run: str,
    plan: PushPlan,
) -> str:
    name = f"bench-{platform[:4]}-{run}"
    secret = secrets.token_urlsafe(24)
    # The platform's API, for the report back when an order ships (its fulfilment).
    credentials = {"base_url": f"{target.sim_url}/{platform}"}
    if platform == "shopify":
        credentials["access_token"] = f"shpat_bench_{run}"
    else:
        credentials |= {"app_key": f"ck_bench_{run}", "app_secret": f"cs_bench_{run}"}
    body: dict[str, Any] = {"name": name, "platform": platform, "intake": "push"}
    body |= {"mode": "live", "secret": secret, "credentials": credentials}
    await checked(http.post("/v1/channels", json=body), f"adding channel {name}")
    hook = {
        "platform": platform,
        "url": f"{target.base.api_url}/v1/channels/{name}/webhooks",
        "secret": secret,
        "channel": name,
        "duplicate_ratio": plan.duplicate_ratio,
        "bad_signature_ratio": plan.bad_signature_ratio,
    }
    await checked(sim.post("/sim/market/push-targets", json=hook), f"push target for {name}")
    return name


DEMO_PREFIX = "demo-"


async def clear_push_targets(sim: httpx.AsyncClient, platforms: Iterable[str]) -> None:
    """The simulator pushes every order of a platform to each of its targets: a target left
    by an earlier run (``bench-*``) or made by ``oms dev`` for its demo channels
    (``demo-*``) is removed; any other one is refused, since its channel would take this
    run's orders and their stock too."""
    listed = await checked(sim.get("/sim/market/push-targets"), "reading the push targets")
    others = []
    for t in listed["targets"]:
        if t["platform"] not in platforms:
            continue
        if str(t["channel"]).startswith("bench-"):
            await sim.delete(f"/sim/market/push-targets/{t['id']}")
            say(f"removed the push target of an earlier run ({t['channel']})")
        elif str(t["channel"]).startswith(DEMO_PREFIX):
            # oms dev's demo channels (devtools.dev_channels): their pushes stop for the
            # run; oms dev points the simulator at them again at its next start.
            await sim.delete(f"/sim/market/push-targets/{t['id']}")
            say(f"paused the demo channel {t['channel']}'s pushes (oms dev restores them)")
        else:
            others.append(f"{t['id']} ({t['platform']} to {t['channel']})")
    if others:
        raise BenchError(
            "the simulator pushes to other targets as well, which would take this run's "
            "orders: " + ", ".join(others) + " (DELETE /sim/market/push-targets/<id>)"
        )


async def close_channels(
    http: httpx.AsyncClient, sim: httpx.AsyncClient, channels: Iterable[str]
) -> None:
    """At the end: the run's push targets removed and its channels disabled (a disabled
    pull channel is no longer pulled); what fails is said, not raised."""
    names = set(channels)
    try:
        listed = (await sim.get("/sim/market/push-targets")).json()["targets"]
        for t in listed:
            if t["channel"] in names:
                await sim.delete(f"/sim/market/push-targets/{t['id']}")
        for name in names:
            await http.delete(f"/v1/channels/{name}")
    except (httpx.HTTPError, KeyError, ValueError) as exc:
        say(f"could not tidy up the run's channels: {exc!r}")


async def _targets(sim: httpx.AsyncClient, channels: Iterable[str]) -> dict[str, dict[str, Any]]:
    listed = await checked(sim.get("/sim/market/push-targets"), "reading the push targets")
    wanted = set(channels)
    return {t["channel"]: t for t in listed["targets"] if t["channel"] in wanted}


async def _until_taken(
    engine: AsyncEngine,
    sim: httpx.AsyncClient,
    expected: Mapping[str, int],
    deadline: float,
) -> None:
    """Until every push target's queue is empty and each channel has its orders."""
    last = 0.0
    while time.monotonic() < deadline:
        counts = await count_by_channel(engine, list(expected))
        queued = sum(t["queued"] for t in (await _targets(sim, expected)).values())
        if queued == 0 and all(counts.get(c, 0) >= n for c, n in expected.items()):
            return
        if time.monotonic() - last > 5:
            say(f"in the OMS {sum(counts.values())}/{sum(expected.values())}, queued {queued}")
            last = time.monotonic()
        await asyncio.sleep(1)
    say("the time is up before every order was taken")


async def until_ended(
    engine: AsyncEngine,
    http: httpx.AsyncClient,
    channels: list[str],
    deadline: float,
    approved: set[str],
) -> dict[str, int]:
    """Until every order of the channels has ended; an order held is approved, as an
    operator would (``approved`` collects them). The statuses at the end."""
    last = 0.0
    while True:
        statuses = await status_counts(engine, channels)
        open_ = {s: n for s, n in statuses.items() if s not in TERMINAL}
        if not open_ or time.monotonic() > deadline:
            return statuses
        if open_.get("on_hold"):
            held = await rows(
                engine,
                "SELECT id FROM orders WHERE channel = ANY(:c) AND status = 'on_hold'",
                c=channels,
            )
            for (order_id,) in held:
                if order_id in approved:
                    continue
                answer = await http.post(
                    f"/v1/orders/{order_id}/approve",
                    json={"reason": "bench", "note": "approved by oms bench"},
                )
                if answer.status_code in (200, 202):
                    approved.add(order_id)
        if time.monotonic() - last > 5:
            say(f"waiting for orders to end: {json.dumps(open_)}")
            last = time.monotonic()
        await asyncio.sleep(2)


async def run_channels_push(target: ChannelTarget, plan: PushPlan) -> dict[str, Any]:
    require_zero_pace(target.base)
    deadline = time.monotonic() + plan.within_s
    run = uuid.uuid4().hex[:6]
    engine = engine_for(target)
    key = target.base.admin_key
    started = time.perf_counter()
    try:
        async with (
            admin_client(target.base.api_url, key) as http,
            admin_client(target.sim_url, key) as sim,
        ):
            await clear_push_targets(sim, PUSH_PLATFORMS)
            room = Stockroom(run)
            await room.open(http, plan.orders)
            channels = {}
            try:
                for p in PUSH_PLATFORMS:
                    channels[p] = await _add_push_channel(http, sim, target, p, run, plan)
                found, report_parts = await _measure_push(
                    engine, http, sim, target, plan, run, room, channels, deadline, started
                )
            finally:
                await close_channels(http, sim, channels.values())
    finally:
        await engine.dispose()
    return push_report(run, plan, channels, found, room.initial, **report_parts)


async def _measure_push(
    engine: AsyncEngine,
    http: httpx.AsyncClient,
    sim: httpx.AsyncClient,
    target: ChannelTarget,
    plan: PushPlan,
    run: str,
    room: Stockroom,
    channels: dict[str, str],
    deadline: float,
    started: float,
) -> tuple[list[Any], dict[str, Any]]:
    say(f"channels {', '.join(channels.values())}; {plan.orders} orders at {plan.rate:g}/s")
    made_at: dict[str, dict[str, float]] = {}
    seed = int(run, 16)
    await paced_batches(
        sim, PUSH_PLATFORMS, plan.orders, plan.rate, room.skus, seed, deadline, made_at
    )
    made_s = time.perf_counter() - started
    expected = {channels[p]: len(made_at.get(p, {})) for p in PUSH_PLATFORMS}
    await _until_taken(engine, sim, expected, deadline)
    taken_s = time.perf_counter() - started
    found = await channel_orders(engine, list(channels.values()))
    say("waiting for every order to be delivered")
    approved: set[str] = set()
    statuses = await until_ended(engine, http, list(channels.values()), deadline, approved)
    ended_s = time.perf_counter() - started
    await asyncio.sleep(2)  # the last fulfilment webhooks
    ids = [r.id for r in found]
    return found, {
        "made_at": made_at,
        "targets": await _targets(sim, channels.values()),
        "statuses": statuses,
        "approved": approved,
        "ledger": await platform_rows(engine, ids),
        "views": await order_views(engine, ids),
        "levels": await stock_levels(engine, room.warehouse),
        "times": {"made": made_s, "taken": taken_s, "ended": ended_s},
    }


def push_report(
    run: str,
    plan: PushPlan,
    channels: Mapping[str, str],
    found: Sequence[Any],
    initial: Mapping[str, int],
    *,
    made_at: Mapping[str, Mapping[str, float]],
    targets: Mapping[str, Mapping[str, Any]],
    statuses: Mapping[str, int],
    approved: set[str],
    ledger: Mapping[str, int],
    views: Sequence[Mapping[str, Any]],
    levels: Mapping[str, tuple[int, int]],
    times: Mapping[str, float],
) -> dict[str, Any]:
    violations: list[str] = []
    per_channel: dict[str, Any] = {}
    all_lags: list[float] = []
    for platform, name in channels.items():
        mine = [r for r in found if r.channel == name]
        expected = made_at.get(platform, {})
        violations += intake_problems(name, expected, [r.external_id for r in mine])
        taken = {r.external_id: unix(r.created_at) for r in mine}
        lags = lags_s(expected, taken)
        all_lags += lags
        counts = dict(targets.get(name, {}).get("counts", {}))
        violations += push_problems(name, counts)
        if name not in targets:
            violations.append(f"{name}: no push target in the simulator")
        per_channel[name] = {
            "platform": platform,
            "generated": len(expected),
            "orders_in_oms": len(mine),
            "webhooks_sent": counts.get("deliveries", 0),
            "duplicates_sent": counts.get("duplicates", 0),
            "bad_signatures_sent": counts.get("bad_signatures", 0),
            "bad_signatures_rejected": counts.get("bad_signatures_rejected", 0),
            "answers": answers_by_status(counts),
            "retries": counts.get("retries", 0),
            "push_to_order_s": seconds_figures(lags),
        }
    ids = [r.id for r in found]
    not_delivered = {s: n for s, n in statuses.items() if s != "delivered"}
    if not_delivered:
        violations.append(f"orders not delivered: {json.dumps(not_delivered)}")
    violations += ledger_problems(ids, ledger)
    violations += stock_balance(initial, levels, delivered_units(views))
    total = sum(len(v) for v in made_at.values())
    return {
        "run": run,
        "orders": plan.orders,
        "generated": total,
        "rate": plan.rate,
        "duplicate_ratio": plan.duplicate_ratio,
        "bad_signature_ratio": plan.bad_signature_ratio,
        "channels": per_channel,
        "push_to_order_s": seconds_figures(all_lags),
        "statuses": dict(statuses),
        "approved_holds": len(approved),
        "elapsed_s": {k: round(v, 1) for k, v in times.items()},
        "taken_per_s": round(total / times["taken"], 2) if times["taken"] else None,
        "invariants": {"passed": not violations, "violations": violations[:100]},
        "ok": not violations,
    }


def render_push(report: Mapping[str, Any]) -> None:
    print(
        f"channels push bench, run {report['run']}: {report['generated']} orders "
        f"at {report['rate']:g}/s"
    )
    for name, c in report["channels"].items():
        a = c["answers"]
        lag = c["push_to_order_s"]
        print(
            f"  {name} ({c['platform']}): generated {c['generated']}, in the OMS "
            f"{c['orders_in_oms']}; webhooks {c['webhooks_sent']}, duplicates "
            f"{c['duplicates_sent']}, bad signatures {c['bad_signatures_sent']} "
            f"(401: {c['bad_signatures_rejected']}); answers 202 {a['202']} 200 {a['200']} "
            f"401 {a['401']} other {a['other']} {a['other_by_status'] or ''}; "
            f"push to order p50 {lag['p50']} s p99 {lag['p99']} s"
        )
    lag = report["push_to_order_s"]
    print(f"  push to order: p50 {lag['p50']} s, p99 {lag['p99']} s, max {lag['max']} s")
    print(
        f"  statuses {json.dumps(report['statuses'])}, holds approved "
        f"{report['approved_holds']}, elapsed {json.dumps(report['elapsed_s'])}"
    )
    inv = report["invariants"]
    print("  invariants: " + ("passed" if inv["passed"] else "VIOLATED"))
    for line in inv["violations"]:
        print(f"    {line}")
