"""Sales channels as configuration, and partner keys.

``channels``: one row per configured channel (platform, intake, mode, the per-channel
routing, shortage and split, the pull timings), with its webhook secret and platform
credentials sealed under the payload keys. ``api_keys`` gains what partner keys need:
scopes, a rate limit, an expiry (the old key of a rotation), when it was last used and the
key it replaced. Every new column is nullable: a key made before this revision keeps
working exactly as it did.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channels",
        sa.Column("name", sa.String(), primary_key=True),
        sa.Column("platform", sa.String(), nullable=False),
        sa.Column("intake", sa.String(), nullable=False),
        sa.Column("mode", sa.String(), nullable=False),
        sa.Column("secret_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("credentials_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("routing", sa.String(), nullable=True),
        sa.Column("shortage", sa.String(), nullable=True),
        sa.Column("split", sa.Boolean(), nullable=True),
        sa.Column("payment_timeout_s", sa.Float(), nullable=False),
        sa.Column("pull_interval_s", sa.Float(), nullable=False),
        sa.Column("pull_lag_s", sa.Float(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("mode_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("mode_changed_by", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(), nullable=False),
        sa.Column("updated_by", sa.String(), nullable=False),
    )
    op.add_column("api_keys", sa.Column("scopes", postgresql.ARRAY(sa.Text()), nullable=True))
    op.add_column("api_keys", sa.Column("rate_limit_per_s", sa.Float(), nullable=True))
    op.add_column("api_keys", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("api_keys", sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("api_keys", sa.Column("rotated_from", sa.Integer(), nullable=True))


def downgrade() -> None:
    for column in ("rotated_from", "last_used_at", "expires_at", "rate_limit_per_s", "scopes"):
        op.drop_column("api_keys", column)
    op.drop_table("channels")
