"""The console's order search: indexes on the orders read model for each criterion
(oms/store/order_search.py states the matching rules).

- (status, created_at, id) and (customer_id, created_at, id) replace the indexes on status
  and on customer_id alone (their prefixes), so those two cost no more on writes;
- external_id alone (the unique index leads with the channel);
- prefixes, byte-wise (``text_pattern_ops``): the customer's email and name in lower case,
  the shipping phone's digits;
- the lines' SKUs: a GIN index (``jsonb_path_ops``) on the array of SKUs only.

The indexes are built in the migration's transaction: writes to ``orders`` wait while
they are built (about a minute for a million orders on a small machine).

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_CREATE = (
    "CREATE INDEX ix_orders_status_created ON orders (status, created_at, id)",
    "CREATE INDEX ix_orders_customer_created ON orders (customer_id, created_at, id)",
    "CREATE INDEX ix_orders_external_id ON orders (external_id)",
    "CREATE INDEX ix_orders_email ON orders ((lower(view->'customer'->>'email')) text_pattern_ops)",
    "CREATE INDEX ix_orders_customer_name ON orders "
    "((lower(view->'customer'->>'name')) text_pattern_ops)",
    "CREATE INDEX ix_orders_phone ON orders "
    "((regexp_replace(view->'shipping_address'->>'phone', '[^0-9]', '', 'g')) text_pattern_ops)",
    "CREATE INDEX ix_orders_skus ON orders USING gin "
    "((jsonb_path_query_array(view, '$.lines[*].sku')) jsonb_path_ops)",
)


def upgrade() -> None:
    for statement in _CREATE:
        op.execute(statement)
    op.drop_index("ix_orders_status", "orders")
    op.drop_index("ix_orders_customer_id", "orders")
    op.execute("ANALYZE orders")


def downgrade() -> None:
    op.create_index("ix_orders_status", "orders", ["status"])
    op.create_index("ix_orders_customer_id", "orders", ["customer_id"])
    for name in (
        "ix_orders_skus",
        "ix_orders_phone",
        "ix_orders_customer_name",
        "ix_orders_email",
        "ix_orders_external_id",
        "ix_orders_customer_created",
        "ix_orders_status_created",
    ):
        op.drop_index(name, "orders")
