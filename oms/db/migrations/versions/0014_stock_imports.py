"""The console's stock page: CSV imports run by the API (``stock_imports``: who started
each, its progress and its report, so every API process shows it and it outlives a
restart), the journal of one warehouse and SKU read newest first, and each channel's
newest orders.

- ``stock_imports``: one row per import started from the console;
- ``stock`` in (sku, warehouse) order byte-wise (``COLLATE "C"``, whatever the database's
  collation), within a warehouse too, and by (source, as_of): the stock page's pages, SKU
  prefixes and last level per source read index ranges;
- ``stock_movements (warehouse_id, sku, id)``: a pair's last movements without reading
  the whole journal;
- ``orders (channel, created_at)`` replaces the index on ``channel`` alone (its prefix):
  a channel's last order and its recent shadow decisions read a range, not the channel.

The indexes are built in the migration's transaction (as every migration runs): writes to
``stock``, ``stock_movements`` and ``orders`` wait while they are built, some seconds per
million rows.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "stock_imports",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("created_at", _TS, nullable=False, server_default=sa.text("now()")),
        sa.Column("created_by", sa.String(), nullable=False),
        sa.Column("file_name", sa.String(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("skip_invalid", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("rows_total", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("rows_done", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("applied", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("stale", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("superseded", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("rejected", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("shortfalls", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("report", JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("updated_at", _TS, nullable=False, server_default=sa.text("now()")),
        sa.Column("finished_at", _TS, nullable=True),
        sa.CheckConstraint(
            "status IN ('checking', 'applying', 'done', 'failed')", name="stock_imports_status"
        ),
    )
    op.execute('CREATE INDEX ix_stock_sku_c ON stock (sku COLLATE "C", warehouse_id COLLATE "C")')
    op.execute(
        'CREATE INDEX ix_stock_warehouse_sku_c ON stock (warehouse_id COLLATE "C", sku COLLATE "C")'
    )
    op.create_index("ix_stock_source_as_of", "stock", ["source", "as_of"])
    op.create_index("ix_stock_movements_pair", "stock_movements", ["warehouse_id", "sku", "id"])
    op.create_index("ix_orders_channel_created", "orders", ["channel", "created_at"])
    op.drop_index("ix_orders_channel", table_name="orders")


def downgrade() -> None:
    op.create_index("ix_orders_channel", "orders", ["channel"])
    op.drop_index("ix_orders_channel_created", table_name="orders")
    op.drop_index("ix_stock_movements_pair", table_name="stock_movements")
    op.drop_index("ix_stock_source_as_of", table_name="stock")
    op.drop_index("ix_stock_warehouse_sku_c", table_name="stock")
    op.drop_index("ix_stock_sku_c", table_name="stock")
    op.drop_index("ix_stock_source_as_of", table_name="stock")
    op.drop_index("ix_stock_warehouse_sku_c", table_name="stock")
    op.drop_index("ix_stock_sku_c", table_name="stock")
    op.drop_table("stock_imports")
