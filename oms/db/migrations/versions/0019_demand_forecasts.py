"""Demand forecasts and replenishment: ``demand_forecasts`` (each nightly run's forecast
per SKU, in each warehouse and in all) and ``replenishment_settings`` (lead times, review
periods and service levels per warehouse, or per SKU in a warehouse).

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "demand_forecasts",
        sa.Column("run_date", sa.Date(), nullable=False),
        sa.Column("warehouse_id", sa.String(), nullable=False),
        sa.Column("sku", sa.String(), nullable=False),
        sa.Column("demand_class", sa.String(), nullable=False),
        sa.Column("method", sa.String(), nullable=False),
        sa.Column("daily", postgresql.ARRAY(sa.Float()), nullable=False),
        sa.Column("sigma", sa.Float(), nullable=False),
        sa.Column("adi", sa.Float(), nullable=True),
        sa.Column("cv2", sa.Float(), nullable=True),
        sa.Column("params", postgresql.ARRAY(sa.Float()), nullable=False),
        sa.Column("history_days", sa.Integer(), nullable=False),
        sa.Column("last_7", sa.Float(), nullable=False),
        sa.Column("last_28", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("run_date", "warehouse_id", "sku", name="demand_forecasts_pkey"),
    )
    op.create_table(
        "replenishment_settings",
        sa.Column("warehouse_id", sa.String(), nullable=False),
        sa.Column("sku", sa.String(), nullable=False),
        sa.Column("lead_time_days", sa.Integer(), nullable=True),
        sa.Column("review_days", sa.Integer(), nullable=True),
        sa.Column("service_level", sa.Float(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("warehouse_id", "sku", name="replenishment_settings_pkey"),
    )


def downgrade() -> None:
    op.drop_table("replenishment_settings")
    op.drop_table("demand_forecasts")
