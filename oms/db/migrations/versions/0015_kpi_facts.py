"""KPI facts: one narrow row per order with what the KPI report needs (docs/kpis.md), and
one row per hold, kept by triggers in the statements that write the facts they come from,
so that a report reads one index range of narrow rows and never groups timeline entries.

``order_kpi_facts`` (one row per order):

- ``orders``: the row is made when the order is (channel, received at); whether it is a
  shadow order, and the cancellation code and who cancelled, are set while its status is or
  was ``cancelled`` or ``shadowed`` (a trigger whose ``WHEN`` leaves every other fold
  alone).
- ``order_events``: the first dispatch, the first delivery, the flags that spoil accuracy,
  the late-for-dispatch flag and the backorder flag; only the entry types a figure reads
  fire the trigger (its ``WHEN``), each an update of the order's facts row by its key.
- ``payments``: a declined capture spoils accuracy (a ``WHEN`` on the inserted row).
- ``shipments``: the parcels, and how many of them are shipped or beyond (a status update
  fires only when it crosses that line).

``order_kpi_holds`` (one row per ``order_held`` entry): its reasons and what ended it, the
first ``hold_approved``, ``order_cancelled`` or ``order_failed`` after it on the timeline
(whichever order the entries are written in).

Existing orders are filled set-based from the same tables (``oms_kpi_facts_backfill()``,
which fills the orders that have no facts row yet; the bench seeder calls it too). The
indexes of migration 0012 served only the report: they are dropped.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

# Literal copies as they stand for this revision (a migration never imports code that may
# change after it): oms.domain.status.ShipmentStatus from shipped on, and the entries that
# spoil an order's accuracy and those that end a hold (oms.store.reports).
SHIPPED_OR_BEYOND = "ARRAY['shipped', 'in_transit', 'out_for_delivery', 'delivered']"
FLAW_EVENTS = (
    "'shipment_failed', 'shipment_rerouted', 'reroute_failed', 'payment_capture_failed', "
    "'address_changed'"
)
HOLD_ENDS = "'hold_approved', 'order_cancelled', 'order_failed'"
EVENT_TYPES = (
    f"'shipment_dispatched', 'order_delivered', 'order_backordered', {FLAW_EVENTS}, "
    f"'order_held', {HOLD_ENDS}"
)
PROCESSING_S = "extract(epoch FROM first_dispatched_at - received_at)"
DELIVERY_S = "extract(epoch FROM delivered_at - first_dispatched_at)"
LATE_DISPATCH = "(type = 'order_late' AND data->>'stage' = 'dispatch')"

# The cancellation code and who cancelled, from an order's status and view: the same rules
# as docs/kpis.md's table (expiry, customer, operator, rule, platform).
_CANCEL_CODE = """
CREATE OR REPLACE FUNCTION oms_kpi_cancel_code(status text, view jsonb) RETURNS text AS $$
    SELECT CASE WHEN status = 'cancelled' THEN view->'cancellation'->>'code' END
$$ LANGUAGE sql IMMUTABLE
"""
_CANCELLED_BY = """
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
# A hold's reasons as text[] (nothing when ``reasons`` is not a list: never an error on the
# write path).
_REASONS = """
CREATE OR REPLACE FUNCTION oms_kpi_reasons(data jsonb) RETURNS text[] AS $$
    SELECT CASE WHEN jsonb_typeof(data->'reasons') = 'array'
                THEN ARRAY(SELECT jsonb_array_elements_text(data->'reasons'))
                ELSE '{}'::text[] END
$$ LANGUAGE sql IMMUTABLE
"""

_ORDER_TRIGGER = """
CREATE OR REPLACE FUNCTION oms_kpi_order() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM order_kpi_holds WHERE order_id = OLD.id;
        DELETE FROM order_kpi_facts WHERE order_id = OLD.id;
    ELSIF TG_OP = 'INSERT' THEN
        INSERT INTO order_kpi_facts (order_id, channel, received_at, shadow, cancel_code,
                                     cancelled_by)
        VALUES (NEW.id, NEW.channel, NEW.created_at, NEW.status = 'shadowed',
                oms_kpi_cancel_code(NEW.status, NEW.view),
                oms_kpi_cancelled_by(NEW.status, NEW.view))
        ON CONFLICT (order_id) DO NOTHING;
    ELSE
        UPDATE order_kpi_facts
           SET shadow = NEW.status = 'shadowed',
               cancel_code = oms_kpi_cancel_code(NEW.status, NEW.view),
               cancelled_by = oms_kpi_cancelled_by(NEW.status, NEW.view)
         WHERE order_id = NEW.id;
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql
"""

_EVENT_TRIGGER = f"""
CREATE OR REPLACE FUNCTION oms_kpi_order_event() RETURNS trigger AS $$
BEGIN
    IF NEW.type = 'order_held' THEN
        INSERT INTO order_kpi_holds (order_id, seq, reasons, ended_by, ended_seq)
        SELECT NEW.order_id, NEW.seq, oms_kpi_reasons(NEW.data), d.type, d.seq
          FROM (SELECT 1) AS one
          LEFT JOIN LATERAL (
            SELECT e.type, e.seq FROM order_events e
             WHERE e.order_id = NEW.order_id AND e.seq > NEW.seq AND e.type IN ({HOLD_ENDS})
             ORDER BY e.seq LIMIT 1) d ON true
        ON CONFLICT (order_id, seq) DO NOTHING;
    ELSIF NEW.type IN ({HOLD_ENDS}) THEN
        UPDATE order_kpi_holds SET ended_by = NEW.type, ended_seq = NEW.seq
         WHERE order_id = NEW.order_id AND seq < NEW.seq
           AND (ended_seq IS NULL OR ended_seq > NEW.seq);
    ELSE
        UPDATE order_kpi_facts SET
            first_dispatched_at = CASE WHEN NEW.type = 'shipment_dispatched'
                THEN LEAST(first_dispatched_at, NEW.created_at) ELSE first_dispatched_at END,
            delivered_at = CASE WHEN NEW.type = 'order_delivered'
                THEN LEAST(delivered_at, NEW.created_at) ELSE delivered_at END,
            flawed = flawed OR NEW.type IN ({FLAW_EVENTS}),
            late_dispatch = late_dispatch OR NEW.type = 'order_late',
            backordered = backordered OR NEW.type = 'order_backordered'
         WHERE order_id = NEW.order_id;
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql
"""

_PAYMENT_TRIGGER = """
CREATE OR REPLACE FUNCTION oms_kpi_payment() RETURNS trigger AS $$
BEGIN
    UPDATE order_kpi_facts SET flawed = true WHERE order_id = NEW.order_id AND NOT flawed;
    RETURN NULL;
END
$$ LANGUAGE plpgsql
"""

_SHIPMENT_TRIGGER = f"""
CREATE OR REPLACE FUNCTION oms_kpi_shipment() RETURNS trigger AS $$
DECLARE
    d_parcels integer := 0;
    d_shipped integer := 0;
    v_order text;
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        v_order := NEW.order_id;
        d_parcels := CASE WHEN TG_OP = 'INSERT' THEN 1 ELSE 0 END;
        d_shipped := CASE WHEN NEW.status = ANY({SHIPPED_OR_BEYOND}) THEN 1 ELSE 0 END;
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        v_order := OLD.order_id;
        d_parcels := d_parcels - CASE WHEN TG_OP = 'DELETE' THEN 1 ELSE 0 END;
        d_shipped := d_shipped - CASE WHEN OLD.status = ANY({SHIPPED_OR_BEYOND}) THEN 1 ELSE 0 END;
    END IF;
    UPDATE order_kpi_facts
       SET parcels = parcels + d_parcels, parcels_shipped = parcels_shipped + d_shipped
     WHERE order_id = v_order;
    RETURN NULL;
END
$$ LANGUAGE plpgsql
"""

# Every order without a facts row, and every hold without its row, from the tables the
# triggers read: the same rules, set-based.
_BACKFILL = f"""
CREATE OR REPLACE FUNCTION oms_kpi_facts_backfill() RETURNS void AS $$
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
         WHERE type IN ('shipment_dispatched', 'order_delivered', 'order_backordered',
                        {FLAW_EVENTS}) OR {LATE_DISPATCH}
         GROUP BY order_id) ev ON ev.order_id = o.id
      LEFT JOIN (
        SELECT order_id, count(*) AS parcels,
               count(*) FILTER (WHERE status = ANY({SHIPPED_OR_BEYOND})) AS shipped
          FROM shipments GROUP BY order_id) sh ON sh.order_id = o.id
      LEFT JOIN (
        SELECT DISTINCT order_id FROM payments
         WHERE kind = 'capture' AND status = 'declined') pay ON pay.order_id = o.id
     WHERE NOT EXISTS (SELECT 1 FROM order_kpi_facts f WHERE f.order_id = o.id)
    ON CONFLICT (order_id) DO NOTHING;

    INSERT INTO order_kpi_holds (order_id, seq, reasons, ended_by, ended_seq)
    SELECT e.order_id, e.seq, oms_kpi_reasons(e.data), d.type, d.seq
      FROM order_events e
      LEFT JOIN LATERAL (
        SELECT x.type, x.seq FROM order_events x
         WHERE x.order_id = e.order_id AND x.seq > e.seq AND x.type IN ({HOLD_ENDS})
         ORDER BY x.seq LIMIT 1) d ON true
     WHERE e.type = 'order_held'
    ON CONFLICT (order_id, seq) DO NOTHING;
$$ LANGUAGE sql
"""

_TRIGGERS = (
    ("kpi_order", "AFTER INSERT OR DELETE ON orders", "", "oms_kpi_order"),
    (
        "kpi_order_status",
        "AFTER UPDATE OF status, view ON orders",
        "WHEN (OLD.status IN ('cancelled', 'shadowed') OR NEW.status IN ('cancelled', 'shadowed'))",
        "oms_kpi_order",
    ),
    (
        "kpi_order_event",
        "AFTER INSERT ON order_events",
        f"WHEN (NEW.type IN ({EVENT_TYPES}) "
        "OR (NEW.type = 'order_late' AND NEW.data->>'stage' = 'dispatch'))",
        "oms_kpi_order_event",
    ),
    (
        "kpi_payment",
        "AFTER INSERT ON payments",
        "WHEN (NEW.kind = 'capture' AND NEW.status = 'declined')",
        "oms_kpi_payment",
    ),
    ("kpi_shipment", "AFTER INSERT OR DELETE ON shipments", "", "oms_kpi_shipment"),
    (
        "kpi_shipment_status",
        "AFTER UPDATE OF status ON shipments",
        f"WHEN ((OLD.status = ANY({SHIPPED_OR_BEYOND})) "
        f"IS DISTINCT FROM (NEW.status = ANY({SHIPPED_OR_BEYOND})))",
        "oms_kpi_shipment",
    ),
)
_FUNCTIONS = (
    "oms_kpi_facts_backfill()",
    "oms_kpi_shipment()",
    "oms_kpi_payment()",
    "oms_kpi_order_event()",
    "oms_kpi_order()",
    "oms_kpi_reasons(jsonb)",
    "oms_kpi_cancelled_by(text, jsonb)",
    "oms_kpi_cancel_code(text, jsonb)",
)
KPI_EVENTS_WHERE = (
    "(type IN ('shipment_dispatched', 'order_delivered', 'order_backordered', "
    "'shipment_failed', 'shipment_rerouted', 'reroute_failed', 'payment_capture_failed', "
    "'address_changed') OR (type = 'order_late' AND data->>'stage' = 'dispatch'))"
)


def _ts(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _flag(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.false())


def _count(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.Integer(), nullable=False, server_default="0")


def upgrade() -> None:
    op.create_table(
        "order_kpi_facts",
        sa.Column("order_id", sa.String(), primary_key=True),
        sa.Column("channel", sa.String(), nullable=False),
        _ts("received_at"),
        _flag("shadow"),
        sa.Column("cancel_code", sa.String(), nullable=True),
        sa.Column("cancelled_by", sa.String(), nullable=True),
        _ts("first_dispatched_at", nullable=True),
        _ts("delivered_at", nullable=True),
        _flag("flawed"),
        _flag("late_dispatch"),
        _flag("backordered"),
        _count("parcels"),
        _count("parcels_shipped"),
        # Seconds from receipt to the first dispatch, and from it to delivery, as the
        # percentiles sort them (float8), computed once when the row changes.
        sa.Column("processing_s", sa.Float(), sa.Computed(PROCESSING_S, persisted=True)),
        sa.Column("delivery_s", sa.Float(), sa.Computed(DELIVERY_S, persisted=True)),
        # Room on each page for the updates to stay on it (HOT: no index entry per update).
        postgresql_with={"fillfactor": "80"},
    )
    op.create_index("ix_order_kpi_facts_received", "order_kpi_facts", ["received_at", "channel"])
    # Each time's values in order, so that its percentiles per channel and overall are read
    # sorted (an index-only scan) instead of sorted per report.
    for column, name in (("processing_s", "processing"), ("delivery_s", "delivery")):
        op.create_index(
            f"ix_order_kpi_facts_{name}",
            "order_kpi_facts",
            [column],
            postgresql_include=["received_at", "channel"],
            postgresql_where=sa.text(f"NOT shadow AND {column} IS NOT NULL"),
        )
    # The number of (UTC day, channel) groups, which the planner cannot guess from the
    # columns alone: with it, the report's counts are one hashed pass.
    op.execute(
        "CREATE STATISTICS order_kpi_facts_day_channel "
        "ON ((received_at AT TIME ZONE 'UTC')::date), channel FROM order_kpi_facts"
    )
    op.create_table(
        "order_kpi_holds",
        sa.Column("order_id", sa.String(), primary_key=True),
        sa.Column("seq", sa.Integer(), primary_key=True),
        sa.Column("reasons", postgresql.ARRAY(sa.String()), nullable=False),
        sa.Column("ended_by", sa.String(), nullable=True),
        sa.Column("ended_seq", sa.Integer(), nullable=True),
    )
    for statement in (_CANCEL_CODE, _CANCELLED_BY, _REASONS):
        op.execute(statement)
    for statement in (_ORDER_TRIGGER, _EVENT_TRIGGER, _PAYMENT_TRIGGER, _SHIPMENT_TRIGGER):
        op.execute(statement)
    for name, when, condition, function in _TRIGGERS:
        op.execute(
            f"CREATE TRIGGER {name} {when} FOR EACH ROW {condition} EXECUTE FUNCTION {function}()"
        )
    op.execute(_BACKFILL)
    op.execute("SELECT oms_kpi_facts_backfill()")
    op.execute("ANALYZE order_kpi_facts")
    op.execute("ANALYZE order_kpi_holds")
    op.drop_index("ix_payments_capture_declined", "payments")
    op.drop_index("ix_shipments_kpi", "shipments")
    op.drop_index("ix_order_events_held", "order_events")
    op.drop_index("ix_order_events_kpi", "order_events")
    op.drop_index("ix_orders_kpi", "orders")


def downgrade() -> None:
    op.create_index(
        "ix_orders_kpi", "orders", ["created_at"], postgresql_include=["id", "channel", "status"]
    )
    op.create_index(
        "ix_order_events_kpi",
        "order_events",
        ["created_at"],
        postgresql_include=["order_id", "type"],
        postgresql_where=sa.text(KPI_EVENTS_WHERE),
    )
    op.create_index(
        "ix_order_events_held",
        "order_events",
        ["created_at"],
        postgresql_include=["order_id", "seq"],
        postgresql_where=sa.text("type = 'order_held'"),
    )
    op.create_index(
        "ix_shipments_kpi", "shipments", ["created_at"], postgresql_include=["order_id", "status"]
    )
    op.create_index(
        "ix_payments_capture_declined",
        "payments",
        ["created_at"],
        postgresql_include=["order_id"],
        postgresql_where=sa.text("kind = 'capture' AND status = 'declined'"),
    )
    for name, when, _, _ in _TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON {when.rsplit(' ON ', 1)[1]}")
    for function in _FUNCTIONS:
        op.execute(f"DROP FUNCTION IF EXISTS {function}")
    op.drop_table("order_kpi_holds")
    op.execute("DROP STATISTICS IF EXISTS order_kpi_facts_day_channel")
    op.drop_index("ix_order_kpi_facts_delivery", table_name="order_kpi_facts")
    op.drop_index("ix_order_kpi_facts_processing", table_name="order_kpi_facts")
    op.drop_index("ix_order_kpi_facts_received", table_name="order_kpi_facts")
    op.drop_table("order_kpi_facts")
