"""Events out: ``order.edited``, made by the timeline entry ``order_edited`` (an order's
lines edited before dispatch). The order events' trigger function is replaced by one whose
mapping has that entry; nothing else changes.

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

# A literal copy of oms.events_out.catalogue.TIMELINE_EVENTS as it stands for this revision
# (tests/unit/test_events_out.py checks they agree): a migration never imports code that
# may change after it. Before it, 0008's mapping, without the last entry.
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
    "order_edited": "order.edited",
}
BEFORE = {k: v for k, v in TIMELINE_EVENTS.items() if k != "order_edited"}
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


def _case(mapping: dict[str, str]) -> str:
    whens = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in mapping.items())
    return f"CASE NEW.type {whens} ELSE NULL END"


def _order_trigger(mapping: dict[str, str]) -> str:
    """0008's function, with ``mapping``."""
    personal = "ARRAY[" + ", ".join(f"'{k}'" for k in PERSONAL_KEYS) + "]"
    return f"""
CREATE OR REPLACE FUNCTION oms_outbox_order_event() RETURNS trigger AS $$
DECLARE
    event_type text := {_case(mapping)};
    o record;
BEGIN
    IF event_type IS NULL OR NOT oms_outbox_subscribed(event_type) THEN
        RETURN NULL;
    END IF;
    SELECT channel, external_id INTO o FROM orders WHERE id = NEW.order_id;
    PERFORM oms_outbox_emit(
        event_type, NEW.order_id, NEW.seq, NEW.created_at,
        (NEW.data - {personal}) || jsonb_build_object(
            'order_id', NEW.order_id, 'channel', o.channel, 'external_id', o.external_id,
            'status', NEW.status, 'seq', NEW.seq));
    RETURN NULL;
END
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    op.execute(_order_trigger(TIMELINE_EVENTS))


def downgrade() -> None:
    op.execute(_order_trigger(BEFORE))
