"""What the learned routing strategies read and what they chose: ``routing_lead_times``
(delivery days learned from the recorded shipments per warehouse and destination region,
rolled up per country and per warehouse; replaced whole by each refresh),
``routing_costs`` (what a parcel costs per warehouse and region, loaded from a file) and
``routing_decisions`` (per order, at its first allocation: the strategy that chose, and
what every strategy would have chosen with its expected days and cost).

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "routing_lead_times",
        sa.Column("warehouse_id", sa.String(), nullable=False),
        sa.Column("country", sa.String(), nullable=False),
        sa.Column("area", sa.String(), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("mean_days", sa.Float(), nullable=False),
        sa.Column("median_days", sa.Float(), nullable=False),
        sa.Column("p90_days", sa.Float(), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("warehouse_id", "country", "area", name="routing_lead_times_pkey"),
    )
    op.create_table(
        "routing_costs",
        sa.Column("warehouse_id", sa.String(), nullable=False),
        sa.Column("country", sa.String(), nullable=False),
        sa.Column("area", sa.String(), nullable=False),
        sa.Column("base", sa.Numeric(10, 2), nullable=False),
        sa.Column("per_unit", sa.Numeric(10, 2), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("warehouse_id", "country", "area", name="routing_costs_pkey"),
    )
    op.create_table(
        "routing_decisions",
        sa.Column("order_id", sa.String(), nullable=False),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("strategy", sa.String(), nullable=False),
        sa.Column("country", sa.String(), nullable=False),
        sa.Column("area", sa.String(), nullable=False),
        sa.Column("shipments", sa.Integer(), nullable=False),
        sa.Column("expected_days", sa.Float(), nullable=False),
        sa.Column("expected_cost", sa.Float(), nullable=False),
        sa.Column("options", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("order_id", name="routing_decisions_pkey"),
    )
    op.create_index("ix_routing_decisions_created", "routing_decisions", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_routing_decisions_created", table_name="routing_decisions")
    op.drop_table("routing_decisions")
    op.drop_table("routing_costs")
    op.drop_table("routing_lead_times")
