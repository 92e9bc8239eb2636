"""Events out: webhook endpoints, the outbox, deliveries and their attempts, and the
triggers that write the outbox in the same statement as each fact.

A trigger on ``order_events`` turns a timeline entry of a public type into one
``outbox_events`` row and one ``webhook_deliveries`` row per enabled endpoint subscribed to
it; one on ``alerts`` does the same for ``alert.raised``, one on ``stock`` for
``stock.changed``. Each writes nothing at all when no enabled endpoint subscribes, so the
order path and the stock path pay one lookup in a table of a few rows. Each tells the
deliverers (``NOTIFY oms_outbox, <endpoint id>``) at commit.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# A literal copy of oms.events_out.catalogue.TIMELINE_EVENTS as it stood for this revision
# (tests/unit/test_events_out.py checks they agree): a migration never imports code that
# may change after it.
TIMELINE_EVENTS = {
    "order_received": "order.received",
    "order_held": "order.on_hold",
    "payment_authorized": "order.payment_authorized",
    "stock_reserved": "order.reserved",
    "order_backordered": "order.backordered",
    "shipment_dispatched": "order.dispatched",
    "shipment_shipped": "order.shipped",
    "order_delivered": "order.delivered",
    "order_cancelled": "order.cancelled",
    "order_failed": "order.failed",
    "order_late": "order.late",
}
PERSONAL_KEYS = (
    "customer",
    "email",
    "name",
    "shipping_address",
    "address",
    "payment",
    "token",
    "payment_token",
)


def _case() -> str:
    whens = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in TIMELINE_EVENTS.items())
    return f"CASE NEW.type {whens} ELSE NULL END"


def _personal() -> str:
    return "ARRAY[" + ", ".join(f"'{k}'" for k in PERSONAL_KEYS) + "]"


# One outbox row and its deliveries, for every trigger below.
_EMIT = """
CREATE OR REPLACE FUNCTION oms_outbox_emit(
    event_type text, p_order_id text, p_seq integer, occurred timestamptz, body jsonb
) RETURNS void AS $$
DECLARE
    evt text := 'evt_' || replace(gen_random_uuid()::text, '-', '');
    ep record;
BEGIN
    INSERT INTO outbox_events (id, type, order_id, seq, occurred_at, data, created_at)
    VALUES (evt, event_type, p_order_id, p_seq, occurred, body, now());
    FOR ep IN SELECT id FROM webhook_endpoints
              WHERE enabled AND deleted_at IS NULL
                AND events && CAST(ARRAY[event_type, '*'] AS varchar[])
    LOOP
        INSERT INTO webhook_deliveries (endpoint_id, event_id, order_id, seq, status, attempts,
                                        next_attempt_at, created_at, updated_at)
        VALUES (ep.id, evt, p_order_id, p_seq, 'pending', 0, now(), now(), now());
        PERFORM pg_notify('oms_outbox', ep.id);
    END LOOP;
END
$$ LANGUAGE plpgsql
"""

_SUBSCRIBED = """
CREATE OR REPLACE FUNCTION oms_outbox_subscribed(event_type text) RETURNS boolean AS $$
    SELECT EXISTS (SELECT 1 FROM webhook_endpoints
                   WHERE enabled AND deleted_at IS NULL
                     AND events && CAST(ARRAY[event_type, '*'] AS varchar[]))
$$ LANGUAGE sql STABLE
"""


def _order_trigger() -> str:
    return f"""
CREATE OR REPLACE FUNCTION oms_outbox_order_event() RETURNS trigger AS $$
DECLARE
    event_type text := {_case()};
    o record;
BEGIN
    IF event_type IS NULL OR NOT oms_outbox_subscribed(event_type) THEN
        RETURN NULL;
    END IF;
    SELECT channel, external_id INTO o FROM orders WHERE id = NEW.order_id;
    PERFORM oms_outbox_emit(
        event_type, NEW.order_id, NEW.seq, NEW.created_at,
        (NEW.data - {_personal()}) || jsonb_build_object(
            'order_id', NEW.order_id, 'channel', o.channel, 'external_id', o.external_id,
            'status', NEW.status, 'seq', NEW.seq));
    RETURN NULL;
END
$$ LANGUAGE plpgsql
"""


_ALERT_TRIGGER = """
CREATE OR REPLACE FUNCTION oms_outbox_alert() RETURNS trigger AS $$
BEGIN
    IF NOT oms_outbox_subscribed('alert.raised') THEN
        RETURN NULL;
    END IF;
    PERFORM oms_outbox_emit(
        'alert.raised', NULL, NULL, NEW.created_at,
        jsonb_build_object('alert_id', NEW.id, 'order_id', NULLIF(NEW.order_id, ''),
                           'kind', NEW.kind, 'subject', NULLIF(NEW.subject, '')));
    RETURN NULL;
END
$$ LANGUAGE plpgsql
"""

_STOCK_TRIGGER = """
CREATE OR REPLACE FUNCTION oms_outbox_stock() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.on_hand = NEW.on_hand AND OLD.reserved = NEW.reserved THEN
        RETURN NULL;
    END IF;
    IF NOT oms_outbox_subscribed('stock.changed') THEN
        RETURN NULL;
    END IF;
    PERFORM oms_outbox_emit(
        'stock.changed', NULL, NULL, now(),
        jsonb_build_object('warehouse_id', NEW.warehouse_id, 'sku', NEW.sku,
                           'on_hand', NEW.on_hand, 'reserved', NEW.reserved,
                           'available', NEW.on_hand - NEW.reserved));
    RETURN NULL;
END
$$ LANGUAGE plpgsql
"""

_TRIGGERS = (
    ("outbox_order_event", "AFTER INSERT ON order_events", "oms_outbox_order_event"),
    ("outbox_alert", "AFTER INSERT ON alerts", "oms_outbox_alert"),
    ("outbox_stock", "AFTER INSERT OR UPDATE OF on_hand, reserved ON stock", "oms_outbox_stock"),
)


def _ts(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("url", sa.String(), nullable=False),
        sa.Column("events", postgresql.ARRAY(sa.String()), nullable=False),
        sa.Column("description", sa.String(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("secret", sa.String(), nullable=False),
        sa.Column("previous_secret", sa.String(), nullable=True),
        _ts("previous_secret_until", nullable=True),
        _ts("failing_since", nullable=True),
        sa.Column("disabled_reason", sa.String(), nullable=True),
        _ts("created_at"),
        _ts("updated_at"),
        _ts("deleted_at", nullable=True),
    )
    op.create_table(
        "outbox_events",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column("order_id", sa.String(), nullable=True),
        sa.Column("seq", sa.Integer(), nullable=True),
        _ts("occurred_at"),
        sa.Column("data", postgresql.JSONB(), nullable=False),
        _ts("created_at"),
    )
    op.create_index("ix_outbox_events_order", "outbox_events", ["order_id", "seq"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("endpoint_id", sa.String(), nullable=False),
        sa.Column("event_id", sa.String(), nullable=False),
        sa.Column("order_id", sa.String(), nullable=True),
        sa.Column("seq", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _ts("next_attempt_at", nullable=True),
        sa.Column("last_error", sa.String(), nullable=True),
        _ts("delivered_at", nullable=True),
        _ts("created_at"),
        _ts("updated_at"),
        sa.UniqueConstraint("endpoint_id", "event_id", name="webhook_deliveries_endpoint_event"),
    )
    op.create_index(
        "ix_webhook_deliveries_due",
        "webhook_deliveries",
        ["endpoint_id", "next_attempt_at"],
        postgresql_where=sa.text("status IN ('pending', 'failed')"),
    )
    op.create_index(
        "ix_webhook_deliveries_order_head",
        "webhook_deliveries",
        ["endpoint_id", "order_id", "seq"],
        postgresql_where=sa.text("status IN ('pending', 'failed') AND order_id IS NOT NULL"),
    )
    op.create_index(
        "ix_webhook_deliveries_endpoint_id", "webhook_deliveries", ["endpoint_id", "id"]
    )
    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("delivery_id", sa.BigInteger(), nullable=False),
        _ts("at"),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(), nullable=True),
        _ts("next_attempt_at", nullable=True),
    )
    op.create_index("ix_webhook_attempts_delivery", "webhook_attempts", ["delivery_id", "id"])
    op.execute(_EMIT)
    op.execute(_SUBSCRIBED)
    op.execute(_order_trigger())
    op.execute(_ALERT_TRIGGER)
    op.execute(_STOCK_TRIGGER)
    for name, when, function in _TRIGGERS:
        op.execute(f"CREATE TRIGGER {name} {when} FOR EACH ROW EXECUTE FUNCTION {function}()")


def downgrade() -> None:
    for name, when, _ in _TRIGGERS:
        table = when.rsplit(" ON ", 1)[1]
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
    for function in (
        "oms_outbox_order_event()",
        "oms_outbox_alert()",
        "oms_outbox_stock()",
        "oms_outbox_subscribed(text)",
        "oms_outbox_emit(text, text, integer, timestamptz, jsonb)",
    ):
        op.execute(f"DROP FUNCTION IF EXISTS {function}")
    op.drop_index("ix_webhook_attempts_delivery", table_name="webhook_attempts")
    op.drop_table("webhook_attempts")
    op.drop_index("ix_webhook_deliveries_endpoint_id", table_name="webhook_deliveries")
    op.drop_index("ix_webhook_deliveries_order_head", table_name="webhook_deliveries")
    op.drop_index("ix_webhook_deliveries_due", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_index("ix_outbox_events_order", table_name="outbox_events")
    op.drop_table("outbox_events")
    op.drop_table("webhook_endpoints")
