"""Hold facts in bounded time: the velocity rule's distinct customers at an address are
read from an index on (address_key, customer_id, created_at), one customer at a time, and
never more of them than the rule needs (activities/holds.py). The index on address_key
alone is its prefix, so it goes.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_orders_address_customer", "orders", ["address_key", "customer_id", "created_at"]
    )
    op.drop_index("ix_orders_address_key", "orders")


def downgrade() -> None:
    op.create_index("ix_orders_address_key", "orders", ["address_key"])
    op.drop_index("ix_orders_address_customer", "orders")
