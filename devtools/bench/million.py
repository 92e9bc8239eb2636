"""A database of many realistic orders, for the benchmarks that need volume (the KPI report,
the console's search and order page).

    url = await ensure_orders(database_url, 1_000_000)      # days=30

makes (once) a database of its own on the same server as ``database_url``
(``oms_bench_1m`` for a million orders, ``oms_bench_100k`` for 100,000, ...), migrated to
the newest revision, and fills it set-based, in chunks of ``CHUNK`` orders, each chunk one
statement: ``generate_series`` draws each order's fate and times (``bench_plan``), and
from them its whole timeline, which in turn gives the ``orders`` row (status, ``last_seq``
and a view shaped as the workflow writes it: customer, email, phone, address, lines,
shipments, payment, hold, cancellation, late), the ``shipments`` rows, the ``payments``
ledger and the alerts. A database that already holds a finished seed of ``n`` orders over
``days`` days is reused as it is (the table ``bench_seed`` says so); anything else under
that name is dropped and made again.

The orders run over the ``days`` days before the seed's moment (``bench_seed.until``);
what would happen after that moment has not happened yet, so the last day holds orders in
flight (reserved, on hold, backordered, dispatched, shipped) as a live system does. The
mix (fractions of all orders): 0.5 % shadow, 1.5 % declined, 0.5 % out of stock, 3.5 %
cancelled (by operators, platforms, customers' requests, rejected holds, hold and
backorder expiry), the rest delivered, of which 3 % held first, 2 % backordered first,
5 % in two parcels, 0.2 % refused by a warehouse and re-routed, 0.2 % with a new address,
0.1 % with a capture declined, and some 6 % dispatched later than the two-hour SLA.

Run it alone: ``.venv/bin/python -m devtools.bench.million --orders 100000`` (DATABASE_URL,
or the embedded PostgreSQL of ``oms dev``). A million orders take a few minutes on the
two-core development machine.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

CHUNK = 50_000
CHANNELS = ("webshop", "marketplace", "taobao", "amazon")
WAREHOUSES = ("bench-wh-1", "bench-wh-2", "bench-wh-3")


@dataclass(frozen=True)
class Seed:
    url: str
    orders: int
    days: int
    until: datetime

    @property
    def since(self) -> datetime:
        return self.until - timedelta(days=self.days)


def database_name(n: int) -> str:
    if n % 1_000_000 == 0:
        label = f"{n // 1_000_000}m"
    elif n % 1000 == 0:
        label = f"{n // 1000}k"
    else:
        label = str(n)
    return f"oms_bench_{label}"


def async_url(url: str) -> str:
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


def _with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


async def ensure_orders(
    database_url: str, n: int, days: int = 30, progress: Callable[[str], None] | None = None
) -> str:
    """The URL of a database holding ``n`` seeded orders over ``days`` days (made if needed)."""
    return (await ensure_seed(database_url, n, days, progress)).url


async def ensure_seed(
    database_url: str, n: int, days: int = 30, progress: Callable[[str], None] | None = None
) -> Seed:
    say = progress or (lambda _: None)
    name = database_name(n)
    target = _with_database(database_url, name)
    found = await _finished_seed(target)
    if found is not None and found.orders == n and found.days == days:
        await _migrate(target)  # a seed made before a newer revision gets its indexes
        say(f"reusing {name}: {n:,} orders over {days} days until {found.until:%Y-%m-%d %H:%M}")
        return Seed(target, n, days, found.until)
    admin = create_async_engine(async_url(database_url), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await admin.dispose()
    await _migrate(target)
    until = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    engine = create_async_engine(async_url(target), pool_size=1)
    try:
        await _seed(engine, n, days, until, say)
    finally:
        await engine.dispose()
    return Seed(target, n, days, until)


async def _finished_seed(url: str) -> Seed | None:
    engine = create_async_engine(async_url(url), pool_size=1)
    try:
        async with engine.connect() as conn:
            row = (await conn.execute(text("SELECT orders, days, until FROM bench_seed"))).first()
    except Exception:  # no such database, or no finished seed in it
        return None
    finally:
        await engine.dispose()
    return Seed(url, row.orders, row.days, row.until) if row else None


async def _migrate(url: str) -> None:
    from oms.db.engine import make_engine
    from oms.db.migrate import migrate
    from oms.settings import Settings

    engine = make_engine(Settings(database_url=url), pool_size=1)
    try:
        await migrate(engine)
    finally:
        await engine.dispose()


async def _session(conn: AsyncConnection) -> None:
    await conn.execute(text("SET statement_timeout = 0"))
    await conn.execute(text("SET work_mem = '256MB'"))
    # The chunk's CTEs are estimated at a row or so; a nested loop over them is quadratic.
    await conn.execute(text("SET enable_nestloop = off"))
    # The events-out triggers only look for subscribers (a bench database has none);
    # skipped where the role may (a superuser, as under oms dev).
    try:
        async with conn.begin_nested():
            await conn.execute(text("SET session_replication_role = replica"))
    except Exception:
        pass


async def _seed(
    engine: AsyncEngine, n: int, days: int, until: datetime, say: Callable[[str], None]
) -> None:
    started = time.perf_counter()
    async with engine.connect() as conn:
        await _session(conn)
        await conn.execute(
            text(
                "INSERT INTO warehouses (id, name, country, lat, lon, priority, created_at) "
                "SELECT w, 'Bench ' || w, 'DE', 52.5, 13.4, 100, now() "
                "FROM unnest(CAST(:ids AS text[])) AS w"
            ),
            {"ids": list(WAREHOUSES)},
        )
        await conn.execute(text("SELECT setseed(0.17)"))
        await conn.execute(text(_PLAN_TABLE))
        await conn.execute(text(_PLAN), {"n": n, "days": days, "until": until})
        await conn.commit()
        say(f"planned {n:,} orders in {time.perf_counter() - started:.1f} s")
        for first in range(1, n + 1, CHUNK):
            last = min(first + CHUNK - 1, n)
            await conn.execute(text(_FILL), {"first": first, "last": last, "until": until})
            await conn.commit()
            say(f"  orders {last:>9,} of {n:,}  {time.perf_counter() - started:6.1f} s")
        await conn.execute(text("DROP TABLE bench_plan"))
        # The KPI facts (migration 0015): the session above skips the triggers that keep
        # them, so they are filled here as the migration fills an existing database.
        await conn.execute(text("SELECT oms_kpi_facts_backfill()"))
        await conn.commit()
        say(f"KPI facts filled  {time.perf_counter() - started:6.1f} s")
        await conn.execute(
            text(
                "CREATE TABLE bench_seed (orders integer NOT NULL, days integer NOT NULL, "
                "until timestamptz NOT NULL, seconds double precision NOT NULL)"
            )
        )
        await conn.execute(
            text("INSERT INTO bench_seed VALUES (:n, :days, :until, :s)"),
            {"n": n, "days": days, "until": until, "s": time.perf_counter() - started},
        )
        await conn.commit()
    # Statistics for the planner, and the visibility map that index-only scans need.
    async with engine.connect() as conn:
        auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
        for table in (
            "orders",
            "order_events",
            "payments",
            "shipments",
            "alerts",
            "order_kpi_facts",
            "order_kpi_holds",
        ):
            await auto.execute(text(f"VACUUM (ANALYZE) {table}"))
    say(f"seeded {n:,} orders in {time.perf_counter() - started:.1f} s")


_PLAN_TABLE = """
CREATE UNLOGGED TABLE bench_plan (
    n integer PRIMARY KEY, id text, channel text, t0 timestamptz, fate text, who text,
    held boolean, hold_reason text, hold_s double precision, backordered boolean,
    bo_s double precision, parcels integer, reroute boolean, addr boolean,
    capture_declined boolean, p_s double precision, ship_s double precision,
    deliver_s double precision, cancel_s double precision, nlines integer
)"""

# Each order's fate and times, drawn once (u: the fate, v: who cancelled, w.. flags).
_PLAN = """
INSERT INTO bench_plan
SELECT n, id, channel, t0, fate, who,
       held, hold_reason, hold_s, backordered, bo_s,
       CASE WHEN (fate = 'delivered' AND split AND nlines > 1) OR reroute THEN 2 ELSE 1 END,
       reroute, addr, capture_declined,
       base_s + CASE WHEN held THEN hold_s ELSE 0 END + CASE WHEN backordered THEN bo_s ELSE 0 END,
       ship_s, deliver_s, cancel_s, nlines
FROM (
  SELECT n, u, v,
         substr(md5('oms-bench-' || n), 1, 20) AS id,
         (ARRAY['webshop', 'webshop', 'webshop', 'webshop', 'marketplace', 'marketplace',
                'taobao', 'taobao', 'amazon', 'amazon'])[1 + (n * 7) % 10] AS channel,
         CAST(:until AS timestamptz) - make_interval(days => :days)
           + make_interval(secs => (n - 1 + random()) * 86400.0 * :days / :n) AS t0,
         CASE WHEN u < 0.005 THEN 'shadowed'
              WHEN u < 0.020 THEN 'declined'
              WHEN u < 0.025 THEN 'out_of_stock'
              WHEN u < 0.060 THEN 'cancelled'
              ELSE 'delivered' END AS fate,
         CASE WHEN v < 0.35 THEN 'operator' WHEN v < 0.55 THEN 'platform'
              WHEN v < 0.65 THEN 'customer' WHEN v < 0.75 THEN 'rule'
              WHEN v < 0.90 THEN 'hold_expired' ELSE 'backorder_expired' END AS who,
         (u >= 0.060 AND w1 < 0.03) OR (u >= 0.020 AND u < 0.060 AND v >= 0.55 AND v < 0.90)
           AS held,
         CASE WHEN u >= 0.020 AND u < 0.060 AND v >= 0.55 AND v < 0.65 THEN 'refund_requested'
              ELSE (ARRAY['high_value', 'high_value', 'address_velocity',
                          'new_customer_high_value', 'manual'])[1 + (n * 3) % 5] END
           AS hold_reason,
         600 + 13800 * w2 AS hold_s,
         u >= 0.060 AND w3 < 0.02 AS backordered,
         3600 + 169200 * w4 AS bo_s,
         w5 < 0.05 AS split,
         u >= 0.060 AND w6 < 0.002 AS reroute,
         u >= 0.060 AND w7 < 0.002 AS addr,
         u >= 0.060 AND w8 < 0.001 AS capture_declined,
         300 + 2400 * w9 + CASE WHEN w10 < 0.07 THEN 3600 + 28800 * w11 ELSE 0 END AS base_s,
         1800 + 27000 * w12 AS ship_s,
         72000 + 273600 * w13 AS deliver_s,
         60 + 3540 * w14 AS cancel_s,
         1 + (n % 3) AS nlines
  FROM (
    SELECT n, random() AS u, random() AS v, random() AS w1, random() AS w2, random() AS w3,
           random() AS w4, random() AS w5, random() AS w6, random() AS w7, random() AS w8,
           random() AS w9, random() AS w10, random() AS w11, random() AS w12, random() AS w13,
           random() AS w14
    FROM generate_series(1, :n) AS n
  ) r
) p
"""

# One chunk of orders: the timeline from the plan, then everything derived from it.
_FILL = """
WITH p AS MATERIALIZED (
  SELECT p.*,
         t0 + make_interval(secs => p_s) AS t_disp,
         t0 + make_interval(secs => p_s + ship_s) AS t_ship,
         t0 + make_interval(secs => p_s + ship_s + deliver_s) AS t_deliv,
         CASE WHEN held THEN t0 + make_interval(secs => hold_s) ELSE t0 END AS t_decide,
         CASE fate WHEN 'cancelled' THEN
           CASE who WHEN 'hold_expired' THEN t0 + interval '24 hours'
                    WHEN 'backorder_expired' THEN t0 + interval '7 days'
                    WHEN 'customer' THEN t0 + make_interval(secs => hold_s)
                    WHEN 'rule' THEN t0 + make_interval(secs => hold_s)
                    ELSE t0 + make_interval(secs => cancel_s) END END AS t_cancel,
         (SELECT jsonb_agg(jsonb_build_object(
                    'sku', 'SKU-' || lpad(((n * 7 + k * 13) % 400)::text, 4, '0'),
                    'line_id', '', 'quantity', 1 + (n + k) % 3,
                    'unit_price', (5 + ((n * 7 + k * 13) % 400) % 50)::text || '.90')
                  ORDER BY k)
            FROM generate_series(1, nlines) AS k) AS lines
  FROM bench_plan p WHERE n BETWEEN :first AND :last
),
q AS MATERIALIZED (
  SELECT p.*,
         (SELECT sum((l->>'quantity')::int * (l->>'unit_price')::numeric)
            FROM jsonb_array_elements(lines) l) AS total,
         CASE WHEN parcels = 2 AND NOT reroute
              THEN jsonb_build_array(lines->0)
              ELSE lines END AS lines1,
         CASE WHEN parcels = 2 AND NOT reroute
              THEN lines - 0 ELSE lines END AS lines2
  FROM p
),
-- Every entry the order's fate gives it (slot: its place among entries at the same time).
raw AS (
  SELECT q.id, q.n, e.slot, e.at,
         CASE e.slot
           WHEN 0 THEN 'order_received'
           WHEN 1 THEN 'order_shadowed'
           WHEN 2 THEN 'payment_authorized'
           WHEN 3 THEN 'order_failed'
           WHEN 4 THEN 'order_held'
           WHEN 5 THEN 'hold_approved'
           WHEN 6 THEN 'order_failed'
           WHEN 7 THEN 'stock_reserved'
           WHEN 8 THEN 'order_backordered'
           WHEN 9 THEN 'backorder_filled'
           WHEN 10 THEN 'address_changed'
           WHEN 11 THEN 'order_late'
           WHEN 12 THEN 'order_cancelled'
           WHEN 20 THEN 'shipment_dispatched'
           WHEN 21 THEN 'shipment_failed'
           WHEN 22 THEN 'shipment_rerouted'
           WHEN 23 THEN 'shipment_dispatched'
           WHEN 30 THEN 'shipment_shipped'
           WHEN 31 THEN 'payment_captured'
           WHEN 32 THEN 'payment_capture_failed'
           WHEN 33 THEN 'shipment_in_transit'
           WHEN 34 THEN 'shipment_out_for_delivery'
           WHEN 35 THEN 'shipment_delivered'
           WHEN 40 THEN 'shipment_shipped'
           WHEN 41 THEN 'payment_captured'
           WHEN 43 THEN 'shipment_in_transit'
           WHEN 44 THEN 'shipment_out_for_delivery'
           WHEN 45 THEN 'shipment_delivered'
           WHEN 50 THEN 'order_delivered'
         END AS type,
         CASE e.slot
           WHEN 0 THEN 'received'
           WHEN 1 THEN 'shadowed'
           WHEN 2 THEN 'payment_authorized'
           WHEN 3 THEN 'failed'
           WHEN 4 THEN 'on_hold'
           WHEN 5 THEN 'payment_authorized'
           WHEN 6 THEN 'failed'
           WHEN 7 THEN 'reserved'
           WHEN 8 THEN 'backordered'
           WHEN 9 THEN 'reserved'
           WHEN 12 THEN 'cancelled'
           WHEN 20 THEN 'dispatched'
           WHEN 21 THEN 'reserved'
           WHEN 22 THEN 'reserved'
           WHEN 23 THEN 'dispatched'
           WHEN 30 THEN 'shipped'
           WHEN 40 THEN 'shipped'
           WHEN 50 THEN 'delivered'
         END AS status,
         CASE e.slot
           WHEN 0 THEN jsonb_build_object(
              'lines', q.nlines, 'total', q.total::text, 'currency', 'EUR')
           WHEN 1 THEN jsonb_build_object(
              'from', 'received', 'to', 'shadowed', 'hold_reasons', '[]'::jsonb)
           WHEN 2 THEN jsonb_build_object('from', 'received', 'to', 'payment_authorized',
                          'amount', q.total::text)
           WHEN 3 THEN jsonb_build_object(
              'from', 'received', 'to', 'failed', 'reason', 'payment_declined')
           WHEN 4 THEN jsonb_build_object('from', 'payment_authorized', 'to', 'on_hold',
                          'reasons', jsonb_build_array(q.hold_reason), 'expires_at',
                          (q.t0 + interval '24 hours')::text)
           WHEN 5 THEN jsonb_build_object('from', 'on_hold', 'to', 'payment_authorized',
                          'by', 'ops-anna (key console)', 'note', 'checked with the customer')
           WHEN 6 THEN jsonb_build_object('from', 'payment_authorized', 'to', 'failed',
                          'reason', 'out_of_stock', 'skus', q.lines->0->'sku')
           WHEN 7 THEN jsonb_build_object(
              'from', 'payment_authorized', 'to', 'reserved', 'round', 1,
                          'strategy', 'fewest_shipments',
                          'warehouses', jsonb_build_array('bench-wh-1'))
           WHEN 8 THEN jsonb_build_object('from', 'payment_authorized', 'to', 'backordered',
                          'lines', jsonb_build_array(jsonb_build_object(
                             'sku', q.lines->0->'sku', 'quantity', 1)),
                          'expires_at', (q.t0 + interval '7 days')::text)
           WHEN 9 THEN jsonb_build_object('round', 2)
           WHEN 10 THEN jsonb_build_object('by', 'cs-mei (key console)')
           WHEN 11 THEN jsonb_build_object('stage', 'dispatch',
                          'deadline', (q.t0 + interval '2 hours')::text)
           WHEN 12 THEN jsonb_build_object('to', 'cancelled', 'by',
         CASE q.who WHEN 'operator' THEN 'ops-anna (key console)'
                    WHEN 'platform' THEN 'channel:' || q.channel
                    WHEN 'customer' THEN 'cs-mei (key console)'
                    WHEN 'rule' THEN 'ops-anna (key console)'
                    ELSE 'system' END,
         'reason',
         CASE q.who WHEN 'operator' THEN 'customer asked'
                    WHEN 'platform' THEN 'TRADE_CLOSED'
                    WHEN 'customer' THEN 'refund granted before shipping'
                    WHEN 'rule' THEN 'suspected fraud'
                    ELSE q.who END)
           WHEN 20 THEN jsonb_build_object('from', 'reserved', 'to', 'dispatched',
                          'shipment_id', q.id || '-1', 'tracking_number', NULL)
           WHEN 21 THEN jsonb_build_object(
              'from', 'dispatched', 'to', 'reserved', 'shipment_id', q.id || '-1',
                          'error', 'DispatchRejected: warehouse closed for inventory',
                          'warehouse_id', 'bench-wh-1')
           WHEN 22 THEN jsonb_build_object('round', 2, 'from_shipment', q.id || '-1',
                          'refused_by', 'bench-wh-1',
                          'warehouses', jsonb_build_array('bench-wh-2'))
           WHEN 23 THEN jsonb_build_object('from', 'reserved', 'to', 'dispatched',
                          'shipment_id', q.id || '-2', 'tracking_number', NULL)
           WHEN 30 THEN jsonb_build_object(
              'from', 'dispatched', 'to', 'shipped', 'shipment_id', q.id || '-1',
                          'tracking_number', 'BNC' || upper(substr(q.id, 1, 12)) || 'A')
           WHEN 31 THEN jsonb_build_object('amount', q.total::text, 'shipment_id', q.id || '-1')
           WHEN 32 THEN jsonb_build_object(
              'shipment_id', q.id || '-1', 'error', 'PaymentDeclined: expired')
           WHEN 33 THEN jsonb_build_object('shipment_id', q.id || '-1')
           WHEN 34 THEN jsonb_build_object('shipment_id', q.id || '-1')
           WHEN 35 THEN jsonb_build_object('shipment_id', q.id || '-1')
           WHEN 40 THEN jsonb_build_object(
              'from', 'dispatched', 'to', 'shipped', 'shipment_id', q.id || '-2',
                          'tracking_number', 'BNC' || upper(substr(q.id, 1, 12)) || 'B')
           WHEN 41 THEN jsonb_build_object('amount', q.total::text, 'shipment_id', q.id || '-2')
           WHEN 43 THEN jsonb_build_object('shipment_id', q.id || '-2')
           WHEN 44 THEN jsonb_build_object('shipment_id', q.id || '-2')
           WHEN 45 THEN jsonb_build_object('shipment_id', q.id || '-2')
           WHEN 50 THEN jsonb_build_object('from', 'shipped', 'to', 'delivered')
         END AS data
  FROM q CROSS JOIN LATERAL (VALUES
    (0, q.t0,
       true),
    (1, q.t0 + interval '1 second',
       q.fate = 'shadowed'),
    (2, q.t0 + interval '2 seconds',
       q.fate NOT IN ('shadowed', 'declined')),
    (3, q.t0 + interval '2 seconds',
       q.fate = 'declined'),
    (4, q.t0 + interval '3 seconds',
       q.held),
    (5, q.t_decide,
       q.held AND q.fate = 'delivered'),
    (6, q.t0 + interval '3 seconds',
       q.fate = 'out_of_stock'),
    (7, q.t_decide + interval '1 second',
       q.fate = 'delivered' OR (q.fate = 'cancelled' AND q.who IN ('operator', 'platform'))),
    (8, q.t_decide + interval '1 second',
       (q.fate = 'delivered' AND q.backordered)
         OR (q.fate = 'cancelled' AND q.who = 'backorder_expired')),
    (9, q.t_disp - interval '1 minute',
       q.fate = 'delivered' AND q.backordered),
    (10, q.t0 + make_interval(secs => q.p_s / 2),
       q.fate = 'delivered' AND q.addr),
    (11, q.t0 + interval '2 hours',
       (q.fate = 'delivered' AND q.p_s > 7200)
         OR (q.fate = 'cancelled' AND q.t_cancel > q.t0 + interval '2 hours')),
    (12, q.t_cancel,
       q.fate = 'cancelled'),
    (20, q.t_disp,
       q.fate = 'delivered'),
    (21, q.t_disp + interval '30 seconds',
       q.fate = 'delivered' AND q.reroute),
    (22, q.t_disp + interval '31 seconds',
       q.fate = 'delivered' AND q.reroute),
    (23, q.t_disp + interval '40 seconds',
       q.fate = 'delivered' AND q.parcels = 2),
    (30, q.t_ship,
       q.fate = 'delivered' AND NOT q.reroute),
    (31, q.t_ship + interval '1 second',
       q.fate = 'delivered' AND NOT q.reroute AND NOT q.capture_declined),
    (32, q.t_ship + interval '1 second',
       q.fate = 'delivered' AND NOT q.reroute AND q.capture_declined),
    (33, q.t_ship + interval '4 hours',
       q.fate = 'delivered' AND NOT q.reroute),
    (34, q.t_deliv - interval '5 hours',
       q.fate = 'delivered' AND NOT q.reroute),
    (35, q.t_deliv,
       q.fate = 'delivered' AND NOT q.reroute),
    (40, q.t_ship + interval '10 minutes',
       q.fate = 'delivered' AND q.parcels = 2),
    (41, q.t_ship + interval '10 minutes 1 second',
       q.fate = 'delivered' AND q.parcels = 2),
    (43, q.t_ship + interval '4 hours 10 minutes',
       q.fate = 'delivered' AND q.parcels = 2),
    (44, q.t_deliv - interval '4 hours 50 minutes',
       q.fate = 'delivered' AND q.parcels = 2),
    (45, q.t_deliv + interval '10 minutes',
       q.fate = 'delivered' AND q.parcels = 2),
    (50, q.t_deliv + CASE WHEN q.parcels = 2 THEN interval '10 minutes' ELSE interval '0' END,
       q.fate = 'delivered')
  ) AS e(slot, at, happens)
  WHERE e.happens AND e.at <= CAST(:until AS timestamptz)
),
-- Numbered in time order; an entry without a status of its own keeps the order's.
ev AS MATERIALIZED (
  SELECT id, n, slot, type, data, at,
         (row_number() OVER w - 1)::int AS seq,
         count(*) OVER (PARTITION BY id) AS entries,
         status AS own_status
  FROM raw
  WINDOW w AS (PARTITION BY id ORDER BY at, slot)
),
ev2 AS MATERIALIZED (
  SELECT id, n, slot, type, data, at, seq, entries,
         coalesce(first_value(own_status) OVER (PARTITION BY id, steps ORDER BY seq),
                  'received') AS status
  FROM (SELECT ev.*, count(own_status) OVER (PARTITION BY id ORDER BY seq) AS steps
        FROM ev) counted
),
put_events AS (
  INSERT INTO order_events (order_id, seq, type, status, data, created_at)
  SELECT id, seq, type, status, data, at FROM ev2 ORDER BY at
),
-- Each parcel: how far it got.
parcel AS MATERIALIZED (
  SELECT id, data->>'shipment_id' AS shipment_id,
         min(at) FILTER (WHERE type = 'shipment_dispatched') AS created_at,
         max(at) AS updated_at,
         (ARRAY['dispatched', 'shipped', 'in_transit', 'out_for_delivery', 'delivered',
                'failed'])[max(CASE type
                    WHEN 'shipment_dispatched' THEN 1 WHEN 'shipment_shipped' THEN 2
                    WHEN 'shipment_in_transit' THEN 3 WHEN 'shipment_out_for_delivery' THEN 4
                    WHEN 'shipment_delivered' THEN 5 WHEN 'shipment_failed' THEN 6 END)]
           AS status,
         max(data->>'tracking_number') AS tracking_number
  FROM ev2
  WHERE type LIKE 'shipment\\_%' AND type <> 'shipment_rerouted'
  GROUP BY id, data->>'shipment_id'
),
put_shipments AS (
  INSERT INTO shipments (id, order_id, warehouse_id, status, tracking_number, carrier,
                         created_at, updated_at)
  SELECT shipment_id, id,
         CASE WHEN shipment_id LIKE '%-2' THEN 'bench-wh-2' ELSE 'bench-wh-1' END,
         status, tracking_number,
         CASE WHEN tracking_number IS NULL THEN NULL ELSE 'BENCHPOST' END,
         created_at, updated_at
  FROM parcel
),
put_payments AS (
  INSERT INTO payments (order_id, kind, status, amount, currency, idempotency_key,
                        gateway_reference, error, created_at)
  SELECT e.id, x.kind, x.status, q.total, 'EUR', e.id || x.key_suffix,
         CASE WHEN x.status = 'succeeded' THEN 'auth_' || substr(md5(e.id), 1, 16) END,
         x.error, e.at
  FROM ev2 e JOIN q ON q.id = e.id
  CROSS JOIN LATERAL (VALUES
    ('authorize', 'succeeded', '-authorize', NULL, e.type = 'payment_authorized'),
    ('authorize', 'declined', '-authorize', 'card declined',
       e.type = 'order_failed' AND e.data->>'reason' = 'payment_declined'),
    ('capture', 'succeeded', '-capture-' || right(e.data->>'shipment_id', 1), NULL,
       e.type = 'payment_captured'),
    ('capture', 'declined', '-capture-' || right(e.data->>'shipment_id', 1), 'card expired',
       e.type = 'payment_capture_failed'),
    ('void', 'succeeded', '-void', NULL,
       e.type = 'order_cancelled' OR (e.type = 'order_failed'
                                       AND e.data->>'reason' = 'out_of_stock'))
  ) AS x(kind, status, key_suffix, error, happens)
  WHERE x.happens
),
put_alerts AS (
  INSERT INTO alerts (order_id, subject, kind, status, detail, created_at, delivered_at,
                      acknowledged_by, acknowledged_at, note)
  SELECT e.id,
         CASE WHEN e.type = 'order_late' THEN '' ELSE e.data->>'shipment_id' END,
         CASE e.type WHEN 'order_late' THEN 'order_late'
                     WHEN 'payment_capture_failed' THEN 'capture_failed'
                     ELSE 'shipment_refused' END,
         CASE WHEN e.at < CAST(:until AS timestamptz) - interval '1 day'
              THEN 'acknowledged' ELSE 'open' END,
         e.data, e.at, NULL,
         CASE WHEN e.at < CAST(:until AS timestamptz) - interval '1 day'
              THEN 'ops-anna' END,
         CASE WHEN e.at < CAST(:until AS timestamptz) - interval '1 day'
              THEN e.at + interval '3 hours' END,
         CASE WHEN e.at < CAST(:until AS timestamptz) - interval '1 day'
              THEN 'looked into it' END
  FROM ev2 e
  WHERE e.type IN ('order_late', 'payment_capture_failed', 'shipment_failed')
),
parcels_json AS MATERIALIZED (
  SELECT s.id, jsonb_agg(jsonb_build_object(
           'id', s.shipment_id,
           'warehouse_id', CASE WHEN s.shipment_id LIKE '%-2' THEN 'bench-wh-2'
                                ELSE 'bench-wh-1' END,
           'status', s.status,
           'lines', CASE WHEN s.shipment_id LIKE '%-2' AND NOT q.reroute
                         THEN q.lines2 ELSE q.lines1 END,
           'tracking_number', s.tracking_number,
           'carrier', CASE WHEN s.tracking_number IS NULL THEN NULL ELSE 'BENCHPOST' END)
           ORDER BY s.shipment_id) AS shipments
  FROM parcel s JOIN q ON q.id = s.id
  GROUP BY s.id
),
last AS MATERIALIZED (
  SELECT e.id, e.seq, e.status, e.at, e.data FROM ev2 e WHERE e.seq = e.entries - 1
),
flags AS MATERIALIZED (
  SELECT id, bool_or(type = 'order_late') AS late,
         bool_or(type = 'payment_authorized') AS authorized,
         bool_or(type = 'payment_capture_failed') AS capture_failed,
         bool_or(type = 'hold_approved') AS approved
  FROM ev2 GROUP BY id
)
INSERT INTO orders (id, channel, external_id, idempotency_key, request_hash, customer_id,
                    status, failure_reason, last_seq, view, payment_token, address_key,
                    created_at, updated_at)
SELECT q.id, q.channel, 'B-' || lpad(q.n::text, 9, '0'), NULL, md5(q.id || 'request'),
       'cust-' || (q.n::bigint * 7919 % 200000), l.status,
       CASE WHEN l.status = 'failed' THEN l.data->>'reason' END,
       l.seq,
       jsonb_build_object(
         'id', q.id, 'channel', q.channel, 'external_id', 'B-' || lpad(q.n::text, 9, '0'),
         'status', l.status,
         'customer', jsonb_build_object(
            'id', 'cust-' || (q.n::bigint * 7919 % 200000),
            'email', 'customer' || (q.n::bigint * 7919 % 200000) || '@example.com',
            'name', (ARRAY['Ada Lovelace', 'Li Wei', 'Grace Hopper', 'Zhang Min',
                           'Alan Turing', 'Wang Fang', 'Edsger Dijkstra', 'Chen Jing'])
                    [1 + q.n % 8] || ' ' || (q.n::bigint * 7919 % 200000)),
         'shipping_address', jsonb_build_object(
            'name', (ARRAY['Ada Lovelace', 'Li Wei', 'Grace Hopper', 'Zhang Min',
                           'Alan Turing', 'Wang Fang', 'Edsger Dijkstra', 'Chen Jing'])
                    [1 + q.n % 8],
            'line1', (q.n % 997 + 1) || ' ' || (ARRAY['Analytical St', 'Nanjing Rd',
                           'Hauptstrasse', 'Wenyi Rd', 'Market St'])[1 + q.n % 5],
            'line2', NULL,
            'city', (ARRAY['Berlin', 'Shanghai', 'Munich', 'Hangzhou', 'Hamburg'])[1 + q.n % 5],
            'postal_code', lpad((10000 + q.n % 89999)::text, 5, '0'),
            'country', (ARRAY['DE', 'CN', 'DE', 'CN', 'DE'])[1 + q.n % 5],
            'region', NULL, 'lat', NULL, 'lon', NULL,
            'phone', '+49 30 ' || lpad((q.n % 9999999)::text, 7, '0')),
         'currency', 'EUR',
         'lines', q.lines,
         'totals', jsonb_build_object('subtotal', q.total::text, 'total', q.total::text),
         'payment', jsonb_build_object(
            'method', 'card',
            'status', CASE WHEN q.fate = 'declined' THEN 'declined'
                           WHEN l.status IN ('cancelled', 'failed') THEN 'voided'
                           WHEN f.capture_failed THEN 'capture_failed'
                           WHEN l.status IN ('shipped', 'delivered') THEN 'captured'
                           WHEN f.authorized THEN 'authorized'
                           ELSE 'pending' END,
            'authorized', CASE WHEN f.authorized AND l.status NOT IN ('cancelled', 'failed')
                               THEN q.total::text ELSE '0.00' END,
            'captured', CASE WHEN l.status IN ('shipped', 'delivered')
                               AND NOT f.capture_failed
                             THEN q.total::text ELSE '0.00' END),
         'created_at', to_char(q.t0 AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'),
         'updated_at', to_char(l.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'),
         'shipments', coalesce(sj.shipments, '[]'::jsonb),
         'hold', CASE WHEN q.held AND q.t0 + interval '3 seconds' <= CAST(:until AS timestamptz)
           THEN jsonb_build_object(
             'reasons', jsonb_build_array(q.hold_reason),
             'since', (q.t0 + interval '3 seconds')::text,
             'expires_at', (q.t0 + interval '24 hours')::text,
             'note', CASE WHEN q.hold_reason = 'manual' THEN 'check the address' END,
             'decision', CASE
               WHEN f.approved THEN jsonb_build_object(
                 'action', 'approve', 'by', 'ops-anna (key console)',
                 'at', q.t_decide::text, 'note', 'checked with the customer')
               WHEN l.status = 'cancelled' AND q.who IN ('customer', 'rule')
               THEN jsonb_build_object(
                 'action', 'reject', 'by', l.data->>'by', 'at', l.at::text,
                 'reason', l.data->>'reason') END) END,
         'failure_reason', CASE WHEN l.status = 'failed' THEN l.data->>'reason' END,
         'cancellation', CASE WHEN l.status = 'cancelled' THEN jsonb_build_object(
            'by', l.data->>'by', 'reason', l.data->>'reason',
            'code', CASE q.who WHEN 'operator' THEN 'cancelled' WHEN 'platform' THEN 'cancelled'
                               WHEN 'customer' THEN 'rejected' WHEN 'rule' THEN 'rejected'
                               ELSE q.who END) END,
         'late', coalesce(f.late, false),
         'backorder', CASE WHEN l.status = 'backordered' THEN jsonb_build_object(
            'lines', jsonb_build_array(jsonb_build_object('sku', q.lines->0->'sku',
                                                          'quantity', 1)),
            'since', (q.t_decide + interval '1 second')::text,
            'expires_at', (q.t0 + interval '7 days')::text) END,
         'adjustments', '[]'::jsonb, 'after_sales', '[]'::jsonb,
         'platform', NULL,
         'shadow', CASE WHEN q.fate = 'shadowed' THEN jsonb_build_object(
            'hold_reasons', '[]'::jsonb, 'shipments', '[]'::jsonb,
            'strategy', 'fewest_shipments', 'short', '[]'::jsonb) END),
       NULL,
       lower(regexp_replace((q.n % 997 + 1) || (ARRAY['Analytical St', 'Nanjing Rd',
             'Hauptstrasse', 'Wenyi Rd', 'Market St'])[1 + q.n % 5]
             || lpad((10000 + q.n % 89999)::text, 5, '0')
             || (ARRAY['Berlin', 'Shanghai', 'Munich', 'Hangzhou', 'Hamburg'])[1 + q.n % 5]
             || (ARRAY['de', 'cn', 'de', 'cn', 'de'])[1 + q.n % 5], '[^a-zA-Z0-9]', '', 'g')),
       q.t0, l.at
FROM q JOIN last l ON l.id = q.id JOIN flags f ON f.id = q.id
LEFT JOIN parcels_json sj ON sj.id = q.id
"""


def database_url() -> str:
    """``DATABASE_URL``, or the embedded PostgreSQL of ``oms dev`` under ``OMS_HOME``."""
    import os

    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    from oms.cli import _settings_with_database

    settings = _settings_with_database()
    if not settings.database_url:
        sys.exit("set DATABASE_URL, or run make dev once (its embedded PostgreSQL is used)")
    return settings.database_url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args()
    url = asyncio.run(ensure_orders(database_url(), args.orders, args.days, print))
    print(url)


if __name__ == "__main__":
    main()
