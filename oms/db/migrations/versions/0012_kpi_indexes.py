"""The KPI report in bounded time (oms/store/reports.py, docs/kpis.md): the orders of a
range, the timeline entries a figure reads, the parcels and the declined captures, each
read from an index that covers what the report needs (index-only scans), never from the
wide rows that hold the view and the entries' data.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# Written exactly as oms.store.reports.KPI_EVENTS_WHERE, so the planner uses the index.
KPI_EVENTS_WHERE = (
    "(type IN ('shipment_dispatched', 'order_delivered', 'order_backordered', "
    "'shipment_failed', 'shipment_rerouted', 'reroute_failed', 'payment_capture_failed', "
    "'address_changed') OR (type = 'order_late' AND data->>'stage' = 'dispatch'))"
)


def upgrade() -> None:
    op.create_index(
        "ix_orders_kpi", "orders", ["created_at"], postgresql_include=["id", "channel", "status"]
    )
    op.create_index(
        "ix_order_events_kpi",
        "order_events",
        ["created_at"],
        postgresql_include=["order_id", "type"],
        postgresql_where=sa.text(KPI_EVENTS_WHERE),
    )
    op.create_index(
        "ix_order_events_held",
        "order_events",
        ["created_at"],
        postgresql_include=["order_id", "seq"],
        postgresql_where=sa.text("type = 'order_held'"),
    )
    op.create_index(
        "ix_shipments_kpi",
        "shipments",
        ["created_at"],
        postgresql_include=["order_id", "status"],
    )
    op.create_index(
        "ix_payments_capture_declined",
        "payments",
        ["created_at"],
        postgresql_include=["order_id"],
        postgresql_where=sa.text("kind = 'capture' AND status = 'declined'"),
    )


def downgrade() -> None:
    op.drop_index("ix_payments_capture_declined", "payments")
    op.drop_index("ix_shipments_kpi", "shipments")
    op.drop_index("ix_order_events_held", "order_events")
    op.drop_index("ix_order_events_kpi", "order_events")
    op.drop_index("ix_orders_kpi", "orders")
