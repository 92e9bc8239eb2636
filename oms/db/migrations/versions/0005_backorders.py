"""Backorders and re-routing: reservations in rounds, each row tied to its shipment; the
backorder queue; and a trigger that tells listeners (the worker's backorder waker) when
stock a backorder waits for becomes available.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# NOTIFY oms_stock_available, <sku> when a stock row's availability rises and some order
# waits for that SKU. Delivered at commit, once per SKU per transaction.
_TRIGGER_FUNCTION = """
CREATE OR REPLACE FUNCTION oms_stock_available() RETURNS trigger AS $$
DECLARE
    before integer := 0;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        before := OLD.on_hand - OLD.reserved;
    END IF;
    IF NEW.on_hand - NEW.reserved > before
       AND EXISTS (SELECT 1 FROM backorder_lines b WHERE b.sku = NEW.sku) THEN
        PERFORM pg_notify('oms_stock_available', NEW.sku);
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql
"""


# An order leaving the queue (filled, cancelled, expired) may let a later one have the
# stock it held back: the same notification, for the SKU it waited for.
_QUEUE_TRIGGER_FUNCTION = """
CREATE OR REPLACE FUNCTION oms_backorder_left() RETURNS trigger AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM backorder_lines b WHERE b.sku = OLD.sku) THEN
        PERFORM pg_notify('oms_stock_available', OLD.sku);
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    op.add_column(
        "reservations", sa.Column("round", sa.Integer(), nullable=False, server_default="0")
    )
    op.add_column("reservations", sa.Column("shipment_id", sa.String(), nullable=True))
    op.drop_constraint("reservations_order_wh_sku", "reservations", type_="unique")
    op.create_unique_constraint(
        "reservations_order_round_wh_sku",
        "reservations",
        ["order_id", "round", "warehouse_id", "sku"],
    )
    op.create_table(
        "backorder_lines",
        sa.Column("order_id", sa.String(), primary_key=True),
        sa.Column("sku", sa.String(), primary_key=True),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("ordered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("quantity > 0", name="backorder_lines_quantity_positive"),
    )
    op.create_index(
        "ix_backorder_lines_queue", "backorder_lines", ["sku", "ordered_at", "order_id"]
    )
    op.execute(_TRIGGER_FUNCTION)
    op.execute(
        "CREATE TRIGGER stock_available AFTER INSERT OR UPDATE OF on_hand, reserved ON stock "
        "FOR EACH ROW EXECUTE FUNCTION oms_stock_available()"
    )
    op.execute(_QUEUE_TRIGGER_FUNCTION)
    op.execute(
        "CREATE TRIGGER backorder_left AFTER DELETE ON backorder_lines "
        "FOR EACH ROW EXECUTE FUNCTION oms_backorder_left()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS backorder_left ON backorder_lines")
    op.execute("DROP FUNCTION IF EXISTS oms_backorder_left()")
    op.execute("DROP TRIGGER IF EXISTS stock_available ON stock")
    op.execute("DROP FUNCTION IF EXISTS oms_stock_available()")
    op.drop_index("ix_backorder_lines_queue", table_name="backorder_lines")
    op.drop_table("backorder_lines")
    op.drop_constraint("reservations_order_round_wh_sku", "reservations", type_="unique")
    op.create_unique_constraint(
        "reservations_order_wh_sku", "reservations", ["order_id", "warehouse_id", "sku"]
    )
    op.drop_column("reservations", "shipment_id")
    op.drop_column("reservations", "round")
