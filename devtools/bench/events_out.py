"""``oms bench --events-out``: orders through a running ``oms dev`` with a webhook endpoint
of the bench's own on 127.0.0.1 that fails some attempts at random and is down for a
stretch; then whether every event arrived, once, in order, and how late.

Start the system with a compressed retry schedule (the default one waits minutes, then
hours), for example::

    OMS_WEBHOOK_RETRY_SCHEDULE=0,1,2,4,8,15,30,30,30,30,30,30,30,30,30 OMS_SIM_SHIP_DELAY_S=0 \\
        OMS_SIM_CARRIER_STEP_S=0 OMS_RELEASE_DELAY_S=0 OMS_RISK_HOLD_SCORE=0 make dev

The bench subscribes its receiver to every order event, places ``--orders`` orders (one unit
of its own SKU each) ``--concurrency`` at a time, answers 500 to ``--fail-rate`` of the
attempts at random and 503 to all of them for ``--down-s`` seconds from ``--down-after-s``
after the first order, and waits until every order has ended and no delivery of its orders
is open. It prints (JSON) the events produced (the endpoint's deliveries of its orders), the
events acknowledged, duplicates beyond retries (an event id acknowledged twice: must be 0),
out-of-order acknowledgements per order (a seq acknowledged after a later one of the same
order: must be 0), bad signatures, exhausted deliveries, fact-to-first-attempt latency
(the event's timestamp, when the workflow took the step, to the receiver's first sight of its
id), written-to-first-attempt (the outbox row's write to the first attempt, on the system's
clock) and the drain time. Exit 1
on any violation. Loopback only; the endpoint is deleted at the end.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from devtools.bench.books import Shop
from devtools.bench.figures import latency_ms
from devtools.bench.preflight import say
from devtools.bench.target import MAX_ORDERS, BenchError, Target, api_client
from devtools.ports import free_port
from oms.events_out import catalogue, signing

TERMINAL = {"delivered", "cancelled", "failed"}


@dataclass
class EventsOutPlan:
    orders: int = 10_000
    concurrency: int = 20
    fail_rate: float = 0.3
    down_after_s: float = 10.0
    down_s: float = 20.0
    within_s: float = 1800.0
    seed: int | None = None

    def check(self) -> None:
        if not 1 <= self.orders <= MAX_ORDERS:
            raise BenchError(f"--orders must be between 1 and {MAX_ORDERS}")
        if not 1 <= self.concurrency <= min(self.orders, 1000):
            raise BenchError("--concurrency must be between 1 and min(--orders, 1000)")
        if not 0 <= self.fail_rate < 1:
            raise BenchError("--fail-rate must be at least 0 and below 1")
        if not (0 <= self.down_s <= 3600 and 0 <= self.down_after_s <= 3600):
            raise BenchError("--down-s and --down-after-s must be between 0 and 3600 seconds")
        if not 1 <= self.within_s <= 86_400:
            raise BenchError("--within must be between 1 and 86400 seconds")


@dataclass
class BenchReceiver:
    """The partner: checks signatures, answers as the plan says, remembers everything."""

    plan: EventsOutPlan
    rng: random.Random
    secret: str = ""
    down_from: float | None = None  # monotonic
    attempts: int = 0
    refused: int = 0
    bad_signatures: int = 0
    first_seen_lag_s: dict[str, float] = field(default_factory=dict)
    acks: dict[str, int] = field(default_factory=dict)
    acked_seqs: dict[str, list[int]] = field(default_factory=dict)  # per order, ack order
    last_ack: float = 0.0

    def down(self) -> bool:
        if self.down_from is None:
            return False
        return self.down_from <= time.monotonic() < self.down_from + self.plan.down_s

    async def handle(self, request: Request) -> Response:
        raw = await request.body()
        self.attempts += 1
        msg_id = request.headers.get("webhook-id", "")
        stamp = request.headers.get("webhook-timestamp", "0")
        given = request.headers.get("webhook-signature", "").split()
        if not self.secret or signing.sign(self.secret, msg_id, int(stamp), raw) not in given:
            self.bad_signatures += 1
            return Response(status_code=400)
        body = json.loads(raw)
        if msg_id not in self.first_seen_lag_s:
            occurred = datetime.fromisoformat(body["timestamp"]).timestamp()
            self.first_seen_lag_s[msg_id] = max(0.0, time.time() - occurred)
        if self.down():
            self.refused += 1
            return Response(status_code=503)
        if self.rng.random() < self.plan.fail_rate:
            self.refused += 1
            return Response(status_code=500)
        self.acks[msg_id] = self.acks.get(msg_id, 0) + 1
        data = body["data"]
        if self.acks[msg_id] == 1 and data.get("order_id") is not None:
            self.acked_seqs.setdefault(data["order_id"], []).append(int(data["seq"]))
        self.last_ack = time.monotonic()
        return Response(status_code=204)


def out_of_order(acked_seqs: dict[str, list[int]]) -> int:
    """Acknowledgements of a seq lower than one of the same order acknowledged before."""
    count = 0
    for seqs in acked_seqs.values():
        highest = -1
        for seq in seqs:
            if seq < highest:
                count += 1
            highest = max(highest, seq)
    return count


async def _serve(app: Starlette, port: int) -> tuple[uvicorn.Server, asyncio.Task[None]]:
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started or task.done():
            break
        await asyncio.sleep(0.02)
    if not server.started:
        raise BenchError("the bench's receiver did not start")
    return server, task


async def _deliveries(http: httpx.AsyncClient, endpoint_id: str, status: str | None) -> list[Any]:
    """Every delivery of the endpoint (optionally in ``status``), all pages."""
    found: list[Any] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 200}
        if status:
            params["status"] = status
        if cursor:
            params["cursor"] = cursor
        response = await http.get(f"/v1/webhook-endpoints/{endpoint_id}/deliveries", params=params)
        response.raise_for_status()
        page = response.json()
        found += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return found


async def _open(http: httpx.AsyncClient, endpoint_id: str, mine: set[str]) -> int:
    """Deliveries of the bench's orders still pending or failed (to be retried)."""
    n = 0
    for status in ("pending", "failed"):
        n += sum(1 for d in await _deliveries(http, endpoint_id, status) if d["order_id"] in mine)
    return n


async def _ended(http: httpx.AsyncClient, customer: str) -> tuple[int, int]:
    """The bench customer's orders: (how many, how many ended)."""
    total = ended = 0
    cursor = None
    while True:
        params: dict[str, Any] = {"customer_id": customer, "limit": 200}
        if cursor:
            params["cursor"] = cursor
        response = await http.get("/v1/orders", params=params)
        response.raise_for_status()
        page = response.json()
        for order in page["items"]:
            total += 1
            ended += order["status"] in TERMINAL
        cursor = page.get("next_cursor")
        if not cursor:
            return total, ended


async def run_events_out(target: Target, plan: EventsOutPlan) -> dict[str, Any]:
    deadline = time.monotonic() + plan.within_s
    receiver = BenchReceiver(plan, random.Random(plan.seed))
    app = Starlette(routes=[Route("/hook", receiver.handle, methods=["POST"])])
    port = free_port()
    server, serving = await _serve(app, port)
    endpoint_id: str | None = None
    try:
        async with api_client(target, plan.concurrency) as http:
            created = await http.post(
                "/v1/webhook-endpoints",
                json={
                    "url": f"http://127.0.0.1:{port}/hook",
                    "events": list(catalogue.ORDER_EVENT_TYPES),
                    "description": "oms bench --events-out",
                },
            )
            if created.status_code != 201:
                raise BenchError(f"the endpoint was refused: {created.text[:300]}")
            endpoint_id = created.json()["id"]
            receiver.secret = created.json()["secret"]
            shop = Shop(http, uuid.uuid4().hex[:8])
            await shop.open(plan.orders + 1)
            say(f"events out: {plan.orders} orders, receiver on 127.0.0.1:{port}")
            started = time.monotonic()
            receiver.down_from = started + plan.down_after_s
            ids, errors = await _place(http, shop, plan, deadline)
            mine = set(ids)
            say(f"placed {len(ids)} orders ({len(errors)} errors); draining")
            while True:
                total, ended = await _ended(http, shop.customer)
                still_open = await _open(http, endpoint_id, mine) if ended >= total else -1
                if ended >= total and still_open == 0:
                    break
                if time.monotonic() > deadline:
                    errors.append(f"not drained within {plan.within_s:g} s")
                    break
                say(f"orders ended {ended}/{total}; deliveries open {still_open}")
                await asyncio.sleep(2.0)
            drained_s = max(receiver.last_ack, started) - started
            every = [d for d in await _deliveries(http, endpoint_id, None) if d["order_id"] in mine]
    finally:
        if endpoint_id is not None:
            async with api_client(target, 1) as http:
                await http.delete(f"/v1/webhook-endpoints/{endpoint_id}")
        server.should_exit = True
        await serving

    produced = {d["event_id"] for d in every}
    delivered = {d["event_id"] for d in every if d["status"] == "delivered"}
    acked = {i for i in receiver.acks if i in produced}
    duplicates = sum(n - 1 for i, n in receiver.acks.items() if i in produced)
    disorder = out_of_order({o: s for o, s in receiver.acked_seqs.items() if o in mine})
    exhausted = sum(1 for d in every if d["status"] == "exhausted")
    lags = [lag for i, lag in receiver.first_seen_lag_s.items() if i in produced]
    # From the row's write (the transaction of the fact) to the first attempt's start, both
    # on the system's clock: what the deliverer adds, without the order's own batching.
    written = [
        (_when(d["attempts"][0]["at"]) - _when(d["created_at"])).total_seconds()
        for d in every
        if d["attempts"]
    ]
    violations = list(errors[:20])
    if duplicates:
        violations.append(f"{duplicates} duplicate acknowledgements")
    if disorder:
        violations.append(f"{disorder} events acknowledged out of order")
    if receiver.bad_signatures:
        violations.append(f"{receiver.bad_signatures} bad signatures")
    if acked != produced or delivered != produced:
        violations.append(f"{len(produced - acked)} events produced were never acknowledged")
    return {
        "ok": not violations,
        "orders": len(ids),
        "events_produced": len(produced),
        "events_delivered": len(acked),
        "attempts": receiver.attempts,
        "attempts_refused": receiver.refused,
        "duplicates_beyond_retries": duplicates,
        "out_of_order": disorder,
        "bad_signatures": receiver.bad_signatures,
        "exhausted": exhausted,
        "fact_to_first_attempt_ms": latency_ms(lags),
        "written_to_first_attempt_ms": latency_ms([max(0.0, w) for w in written]),
        "drain_s": round(drained_s, 1),
        "plan": {
            "fail_rate": plan.fail_rate,
            "down_after_s": plan.down_after_s,
            "down_s": plan.down_s,
            "concurrency": plan.concurrency,
        },
        "violations": violations,
    }


def _when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


async def _place(
    http: httpx.AsyncClient, shop: Shop, plan: EventsOutPlan, deadline: float
) -> tuple[list[str], list[str]]:
    """Every order placed, ``concurrency`` requests at a time: their ids, and errors."""
    ids: list[str] = []
    errors: list[str] = []
    numbers = iter(range(plan.orders))

    async def slot() -> None:
        for n in numbers:
            if time.monotonic() > deadline:
                return
            try:
                response = await http.post("/v1/orders", json=shop.order("events", n))
            except httpx.HTTPError as exc:
                errors.append(f"order {n}: {type(exc).__name__}")
                continue
            if response.status_code in (200, 201, 202):
                ids.append(response.json()["id"])
            else:
                errors.append(f"order {n}: {response.status_code}")

    await asyncio.gather(*(slot() for _ in range(plan.concurrency)))
    return ids, errors
