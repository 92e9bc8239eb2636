"""The returns' KPIs (docs/kpis.md#returns-and-refunds): ``order_kpi_units``, each
delivered order's units per SKU (the return rate's denominator), kept by a trigger on
``orders`` when an order becomes delivered (and dropped with the order), filled here for
the orders delivered before; and the indexes that let the report, and the console's
queue of returns, read returns and refunds by time: ``returns (created_at)``,
``returns (status, created_at)``, ``refunds (created_at)``.

Revision ID: 0024
Revises: 0023
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def _units(row: str) -> str:
    """The units of the order's delivered shipments, per SKU (``row`` an ``orders`` row:
    ``NEW`` in the trigger, an alias in the backfill)."""
    return f"""
    SELECT {row}.id, l.value->>'sku', {row}.channel, {row}.created_at,
           sum((l.value->>'quantity')::int)
    FROM jsonb_array_elements(COALESCE({row}.view->'shipments', '[]'::jsonb)) AS s(value),
         jsonb_array_elements(COALESCE(s.value->'lines', '[]'::jsonb)) AS l(value)
    WHERE s.value->>'status' = 'delivered'
    GROUP BY l.value->>'sku'
    """


FUNCTION = f"""
CREATE OR REPLACE FUNCTION oms_kpi_units() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM order_kpi_units WHERE order_id = OLD.id;
    ELSE
        INSERT INTO order_kpi_units (order_id, sku, channel, received_at, delivered)
        {_units("NEW")}
        ON CONFLICT (order_id, sku) DO UPDATE SET delivered = EXCLUDED.delivered;
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    op.create_table(
        "order_kpi_units",
        sa.Column("order_id", sa.String(), nullable=False),
        sa.Column("sku", sa.String(), nullable=False),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("order_id", "sku", name="order_kpi_units_pkey"),
    )
    op.create_index("ix_order_kpi_units_received_at", "order_kpi_units", ["received_at"])
    op.create_index("ix_returns_created_at", "returns", ["created_at"])
    op.create_index("ix_returns_status_created_at", "returns", ["status", "created_at"])
    op.create_index("ix_refunds_created_at", "refunds", ["created_at"])
    op.execute(FUNCTION)
    op.execute(
        "CREATE TRIGGER oms_kpi_units AFTER UPDATE OF status ON orders FOR EACH ROW "
        "WHEN (NEW.status = 'delivered' AND OLD.status IS DISTINCT FROM 'delivered') "
        "EXECUTE FUNCTION oms_kpi_units()"
    )
    op.execute(
        "CREATE TRIGGER oms_kpi_units_gone AFTER DELETE ON orders FOR EACH ROW "
        "EXECUTE FUNCTION oms_kpi_units()"
    )
    op.execute(
        "INSERT INTO order_kpi_units (order_id, sku, channel, received_at, delivered) "
        f"SELECT u.* FROM orders o CROSS JOIN LATERAL ({_units('o')}) AS u "
        "WHERE o.status = 'delivered'"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS oms_kpi_units_gone ON orders")
    op.execute("DROP TRIGGER IF EXISTS oms_kpi_units ON orders")
    op.execute("DROP FUNCTION IF EXISTS oms_kpi_units()")
    op.drop_index("ix_refunds_created_at", table_name="refunds")
    op.drop_index("ix_returns_status_created_at", table_name="returns")
    op.drop_index("ix_returns_created_at", table_name="returns")
    op.drop_table("order_kpi_units")
