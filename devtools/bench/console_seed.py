"""Many orders for the console bench: ``ensure_orders(database_url, n, days)`` makes (once)
a database ``oms_console_<n>`` on the same server, migrated to the newest revision, whose
``orders`` table holds ``n`` rows over the ``days`` days before the seed's moment, shaped
as the workflow leaves them (customer, email, name, a phone on half the addresses, one to
three lines of 400 SKUs, totals, hold, cancellation, late). Only the orders read model is
filled: the search and the customer page read nothing else.

The mix: 200,000 customers (five orders each on average), four channels, about 6 % flagged
late, 3.5 % cancelled (by an operator, a platform, a rule or a hold's expiry), 1.5 % failed,
3 % held first; the last day's orders are still open (received, on hold, reserved,
dispatched, shipped) as on a live system. A database holding a finished seed of the same
size is reused as it is (``bench_seed`` says so).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

CHUNK = 100_000


def database_name(n: int) -> str:
    label = (
        f"{n // 1_000_000}m" if n % 1_000_000 == 0 else f"{n // 1000}k" if n % 1000 == 0 else str(n)
    )
    return f"oms_console_{label}"


def async_url(url: str) -> str:
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


async def ensure_orders(
    database_url: str, n: int, days: int = 30, progress: Callable[[str], None] | None = None
) -> str:
    """The URL of a database holding ``n`` seeded orders over ``days`` days (made if needed)."""
    say = progress or (lambda _: None)
    name = database_name(n)
    target = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    if await _finished(target, n, days):
        say(f"reusing {name}: {n:,} orders over {days} days")
        return target
    admin = create_async_engine(async_url(database_url), isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await admin.dispose()
    await migrate(target)
    await _fill(target, n, days, say)
    return target


async def migrate(url: str) -> None:
    from oms.db.engine import make_engine
    from oms.db.migrate import migrate as run
    from oms.settings import Settings

    engine = make_engine(Settings(database_url=url), pool_size=1)
    try:
        await run(engine)
    finally:
        await engine.dispose()


async def _finished(url: str, n: int, days: int) -> bool:
    engine = create_async_engine(async_url(url), pool_size=1)
    try:
        async with engine.connect() as conn:
            row = (await conn.execute(text("SELECT orders, days FROM bench_seed"))).first()
    except Exception:  # no such database, or no finished seed in it
        return False
    finally:
        await engine.dispose()
    return row is not None and (row.orders, row.days) == (n, days)


async def _fill(url: str, n: int, days: int, say: Callable[[str], None]) -> None:
    started = time.perf_counter()
    until = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    engine = create_async_engine(async_url(url), pool_size=1)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SET statement_timeout = 0"))
            await conn.execute(text("SET maintenance_work_mem = '256MB'"))
            await conn.execute(text("SELECT setseed(0.17)"))
            await conn.commit()
            for first in range(1, n + 1, CHUNK):
                last = min(first + CHUNK - 1, n)
                params = {"first": first, "last": last, "n": n, "days": days, "until": until}
                await conn.execute(text(_FILL), params)
                await conn.commit()
                say(f"  orders {last:>9,} of {n:,}  {time.perf_counter() - started:6.1f} s")
            await conn.execute(text("ANALYZE orders"))
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
    finally:
        await engine.dispose()
    say(f"seeded {n:,} orders in {time.perf_counter() - started:.1f} s")


_FILL = """
WITH p AS (
  SELECT n, substr(md5('oms-console-' || n), 1, 20) AS id,
         (ARRAY['webshop', 'webshop', 'webshop', 'webshop', 'marketplace', 'marketplace',
                'taobao', 'taobao', 'amazon', 'amazon'])[1 + (n * 7) % 10] AS channel,
         (n::bigint * 7919 % 200000)::int AS c,
         CAST(:until AS timestamptz) - make_interval(days => :days)
           + make_interval(secs => (n - 1 + random()) * 86400.0 * :days / :n) AS t0,
         random() AS u, random() AS v, random() AS w,
         1 + n % 3 AS nlines
  FROM generate_series(CAST(:first AS integer), CAST(:last AS integer)) AS n
),
q AS (
  SELECT p.*,
         CASE WHEN age_s < 86400 THEN
                (ARRAY['received', 'on_hold', 'reserved', 'dispatched', 'shipped', 'shipped',
                       'dispatched', 'reserved'])[1 + (n % 8)]
              WHEN u < 0.015 THEN 'failed'
              WHEN u < 0.050 THEN 'cancelled'
              ELSE 'delivered' END AS status,
         (SELECT jsonb_agg(jsonb_build_object(
                    'sku', 'SKU-' || lpad(((n * 7 + k * 13) % 400)::text, 4, '0'),
                    'line_id', '', 'quantity', 1 + (n + k) % 3,
                    'unit_price', (5 + ((n * 7 + k * 13) % 400) % 50)::text || '.90')
                  ORDER BY k)
            FROM generate_series(1, nlines) AS k) AS lines
  FROM (SELECT p.*, extract(epoch FROM CAST(:until AS timestamptz) - t0) AS age_s FROM p) p
),
r AS (
  SELECT q.*,
         (SELECT sum((l->>'quantity')::int * (l->>'unit_price')::numeric)
            FROM jsonb_array_elements(lines) l) AS total,
         (v < 0.03 OR status = 'on_hold') AS held,
         (w < 0.06 AND status NOT IN ('failed', 'cancelled', 'received')) AS late
  FROM q
)
INSERT INTO orders (id, channel, external_id, request_hash, customer_id, status,
                    failure_reason, last_seq, view, created_at, updated_at)
SELECT id, channel, 'C-' || lpad(n::text, 9, '0'), md5(id), 'cust-' || c, status,
       CASE WHEN status = 'failed' THEN 'payment_declined' END, 6,
       jsonb_build_object(
         'id', id, 'channel', channel, 'external_id', 'C-' || lpad(n::text, 9, '0'),
         'status', status,
         'customer', jsonb_build_object(
            'id', 'cust-' || c, 'email', 'cust-' || c || '@example.com',
            'name', (ARRAY['Ada Lovelace', 'Li Wei', 'Grace Hopper', 'Zhang Min',
                           'Alan Turing', 'Wang Fang', 'Edsger Dijkstra', 'Chen Jing'])
                    [1 + c % 8] || ' ' || c),
         'shipping_address', jsonb_build_object(
            'name', 'Receiver ' || c,
            'line1', (n % 997 + 1) || ' Market St', 'line2', NULL,
            'city', (ARRAY['Berlin', 'Shanghai', 'Munich', 'Hangzhou'])[1 + n % 4],
            'postal_code', lpad((10000 + n % 89999)::text, 5, '0'),
            'country', (ARRAY['DE', 'CN', 'DE', 'CN'])[1 + n % 4],
            'region', NULL, 'lat', NULL, 'lon', NULL,
            'phone', CASE WHEN n % 2 = 0
                          THEN '+49 30 ' || lpad(c::text, 7, '0') END),
         'currency', CASE WHEN channel = 'taobao' THEN 'CNY' ELSE 'EUR' END,
         'lines', lines,
         'totals', jsonb_build_object('subtotal', total::text, 'total', total::text),
         'payment', jsonb_build_object('method', 'card', 'status', 'captured',
                                       'authorized', total::text, 'captured', total::text),
         'created_at', to_char(t0 AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'),
         'updated_at', to_char(t0 AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'),
         'shipments', '[]'::jsonb,
         'hold', CASE WHEN held THEN jsonb_build_object(
            'reasons', jsonb_build_array('high_value'), 'since', t0::text,
            'decision', CASE WHEN status = 'on_hold' THEN NULL
                             WHEN status = 'cancelled' THEN jsonb_build_object(
                               'action', 'reject', 'by', 'ops-anna', 'at', t0::text)
                             ELSE jsonb_build_object(
                               'action', 'approve', 'by', 'ops-anna', 'at', t0::text) END)
            END,
         'failure_reason', CASE WHEN status = 'failed' THEN 'payment_declined' END,
         'cancellation', CASE WHEN status = 'cancelled' THEN jsonb_build_object(
            'by', CASE WHEN held THEN 'ops-anna' WHEN v < 0.5 THEN 'ops-bob' ELSE 'platform' END,
            'reason', 'customer asked',
            'code', CASE WHEN held THEN 'rejected' ELSE 'cancelled' END) END,
         'late', late, 'backorder', NULL, 'adjustments', '[]'::jsonb,
         'after_sales', '[]'::jsonb, 'platform', NULL, 'shadow', NULL),
       t0, t0
FROM r
"""
