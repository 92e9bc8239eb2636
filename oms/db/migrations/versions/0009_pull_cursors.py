"""Pull channels: each channel's durable cursor on its platform's clock, the window and
page under way, and the failure an operator should know about.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pull_cursors",
        sa.Column("channel", sa.String(), primary_key=True),
        sa.Column("cursor", sa.DateTime(timezone=True), nullable=True),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("page", sa.String(), nullable=True),
        sa.Column("taken", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("alert_id", sa.Integer(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("pull_cursors")
