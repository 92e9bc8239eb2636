"""Side by side and the cut-over: ``shadow_current`` (the current system's decisions for a
shadow channel's orders, loaded from its export, one row per (channel, external id), a
newer load replacing an order's row) and ``channels.live_countries`` (a shadow channel's
pilot: the shipping countries whose orders the OMS handles live).

Revision ID: 0018
Revises: 0016 (written beside 0017 and 0018; the chain is set when they are merged)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "channels",
        sa.Column(
            "live_countries",
            postgresql.ARRAY(sa.String()),
            nullable=False,
            server_default=sa.text("'{}'::varchar[]"),
        ),
    )
    op.create_table(
        "shadow_current",
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("external_id", sa.String(), nullable=False),
        sa.Column("held", sa.Boolean(), nullable=True),
        sa.Column("cancelled", sa.Boolean(), nullable=True),
        sa.Column("warehouses", postgresql.ARRAY(sa.String()), nullable=True),
        sa.Column("split", sa.Boolean(), nullable=True),
        sa.Column("shipped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("loaded_by", sa.String(), nullable=False),
        sa.Column("file", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("channel", "external_id", name="shadow_current_pkey"),
    )


def downgrade() -> None:
    op.drop_table("shadow_current")
    op.drop_column("channels", "live_countries")
