"""Open imported orders started at a bounded rate while the live API keeps its latency.

    .venv/bin/python -m devtools.bench.import_start --orders 10000 --rate 50

Against a running ``oms dev`` started for a benchmark (``devtools.bench.preflight``: the
simulators and the cancel window at zero; it refuses otherwise)::

    OMS_SIM_SHIP_DELAY_S=0 OMS_SIM_CARRIER_STEP_S=0 OMS_RELEASE_DELAY_S=0 \\
        OMS_RISK_HOLD_SCORE=0 make dev

1. N open imported orders (stage ``paid``, one unit of a SKU of the run's own, on a channel
   of the run's own) are written straight into its database, as the import's writer
   stores them (``received``, seq 0, the view's ``imported`` part);
2. a probe sends ordinary orders (``POST /v1/orders``, ``--probe-rate`` a second) and reads
   them (``GET /v1/orders/{id}``, ``--read-rate`` a second, alternately the latest, still in
   flight, which the API asks its workflow about, and one posted 10 orders before, finished,
   which it reads from the read model), evenly spaced, for ``--baseline`` seconds: the
   API's latency before;
3. the starter (``oms.imports.starter.start_open``) starts the N orders at ``--rate`` while
   the probe goes on: the API's latency during, and the start rate achieved;
4. then it waits (up to ``--within`` seconds) until the N orders are delivered.

It prints p50, p99 and max of the probe's requests before and during the start, the start
rate, and how long until all N were delivered (or how many were). The target of issue 18:
the API's p99 stays under 100 ms while 10,000 start. Exit 1 when an order or a probe
request failed, 2 when there is nothing to measure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from devtools.bench.figures import latency_ms
from devtools.bench.preflight import say
from devtools.bench.target import (
    BenchError,
    api_client,
    connect_client,
    find_target,
    require_zero_pace,
    settings_for,
)
from oms.domain.ids import order_id_for
from oms.domain.messages import (
    Address,
    Customer,
    ImportedStage,
    OrderLine,
    OrderView,
    PaymentView,
    Totals,
)
from oms.settings import Settings

MAX_ORDERS = 100_000
EARLIER = 10  # the finished order the probe reads: 10 s old at 1 order/s
_ORDERS = text(
    "INSERT INTO orders (id, channel, external_id, request_hash, customer_id, status, "
    "last_seq, view, payment_token, created_at, updated_at) "
    "SELECT o.id, :channel, o.ext, 'imported', o.customer, 'received', 0, CAST(o.view AS jsonb), "
    "NULL, o.at, o.at FROM unnest(CAST(:ids AS varchar[]), CAST(:exts AS varchar[]), "
    "CAST(:customers AS varchar[]), CAST(:views AS text[]), CAST(:ats AS timestamptz[])) "
    "AS o(id, ext, customer, view, at)"
)
_EVENTS = text(
    "INSERT INTO order_events (order_id, seq, type, status, data, created_at) "
    "SELECT o.id, 0, 'order_imported', 'received', CAST(:data AS jsonb), o.at "
    "FROM unnest(CAST(:ids AS varchar[]), CAST(:ats AS timestamptz[])) AS o(id, at)"
)
_DELIVERED = text(
    "SELECT count(*) FILTER (WHERE status = 'delivered') AS delivered, "
    "count(*) FILTER (WHERE status IN ('failed', 'cancelled')) AS ended_otherwise "
    "FROM orders WHERE channel = :channel"
)


@dataclass
class Samples:
    """The probe's request times in seconds, by phase and kind, and its failures."""

    times: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def add(self, phase: str, kind: str, seconds: float) -> None:
        self.times.setdefault(f"{phase}:{kind}", []).append(seconds)

    def of(self, phase: str, kind: str | None = None) -> list[float]:
        return [
            s
            for key, values in self.times.items()
            if key.startswith(f"{phase}:") and (kind is None or key.endswith(f":{kind}"))
            for s in values
        ]


def imported_row(channel: str, sku: str, n: int, run: str, now: datetime) -> OrderView:
    external_id = f"old-{run}-{n:06d}"
    created = (now - timedelta(days=2, seconds=n)).isoformat()
    return OrderView(
        id=order_id_for(channel, external_id),
        channel=channel,
        external_id=external_id,
        status="received",
        customer=Customer(f"cust-{run}-{n % 997}", "bench@example.com", "Bench Buyer"),
        shipping_address=Address("Bench Buyer", "1 Load St", "Berlin", "10115", "DE"),
        currency="EUR",
        lines=[OrderLine(sku, 1, "10.00")],
        totals=Totals("10.00", "10.00"),
        payment=PaymentView("imported"),
        created_at=created,
        updated_at=created,
        imported=ImportedStage(
            "paid",
            "PAID",
            paid="10.00",
            payment_reference=f"old-pay-{n}",
            imported_at=now.isoformat(),
            run=run,
            source_system="bench",
        ),
    )


async def insert_rows(engine: AsyncEngine, channel: str, sku: str, count: int, run: str) -> None:
    now = datetime.now(UTC)
    for first in range(0, count, 2000):
        views = [
            imported_row(channel, sku, n, run, now) for n in range(first, min(count, first + 2000))
        ]
        ats = [datetime.fromisoformat(v.created_at) for v in views]
        ids = [v.id for v in views]
        async with engine.begin() as conn:
            await conn.execute(
                _ORDERS,
                {
                    "channel": channel,
                    "ids": ids,
                    "exts": [v.external_id for v in views],
                    "customers": [v.customer.id for v in views],
                    "views": [json.dumps(asdict(v)) for v in views],
                    "ats": ats,
                },
            )
            data = json.dumps({"run": run, "stage": "paid"})
            await conn.execute(_EVENTS, {"ids": ids, "ats": ats, "data": data})


def probe_order(sku: str, run: str, n: int) -> dict[str, Any]:
    return {
        "channel": "webshop",
        "external_id": f"probe-{run}-{n}",
        "customer": {"id": f"probe-{run}", "email": "probe@example.com", "name": "Probe"},
        "shipping_address": {
            "name": "Probe",
            "line1": "1 Probe St",
            "city": "Berlin",
            "postal_code": "10115",
            "country": "DE",
        },
        "currency": "EUR",
        "lines": [{"sku": sku, "quantity": 1, "unit_price": "1.00"}],
        "payment": {"method": "card", "token": "tok_ok"},
    }


class Probe:
    """Ordinary orders in and reads of the latest one, evenly spaced, phase by phase."""

    def __init__(
        self, http: httpx.AsyncClient, sku: str, run: str, post_rate: float, read_rate: float
    ) -> None:
        self.http, self.sku, self.run_id = http, sku, run
        self.post_rate, self.read_rate = post_rate, read_rate
        self.samples = Samples()
        self.phase = "before"
        self.latest: str | None = None
        self.earlier: str | None = None  # posted ``EARLIER`` orders before the latest
        self._posted: list[str] = []
        self._reads = 0
        self._n = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def _post(self) -> None:
        phase, self._n = self.phase, self._n + 1
        began = time.perf_counter()
        try:
            body = probe_order(self.sku, self.run_id, self._n)
            answer = await self.http.post("/v1/orders", json=body)
        except httpx.HTTPError as exc:
            self.samples.errors.append(f"POST: {type(exc).__name__}")
            return
        self.samples.add(phase, "post", time.perf_counter() - began)
        if answer.status_code != 202:
            self.samples.errors.append(f"POST {answer.status_code}: {answer.text[:100]}")
            return
        self.latest = answer.json()["id"]
        self._posted.append(self.latest)
        if len(self._posted) > EARLIER:
            self.earlier = self._posted.pop(0)

    async def _get(self) -> None:
        """Alternately the latest probe order (in flight: the API asks its workflow) and
        one posted some seconds before (finished: the API reads the read model)."""
        self._reads += 1
        live = self._reads % 2 == 1
        order_id = self.latest if live else self.earlier
        if order_id is None:
            return
        phase, kind = self.phase, "get_live" if live else "get_done"
        began = time.perf_counter()
        try:
            answer = await self.http.get(f"/v1/orders/{order_id}")
        except httpx.HTTPError as exc:
            self.samples.errors.append(f"GET: {type(exc).__name__}")
            return
        self.samples.add(phase, kind, time.perf_counter() - began)
        if answer.status_code != 200:
            self.samples.errors.append(f"GET {answer.status_code}")

    async def _every(self, rate: float, request: Any, stop: asyncio.Event) -> None:
        started, n = time.perf_counter(), 0
        while not stop.is_set():
            task = asyncio.create_task(request())  # open loop: never waits on the answer
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            n += 1
            wait = started + n / rate - time.perf_counter()
            try:
                await asyncio.wait_for(stop.wait(), max(0.0, wait))
            except TimeoutError:
                pass

    async def run(self, stop: asyncio.Event) -> None:
        await asyncio.gather(
            self._every(self.post_rate, self._post, stop),
            self._every(self.read_rate, self._get, stop),
        )
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def _stock(http: httpx.AsyncClient, run: str, units: dict[str, int]) -> None:
    warehouse = f"bench-import-{run}"
    made = await http.post(
        "/v1/warehouses",
        json={
            "id": warehouse,
            "name": warehouse,
            "country": "DE",
            "lat": 52.5,
            "lon": 13.4,
            "priority": 1,
        },
    )
    if made.status_code != 201:
        raise BenchError(f"could not create the warehouse: {made.status_code} {made.text[:200]}")
    for sku, on_hand in units.items():
        put = await http.put(f"/v1/stock/{warehouse}/{sku}", json={"on_hand": on_hand})
        if put.status_code != 200:
            raise BenchError(f"could not set stock: {put.status_code} {put.text[:200]}")


async def _until_delivered(
    engine: AsyncEngine, channel: str, count: int, within_s: float
) -> tuple[int, int, float]:
    """(delivered, ended otherwise, seconds) once all have ended or ``within_s`` passed."""
    began = time.perf_counter()
    last = 0.0
    while True:
        async with engine.connect() as conn:
            row = (await conn.execute(_DELIVERED, {"channel": channel})).one()
        elapsed = time.perf_counter() - began
        if row.delivered + row.ended_otherwise >= count or elapsed > within_s:
            return int(row.delivered), int(row.ended_otherwise), elapsed
        if elapsed - last >= 10:
            last = elapsed
            say(f"delivered: {row.delivered}/{count} after {elapsed:.0f} s")
        await asyncio.sleep(1.0)


def _line(name: str, seconds: list[float]) -> str:
    f = latency_ms(seconds)
    return f"  {name:<22} p50 {f['p50']} ms  p99 {f['p99']} ms  max {f['max']} ms  (n={f['n']})"


async def bench(args: argparse.Namespace) -> int:
    from devtools.dev import read_run_file
    from oms import channel_registry
    from oms.db.engine import make_engine
    from oms.imports.pace import SLOW_START_S
    from oms.imports.starter import start_open

    settings = Settings()
    target = find_target(settings)
    require_zero_pace(target)
    run_file = read_run_file(settings.home.resolve()) or {}
    database_url = run_file.get("database_url") or settings.database_url
    if not database_url:
        raise BenchError("the running system's database is not known (no run.json)")
    bench_settings = settings_for(target, settings).model_copy(
        update={"database_url": database_url, "release_delay_s": 0.0}
    )
    client = await connect_client(target, settings)
    channel_registry.configure(target.payload_keys)
    engine = make_engine(bench_settings, pool_size=4)
    run = uuid.uuid4().hex[:8]
    channel = f"import-bench-{run}"
    import_sku, probe_sku = f"BENCH-IMP-{run}", f"BENCH-PROBE-{run}"
    probe_orders = int(args.probe_rate * (args.baseline + args.orders / args.rate + 60)) + 100
    try:
        async with api_client(target, 50) as http:
            await _stock(http, run, {import_sku: args.orders, probe_sku: probe_orders})
            say(f"writing {args.orders} open imported orders on channel {channel}")
            began = time.perf_counter()
            await insert_rows(engine, channel, import_sku, args.orders, run)
            say(f"written in {time.perf_counter() - began:.1f} s")

            probe = Probe(http, probe_sku, run, args.probe_rate, args.read_rate)
            stop = asyncio.Event()
            probing = asyncio.create_task(probe.run(stop))
            say(f"probe alone for {args.baseline:g} s")
            await asyncio.sleep(args.baseline)

            probe.phase = "during"
            say(f"starting {args.orders} at {args.rate:g}/s")
            began = time.perf_counter()
            done = [0]

            def progressed(count: int) -> None:
                done[0] = count
                if count % max(1, int(args.rate * 10)) == 0:
                    say(f"started {count}/{args.orders} after {time.perf_counter() - began:.0f} s")

            result = await start_open(
                engine,
                client,
                channel,
                rate_per_s=args.rate,
                progress=progressed,
                settings=bench_settings,
                slow_s=None if args.fixed_rate else SLOW_START_S,
            )
            start_s = time.perf_counter() - began
            probe.phase = "after"
            stop.set()
            await probing
            delivered, ended, wait_s = await _until_delivered(
                engine, channel, args.orders, args.within
            )
    finally:
        await engine.dispose()

    s = probe.samples
    how = "fixed" if args.fixed_rate else "at most, adaptive pace"
    print(f"import start: {args.orders} open orders (stage paid), rate {args.rate:g}/s ({how})")
    print(
        f"  started {result.started}, already running {result.already_running} "
        f"in {start_s:.1f} s: {result.started / start_s:.1f} started/s"
    )
    print(
        f"  delivered {delivered}/{args.orders} ({ended} ended otherwise) "
        f"{start_s + wait_s:.0f} s after the start began"
    )
    print(
        f"probe: POST /v1/orders {args.probe_rate:g}/s, GET /v1/orders/{{id}} {args.read_rate:g}/s"
    )
    for phase in ("before", "during"):
        print(f" {phase}:")
        print(_line("all requests", s.of(phase)))
        print(_line("POST /v1/orders", s.of(phase, "post")))
        print(_line("GET, order in flight", s.of(phase, "get_live")))
        print(_line("GET, order finished", s.of(phase, "get_done")))
    during = latency_ms(s.of("during"))["p99"]
    verdict = "met" if during is not None and during < 100 else "NOT met"
    print(f"target (API p99 < 100 ms during the start): {verdict}; probe errors: {len(s.errors)}")
    for error in s.errors[:10]:
        print(f"  {error}")
    return 1 if s.errors or ended else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=50.0, help="workflows started per second")
    parser.add_argument("--probe-rate", type=float, default=1.0, help="probe orders per second")
    parser.add_argument("--read-rate", type=float, default=5.0, help="probe reads per second")
    parser.add_argument("--baseline", type=float, default=30.0, help="seconds of probe alone")
    parser.add_argument(
        "--fixed-rate", action="store_true", help="--rate throughout (no adaptive pace)"
    )
    parser.add_argument("--within", type=float, default=3600.0, help="wait for delivery, s")
    args = parser.parse_args()
    status = 2
    if not 1 <= args.orders <= MAX_ORDERS:
        say(f"--orders must be between 1 and {MAX_ORDERS}")
    elif min(args.rate, args.probe_rate, args.read_rate, args.baseline, args.within) <= 0:
        say("--rate, --probe-rate, --read-rate, --baseline and --within must be above 0")
    else:
        try:
            status = asyncio.run(bench(args))
        except BenchError as exc:
            say(str(exc))
            status = 2
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":
    main()
