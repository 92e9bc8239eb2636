"""Stock sync: the source and the as-of time of the last absolute level applied, so an
older level arriving later is ignored.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("stock", sa.Column("as_of", sa.DateTime(timezone=True), nullable=True))
    op.add_column("stock", sa.Column("source", sa.String(), nullable=True))


def downgrade() -> None:
    op.drop_column("stock", "source")
    op.drop_column("stock", "as_of")
