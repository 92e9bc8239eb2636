"""The simulators' own tables: what the gateway and the WMS would keep on their side.

Kept on a metadata of their own, so ``oms migrate`` never touches them and the simulators
could move to a database of their own without a change to the OMS.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncEngine

metadata = MetaData()

gateway_requests = Table(
    "sim_gateway_requests",
    metadata,
    Column("idempotency_key", String, primary_key=True),
    Column("kind", String, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("status_code", Integer),
    Column("response", JSONB),
    Column("created_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
)

gateway_authorizations = Table(
    "sim_gateway_authorizations",
    metadata,
    Column("id", String, primary_key=True),
    Column("token", String, nullable=False),
    Column("currency", String, nullable=False),
    Column("amount", Numeric(20, 4), nullable=False),
    Column("captured", Numeric(20, 4), nullable=False, server_default="0"),
    Column("refunded", Numeric(20, 4), nullable=False, server_default="0"),
    Column("voided", Boolean, nullable=False, server_default="false"),
    Column("created_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
)

wms_dispatches = Table(
    "sim_wms_dispatches",
    metadata,
    Column("shipment_id", String, primary_key=True),
    Column("order_id", String, nullable=False),
    Column("warehouse_id", String, nullable=False),
    Column("tracking_number", String, nullable=False),
    Column("payload", JSONB, nullable=False),
    # 0 awaiting pick, 1 shipped, 2 in transit, 3 out for delivery, 4 delivered (done)
    Column("stage", Integer, nullable=False, server_default="0"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
)

# The courier picks the next due callback among the shipments not yet delivered: without
# this index every pick read the whole table, delivered shipments included (a soak of
# 15,000 orders had it read 675 million rows). Stage 4 is DONE in simulators/wms.py.
_DUE = (
    "CREATE INDEX IF NOT EXISTS ix_sim_wms_dispatches_due "
    "ON sim_wms_dispatches (next_at) WHERE stage < 4"
)

# The WMS's own stock levels (simulators/wms_stock.py), pulled by the OMS.
wms_stock = Table(
    "sim_wms_stock",
    metadata,
    Column("warehouse_id", String, primary_key=True),
    Column("sku", String, primary_key=True),
    Column("on_hand", Integer, nullable=False),
    Column("as_of", DateTime(timezone=True), nullable=False),
)

# Returns announced to the WMS (simulators/wms_returns.py): each line's counts, posted to
# the OMS one line at a time once the parcel is due; ``next_line`` is the next to post.
wms_returns = Table(
    "sim_wms_returns",
    metadata,
    Column("return_id", String, primary_key=True),
    Column("order_id", String, nullable=False),
    Column("warehouse_id", String, nullable=False),
    Column("lines", JSONB, nullable=False),
    Column("next_line", Integer, nullable=False, server_default="0"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
)


async def create_tables(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7301002)")
        await conn.run_sync(metadata.create_all)
        await conn.exec_driver_sql(_DUE)  # also on a database made before the index
