"""The schema of the first release, as its ``oms migrate`` (create_all) made it.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from pathlib import Path

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Frozen: the DDL PostgreSQL reported for a database made by release 1. A database made by
# that release has no version table; ``oms migrate`` stamps it with this revision.
SCHEMA = Path(__file__).resolve().parents[1] / "release_1.sql"


def statements() -> list[str]:
    """The frozen DDL, one statement each (none of them holds a semicolon of its own)."""
    return [s.strip() for s in SCHEMA.read_text().split(";\n") if s.strip()]


def upgrade() -> None:
    for statement in statements():
        op.execute(statement)


def downgrade() -> None:
    for table in (
        "shipments",
        "reservations",
        "stock_movements",
        "stock",
        "payments",
        "order_events",
        "orders",
        "warehouses",
        "api_keys",
    ):
        op.drop_table(table)
