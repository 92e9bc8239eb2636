"""Channel intake: each channel order's platform state and its raw payload (sealed), and
the receipts of platform webhooks (deduplicated on the platform's delivery id).

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "channel_orders",
        sa.Column("order_id", sa.String(), primary_key=True),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("external_id", sa.String(), nullable=False),
        sa.Column("platform", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("platform_status", sa.String(), nullable=False),
        sa.Column("platform_updated_at", _TS, nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.UniqueConstraint("channel", "external_id", name="channel_orders_channel_external_id"),
    )
    op.create_table(
        "channel_receipts",
        sa.Column("channel", sa.String(), primary_key=True),
        sa.Column("delivery_id", sa.String(), primary_key=True),
        sa.Column("order_id", sa.String(), nullable=True),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("received_at", _TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("channel_receipts")
    op.drop_table("channel_orders")
