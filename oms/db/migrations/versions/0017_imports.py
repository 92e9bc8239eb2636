"""Historical orders imported from another system (``oms import orders``, issue 18).

- ``import_runs``: one row per run of the writer (``oms.imports.writer``), by its key (a
  hash of the channel, the format and the files): how many of the input's orders are
  committed, the last one's external id, the counts and the refusals so far, updated in
  the transaction of each batch, so a run killed at any point and started again with the
  same files goes on after the last committed batch.
- The per-row triggers on ``orders``, ``order_events``, ``payments`` and ``shipments``
  (events out of 0008, KPI facts of 0015, ``order_skus`` of 0016) skip the rows written
  while the transaction-local setting ``oms.importing`` is ``on``: the writer sets it in
  each batch's transaction, writes no outbox event (partners never receive years of
  history) and fills ``order_skus`` and the KPI facts itself, set-based, with
  ``oms_kpi_facts_of(ids)``: the rules of ``oms_kpi_facts_backfill()`` for the given
  orders, their rows made or replaced. Any other transaction fires the triggers as before.
- Who cancelled an imported order, for the KPI report: the view's
  ``imported.cancelled_by`` (customer, operator, rule, expiry, platform) when it has one.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

NOT_IMPORTING = "coalesce(current_setting('oms.importing', true), '') <> 'on'"

# Literal copies of the triggers as 0008, 0015 and 0016 made them: (name, when, condition,
# function); this revision adds NOT_IMPORTING to each condition.
SHIPPED_OR_BEYOND = "ARRAY['shipped', 'in_transit', 'out_for_delivery', 'delivered']"
KPI_EVENTS = (
    "'shipment_dispatched', 'order_delivered', 'order_backordered', 'shipment_failed', "
    "'shipment_rerouted', 'reroute_failed', 'payment_capture_failed', 'address_changed', "
    "'order_held', 'hold_approved', 'order_cancelled', 'order_failed'"
)
TRIGGERS = (
    ("outbox_order_event", "AFTER INSERT ON order_events", "", "oms_outbox_order_event"),
    ("kpi_order", "AFTER INSERT OR DELETE ON orders", "", "oms_kpi_order"),
    (
        "kpi_order_status",
        "AFTER UPDATE OF status, view ON orders",
        "(OLD.status IN ('cancelled', 'shadowed') OR NEW.status IN ('cancelled', 'shadowed'))",
        "oms_kpi_order",
    ),
    (
        "kpi_order_event",
        "AFTER INSERT ON order_events",
        f"(NEW.type IN ({KPI_EVENTS}) "
        "OR (NEW.type = 'order_late' AND NEW.data->>'stage' = 'dispatch'))",
        "oms_kpi_order_event",
    ),
    (
        "kpi_payment",
        "AFTER INSERT ON payments",
        "(NEW.kind = 'capture' AND NEW.status = 'declined')",
        "oms_kpi_payment",
    ),
    ("kpi_shipment", "AFTER INSERT OR DELETE ON shipments", "", "oms_kpi_shipment"),
    (
        "kpi_shipment_status",
        "AFTER UPDATE OF status ON shipments",
        f"((OLD.status = ANY({SHIPPED_OR_BEYOND})) "
        f"IS DISTINCT FROM (NEW.status = ANY({SHIPPED_OR_BEYOND})))",
        "oms_kpi_shipment",
    ),
    ("order_skus_on_insert", "AFTER INSERT ON orders", "", "oms_order_skus"),
    (
        "order_skus_on_lines",
        "AFTER UPDATE OF view ON orders",
        "(OLD.view->'lines' IS DISTINCT FROM NEW.view->'lines')",
        "oms_order_skus",
    ),
)

_CANCELLED_BY_0015 = """
CREATE OR REPLACE FUNCTION oms_kpi_cancelled_by(status text, view jsonb) RETURNS text AS $$
    SELECT CASE
      WHEN status <> 'cancelled' THEN NULL
      WHEN view->'cancellation'->>'code' IN ('hold_expired', 'backorder_expired', 'unpaid')
        THEN 'expiry'
      WHEN view->'cancellation'->>'code' = 'rejected'
           AND coalesce(view->'hold'->'reasons', '[]'::jsonb) ? 'refund_requested'
        THEN 'customer'
      WHEN view->'cancellation'->>'code' = 'rejected'
           AND coalesce(view->'hold'->'reasons', '[]'::jsonb) <@ '["manual"]'::jsonb
        THEN 'operator'
      WHEN view->'cancellation'->>'code' = 'rejected' THEN 'rule'
      WHEN view->'cancellation'->>'by' LIKE 'channel:%' THEN 'platform'
      ELSE 'operator'
    END
$$ LANGUAGE sql IMMUTABLE
"""
_CANCELLED_BY = """
CREATE OR REPLACE FUNCTION oms_kpi_cancelled_by(status text, view jsonb) RETURNS text AS $$
    SELECT CASE
      WHEN status <> 'cancelled' THEN NULL
      WHEN view->'imported'->>'cancelled_by'
           IN ('customer', 'operator', 'rule', 'expiry', 'platform')
        THEN view->'imported'->>'cancelled_by'
      WHEN view->'cancellation'->>'code' IN ('hold_expired', 'backorder_expired', 'unpaid')
        THEN 'expiry'
      WHEN view->'cancellation'->>'code' = 'rejected'
           AND coalesce(view->'hold'->'reasons', '[]'::jsonb) ? 'refund_requested'
        THEN 'customer'
      WHEN view->'cancellation'->>'code' = 'rejected'
           AND coalesce(view->'hold'->'reasons', '[]'::jsonb) <@ '["manual"]'::jsonb
        THEN 'operator'
      WHEN view->'cancellation'->>'code' = 'rejected' THEN 'rule'
      WHEN view->'cancellation'->>'by' LIKE 'channel:%' THEN 'platform'
      ELSE 'operator'
    END
$$ LANGUAGE sql IMMUTABLE
"""

FLAW_EVENTS = (
    "'shipment_failed', 'shipment_rerouted', 'reroute_failed', 'payment_capture_failed', "
    "'address_changed'"
)
HOLD_ENDS = "'hold_approved', 'order_cancelled', 'order_failed'"
LATE_DISPATCH = "(type = 'order_late' AND data->>'stage' = 'dispatch')"

# oms_kpi_facts_backfill() of 0015 for the orders given, each row made or replaced.
_FACTS_OF = f"""
CREATE OR REPLACE FUNCTION oms_kpi_facts_of(ids text[]) RETURNS void AS $$
    DELETE FROM order_kpi_holds WHERE order_id = ANY(ids);

    INSERT INTO order_kpi_facts (order_id, channel, received_at, shadow, cancel_code,
                                 cancelled_by, first_dispatched_at, delivered_at, flawed,
                                 late_dispatch, backordered, parcels, parcels_shipped)
    SELECT o.id, o.channel, o.created_at, o.status = 'shadowed',
           oms_kpi_cancel_code(o.status, o.view), oms_kpi_cancelled_by(o.status, o.view),
           ev.dispatched_at, ev.delivered_at,
           coalesce(ev.flawed, false) OR pay.order_id IS NOT NULL,
           coalesce(ev.late_dispatch, false), coalesce(ev.backordered, false),
           coalesce(sh.parcels, 0), coalesce(sh.shipped, 0)
      FROM orders o
      LEFT JOIN (
        SELECT order_id,
               min(created_at) FILTER (WHERE type = 'shipment_dispatched') AS dispatched_at,
               min(created_at) FILTER (WHERE type = 'order_delivered') AS delivered_at,
               bool_or(type IN ({FLAW_EVENTS})) AS flawed,
               bool_or(type = 'order_late') AS late_dispatch,
               bool_or(type = 'order_backordered') AS backordered
          FROM order_events
         WHERE order_id = ANY(ids)
           AND (type IN ('shipment_dispatched', 'order_delivered', 'order_backordered',
                         {FLAW_EVENTS}) OR {LATE_DISPATCH})
         GROUP BY order_id) ev ON ev.order_id = o.id
      LEFT JOIN (
        SELECT order_id, count(*) AS parcels,
               count(*) FILTER (WHERE status = ANY({SHIPPED_OR_BEYOND})) AS shipped
          FROM shipments WHERE order_id = ANY(ids) GROUP BY order_id) sh ON sh.order_id = o.id
      LEFT JOIN (
        SELECT DISTINCT order_id FROM payments
         WHERE order_id = ANY(ids) AND kind = 'capture' AND status = 'declined') pay
        ON pay.order_id = o.id
     WHERE o.id = ANY(ids)
    ON CONFLICT (order_id) DO UPDATE SET
        channel = EXCLUDED.channel, received_at = EXCLUDED.received_at,
        shadow = EXCLUDED.shadow, cancel_code = EXCLUDED.cancel_code,
        cancelled_by = EXCLUDED.cancelled_by,
        first_dispatched_at = EXCLUDED.first_dispatched_at,
        delivered_at = EXCLUDED.delivered_at, flawed = EXCLUDED.flawed,
        late_dispatch = EXCLUDED.late_dispatch, backordered = EXCLUDED.backordered,
        parcels = EXCLUDED.parcels, parcels_shipped = EXCLUDED.parcels_shipped;

    INSERT INTO order_kpi_holds (order_id, seq, reasons, ended_by, ended_seq)
    SELECT e.order_id, e.seq, oms_kpi_reasons(e.data), d.type, d.seq
      FROM order_events e
      LEFT JOIN LATERAL (
        SELECT x.type, x.seq FROM order_events x
         WHERE x.order_id = e.order_id AND x.seq > e.seq AND x.type IN ({HOLD_ENDS})
         ORDER BY x.seq LIMIT 1) d ON true
     WHERE e.order_id = ANY(ids) AND e.type = 'order_held'
    ON CONFLICT (order_id, seq) DO NOTHING;
$$ LANGUAGE sql
"""


def _create(name: str, when: str, condition: str, function: str, importing: bool) -> None:
    table = when.rsplit(" ON ", 1)[1]
    op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
    parts = [c for c in (condition, NOT_IMPORTING if importing else "") if c]
    where = f"WHEN ({' AND '.join(parts)}) " if parts else ""
    op.execute(f"CREATE TRIGGER {name} {when} FOR EACH ROW {where}EXECUTE FUNCTION {function}()")


def upgrade() -> None:
    op.create_table(
        "import_runs",
        sa.Column("run_key", sa.String(), primary_key=True),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("committed", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_external_id", sa.String(), nullable=True),
        sa.Column("counts", JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("refusals", JSONB(), nullable=False, server_default=sa.text("'[]'::jsonb")),
    )
    for name, when, condition, function in TRIGGERS:
        _create(name, when, condition, function, importing=True)
    op.execute(_CANCELLED_BY)
    op.execute(_FACTS_OF)


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS oms_kpi_facts_of(text[])")
    op.execute(_CANCELLED_BY_0015)
    for name, when, condition, function in TRIGGERS:
        _create(name, when, condition, function, importing=False)
    op.drop_table("import_runs")
