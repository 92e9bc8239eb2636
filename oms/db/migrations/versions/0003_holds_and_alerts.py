"""Holds and alerts: the normalised shipping address of each order (velocity rule) and the
operators' alerts.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("orders", sa.Column("address_key", sa.String(), nullable=True))
    op.create_index("ix_orders_address_key", "orders", ["address_key"])
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("order_id", sa.String(), nullable=False),
        sa.Column("subject", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("detail", postgresql.JSONB(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.String(), nullable=True),
    )
    op.create_index("ix_alerts_order_id", "alerts", ["order_id"])
    op.create_index("ix_alerts_status_created", "alerts", ["status", "created_at", "id"])
    op.create_index(
        "uq_alerts_open",
        "alerts",
        ["order_id", "kind", "subject"],
        unique=True,
        postgresql_where=sa.text("status = 'open'"),
    )


def downgrade() -> None:
    op.drop_table("alerts")
    op.drop_index("ix_orders_address_key", "orders")
    op.drop_column("orders", "address_key")
