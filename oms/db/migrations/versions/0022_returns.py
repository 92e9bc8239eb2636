"""Returns and refunds: ``returns`` (one per return of an order's delivered lines) with its
``return_lines`` (asked, then received: restockable, damaged, missing), ``refunds`` (money
given back against the order's captures, with or without a return) split into
``refund_parts`` (one per capture it draws on), and ``store_credits`` (a return resolved
as credit for the customer). See docs/returns.md.

Events out: the order timeline's trigger also makes ``return.*`` and ``refund.*`` events
from the return and refund steps (``oms_outbox_order_event`` replaced with the larger
mapping; the downgrade puts 0020's back).

Revision ID: 0022
Revises: 0021
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


# Literal copies, as they stood for this revision (tests/unit/test_events_out.py checks them
# against oms.events_out.catalogue): 0020's mapping, and the one this revision adds.
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
RETURN_TIMELINE_EVENTS = {
    "return_opened": "return.opened",
    "return_approved": "return.approved",
    "return_rejected": "return.rejected",
    "return_received": "return.received",
    "return_closed": "return.closed",
    "refund_issued": "refund.succeeded",
    "refund_failed": "refund.failed",
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


def order_trigger(mapping: dict[str, str]) -> str:
    """0008's ``oms_outbox_order_event`` with ``mapping`` (timeline type -> event type)."""
    whens = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in mapping.items())
    personal = "ARRAY[" + ", ".join(f"'{k}'" for k in PERSONAL_KEYS) + "]"
    return f"""
CREATE OR REPLACE FUNCTION oms_outbox_order_event() RETURNS trigger AS $$
DECLARE
    event_type text := CASE NEW.type {whens} ELSE NULL END;
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


def _ts(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "returns",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("order_id", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("resolution", sa.String(), nullable=False),
        sa.Column("requested_by", sa.String(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("warehouse_id", sa.String(), nullable=False),
        sa.Column("decided_by", sa.String(), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("tracking_number", sa.String(), nullable=True),
        sa.Column("refund_id", sa.String(), nullable=True),
        sa.Column("exchange_order_id", sa.String(), nullable=True),
        _ts("created_at"),
        _ts("updated_at"),
        sa.CheckConstraint(
            "resolution IN ('refund', 'exchange', 'store_credit', 'none')",
            name="returns_resolution",
        ),
        sa.PrimaryKeyConstraint("id", name="returns_pkey"),
    )
    op.create_index("ix_returns_order_id", "returns", ["order_id"])
    op.create_table(
        "return_lines",
        sa.Column("return_id", sa.String(), nullable=False),
        sa.Column("sku", sa.String(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("restockable", sa.Integer(), nullable=True),
        sa.Column("damaged", sa.Integer(), nullable=True),
        sa.Column("missing", sa.Integer(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("restocked", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.CheckConstraint("quantity > 0", name="return_lines_quantity"),
        sa.PrimaryKeyConstraint("return_id", "sku", name="return_lines_pkey"),
    )
    op.create_table(
        "refunds",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("order_id", sa.String(), nullable=False),
        sa.Column("return_id", sa.String(), nullable=True),
        sa.Column("amount", sa.Numeric(20, 4), nullable=False),
        sa.Column("currency", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("requested_by", sa.String(), nullable=False),
        sa.Column("refunded", sa.Numeric(20, 4), server_default=sa.text("0"), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        _ts("created_at"),
        _ts("updated_at"),
        sa.CheckConstraint("amount > 0", name="refunds_amount"),
        sa.PrimaryKeyConstraint("id", name="refunds_pkey"),
    )
    op.create_index("ix_refunds_order_id", "refunds", ["order_id"])
    op.create_table(
        "refund_parts",
        sa.Column("refund_id", sa.String(), nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("capture_key", sa.String(), nullable=False),
        sa.Column("amount", sa.Numeric(20, 4), nullable=False),
        sa.CheckConstraint("amount > 0", name="refund_parts_amount"),
        sa.PrimaryKeyConstraint("refund_id", "part", name="refund_parts_pkey"),
    )
    op.create_index("ix_refund_parts_capture_key", "refund_parts", ["capture_key"])
    op.create_table(
        "store_credits",
        sa.Column("return_id", sa.String(), nullable=False),
        sa.Column("order_id", sa.String(), nullable=False),
        sa.Column("customer_id", sa.String(), nullable=False),
        sa.Column("amount", sa.Numeric(20, 4), nullable=False),
        sa.Column("currency", sa.String(), nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("return_id", name="store_credits_pkey"),
    )
    op.create_index("ix_store_credits_customer_id", "store_credits", ["customer_id"])
    op.execute(order_trigger({**TIMELINE_EVENTS, **RETURN_TIMELINE_EVENTS}))


def downgrade() -> None:
    op.execute(order_trigger(TIMELINE_EVENTS))
    op.drop_table("store_credits")
    op.drop_table("refund_parts")
    op.drop_table("refunds")
    op.drop_table("return_lines")
    op.drop_table("returns")
