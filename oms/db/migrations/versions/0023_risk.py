"""The fake-order risk score: ``risk_models`` (versioned trained models; the newest active
one is used) and the orders indexes its lookups need (an address's, a phone's, a device's
and an IP's orders newest first).

Revision ID: 0023
Revises: 0022
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

PHONE = "regexp_replace((view -> 'shipping_address') ->> 'phone', '[^0-9]', '', 'g')"


def upgrade() -> None:
    op.create_table(
        "risk_models",
        sa.Column("version", sa.String(), nullable=False),
        sa.Column("trained_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.text("true")),
        sa.Column("features", postgresql.JSONB(), nullable=False),
        sa.Column("params", postgresql.JSONB(), nullable=False),
        sa.Column("metrics", postgresql.JSONB(), nullable=False),
        sa.Column("model", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("version", name="risk_models_pkey"),
    )
    op.create_index("ix_orders_risk_address", "orders", ["address_key", "created_at"])
    op.create_index("ix_orders_risk_phone", "orders", [sa.text(PHONE), "created_at"])
    op.create_index(
        "ix_orders_risk_device",
        "orders",
        [sa.text("((view -> 'client') ->> 'device_id')"), "created_at"],
    )
    op.create_index(
        "ix_orders_risk_ip", "orders", [sa.text("((view -> 'client') ->> 'ip')"), "created_at"]
    )


def downgrade() -> None:
    for name in ("ix_orders_risk_ip", "ix_orders_risk_device", "ix_orders_risk_phone"):
        op.drop_index(name, table_name="orders")
    op.drop_index("ix_orders_risk_address", table_name="orders")
    op.drop_table("risk_models")
